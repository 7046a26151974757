#include "config.h"

#include <libsoup/soup.h>
#include <string.h>

#include "otc-router-signaller.h"
#include "otc-signalling.h"

GST_DEBUG_CATEGORY_STATIC (otc_router_signaller_debug);
#define GST_CAT_DEFAULT otc_router_signaller_debug

struct _OtcRouterSignaller
{
  GObject parent;

  GThread *thread;
  GMainContext *context;
  GMainLoop *loop;

  /* the rest only on the signaller thread */
  SoupSession *soup;
  SoupWebsocketConnection *ws;
  GCancellable *cancellable;
  gchar *token;
  gchar *session_id;
  gboolean stopping;
  gboolean disconnected;        /* "disconnected" emitted */
  gboolean self_owned;          /* disposed from its own thread */
  guint request_seq;
};

static void otc_router_signaller_iface_init (OtcSignallerInterface * iface);

G_DEFINE_TYPE_WITH_CODE (OtcRouterSignaller, otc_router_signaller,
    G_TYPE_OBJECT, G_IMPLEMENT_INTERFACE (OTC_TYPE_SIGNALLER,
        otc_router_signaller_iface_init);
    GST_DEBUG_CATEGORY_INIT (otc_router_signaller_debug, "otcsignaller", 0,
        "otc-router signalling client"));

/* --- running on the signaller thread ------------------------------------ */

typedef struct
{
  OtcRouterSignaller *self;
  gchar *text;                  /* a message to send, or the URL */
  gchar *session_id;
  gchar *token;
} Call;

static void
call_free (Call * c)
{
  g_free (c->text);
  g_free (c->session_id);
  if (c->token) {
    memset (c->token, 0, strlen (c->token));
    g_free (c->token);
  }
  g_free (c);
}

static void
invoke (OtcRouterSignaller * self, GSourceFunc func, Call * c)
{
  c->self = self;
  g_main_context_invoke_full (self->context, G_PRIORITY_DEFAULT, func, c,
      (GDestroyNotify) call_free);
}

static void
emit_disconnected (OtcRouterSignaller * self, const gchar * reason)
{
  if (self->disconnected)
    return;
  self->disconnected = TRUE;
  g_signal_emit_by_name (self, "disconnected", reason);
}

static void
send_text (OtcRouterSignaller * self, const gchar * text)
{
  if (self->ws == NULL
      || soup_websocket_connection_get_state (self->ws) !=
      SOUP_WEBSOCKET_STATE_OPEN) {
    GST_DEBUG_OBJECT (self, "not connected, message dropped");
    return;
  }
  soup_websocket_connection_send_text (self->ws, text);
}

static GstStructure *
stream_structure (JsonObject * s)
{
  gboolean audio = TRUE, video = TRUE;
  const gchar *type = otc_signalling_get_string (s, "videoType");

  otc_signalling_get_bool (s, "hasAudio", &audio);
  otc_signalling_get_bool (s, "hasVideo", &video);
  return gst_structure_new ("otc/stream",
      "stream-id", G_TYPE_STRING, otc_signalling_get_string (s, "streamId"),
      "connection-id", G_TYPE_STRING, otc_signalling_get_string (s,
          "connectionId"),
      "name", G_TYPE_STRING, otc_signalling_get_string (s, "name"),
      "has-audio", G_TYPE_BOOLEAN, audio,
      "has-video", G_TYPE_BOOLEAN, video,
      "video-type", G_TYPE_STRING, type ? type : "camera", NULL);
}

static GstStructure *
connection_structure (JsonObject * c)
{
  const gchar *data = otc_signalling_get_string (c, "data");

  return gst_structure_new ("otc/connection",
      "connection-id", G_TYPE_STRING, otc_signalling_get_string (c,
          "connectionId"),
      "data", G_TYPE_STRING, data ? data : "", NULL);
}

static void
emit_structure (OtcRouterSignaller * self, const gchar * signal,
    GstStructure * s)
{
  g_signal_emit_by_name (self, signal, s);
  gst_structure_free (s);
}

