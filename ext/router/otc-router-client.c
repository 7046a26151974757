/* One signalling connection: the WebSocket of a client, its connect
 * handshake, and its requests (docs/signalling.md). */
#include <gst/gst.h>
#include <string.h>

#include "otc-router-private.h"

#define GST_CAT_DEFAULT otc_router_debug

#define CONNECT_TIMEOUT_S 10
#define MAX_SIGNALS_PER_SECOND 100

/* What a media leg's callbacks need to find their way back; everything is
 * looked up by id, so a client or stream that went away meanwhile is
 * simply not found. */
typedef struct
{
  OtcRouterServer *server;
  gchar *connection_id;
  gchar *session_id;
  gchar *stream_id;
  gchar *subscription_id;       /* NULL for a publisher leg */
  gchar *request_id;
} LegContext;

static void
leg_context_free (LegContext * c)
{
  g_free (c->connection_id);
  g_free (c->session_id);
  g_free (c->stream_id);
  g_free (c->subscription_id);
  g_free (c->request_id);
  g_free (c);
}

void
otc_router_leg_close (OtcMediaLeg * leg)
{
  LegContext *ctx = otc_media_leg_get_user_data (leg);

  /* "closed" is not called for a leg closed here: its context goes now */
  otc_media_leg_close (leg);
  if (ctx)
    leg_context_free (ctx);
}

/* A client that stops reading its socket would make libsoup queue what is
 * sent to it without bound. Once the kernel's send buffer stays full, what
 * is sent meanwhile is counted; past OTC_ROUTER_MAX_BACKLOG the client is
 * dropped (it leaves the session; the socket is closed). */
#define OTC_ROUTER_MAX_BACKLOG (4 * 1024 * 1024)

static void leave_session (OtcRouterClient * client, const gchar * reason);

static gboolean
drop_stuck_client (gpointer user_data)
{
  OtcRouterClient *client = user_data;

  client->drop_source = 0;
  GST_WARNING ("connection %s does not read its socket (%" G_GSIZE_FORMAT
      " bytes waiting): dropped", client->id ? client->id : "-",
      client->backlog);
  leave_session (client, "clientDisconnected");
  /* no closing handshake: it would queue behind what is stuck */
  g_io_stream_close (soup_websocket_connection_get_io_stream (client->ws),
      NULL, NULL);
  return G_SOURCE_REMOVE;
}

static void
account_backlog (OtcRouterClient * client, gsize len)
{
  GIOStream *io = soup_websocket_connection_get_io_stream (client->ws);
  GIOStream *base = NULL;
  gboolean writable;

  /* the socket connection is wrapped in libsoup's stream, and that in the
   * message limit's (otc-router-ws-limit.c) */
  base = g_object_ref (io);
  while (g_object_class_find_property (G_OBJECT_GET_CLASS (base),
          "base-iostream")) {
    GIOStream *inner = NULL;

    g_object_get (base, "base-iostream", &inner, NULL);
    g_object_unref (base);
    base = inner;
    if (base == NULL)
      return;
  }
  if (!G_IS_SOCKET_CONNECTION (base)) {
    g_clear_object (&base);
    return;
  }
  writable = g_socket_condition_check (g_socket_connection_get_socket
      (G_SOCKET_CONNECTION (base)), G_IO_OUT) & G_IO_OUT;
  g_object_unref (base);
  /* writable: the kernel takes more, so libsoup's queue drains */
  if (writable) {
    client->backlog = 0;
    return;
  }
  client->backlog += len;
  if (client->backlog > OTC_ROUTER_MAX_BACKLOG && client->drop_source == 0)
    client->drop_source = g_idle_add (drop_stuck_client, client);
}

void
otc_router_client_send (OtcRouterClient * client, JsonObject * msg)
{
  gchar *text = otc_signalling_to_string (msg);

  if (client->ws != NULL && soup_websocket_connection_get_state (client->ws)
      == SOUP_WEBSOCKET_STATE_OPEN) {
    soup_websocket_connection_send_text (client->ws, text);
    account_backlog (client, strlen (text));
  }
  g_free (text);
}

static void
send_error (OtcRouterClient * client, gint code, const gchar * message,
    const gchar * request_id)
{
  GST_INFO ("connection %s: error %d: %s", client->id ? client->id : "-",
      code, message);
  otc_router_client_send (client, otc_signalling_new_error (code, message,
          request_id));
}

/* "@prefix: <error message>" */
static void
send_gerror (OtcRouterClient * client, gint code, const gchar * prefix,
    GError * error, const gchar * request_id)
{
  gchar *text = g_strdup_printf ("%s: %s", prefix, error->message);

  send_error (client, code, text, request_id);
  g_free (text);
  g_error_free (error);
}

void
otc_router_session_broadcast (OtcRouterSession * session, JsonObject * msg,
    OtcRouterClient * except)
{
  GHashTableIter it;
  gpointer value;

  g_hash_table_iter_init (&it, session->connections);
  while (g_hash_table_iter_next (&it, NULL, &value)) {
    if (value != except)
      otc_router_client_send (value, json_object_ref (msg));
  }
}

static OtcRouterClient *
find_client (OtcRouterServer * server, const gchar * session_id,
    const gchar * connection_id)
{
  OtcRouterSession *s = g_hash_table_lookup (server->sessions, session_id);

  return s ? g_hash_table_lookup (s->connections, connection_id) : NULL;
}

static JsonObject *
connection_json (OtcRouterClient * c)
{
  JsonObject *o = json_object_new ();

  json_object_set_string_member (o, "connectionId", c->id);
  json_object_set_string_member (o, "data", c->data ? c->data : "");
  json_object_set_int_member (o, "creationTime", c->created);
  return o;
}

/* ---- media leg callbacks ---- */

static void
leg_local_description (OtcMediaLeg * leg, const gchar * type,
    const gchar * sdp, gpointer user_data)
{
  LegContext *ctx = user_data;
  OtcRouterClient *client = find_client (ctx->server, ctx->session_id,
      ctx->connection_id);
  JsonObject *msg;

  if (client == NULL)
    return;
  if (ctx->subscription_id == NULL) {
    OtcRouterStream *stream = g_hash_table_lookup (client->session->streams,
        ctx->stream_id);

    msg = otc_signalling_new ("publishAnswer");
    json_object_set_string_member (msg, "streamId", ctx->stream_id);
    json_object_set_string_member (msg, "sdp", sdp);
    if (ctx->request_id)
      json_object_set_string_member (msg, "requestId", ctx->request_id);
    otc_router_client_send (client, msg);
    if (stream != NULL && !stream->announced) {
      JsonObject *created = otc_signalling_new ("streamCreated");

      stream->announced = TRUE;
      json_object_set_object_member (created, "stream",
          otc_router_stream_to_json (stream));
      otc_router_session_broadcast (client->session, created, NULL);
      json_object_unref (created);
      otc_router_archive_auto_start (ctx->server, client->session);
    }
  } else {
    msg = otc_signalling_new ("subscribeOffer");
    json_object_set_string_member (msg, "subscriptionId",
        ctx->subscription_id);
    json_object_set_string_member (msg, "streamId", ctx->stream_id);
    json_object_set_string_member (msg, "sdp", sdp);
    if (ctx->request_id)
      json_object_set_string_member (msg, "requestId", ctx->request_id);
    otc_router_client_send (client, msg);
  }
}

static void
leg_local_candidate (OtcMediaLeg * leg, guint mline, const gchar * candidate,
    gpointer user_data)
{
  LegContext *ctx = user_data;
  OtcRouterClient *client = find_client (ctx->server, ctx->session_id,
      ctx->connection_id);
  JsonObject *msg;

  if (client == NULL)
    return;
  msg = otc_signalling_new ("candidate");
  json_object_set_string_member (msg, "legId", ctx->subscription_id ?
      ctx->subscription_id : ctx->stream_id);
  json_object_set_int_member (msg, "mline", mline);
  json_object_set_string_member (msg, "candidate", candidate);
  otc_router_client_send (client, msg);
}

static void
stream_destroyed (OtcRouterSession * session, const gchar * stream_id,
    const gchar * reason)
{
  JsonObject *msg = otc_signalling_new ("streamDestroyed");

  json_object_set_string_member (msg, "streamId", stream_id);
  json_object_set_string_member (msg, "reason", reason);
  otc_router_session_broadcast (session, msg, NULL);
  json_object_unref (msg);
}