static void
handle_connected (OtcRouterSignaller * self, JsonObject * o)
{
  JsonObject *e2ee = json_object_has_member (o, "e2ee") &&
      JSON_NODE_HOLDS_OBJECT (json_object_get_member (o, "e2ee")) ?
      json_object_get_object_member (o, "e2ee") : NULL;
  gboolean enabled = FALSE;
  GstStructure *info;
  JsonArray *a;
  guint i;

  if (e2ee)
    otc_signalling_get_bool (e2ee, "enabled", &enabled);
  info = gst_structure_new ("otc/connected",
      "session-id", G_TYPE_STRING, otc_signalling_get_string (o, "sessionId"),
      "connection-id", G_TYPE_STRING, otc_signalling_get_string (o,
          "connectionId"),
      "role", G_TYPE_STRING, otc_signalling_get_string (o, "role"),
      "data", G_TYPE_STRING, otc_signalling_get_string (o, "data"),
      "e2ee", G_TYPE_BOOLEAN, enabled, NULL);
  if (enabled) {
    guint version = 0;
    gint64 base = 0;
    const gchar *format = otc_signalling_get_string (e2ee, "format");
    const gchar *suite = otc_signalling_get_string (e2ee, "cipherSuite");

    otc_signalling_get_uint (e2ee, "formatVersion", &version);
    if (json_object_has_member (e2ee, "keyIdBase")
        && json_node_get_value_type (json_object_get_member (e2ee,
                "keyIdBase")) == G_TYPE_INT64)
      base = json_object_get_int_member (e2ee, "keyIdBase");
    gst_structure_set (info,
        "e2ee-format", G_TYPE_STRING, format ? format : "",
        "e2ee-format-version", G_TYPE_UINT, version,
        "cipher-suite", G_TYPE_STRING, suite ? suite : "",
        "key-id-base", G_TYPE_UINT64, (guint64) MAX (base, 0), NULL);
  }
  /* what is there already first: whoever waits for "connected" then finds
   * it all (otc-connection.c keeps it) */
  a = json_object_has_member (o, "connections") &&
      JSON_NODE_HOLDS_ARRAY (json_object_get_member (o, "connections")) ?
      json_object_get_array_member (o, "connections") : NULL;
  for (i = 0; a && i < json_array_get_length (a); i++) {
    JsonNode *n = json_array_get_element (a, i);

    if (JSON_NODE_HOLDS_OBJECT (n))
      emit_structure (self, "connection-created",
          connection_structure (json_node_get_object (n)));
  }
  a = json_object_has_member (o, "streams") &&
      JSON_NODE_HOLDS_ARRAY (json_object_get_member (o, "streams")) ?
      json_object_get_array_member (o, "streams") : NULL;
  for (i = 0; a && i < json_array_get_length (a); i++) {
    JsonNode *n = json_array_get_element (a, i);

    if (JSON_NODE_HOLDS_OBJECT (n))
      emit_structure (self, "stream-created",
          stream_structure (json_node_get_object (n)));
  }
  emit_structure (self, "connected", info);
}

static JsonObject *
member_object (JsonObject * o, const gchar * name)
{
  JsonNode *n = json_object_get_member (o, name);

  return n && JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
}