static void
leg_closed (OtcMediaLeg * leg, const gchar * reason, gpointer user_data)
{
  LegContext *ctx = user_data;
  OtcRouterSession *session = g_hash_table_lookup (ctx->server->sessions,
      ctx->session_id);
  OtcRouterClient *client = find_client (ctx->server, ctx->session_id,
      ctx->connection_id);

  GST_INFO ("leg %s closed: %s", ctx->subscription_id ?
      ctx->subscription_id : ctx->stream_id, reason);
  if (ctx->subscription_id == NULL && session != NULL) {
    OtcRouterStream *stream = g_hash_table_lookup (session->streams,
        ctx->stream_id);

    /* the media side ended it (ICE failure...): the stream is gone */
    if (stream != NULL && stream->leg == leg) {
      gboolean announced = stream->announced;

      stream->leg = NULL;
      g_hash_table_remove (session->streams, ctx->stream_id);
      if (announced)
        stream_destroyed (session, ctx->stream_id, "mediaStopped");
    }
  } else if (client != NULL && g_hash_table_lookup (client->subscriptions,
          ctx->subscription_id) == leg) {
    JsonObject *msg = otc_signalling_new ("unsubscribed");

    g_hash_table_steal (client->subscriptions, ctx->subscription_id);
    json_object_set_string_member (msg, "subscriptionId",
        ctx->subscription_id);
    json_object_set_string_member (msg, "streamId", ctx->stream_id);
    json_object_set_string_member (msg, "reason", reason);
    otc_router_client_send (client, msg);
  }
  leg_context_free (ctx);
}

static const OtcMediaLegCallbacks leg_callbacks = {
  leg_local_description, leg_local_candidate, leg_closed
};

static LegContext *
leg_context_new (OtcRouterClient * client, const gchar * stream_id,
    const gchar * subscription_id, const gchar * request_id)
{
  LegContext *ctx = g_new0 (LegContext, 1);

  ctx->server = client->server;
  ctx->connection_id = g_strdup (client->id);
  ctx->session_id = g_strdup (client->session->id);
  ctx->stream_id = g_strdup (stream_id);
  ctx->subscription_id = g_strdup (subscription_id);
  ctx->request_id = g_strdup (request_id);
  return ctx;
}

/* ---- requests ---- */

static void
handle_connect (OtcRouterClient * client, JsonObject * msg,
    const gchar * rid)
{
  OtcRouterServer *server = client->server;
  OtcClientClaims claims;
  OtcRouterSession *session;
  GError *error = NULL;
  guint version = 0;
  const gchar *want_session = otc_signalling_get_string (msg, "sessionId");
  JsonObject *reply, *created;
  JsonArray *conns, *streams;
  GHashTableIter it;
  gpointer value;

  if (client->session != NULL) {
    send_error (client, OTC_SIGNALLING_ERROR_ALREADY_CONNECTED,
        "Already connected", rid);
    return;
  }
  if (!otc_signalling_get_uint (msg, "v", &version)
      || version != OTC_SIGNALLING_VERSION) {
    send_error (client, OTC_SIGNALLING_ERROR_UNSUPPORTED_VERSION,
        "This router speaks signalling version 1 (\"v\": 1)", rid);
    return;
  }
  if (!otc_router_auth_verify_client_token (server->auth,
          otc_signalling_get_string (msg, "token"), &claims, &error)) {
    send_gerror (client, OTC_SIGNALLING_ERROR_AUTHENTICATION,
        "Authentication failed", error, rid);
    return;
  }
  if (want_session != NULL && g_strcmp0 (want_session, claims.session_id)) {
    send_error (client, OTC_SIGNALLING_ERROR_AUTHENTICATION,
        "Authentication failed: the token is for another session", rid);
    otc_client_claims_clear (&claims);
    return;
  }
  session = g_hash_table_lookup (server->sessions, claims.session_id);
  if (session == NULL) {
    send_error (client, OTC_SIGNALLING_ERROR_INVALID_SESSION,
        "No such session", rid);
    otc_client_claims_clear (&claims);
    return;
  }

  if (client->connect_timeout) {
    g_source_remove (client->connect_timeout);
    client->connect_timeout = 0;
  }
  client->id = otc_router_new_id ("c");
  client->session = session;
  client->role = claims.role;
  client->data = g_strdup (claims.connection_data);
  client->created = g_get_real_time () / 1000;
  otc_client_claims_clear (&claims);

  reply = otc_signalling_new ("connected");
  if (rid)
    json_object_set_string_member (reply, "requestId", rid);
  json_object_set_int_member (reply, "v", OTC_SIGNALLING_VERSION);
  json_object_set_string_member (reply, "sessionId", session->id);
  json_object_set_string_member (reply, "connectionId", client->id);
  json_object_set_string_member (reply, "role",
      otc_role_to_string (client->role));
  json_object_set_string_member (reply, "data", client->data ? client->data :
      "");
  json_object_set_object_member (reply, "e2ee",
      otc_router_session_e2ee_json (session));
  conns = json_array_new ();
  g_hash_table_iter_init (&it, session->connections);
  while (g_hash_table_iter_next (&it, NULL, &value))
    json_array_add_object_element (conns, connection_json (value));
  json_object_set_array_member (reply, "connections", conns);
  streams = json_array_new ();
  g_hash_table_iter_init (&it, session->streams);
  while (g_hash_table_iter_next (&it, NULL, &value)) {
    if (((OtcRouterStream *) value)->announced)
      json_array_add_object_element (streams,
          otc_router_stream_to_json (value));
  }
  json_object_set_array_member (reply, "streams", streams);
  otc_router_client_send (client, reply);

  created = otc_signalling_new ("connectionCreated");
  json_object_set_object_member (created, "connection",
      connection_json (client));
  otc_router_session_broadcast (session, created, NULL);
  json_object_unref (created);
  g_hash_table_insert (session->connections, g_strdup (client->id), client);
  GST_INFO ("connection %s joined session %s as %s", client->id, session->id,
      otc_role_to_string (client->role));
}