static void
handle_message (OtcRouterSignaller * self, JsonObject * o)
{
  const gchar *type = otc_signalling_get_string (o, "type");
  const gchar *rid = otc_signalling_get_string (o, "requestId");
  JsonObject *sub;

  if (g_str_equal (type, "connected")) {
    handle_connected (self, o);
  } else if (g_str_equal (type, "connectionCreated")) {
    if ((sub = member_object (o, "connection")))
      emit_structure (self, "connection-created", connection_structure (sub));
  } else if (g_str_equal (type, "connectionDestroyed")) {
    g_signal_emit_by_name (self, "connection-destroyed",
        otc_signalling_get_string (o, "connectionId"),
        otc_signalling_get_string (o, "reason"));
  } else if (g_str_equal (type, "streamCreated")) {
    if ((sub = member_object (o, "stream")))
      emit_structure (self, "stream-created", stream_structure (sub));
  } else if (g_str_equal (type, "streamDestroyed")) {
    g_signal_emit_by_name (self, "stream-destroyed",
        otc_signalling_get_string (o, "streamId"),
        otc_signalling_get_string (o, "reason"));
  } else if (g_str_equal (type, "publishAnswer")) {
    g_signal_emit_by_name (self, "publish-answer", rid,
        otc_signalling_get_string (o, "streamId"),
        otc_signalling_get_string (o, "sdp"));
  } else if (g_str_equal (type, "subscribeOffer")) {
    g_signal_emit_by_name (self, "subscribe-offer", rid,
        otc_signalling_get_string (o, "streamId"),
        otc_signalling_get_string (o, "subscriptionId"),
        otc_signalling_get_string (o, "sdp"));
  } else if (g_str_equal (type, "candidate")) {
    guint mline = 0;
    const gchar *cand = otc_signalling_get_string (o, "candidate");

    otc_signalling_get_uint (o, "mline", &mline);
    if (cand)
      g_signal_emit_by_name (self, "candidate",
          otc_signalling_get_string (o, "legId"), mline, cand);
  } else if (g_str_equal (type, "unsubscribed")) {
    g_signal_emit_by_name (self, "unsubscribed",
        otc_signalling_get_string (o, "subscriptionId"),
        otc_signalling_get_string (o, "streamId"),
        otc_signalling_get_string (o, "reason"));
  } else if (g_str_equal (type, "signal")) {
    g_signal_emit_by_name (self, "signal-received",
        otc_signalling_get_string (o, "from"),
        otc_signalling_get_string (o, "signalType"),
        otc_signalling_get_string (o, "data"));
  } else if (g_str_equal (type, "error")) {
    guint code = OTC_SIGNALLING_ERROR_INTERNAL;
    const gchar *message = otc_signalling_get_string (o, "message");

    otc_signalling_get_uint (o, "code", &code);
    g_signal_emit_by_name (self, "error", (gint) code,
        message ? message : "", rid);
  } else {
    /* pong, signalSent and message types of later versions */
    GST_LOG_OBJECT (self, "ignoring a \"%s\" message", type);
  }
}

static void
on_ws_message (SoupWebsocketConnection * ws, gint type, GBytes * message,
    gpointer user_data)
{
  OtcRouterSignaller *self = user_data;
  gsize len;
  const gchar *text = g_bytes_get_data (message, &len);
  gchar *why = NULL;
  gint code = 0;
  JsonObject *o;

  if (type != SOUP_WEBSOCKET_DATA_TEXT) {
    GST_WARNING_OBJECT (self, "ignoring a binary message from the router");
    return;
  }
  o = otc_signalling_parse (text, len, &code, &why);
  if (o == NULL) {
    GST_WARNING_OBJECT (self, "ignoring a bad message from the router: %s",
        why);
    g_free (why);
    return;
  }
  handle_message (self, o);
  json_object_unref (o);
}

static void
on_ws_closed (SoupWebsocketConnection * ws, gpointer user_data)
{
  OtcRouterSignaller *self = user_data;
  gushort code = soup_websocket_connection_get_close_code (ws);

  GST_INFO_OBJECT (self, "signalling closed (%u)", code);
  g_clear_object (&self->ws);
  if (self->stopping)
    emit_disconnected (self, "clientDisconnected");
  else if (code == SOUP_WEBSOCKET_CLOSE_GOING_AWAY)
    emit_disconnected (self, "serverShutdown");
  else if (code == OTC_SIGNALLING_CLOSE_FORCE_DISCONNECTED)
    emit_disconnected (self, "forceDisconnected");
  else
    emit_disconnected (self, "networkDisconnected");
}

static void
on_ws_connected (GObject * source, GAsyncResult * res, gpointer user_data)
{
  OtcRouterSignaller *self = user_data;
  GError *error = NULL;
  SoupWebsocketConnection *ws;
  JsonObject *o;

  ws = soup_session_websocket_connect_finish (SOUP_SESSION (source), res,
      &error);
  if (ws == NULL) {
    if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
      gchar *m = g_strdup_printf ("Cannot reach the session server: %s",
          error->message);

      g_signal_emit_by_name (self, "error", OTC_SIGNALLING_ERROR_CONNECT_FAILED,
          m, NULL);
      g_free (m);
      emit_disconnected (self, "networkDisconnected");
    }
    g_error_free (error);
    return;
  }
  self->ws = ws;
  soup_websocket_connection_set_max_incoming_payload_size (ws,
      4 * OTC_SIGNALLING_MAX_MESSAGE);
  g_signal_connect (ws, "message", G_CALLBACK (on_ws_message), self);
  g_signal_connect (ws, "closed", G_CALLBACK (on_ws_closed), self);
  if (self->stopping) {
    soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
    return;
  }
  o = otc_signalling_new ("connect");
  json_object_set_int_member (o, "v", OTC_SIGNALLING_VERSION);
  json_object_set_string_member (o, "token", self->token);
  if (self->session_id)
    json_object_set_string_member (o, "sessionId", self->session_id);
  json_object_set_string_member (o, "requestId", "connect");
  {
    gchar *text = otc_signalling_to_string (o);

    send_text (self, text);
    memset (text, 0, strlen (text));    /* it holds the token */
    g_free (text);
  }
  memset (self->token, 0, strlen (self->token));
  g_clear_pointer (&self->token, g_free);
}

static gboolean
start_in_thread (gpointer data)
{
  Call *c = data;
  OtcRouterSignaller *self = c->self;
  SoupMessage *msg;
  gchar *ws_url;
  GUri *uri;

  if (self->ws || self->token) {
    GST_WARNING_OBJECT (self, "already started");
    return G_SOURCE_REMOVE;
  }
  /* http://host:port[/base] -> ws://host:port[/base]/signal */
  if (g_str_has_prefix (c->text, "http://"))
    ws_url = g_strconcat ("ws://", c->text + 7, NULL);
  else if (g_str_has_prefix (c->text, "https://"))
    ws_url = g_strconcat ("wss://", c->text + 8, NULL);
  else
    ws_url = g_strdup (c->text);
  while (g_str_has_suffix (ws_url, "/"))
    ws_url[strlen (ws_url) - 1] = '\0';
  {
    gchar *full = g_strconcat (ws_url, OTC_SIGNALLING_PATH, NULL);

    g_free (ws_url);
    ws_url = full;
  }
  uri = g_uri_parse (ws_url, SOUP_HTTP_URI_FLAGS, NULL);
  if (uri == NULL || (g_strcmp0 (g_uri_get_scheme (uri), "ws") != 0
          && g_strcmp0 (g_uri_get_scheme (uri), "wss") != 0)) {
    gchar *m = g_strdup_printf ("Not a session server URL: \"%s\"", c->text);

    g_signal_emit_by_name (self, "error", OTC_SIGNALLING_ERROR_CONNECT_FAILED,
        m, NULL);
    g_free (m);
    emit_disconnected (self, "networkDisconnected");
    g_free (ws_url);
    if (uri)
      g_uri_unref (uri);
    return G_SOURCE_REMOVE;
  }
  self->disconnected = FALSE;
  self->stopping = FALSE;
  self->token = g_strdup (c->token);
  g_free (self->session_id);
  self->session_id = g_strdup (c->session_id);
  msg = soup_message_new_from_uri (SOUP_METHOD_GET, uri);
  GST_INFO_OBJECT (self, "connecting to %s", ws_url);
  soup_session_websocket_connect_async (self->soup, msg, NULL, NULL,
      G_PRIORITY_DEFAULT, self->cancellable, on_ws_connected, self);
  g_object_unref (msg);
  g_uri_unref (uri);
  g_free (ws_url);
  return G_SOURCE_REMOVE;
}

static gboolean
stop_in_thread (gpointer data)
{
  Call *c = data;
  OtcRouterSignaller *self = c->self;

  self->stopping = TRUE;
  if (self->ws && soup_websocket_connection_get_state (self->ws) ==
      SOUP_WEBSOCKET_STATE_OPEN) {
    send_text (self, "{\"type\":\"disconnect\"}");
    soup_websocket_connection_close (self->ws, SOUP_WEBSOCKET_CLOSE_NORMAL,
        NULL);
  } else if (self->ws == NULL) {
    g_cancellable_cancel (self->cancellable);
    g_object_unref (self->cancellable);
    self->cancellable = g_cancellable_new ();
    emit_disconnected (self, "clientDisconnected");
  }
  return G_SOURCE_REMOVE;
}

static gboolean
send_in_thread (gpointer data)
{
  Call *c = data;

  send_text (c->self, c->text);
  return G_SOURCE_REMOVE;
}