static gboolean
string_ok (JsonObject * msg, const gchar * member, guint max_chars,
    gboolean required, const gchar ** out)
{
  JsonNode *n = json_object_get_member (msg, member);

  *out = otc_signalling_get_string (msg, member);
  if (n == NULL)
    return !required;
  return *out != NULL && g_utf8_strlen (*out, -1) <= max_chars;
}

static void
handle_publish (OtcRouterClient * client, JsonObject * msg, const gchar * rid)
{
  OtcRouterSession *session = client->session;
  const gchar *name, *video_type, *sdp;
  gboolean has_audio = TRUE, has_video = TRUE;
  OtcRouterStream *stream;
  GError *error = NULL;
  LegContext *ctx;

  if (client->role == OTC_ROLE_SUBSCRIBER) {
    send_error (client, OTC_SIGNALLING_ERROR_PUBLISH_FORBIDDEN,
        "Unable to publish: this connection's role is subscriber", rid);
    return;
  }
  if (!string_ok (msg, "name", OTC_STREAM_MAX_NAME, FALSE, &name)
      || !string_ok (msg, "videoType", 16, FALSE, &video_type)
      || !string_ok (msg, "sdp", OTC_SIGNALLING_MAX_MESSAGE, TRUE, &sdp)
      || (json_object_has_member (msg, "hasAudio")
          && !otc_signalling_get_bool (msg, "hasAudio", &has_audio))
      || (json_object_has_member (msg, "hasVideo")
          && !otc_signalling_get_bool (msg, "hasVideo", &has_video))
      || (!has_audio && !has_video)
      || (video_type && !g_strv_contains ((const gchar *[]) { "camera",
                  "screen", "custom", NULL}, video_type))) {
    send_error (client, OTC_SIGNALLING_ERROR_BAD_MESSAGE,
        "publish needs \"sdp\" (an offer), optional \"name\" (at most 1000 "
        "characters), \"hasAudio\"/\"hasVideo\" (booleans, not both false) "
        "and \"videoType\" (camera, screen or custom)", rid);
    return;
  }

  stream = g_new0 (OtcRouterStream, 1);
  stream->id = otc_router_new_id ("s");
  stream->connection_id = g_strdup (client->id);
  stream->name = g_strdup (name ? name : "");
  stream->has_audio = has_audio;
  stream->has_video = has_video;
  stream->video_type = g_strdup (video_type ? video_type : "camera");
  stream->created = g_get_real_time () / 1000;
  g_hash_table_insert (session->streams, g_strdup (stream->id), stream);

  ctx = leg_context_new (client, stream->id, NULL, rid);
  stream->leg = otc_router_media_publish (client->server->media, stream->id,
      sdp, &leg_callbacks, ctx, &error);
  if (stream->leg == NULL) {
    send_gerror (client, OTC_SIGNALLING_ERROR_PUBLISH_FAILED, "Publishing failed", error,
        rid);
    leg_context_free (ctx);
    g_hash_table_remove (session->streams, stream->id);
  }
}

/* Removes @stream_id of @session and tells everyone. */
static void
remove_stream (OtcRouterSession * session, const gchar * stream_id,
    const gchar * reason)
{
  OtcRouterStream *stream = g_hash_table_lookup (session->streams,
      stream_id);
  gchar *id;
  gboolean announced;

  if (stream == NULL)
    return;
  id = g_strdup (stream_id);
  announced = stream->announced;
  g_hash_table_remove (session->streams, id);   /* closes the leg */
  if (announced)
    stream_destroyed (session, id, reason);
  g_free (id);
}