static gboolean
tick_cb (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

static gpointer
signaller_thread (gpointer data)
{
  OtcRouterSignaller *self = data;

  g_main_context_push_thread_default (self->context);
  self->soup = soup_session_new_with_options ("timeout", 15,
      "user-agent", "otc-gstreamer/" PACKAGE_VERSION, NULL);
  g_main_loop_run (self->loop);
  if (self->ws) {
    /* say goodbye properly, within a second */
    gint64 end = g_get_monotonic_time () + G_USEC_PER_SEC;
    GSource *tick = g_timeout_source_new (50);

    g_source_set_callback (tick, tick_cb, NULL, NULL);
    g_source_attach (tick, self->context);
    self->stopping = TRUE;
    if (soup_websocket_connection_get_state (self->ws) ==
        SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_close (self->ws, SOUP_WEBSOCKET_CLOSE_NORMAL,
          NULL);
    while (self->ws && g_get_monotonic_time () < end)
      g_main_context_iteration (self->context, TRUE);
    g_source_destroy (tick);
    g_source_unref (tick);
    if (self->ws) {
      g_signal_handlers_disconnect_by_data (self->ws, self);
      g_clear_object (&self->ws);
    }
  }
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->soup);
  /* let libsoup finish what the cancellation started */
  while (g_main_context_iteration (self->context, FALSE));
  g_main_context_pop_thread_default (self->context);
  if (self->self_owned) {
    g_thread_unref (self->thread);      /* detached: nobody joins it */
    self->thread = NULL;
    g_object_unref (self);
  }
  return NULL;
}

/* --- the interface, from any thread ------------------------------------ */

static void
send_object (OtcRouterSignaller * self, JsonObject * o)
{
  Call *c = g_new0 (Call, 1);

  c->text = otc_signalling_to_string (o);
  invoke (self, send_in_thread, c);
}

static void
rs_start (OtcSignaller * sig, const gchar * url, const gchar * session_id,
    const gchar * token)
{
  Call *c = g_new0 (Call, 1);

  c->text = g_strdup (url);
  c->session_id = g_strdup (session_id);
  c->token = g_strdup (token ? token : "");
  invoke (OTC_ROUTER_SIGNALLER (sig), start_in_thread, c);
}

static void
rs_stop (OtcSignaller * sig)
{
  invoke (OTC_ROUTER_SIGNALLER (sig), stop_in_thread, g_new0 (Call, 1));
}

static void
rs_publish (OtcSignaller * sig, const gchar * tag, const gchar * sdp,
    const GstStructure * info)
{
  JsonObject *o = otc_signalling_new ("publish");
  const gchar *name = gst_structure_get_string (info, "name");
  const gchar *video_type = gst_structure_get_string (info, "video-type");
  gboolean audio = TRUE, video = TRUE;

  gst_structure_get_boolean (info, "has-audio", &audio);
  gst_structure_get_boolean (info, "has-video", &video);
  json_object_set_string_member (o, "requestId", tag);
  json_object_set_string_member (o, "sdp", sdp);
  if (name)
    json_object_set_string_member (o, "name", name);
  json_object_set_boolean_member (o, "hasAudio", audio);
  json_object_set_boolean_member (o, "hasVideo", video);
  if (video_type)
    json_object_set_string_member (o, "videoType", video_type);
  send_object (OTC_ROUTER_SIGNALLER (sig), o);
}

static void
rs_unpublish (OtcSignaller * sig, const gchar * stream_id)
{
  JsonObject *o = otc_signalling_new ("unpublish");

  json_object_set_string_member (o, "streamId", stream_id);
  send_object (OTC_ROUTER_SIGNALLER (sig), o);
}

static void
rs_subscribe (OtcSignaller * sig, const gchar * tag, const gchar * stream_id)
{
  JsonObject *o = otc_signalling_new ("subscribe");

  json_object_set_string_member (o, "requestId", tag);
  json_object_set_string_member (o, "streamId", stream_id);
  send_object (OTC_ROUTER_SIGNALLER (sig), o);
}

static void
rs_answer (OtcSignaller * sig, const gchar * subscription_id,
    const gchar * sdp)
{
  JsonObject *o = otc_signalling_new ("subscribeAnswer");

  json_object_set_string_member (o, "subscriptionId", subscription_id);
  json_object_set_string_member (o, "sdp", sdp);
  send_object (OTC_ROUTER_SIGNALLER (sig), o);
}

static void
rs_unsubscribe (OtcSignaller * sig, const gchar * subscription_id)
{
  JsonObject *o = otc_signalling_new ("unsubscribe");

  json_object_set_string_member (o, "subscriptionId", subscription_id);
  send_object (OTC_ROUTER_SIGNALLER (sig), o);
}

static void
rs_add_candidate (OtcSignaller * sig, const gchar * leg_id, guint mline,
    const gchar * candidate)
{
  JsonObject *o = otc_signalling_new ("candidate");

  json_object_set_string_member (o, "legId", leg_id);
  json_object_set_int_member (o, "mline", mline);
  json_object_set_string_member (o, "candidate", candidate);
  send_object (OTC_ROUTER_SIGNALLER (sig), o);
}

static void
rs_send_signal (OtcSignaller * sig, const gchar * to, const gchar * type,
    const gchar * data)
{
  OtcRouterSignaller *self = OTC_ROUTER_SIGNALLER (sig);
  JsonObject *o = otc_signalling_new ("signal");
  gchar *rid = g_strdup_printf ("signal-%u",
      g_atomic_int_add (&self->request_seq, 1));

  json_object_set_string_member (o, "requestId", rid);
  json_object_set_string_member (o, "data", data ? data : "");
  if (type && *type)
    json_object_set_string_member (o, "signalType", type);
  if (to && *to)
    json_object_set_string_member (o, "to", to);
  send_object (self, o);
  g_free (rid);
}

static void
otc_router_signaller_iface_init (OtcSignallerInterface * iface)
{
  iface->start = rs_start;
  iface->stop = rs_stop;
  iface->publish = rs_publish;
  iface->unpublish = rs_unpublish;
  iface->subscribe = rs_subscribe;
  iface->answer = rs_answer;
  iface->unsubscribe = rs_unsubscribe;
  iface->add_candidate = rs_add_candidate;
  iface->send_signal = rs_send_signal;
}

static void
otc_router_signaller_init (OtcRouterSignaller * self)
{
  self->context = g_main_context_new ();
  self->loop = g_main_loop_new (self->context, FALSE);
  self->cancellable = g_cancellable_new ();
  self->thread = g_thread_new ("otcsignaller", signaller_thread, self);
}

static gboolean
quit_loop (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

/* In dispose, not finalize: the thread may still emit signals, which
 * take a reference. */
static void
otc_router_signaller_dispose (GObject * object)
{
  OtcRouterSignaller *self = OTC_ROUTER_SIGNALLER (object);

  if (self->thread && g_thread_self () == self->thread) {
    /* the last reference went with one of our own signal emissions: the
     * thread cannot join itself, so it finishes and drops this one */
    if (!self->self_owned) {
      self->self_owned = TRUE;
      g_object_ref (self);
      g_main_loop_quit (self->loop);
    }
    return;
  }
  if (self->thread) {
    g_main_context_invoke (self->context, quit_loop, self->loop);
    g_thread_join (self->thread);
    self->thread = NULL;
  }
  G_OBJECT_CLASS (otc_router_signaller_parent_class)->dispose (object);
}

static void
otc_router_signaller_finalize (GObject * object)
{
  OtcRouterSignaller *self = OTC_ROUTER_SIGNALLER (object);

  g_main_loop_unref (self->loop);
  g_main_context_unref (self->context);
  g_object_unref (self->cancellable);
  if (self->token) {
    memset (self->token, 0, strlen (self->token));
    g_free (self->token);
  }
  g_free (self->session_id);
  G_OBJECT_CLASS (otc_router_signaller_parent_class)->finalize (object);
}

static void
otc_router_signaller_class_init (OtcRouterSignallerClass * klass)
{
  G_OBJECT_CLASS (klass)->dispose = otc_router_signaller_dispose;
  G_OBJECT_CLASS (klass)->finalize = otc_router_signaller_finalize;
}

OtcSignaller *
otc_router_signaller_new (void)
{
  return g_object_new (OTC_TYPE_ROUTER_SIGNALLER, NULL);
}