static OtcRouterStream *
own_stream (OtcRouterClient * client, JsonObject * msg, const gchar * member)
{
  const gchar *id = otc_signalling_get_string (msg, member);
  OtcRouterStream *stream = id ? g_hash_table_lookup (client->session->streams,
      id) : NULL;

  return stream && g_str_equal (stream->connection_id, client->id) ? stream :
      NULL;
}

static void
handle_unpublish (OtcRouterClient * client, JsonObject * msg,
    const gchar * rid)
{
  OtcRouterStream *stream = own_stream (client, msg, "streamId");

  if (stream == NULL) {
    send_error (client, OTC_SIGNALLING_ERROR_NOT_FOUND,
        "No stream of this connection has that streamId", rid);
    return;
  }
  remove_stream (client->session, stream->id, "clientUnpublished");
}

/* A moderator-only request: FALSE (and error 1520) for other roles. */
static gboolean
moderator_only (OtcRouterClient * client, const gchar * what,
    const gchar * rid)
{
  gchar *text;

  if (client->role == OTC_ROLE_MODERATOR)
    return TRUE;
  text = g_strdup_printf ("Forbidden: only a moderator may %s", what);
  send_error (client, OTC_SIGNALLING_ERROR_FORBIDDEN, text, rid);
  g_free (text);
  return FALSE;
}

static void
send_ack (OtcRouterClient * client, const gchar * type, const gchar * member,
    const gchar * id, const gchar * rid)
{
  JsonObject *ack = otc_signalling_new (type);

  json_object_set_string_member (ack, member, id);
  if (rid)
    json_object_set_string_member (ack, "requestId", rid);
  otc_router_client_send (client, ack);
}

/* A moderator ends another connection of the session: it is closed with
 * 4000 "forceDisconnected", everyone else hears connectionDestroyed with
 * that reason. */
static void
handle_force_disconnect (OtcRouterClient * client, JsonObject * msg,
    const gchar * rid)
{
  const gchar *id = otc_signalling_get_string (msg, "connectionId");
  OtcRouterClient *target;
  gchar *target_id;

  if (!moderator_only (client, "force a disconnection", rid))
    return;
  target = id ? g_hash_table_lookup (client->session->connections, id) : NULL;
  if (target == NULL) {
    send_error (client, OTC_SIGNALLING_ERROR_NOT_FOUND,
        "No connection of this session has that connectionId", rid);
    return;
  }
  if (target == client) {
    send_error (client, OTC_SIGNALLING_ERROR_BAD_MESSAGE,
        "A connection leaves with \"disconnect\", not forceDisconnect", rid);
    return;
  }
  target_id = g_strdup (id);
  GST_INFO ("connection %s: force-disconnects %s", client->id, target_id);
  otc_router_client_close (target, OTC_SIGNALLING_CLOSE_FORCE_DISCONNECTED,
      "forceDisconnected");
  send_ack (client, "forceDisconnectSent", "connectionId", target_id, rid);
  g_free (target_id);
}

/* A moderator ends a stream of the session: streamDestroyed with reason
 * "forceUnpublished" to everyone, its publisher included. */
static void
handle_force_unpublish (OtcRouterClient * client, JsonObject * msg,
    const gchar * rid)
{
  const gchar *id = otc_signalling_get_string (msg, "streamId");
  OtcRouterStream *stream;
  gchar *stream_id;

  if (!moderator_only (client, "force a stream to be unpublished", rid))
    return;
  /* announced streams only: one still being negotiated is known to its
   * publisher alone */
  stream = id ? g_hash_table_lookup (client->session->streams, id) : NULL;
  if (stream == NULL || !stream->announced) {
    send_error (client, OTC_SIGNALLING_ERROR_NOT_FOUND,
        "No stream of this session has that streamId", rid);
    return;
  }
  stream_id = g_strdup (id);
  GST_INFO ("connection %s: force-unpublishes %s", client->id, stream_id);
  remove_stream (client->session, stream_id, "forceUnpublished");
  send_ack (client, "forceUnpublishSent", "streamId", stream_id, rid);
  g_free (stream_id);
}

static void
handle_subscribe (OtcRouterClient * client, JsonObject * msg,
    const gchar * rid)
{
  const gchar *id = otc_signalling_get_string (msg, "streamId");
  OtcRouterStream *stream = id ? g_hash_table_lookup (client->session->streams,
      id) : NULL;
  gchar *sub_id;
  LegContext *ctx;
  OtcMediaLeg *leg;
  GError *error = NULL;

  if (stream == NULL || !stream->announced) {
    send_error (client, OTC_SIGNALLING_ERROR_NOT_FOUND,
        "No stream with that streamId in this session", rid);
    return;
  }
  sub_id = otc_router_new_id ("sub");
  ctx = leg_context_new (client, stream->id, sub_id, rid);
  leg = otc_router_media_subscribe (client->server->media, stream->id,
      &leg_callbacks, ctx, &error);
  if (leg == NULL) {
    send_gerror (client, OTC_SIGNALLING_ERROR_SUBSCRIBE_FAILED, "Subscribing failed", error,
        rid);
    leg_context_free (ctx);
  } else {
    g_hash_table_insert (client->subscriptions, g_strdup (sub_id), leg);
  }
  g_free (sub_id);
}

static void
handle_subscribe_answer (OtcRouterClient * client, JsonObject * msg,
    const gchar * rid)
{
  const gchar *id = otc_signalling_get_string (msg, "subscriptionId");
  const gchar *sdp = otc_signalling_get_string (msg, "sdp");
  OtcMediaLeg *leg = id ? g_hash_table_lookup (client->subscriptions, id) :
      NULL;
  GError *error = NULL;

  if (leg == NULL || sdp == NULL) {
    send_error (client, leg ? OTC_SIGNALLING_ERROR_BAD_MESSAGE :
        OTC_SIGNALLING_ERROR_NOT_FOUND,
        "subscribeAnswer needs a known \"subscriptionId\" and \"sdp\"", rid);
    return;
  }
  if (!otc_media_leg_set_remote_answer (leg, sdp, &error)) {
    send_gerror (client, OTC_SIGNALLING_ERROR_SUBSCRIBE_FAILED, "Bad answer", error,
        rid);
  }
}

static void
handle_unsubscribe (OtcRouterClient * client, JsonObject * msg,
    const gchar * rid)
{
  const gchar *id = otc_signalling_get_string (msg, "subscriptionId");
  OtcMediaLeg *leg = id ? g_hash_table_lookup (client->subscriptions, id) :
      NULL;

  if (leg == NULL) {
    send_error (client, OTC_SIGNALLING_ERROR_NOT_FOUND,
        "No subscription with that subscriptionId", rid);
    return;
  }
  g_hash_table_steal (client->subscriptions, id);
  otc_router_leg_close (leg);
}

static void
handle_candidate (OtcRouterClient * client, JsonObject * msg,
    const gchar * rid)
{
  const gchar *leg_id = otc_signalling_get_string (msg, "legId");
  const gchar *candidate = otc_signalling_get_string (msg, "candidate");
  OtcRouterStream *stream = own_stream (client, msg, "legId");
  OtcMediaLeg *leg = stream ? stream->leg : NULL;
  guint mline = 0;

  if (leg == NULL && leg_id != NULL)
    leg = g_hash_table_lookup (client->subscriptions, leg_id);
  if (candidate == NULL || !otc_signalling_get_uint (msg, "mline", &mline)) {
    send_error (client, OTC_SIGNALLING_ERROR_BAD_MESSAGE,
        "candidate needs \"legId\", \"mline\" and \"candidate\"", rid);
    return;
  }
  if (leg == NULL) {
    send_error (client, OTC_SIGNALLING_ERROR_NOT_FOUND,
        "No leg of this connection has that legId", rid);
    return;
  }
  otc_media_leg_add_remote_candidate (leg, mline, candidate);
}

static gboolean
signal_type_ok (const gchar * t)
{
  const gchar *p;

  if (g_utf8_strlen (t, -1) > OTC_SIGNAL_MAX_TYPE)
    return FALSE;
  for (p = t; *p; p++) {
    if (!g_ascii_isalnum (*p) && !strchr ("-_~.", *p))
      return FALSE;
  }
  return TRUE;
}

static void
handle_signal (OtcRouterClient * client, JsonObject * msg, const gchar * rid)
{
  const gchar *to = otc_signalling_get_string (msg, "to");
  const gchar *type = otc_signalling_get_string (msg, "signalType");
  const gchar *data = otc_signalling_get_string (msg, "data");
  gint64 now = g_get_monotonic_time ();
  OtcRouterClient *target = NULL;
  JsonObject *out, *ack;

  if ((json_object_has_member (msg, "to") && to == NULL)
      || (json_object_has_member (msg, "signalType") && (type == NULL
              || !signal_type_ok (type))) || data == NULL) {
    send_error (client, OTC_SIGNALLING_ERROR_BAD_MESSAGE,
        "signal needs \"data\" (a string), an optional \"signalType\" (at "
        "most 128 of A-Z a-z 0-9 - _ ~ .) and an optional \"to\"", rid);
    return;
  }
  if (g_utf8_strlen (data, -1) > OTC_SIGNAL_MAX_DATA) {
    send_error (client, OTC_SIGNALLING_ERROR_TOO_LARGE,
        "Signal data is limited to 8192 characters", rid);
    return;
  }
  if (to != NULL) {
    target = g_hash_table_lookup (client->session->connections, to);
    if (target == NULL) {
      send_error (client, OTC_SIGNALLING_ERROR_NOT_FOUND,
          "No connection with that id in this session", rid);
      return;
    }
  }
  if (now - client->signal_window >= G_USEC_PER_SEC) {
    client->signal_window = now;
    client->signals_this_second = 0;
  }
  if (++client->signals_this_second > MAX_SIGNALS_PER_SECOND) {
    send_error (client, OTC_SIGNALLING_ERROR_RATE_LIMITED,
        "More than 100 signals a second", rid);
    return;
  }

  out = otc_signalling_new ("signal");
  json_object_set_string_member (out, "from", client->id);
  json_object_set_string_member (out, "signalType", type ? type : "");
  json_object_set_string_member (out, "data", data);
  if (target != NULL)
    otc_router_client_send (target, out);
  else {
    otc_router_session_broadcast (client->session, out, NULL);
    json_object_unref (out);
  }
  ack = otc_signalling_new ("signalSent");
  if (rid)
    json_object_set_string_member (ack, "requestId", rid);
  otc_router_client_send (client, ack);
}

static void
on_message (SoupWebsocketConnection * ws, gint type, GBytes * bytes,
    gpointer user_data)
{
  OtcRouterClient *client = user_data;
  gsize len;
  const gchar *text = g_bytes_get_data (bytes, &len);
  gchar *why = NULL;
  gint code = 0;
  JsonObject *msg;
  const gchar *mtype, *rid;

  if (type != SOUP_WEBSOCKET_DATA_TEXT) {
    send_error (client, OTC_SIGNALLING_ERROR_BAD_MESSAGE,
        "Messages are JSON text, not binary", NULL);
    return;
  }
  msg = otc_signalling_parse (text, len, &code, &why);
  if (msg == NULL) {
    send_error (client, code, why, NULL);
    g_free (why);
    return;
  }
  mtype = otc_signalling_get_string (msg, "type");
  rid = otc_signalling_get_string (msg, "requestId");
  GST_DEBUG ("connection %s: %s", client->id ? client->id : "-", mtype);

  if (g_str_equal (mtype, "connect"))
    handle_connect (client, msg, rid);
  else if (g_str_equal (mtype, "ping")) {
    JsonObject *pong = otc_signalling_new ("pong");
    if (rid)
      json_object_set_string_member (pong, "requestId", rid);
    otc_router_client_send (client, pong);
  } else if (client->session == NULL)
    send_error (client, OTC_SIGNALLING_ERROR_NOT_CONNECTED,
        "Not connected: send \"connect\" first", rid);
  else if (g_str_equal (mtype, "publish"))
    handle_publish (client, msg, rid);
  else if (g_str_equal (mtype, "unpublish"))
    handle_unpublish (client, msg, rid);
  else if (g_str_equal (mtype, "subscribe"))
    handle_subscribe (client, msg, rid);
  else if (g_str_equal (mtype, "subscribeAnswer"))
    handle_subscribe_answer (client, msg, rid);
  else if (g_str_equal (mtype, "unsubscribe"))
    handle_unsubscribe (client, msg, rid);
  else if (g_str_equal (mtype, "candidate"))
    handle_candidate (client, msg, rid);
  else if (g_str_equal (mtype, "signal"))
    handle_signal (client, msg, rid);
  else if (g_str_equal (mtype, "forceDisconnect"))
    handle_force_disconnect (client, msg, rid);
  else if (g_str_equal (mtype, "forceUnpublish"))
    handle_force_unpublish (client, msg, rid);
  else if (g_str_equal (mtype, "disconnect"))
    otc_router_client_close (client, SOUP_WEBSOCKET_CLOSE_NORMAL,
        "clientDisconnected");
  else {
    gchar *t = g_strdup_printf ("Unknown message type \"%s\"", mtype);
    send_error (client, OTC_SIGNALLING_ERROR_UNKNOWN_TYPE, t, rid);
    g_free (t);
  }
  json_object_unref (msg);
}

/* Leaves the session: streams and subscriptions go, the others are told. */
static void
leave_session (OtcRouterClient * client, const gchar * reason)
{
  OtcRouterSession *session = client->session;
  GHashTableIter it;
  gpointer key, value;
  GPtrArray *own = g_ptr_array_new_with_free_func (g_free);
  JsonObject *msg;
  guint i;

  if (session == NULL)
    return;
  g_hash_table_remove (session->connections, client->id);
  client->session = NULL;

  g_hash_table_iter_init (&it, client->subscriptions);
  while (g_hash_table_iter_next (&it, &key, &value)) {
    g_hash_table_iter_steal (&it);
    otc_router_leg_close (value);
    g_free (key);
  }
  g_hash_table_iter_init (&it, session->streams);
  while (g_hash_table_iter_next (&it, &key, &value)) {
    if (g_str_equal (((OtcRouterStream *) value)->connection_id, client->id))
      g_ptr_array_add (own, g_strdup (key));
  }
  for (i = 0; i < own->len; i++)
    remove_stream (session, g_ptr_array_index (own, i), reason);
  g_ptr_array_unref (own);

  msg = otc_signalling_new ("connectionDestroyed");
  json_object_set_string_member (msg, "connectionId", client->id);
  json_object_set_string_member (msg, "reason", reason);
  otc_router_session_broadcast (session, msg, NULL);
  json_object_unref (msg);
  GST_INFO ("connection %s left session %s (%s)", client->id, session->id,
      reason);
}

static gboolean
free_closed_client (gpointer user_data)
{
  OtcRouterClient *client = user_data;

  g_hash_table_remove (client->server->clients, client);        /* frees */
  return G_SOURCE_REMOVE;
}

static void
on_closed (SoupWebsocketConnection * ws, gpointer user_data)
{
  OtcRouterClient *client = user_data;

  leave_session (client, "clientDisconnected");
  /* not inside the socket's own signal emission */
  g_idle_add (free_closed_client, client);
}

static gboolean
connect_timed_out (gpointer user_data)
{
  OtcRouterClient *client = user_data;

  client->connect_timeout = 0;
  send_error (client, OTC_SIGNALLING_ERROR_NOT_CONNECTED,
      "No connect message within 10 seconds", NULL);
  soup_websocket_connection_close (client->ws, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION,
      "connect timeout");
  return G_SOURCE_REMOVE;
}

OtcRouterClient *
otc_router_client_new (OtcRouterServer * server, SoupWebsocketConnection * ws)
{
  OtcRouterClient *client = g_new0 (OtcRouterClient, 1);

  client->server = server;
  client->ws = g_object_ref (ws);
  client->subscriptions = g_hash_table_new_full (g_str_hash, g_str_equal,
      g_free, (GDestroyNotify) otc_router_leg_close);
  /* a hard limit above the protocol's: bigger frames close the socket
   * (1009), as do bigger fragmented messages (otc-router-ws-limit.c);
   * between the two, an error reply */
  soup_websocket_connection_set_max_incoming_payload_size (ws,
      OTC_ROUTER_MAX_WS_MESSAGE + 1);
  soup_websocket_connection_set_keepalive_interval (ws, 20);
  g_signal_connect (ws, "message", G_CALLBACK (on_message), client);
  g_signal_connect (ws, "closed", G_CALLBACK (on_closed), client);
  client->connect_timeout = g_timeout_add_seconds (CONNECT_TIMEOUT_S,
      connect_timed_out, client);
  return client;
}

void
otc_router_client_close (OtcRouterClient * client, gushort code,
    const gchar * reason)
{
  leave_session (client, reason);
  if (soup_websocket_connection_get_state (client->ws) ==
      SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (client->ws, code, reason);
}

void
otc_router_client_free (OtcRouterClient * client)
{
  if (client->connect_timeout)
    g_source_remove (client->connect_timeout);
  if (client->drop_source)
    g_source_remove (client->drop_source);
  leave_session (client, "clientDisconnected");
  g_signal_handlers_disconnect_by_data (client->ws, client);
  g_hash_table_unref (client->subscriptions);
  g_object_unref (client->ws);
  g_free (client->id);
  g_free (client->data);
  if (client->remote_host) {
    otc_router_server_release_address (client->server, client->remote_host);
    g_free (client->remote_host);
  }
  g_free (client);
}
