/**
 * SECTION:element-otcsession
 * @title: otcsession
 *
 * Joins an otc session on a session server (otc-router) and publishes and
 * subscribes to streams over WebRTC, end-to-end encrypted when the session
 * says so: otcencrypt/otcdecrypt go in automatically, configured with the
 * session id, the session's cipher suite and a key id that the router
 * keeps unique in the session.
 *
 * Request sink pads `video_%u` / `audio_%u` publish: pads with the same
 * number form one stream (VP8 and Opus, or raw video/audio, encoded inside).
 * Each subscribed remote stream appears as sometimes src pads
 * `video_<stream id>` / `audio_<stream id>`: decoded, unless what they are
 * linked to takes only VP8/Opus, which then gets the decrypted frames.
 *
 * Session events are element messages (docs/session-elements.md).
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 otcsession name=s url=http://127.0.0.1:8080 \
 *     session-id=2_... token=eyJ... encryption-secret-file=secret.txt \
 *     videotestsrc is-live=true ! s.video_0 \
 *     s. ! queue ! videoconvert ! autovideosink
 * ]|
 */
#include "config.h"

#include <agent.h>
#include <openssl/crypto.h>
#include <string.h>

#include "gstotcsession-private.h"
#include "gstotcsessionelements.h"
#include "otc-router-signaller.h"
#include "otc-signalling.h"

GST_DEBUG_CATEGORY (gst_otc_session_debug);
#define GST_CAT_DEFAULT gst_otc_session_debug

#define DEFAULT_CONNECT_TIMEOUT 10000
#define DEFAULT_MISMATCH_DELAY 3000
#define DEFAULT_AUTO_SUBSCRIBE TRUE
#define DEFAULT_STREAM_NAME "otc"
#define DEFAULT_VIDEO_TYPE "camera"
#define DEFAULT_VIDEO_BITRATE 1000000

enum
{
  PROP_0,
  PROP_URL,
  PROP_SESSION_ID,
  PROP_TOKEN,
  PROP_ENCRYPTION_SECRET,
  PROP_ENCRYPTION_SECRET_FILE,
  PROP_ICE_ADDRESSES,
  PROP_CONNECT_TIMEOUT,
  PROP_MISMATCH_DELAY,
  PROP_AUTO_SUBSCRIBE,
  PROP_STREAM_NAME,
  PROP_VIDEO_TYPE,
  PROP_VIDEO_BITRATE,
  PROP_SIGNALLER,
  PROP_CONNECTION_ID,
  PROP_E2EE,
};

enum
{
  SIGNAL_SET_ENCRYPTION_SECRET,
  SIGNAL_SEND_SIGNAL,
  LAST_SIGNAL
};

static guint signals[LAST_SIGNAL];

static void fix_flags (GstOtcSession * self);

G_DEFINE_ABSTRACT_TYPE_WITH_CODE (GstOtcSession, gst_otc_session,
    GST_TYPE_BIN, G_ADD_PRIVATE (GstOtcSession);
    GST_DEBUG_CATEGORY_INIT (gst_otc_session_debug, "otcsession", 0,
        "otc session elements"));

/* GMutex that serialises the signaller's handlers with start/stop */
static GMutex *
dispatch_lock (GstOtcSession * self)
{
  return g_object_get_data (G_OBJECT (self), "otc-dispatch-lock");
}

GstOtcSessionPrivate *
gst_otc_session_get_priv (GstOtcSession * self)
{
  return gst_otc_session_get_instance_private (self);
}

void
gst_otc_session_post (GstOtcSession * self, GstStructure * s)
{
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), s));
}

void
gst_otc_session_post_stream_error (GstOtcSession * self, const gchar * name,
    gint code, const gchar * message, const gchar * stream_id,
    const gchar * connection_id)
{
  GstStructure *s = gst_otc_message_new (name, code, message);

  if (stream_id)
    gst_structure_set (s, "stream-id", G_TYPE_STRING, stream_id, NULL);
  if (connection_id)
    gst_structure_set (s, "connection-id", G_TYPE_STRING, connection_id,
        NULL);
  gst_otc_session_post (self, s);
}

gchar *
gst_otc_session_dup_secret (GstOtcSession * self)
{
  return gst_otc_secret_holder_dup_secret (&gst_otc_session_get_priv
      (self)->secret);
}

void
gst_otc_session_free_secret (gchar * secret)
{
  if (secret) {
    OPENSSL_cleanse (secret, strlen (secret));
    g_free (secret);
  }
}

void
gst_otc_session_configure_transform (GstOtcSession * self,
    GstElement * element)
{
  GstOtcSessionPrivate *priv = gst_otc_session_get_priv (self);
  gchar *secret = gst_otc_session_dup_secret (self);
  const gchar *sid;

  g_mutex_lock (&priv->lock);
  sid = gst_structure_get_string (priv->info, "session-id");
  g_object_set (element, "session-id", sid, "cipher-suite",
      priv->cipher_suite, NULL);
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (element),
          "mismatch-delay"))
    g_object_set (element, "mismatch-delay", priv->mismatch_delay, NULL);
  g_mutex_unlock (&priv->lock);
  if (secret)
    g_object_set (element, "encryption-secret", secret, NULL);
  gst_otc_session_free_secret (secret);
}

/* --- ICE ---------------------------------------------------------------- */

static gboolean
url_is_loopback (const gchar * url)
{
  GUri *uri = url ? g_uri_parse (url, G_URI_FLAGS_NONE, NULL) : NULL;
  const gchar *host;
  gboolean loopback = FALSE;

  if (uri == NULL)
    return FALSE;
  host = g_uri_get_host (uri);
  if (host) {
    GInetAddress *addr = g_inet_address_new_from_string (host);

    loopback = g_str_equal (host, "localhost") ||
        (addr && g_inet_address_get_is_loopback (addr));
    g_clear_object (&addr);
  }
  g_uri_unref (uri);
  return loopback;
}

void
gst_otc_session_setup_webrtc (GstOtcSession * self, GstElement * webrtc)
{
  GstOtcSessionPrivate *priv = gst_otc_session_get_priv (self);
  GObject *ice = NULL, *agent = NULL;
  gchar **addresses = NULL;
  guint i;

  g_mutex_lock (&priv->lock);
  if (priv->ice_addresses && *priv->ice_addresses)
    addresses = g_strsplit (priv->ice_addresses, ",", -1);
  else if (url_is_loopback (priv->join.url))
    addresses = g_strsplit ("127.0.0.1", ",", -1);
  g_mutex_unlock (&priv->lock);

  g_object_get (webrtc, "ice-agent", &ice, NULL);
  if (ice)
    g_object_get (ice, "agent", &agent, NULL);
  if (agent && g_object_class_find_property (G_OBJECT_GET_CLASS (agent),
          "upnp"))
    g_object_set (agent, "upnp", FALSE, NULL);
  for (i = 0; addresses && agent && addresses[i]; i++) {
    NiceAddress addr;
    gchar *a = g_strstrip (addresses[i]);

    nice_address_init (&addr);
    if (!nice_address_set_from_string (&addr, a)
        || !nice_agent_add_local_address (NICE_AGENT (agent), &addr))
      GST_WARNING_OBJECT (self, "ICE address \"%s\" ignored: not an address",
          a);
    else
      GST_DEBUG_OBJECT (self, "ICE restricted to %s", a);
  }
  if (addresses && ice && g_object_class_find_property (G_OBJECT_GET_CLASS
          (ice), "ice-tcp"))
    g_object_set (ice, "ice-tcp", FALSE, NULL);
  g_strfreev (addresses);
  g_clear_object (&agent);
  g_clear_object (&ice);
}

/* --- secrets ------------------------------------------------------------ */

static void
apply_secret (gpointer element, gpointer secret)
{
  g_object_set (element, "encryption-secret", secret, NULL);
}

static void
apply_secret_everywhere (GstOtcSession * self)
{
  GstOtcSessionPrivate *priv = gst_otc_session_get_priv (self);
  gchar *secret = gst_otc_session_dup_secret (self);
  GHashTableIter it;
  gpointer value;
  guint i;

  if (secret == NULL)
    return;                     /* removed: running transforms keep theirs */
  g_mutex_lock (&priv->lock);
  for (i = 0; i < priv->publishers->len; i++) {
    OtcPublisher *pub = g_ptr_array_index (priv->publishers, i);

    if (pub)
      otc_publisher_foreach_transform (pub, apply_secret, secret);
  }
  g_hash_table_iter_init (&it, priv->subscribers);
  while (g_hash_table_iter_next (&it, NULL, &value))
    otc_subscriber_foreach_transform (value, apply_secret, secret);
  g_mutex_unlock (&priv->lock);
  gst_otc_session_free_secret (secret);
}

static gboolean
set_secret (GstOtcSession * self, const gchar * secret, gboolean from_file)
{
  GstOtcSessionPrivate *priv = gst_otc_session_get_priv (self);
  GError *error = NULL;
  gboolean ok;

  ok = from_file ?
      gst_otc_secret_holder_set_secret_from_file (&priv->secret, secret,
      &error) : gst_otc_secret_holder_set_secret (&priv->secret, secret,
      &error);
  priv->secret_invalid = !ok;
  if (!ok) {
    gst_otc_report_invalid_secret (GST_ELEMENT (self), &priv->pending, error);
    g_error_free (error);
    return FALSE;
  }
  apply_secret_everywhere (self);
  return TRUE;
}

static gboolean
gst_otc_session_set_encryption_secret (GstOtcSession * self,
    const gchar * secret)
{
  return set_secret (self, secret, FALSE);
}

/* --- session events ----------------------------------------------------- */

#define DISPATCH_BEGIN(self, priv) \
  g_mutex_lock (dispatch_lock (self)); \
  if (!priv->running) { g_mutex_unlock (dispatch_lock (self)); return; }
#define DISPATCH_END(self) g_mutex_unlock (dispatch_lock (self))

static gboolean
can_subscribe (GstOtcSession * self)
{
  return GST_OTC_SESSION_GET_CLASS (self)->can_subscribe;
}

/* Called with the dispatch lock. */
static void
maybe_subscribe (GstOtcSession * self, const GstStructure * stream)
{
  GstOtcSessionPrivate *priv = gst_otc_session_get_priv (self);
  const gchar *id = gst_structure_get_string (stream, "stream-id");
  const gchar *conn = gst_structure_get_string (stream, "connection-id");
  OtcSubscriber *sub;

  if (id == NULL || !can_subscribe (self))
    return;
  g_mutex_lock (&priv->lock);
  if (!priv->auto_subscribe || g_strcmp0 (conn, priv->connection_id) == 0
      || g_hash_table_contains (priv->subscribers, id)) {
    g_mutex_unlock (&priv->lock);
    return;
  }
  g_mutex_unlock (&priv->lock);
  if (priv->e2ee && !gst_otc_secret_holder_has_secret (&priv->secret)) {
    gst_otc_session_post_stream_error (self, GST_OTC_MSG_SECRET_MISSING,
        OTC_E2EE_ERROR_ENCRYPTION_SECRET_MISSING,
        "Cannot subscribe in an end-to-end encrypted session without an "
        "encryption secret: set encryption-secret", id, conn);
    return;
  }
  sub = otc_subscriber_new (self, stream);
  g_mutex_lock (&priv->lock);
  g_hash_table_insert (priv->subscribers, g_strdup (id), sub);
  g_mutex_unlock (&priv->lock);
  otc_subscriber_start (sub);
}

static void
post_stream (GstOtcSession * self, const gchar * name,
    const GstStructure * stream)
{
  GstStructure *s = gst_structure_copy (stream);

  gst_structure_set_name (s, name);
  gst_otc_session_post (self, s);
}

static void
on_stream_created (OtcSignaller * sig, const GstStructure * stream,
    GstOtcSession * self)
{
  GstOtcSessionPrivate *priv = gst_otc_session_get_priv (self);

  DISPATCH_BEGIN (self, priv);
  post_stream (self, OTC_MSG_STREAM_CREATED, stream);
  maybe_subscribe (self, stream);
  DISPATCH_END (self);
}

/* Called with the dispatch lock. */
static void
drop_subscriber (GstOtcSession * self, const gchar * stream_id,
    gboolean unsubscribe)
{
  GstOtcSessionPrivate *priv = gst_otc_session_get_priv (self);
  OtcSubscriber *sub;

  g_mutex_lock (&priv->lock);
  sub = stream_id ? g_hash_table_lookup (priv->subscribers, stream_id) : NULL;
  if (sub)
    g_hash_table_steal (priv->subscribers, stream_id);
  g_mutex_unlock (&priv->lock);
  if (sub) {
    otc_subscriber_stop (sub, unsubscribe);
    otc_subscriber_free (sub);
  }
}

static void
on_stream_destroyed (OtcSignaller * sig, const gchar * stream_id,
    const gchar * reason, GstOtcSession * self)
{
  GstOtcSessionPrivate *priv = gst_otc_session_get_priv (self);

  DISPATCH_BEGIN (self, priv);
  drop_subscriber (self, stream_id, FALSE);
  gst_otc_session_post (self, gst_structure_new (OTC_MSG_STREAM_DESTROYED,
          "stream-id", G_TYPE_STRING, stream_id,
          "reason", G_TYPE_STRING, reason, NULL));
  DISPATCH_END (self);
}

static void
on_unsubscribed (OtcSignaller * sig, const gchar * subscription_id,
    const gchar * stream_id, const gchar * reason, GstOtcSession * self)
{
  GstOtcSessionPrivate *priv = gst_otc_session_get_priv (self);
  OtcSubscriber *sub;

  DISPATCH_BEGIN (self, priv);
  g_mutex_lock (&priv->lock);
  sub = stream_id ? g_hash_table_lookup (priv->subscribers, stream_id) : NULL;
  g_mutex_unlock (&priv->lock);
  if (sub && otc_subscriber_matches (sub, NULL, subscription_id)) {
    drop_subscriber (self, stream_id, FALSE);
    gst_otc_session_post (self, gst_structure_new (OTC_MSG_UNSUBSCRIBED,
            "stream-id", G_TYPE_STRING, stream_id,
            "subscription-id", G_TYPE_STRING, subscription_id,
            "reason", G_TYPE_STRING, reason, NULL));
  }
  DISPATCH_END (self);
}

static void
on_connection_created (OtcSignaller * sig, const GstStructure * c,
    GstOtcSession * self)
{
  GstOtcSessionPrivate *priv = gst_otc_session_get_priv (self);
  GstStructure *s;

  DISPATCH_BEGIN (self, priv);
  s = gst_structure_copy (c);
  gst_structure_set_name (s, OTC_MSG_CONNECTION_CREATED);
  gst_otc_session_post (self, s);
  DISPATCH_END (self);
}

static void
on_connection_destroyed (OtcSignaller * sig, const gchar * id,
    const gchar * reason, GstOtcSession * self)
{
  GstOtcSessionPrivate *priv = gst_otc_session_get_priv (self);

  DISPATCH_BEGIN (self, priv);
  gst_otc_session_post (self, gst_structure_new (OTC_MSG_CONNECTION_DESTROYED,
          "connection-id", G_TYPE_STRING, id,
          "reason", G_TYPE_STRING, reason, NULL));
  DISPATCH_END (self);
}

static void
on_signal_received (OtcSignaller * sig, const gchar * from,
    const gchar * type, const gchar * data, GstOtcSession * self)
{
  GstOtcSessionPrivate *priv = gst_otc_session_get_priv (self);

  DISPATCH_BEGIN (self, priv);
  gst_otc_session_post (self, gst_structure_new (OTC_MSG_SIGNAL,
          "from", G_TYPE_STRING, from,
          "type", G_TYPE_STRING, type ? type : "",
          "data", G_TYPE_STRING, data ? data : "", NULL));
  DISPATCH_END (self);
}

static OtcPublisher *
find_publisher (GstOtcSessionPrivate * priv, const gchar * tag,
    const gchar * leg_id)
{
  guint i;

  for (i = 0; i < priv->publishers->len; i++) {
    OtcPublisher *pub = g_ptr_array_index (priv->publishers, i);

    if (pub && otc_publisher_matches (pub, tag, leg_id))
      return pub;
  }
  return NULL;
}

static OtcSubscriber *
find_subscriber (GstOtcSessionPrivate * priv, const gchar * tag,
    const gchar * leg_id)
{
  GHashTableIter it;
  gpointer value;

  g_hash_table_iter_init (&it, priv->subscribers);
  while (g_hash_table_iter_next (&it, NULL, &value))
    if (otc_subscriber_matches (value, tag, leg_id))
      return value;
  return NULL;
}

static void
on_publish_answer (OtcSignaller * sig, const gchar * tag,
    const gchar * stream_id, const gchar * sdp, GstOtcSession * self)
{
  GstOtcSessionPrivate *priv = gst_otc_session_get_priv (self);
  OtcPublisher *pub;

  DISPATCH_BEGIN (self, priv);
  g_mutex_lock (&priv->lock);
  pub = find_publisher (priv, tag, NULL);
  g_mutex_unlock (&priv->lock);
  if (pub)
    otc_publisher_on_answer (pub, stream_id, sdp);
  DISPATCH_END (self);
}

static void
on_subscribe_offer (OtcSignaller * sig, const gchar * tag,
    const gchar * stream_id, const gchar * subscription_id, const gchar * sdp,
    GstOtcSession * self)
{
  GstOtcSessionPrivate *priv = gst_otc_session_get_priv (self);
  OtcSubscriber *sub;

  DISPATCH_BEGIN (self, priv);
  g_mutex_lock (&priv->lock);
  sub = find_subscriber (priv, tag, NULL);
  g_mutex_unlock (&priv->lock);
  if (sub)
    otc_subscriber_on_offer (sub, subscription_id, sdp);
  DISPATCH_END (self);
}

static void
on_candidate (OtcSignaller * sig, const gchar * leg_id, guint mline,
    const gchar * candidate, GstOtcSession * self)
{
  GstOtcSessionPrivate *priv = gst_otc_session_get_priv (self);
  OtcPublisher *pub;
  OtcSubscriber *sub = NULL;

  DISPATCH_BEGIN (self, priv);
  g_mutex_lock (&priv->lock);
  pub = find_publisher (priv, NULL, leg_id);
  if (pub == NULL)
    sub = find_subscriber (priv, NULL, leg_id);
  g_mutex_unlock (&priv->lock);
  if (pub)
    otc_publisher_on_candidate (pub, mline, candidate);
  else if (sub)
    otc_subscriber_on_candidate (sub, mline, candidate);
  DISPATCH_END (self);
}

static void
on_error (OtcSignaller * sig, gint code, const gchar * message,
    const gchar * tag, GstOtcSession * self)
{
  GstOtcSessionPrivate *priv = gst_otc_session_get_priv (self);
  OtcPublisher *pub;
  OtcSubscriber *sub = NULL;

  DISPATCH_BEGIN (self, priv);
  g_mutex_lock (&priv->lock);
  pub = find_publisher (priv, tag, NULL);
  if (pub == NULL)
    sub = find_subscriber (priv, tag, NULL);
  g_mutex_unlock (&priv->lock);
  if (pub) {
    otc_publisher_on_error (pub, code, message);
  } else if (sub) {
    gchar *id = g_strdup (otc_subscriber_get_stream_id (sub));

    otc_subscriber_on_error (sub, code, message);
    drop_subscriber (self, id, FALSE);
    g_free (id);
  } else if (tag == NULL || !g_str_has_prefix (tag, "signal-")
      || code != 0) {
    gst_otc_session_post_stream_error (self, OTC_MSG_ERROR, code, message,
        NULL, priv->connection_id);
  }
  DISPATCH_END (self);
}

static void
on_disconnected (OtcSignaller * sig, const gchar * reason,
    GstOtcSession * self)
{
  GstOtcSessionPrivate *priv = gst_otc_session_get_priv (self);

  DISPATCH_BEGIN (self, priv);
  GST_WARNING_OBJECT (self, "disconnected from the session: %s", reason);
  gst_otc_session_post (self, gst_structure_new (OTC_MSG_DISCONNECTED,
          "reason", G_TYPE_STRING, reason,
          "connection-id", G_TYPE_STRING, priv->connection_id, NULL));
  GST_ELEMENT_ERROR (self, RESOURCE, READ,
      ("Disconnected from the session (%s)", reason),
      ("the session server closed the connection or went away"));
  DISPATCH_END (self);
}

/* --- start and stop ----------------------------------------------------- */

static void
connect_handlers (GstOtcSession * self, OtcSignaller * sig)
{
  GstOtcSessionPrivate *priv = gst_otc_session_get_priv (self);
  struct
  {
    const gchar *name;
    GCallback cb;
  } h[] = {
    {"stream-created", G_CALLBACK (on_stream_created)},
    {"stream-destroyed", G_CALLBACK (on_stream_destroyed)},
    {"unsubscribed", G_CALLBACK (on_unsubscribed)},
    {"connection-created", G_CALLBACK (on_connection_created)},
    {"connection-destroyed", G_CALLBACK (on_connection_destroyed)},
    {"signal-received", G_CALLBACK (on_signal_received)},
    {"publish-answer", G_CALLBACK (on_publish_answer)},
    {"subscribe-offer", G_CALLBACK (on_subscribe_offer)},
    {"candidate", G_CALLBACK (on_candidate)},
    {"error", G_CALLBACK (on_error)},
    {"disconnected", G_CALLBACK (on_disconnected)},
  };
  guint i;

  G_STATIC_ASSERT (G_N_ELEMENTS (h) <= G_N_ELEMENTS (priv->handlers));
  for (i = 0; i < G_N_ELEMENTS (h); i++)
    priv->handlers[i] = g_signal_connect (sig, h[i].name, h[i].cb, self);
  priv->n_handlers = G_N_ELEMENTS (h);
}

/* The session's E2EE parameters: supported? Sets e2ee and cipher_suite. */
static gboolean
check_e2ee (GstOtcSession * self, const GstStructure * info, gchar ** why)
{
  GstOtcSessionPrivate *priv = gst_otc_session_get_priv (self);
  gboolean e2ee = FALSE;
  guint version = 0;
  const gchar *format, *suite;
  GEnumClass *klass;
  GEnumValue *v;

  gst_structure_get_boolean (info, "e2ee", &e2ee);
  priv->e2ee = e2ee;
  if (!e2ee)
    return TRUE;
  gst_structure_get_uint (info, "e2ee-format-version", &version);
  format = gst_structure_get_string (info, "e2ee-format");
  suite = gst_structure_get_string (info, "cipher-suite");
  if (g_strcmp0 (format, "OTC-E2EE") != 0 || version != 1) {
    *why = g_strdup_printf ("The session uses end-to-end encryption format "
        "%s version %u; this client supports OTC-E2EE version 1 only",
        format ? format : "(none)", version);
    return FALSE;
  }
  klass = g_type_class_ref (GST_TYPE_OTC_CIPHER_SUITE);
  v = suite ? g_enum_get_value_by_nick (klass, suite) : NULL;
  if (v)
    priv->cipher_suite = v->value;
  g_type_class_unref (klass);
  if (v == NULL) {
    *why = g_strdup_printf ("The session uses cipher suite \"%s\", which "
        "this client does not support", suite ? suite : "(none)");
    return FALSE;
  }
  return TRUE;
}

static void
ensure_pool (GstOtcSession * self)
{
  GstOtcSessionPrivate *priv = gst_otc_session_get_priv (self);
  GstContext *context;

  GST_OBJECT_LOCK (self);
  if (priv->pool) {
    GST_OBJECT_UNLOCK (self);
    return;
  }
  GST_OBJECT_UNLOCK (self);
  /* a bin that has one answers by calling set_context */
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_need_context (GST_OBJECT (self),
          OTC_CONNECTION_POOL_CONTEXT));
  GST_OBJECT_LOCK (self);
  if (priv->pool) {
    GST_OBJECT_UNLOCK (self);
    return;
  }
  GST_OBJECT_UNLOCK (self);
  context = otc_connection_pool_new_context ();
  gst_element_set_context (GST_ELEMENT (self), context);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_have_context (GST_OBJECT (self), context));
}

static void
gst_otc_session_set_context (GstElement * element, GstContext * context)
{
  GstOtcSessionPrivate *priv =
      gst_otc_session_get_priv (GST_OTC_SESSION (element));
  OtcConnectionPool *pool = otc_connection_pool_from_context (context);

  if (pool) {
    GST_OBJECT_LOCK (element);
    if (priv->pool == NULL)
      priv->pool = pool;
    else
      g_object_unref (pool);
    GST_OBJECT_UNLOCK (element);
  }
  GST_ELEMENT_CLASS (gst_otc_session_parent_class)->set_context (element,
      context);
}

static void
fail_start (GstOtcSession * self, gint code, const gchar * message)
{
  const gchar *name = OTC_MSG_ERROR;

  if (code == OTC_E2EE_ERROR_ENCRYPTION_SECRET_MISSING)
    name = GST_OTC_MSG_SECRET_MISSING;
  else if (code == OTC_E2EE_ERROR_INVALID_ENCRYPTION_SECRET)
    name = GST_OTC_MSG_INVALID_SECRET;
  gst_otc_session_post (self, gst_otc_message_new (name, code, message));
  GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ,
      ("Cannot join the session: %s (%d)", message, code), (NULL));
}

static void
stop_session (GstOtcSession * self)
{
  GstOtcSessionPrivate *priv = gst_otc_session_get_priv (self);
  OtcConnection *conn;
  GList *subs, *l;
  guint i;

  g_mutex_lock (dispatch_lock (self));
  priv->running = FALSE;
  conn = priv->conn;
  if (conn) {
    OtcSignaller *sig = otc_connection_get_signaller (conn);

    for (i = 0; i < priv->n_handlers; i++)
      g_signal_handler_disconnect (sig, priv->handlers[i]);
    priv->n_handlers = 0;
  }
  g_mutex_unlock (dispatch_lock (self));
  if (conn == NULL)
    return;

  g_mutex_lock (&priv->lock);
  subs = g_hash_table_get_values (priv->subscribers);
  g_hash_table_steal_all (priv->subscribers);
  g_mutex_unlock (&priv->lock);
  for (l = subs; l; l = l->next) {
    otc_subscriber_stop (l->data, TRUE);
    otc_subscriber_free (l->data);
  }
  g_list_free (subs);
  for (i = 0; i < priv->publishers->len; i++) {
    OtcPublisher *pub = g_ptr_array_index (priv->publishers, i);

    if (pub)
      otc_publisher_stop (pub);
  }

  g_mutex_lock (&priv->lock);
  priv->conn = NULL;
  g_clear_pointer (&priv->info, gst_structure_free);
  g_clear_pointer (&priv->connection_id, g_free);
  g_mutex_unlock (&priv->lock);
  otc_connection_release (conn);
}

static gboolean
start_session (GstOtcSession * self)
{
  GstOtcSessionPrivate *priv = gst_otc_session_get_priv (self);
  GstStructure *info = NULL, *msg;
  OtcConnection *conn;
  OtcSignaller *custom;
  gchar *url, *sid, *token, *message = NULL, *why = NULL;
  gint code = 0;
  guint timeout, i;
  GList *streams, *l;

  gst_otc_flush_pending (GST_ELEMENT (self), &priv->pending);
  priv->eos_posted = FALSE;
  g_atomic_int_set (&priv->src_eos, 0);
  ensure_pool (self);
  g_mutex_lock (&priv->lock);
  url = g_strdup (priv->join.url);
  sid = g_strdup (priv->join.session_id);
  token = g_strdup (priv->join.token);
  timeout = priv->connect_timeout;
  custom = priv->custom_signaller ? g_object_ref (priv->custom_signaller) :
      NULL;
  g_mutex_unlock (&priv->lock);
  if (custom == NULL && (url == NULL || token == NULL)) {
    g_free (url);
    g_free (sid);
    g_free (token);
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("Set url and token to join a session"), (NULL));
    return FALSE;
  }
  conn = otc_connection_pool_acquire (priv->pool, url, sid, token, custom);
  g_free (url);
  g_free (sid);
  if (token) {
    OPENSSL_cleanse (token, strlen (token));
    g_free (token);
  }
  g_clear_object (&custom);

  if (!otc_connection_wait_connected (conn, timeout, &info, &code,
          &message)) {
    otc_connection_release (conn);
    fail_start (self, code, message);
    g_free (message);
    return FALSE;
  }
  if (!check_e2ee (self, info, &why)) {
    otc_connection_release (conn);
    fail_start (self, OTC_SIGNALLING_ERROR_UNSUPPORTED_E2EE, why);
    g_free (why);
    gst_structure_free (info);
    return FALSE;
  }
  if (priv->e2ee && !gst_otc_secret_holder_has_secret (&priv->secret)) {
    otc_connection_release (conn);
    if (priv->secret_invalid)
      fail_start (self, OTC_E2EE_ERROR_INVALID_ENCRYPTION_SECRET,
          "The session is end-to-end encrypted and the encryption secret "
          "given is not valid (8 to 256 characters of UTF-8)");
    else
      fail_start (self, OTC_E2EE_ERROR_ENCRYPTION_SECRET_MISSING,
          "The session is end-to-end encrypted and no encryption secret is "
          "set: set encryption-secret (8 to 256 characters)");
    gst_structure_free (info);
    return FALSE;
  }

  g_mutex_lock (dispatch_lock (self));
  g_mutex_lock (&priv->lock);
  priv->conn = conn;
  priv->info = info;
  priv->connection_id = g_strdup (gst_structure_get_string (info,
          "connection-id"));
  priv->running = TRUE;
  g_mutex_unlock (&priv->lock);
  connect_handlers (self, otc_connection_get_signaller (conn));

  msg = gst_structure_copy (info);
  gst_structure_set_name (msg, OTC_MSG_CONNECTED);
  gst_structure_remove_field (msg, "key-id-base");
  gst_otc_session_post (self, msg);
  GST_INFO_OBJECT (self, "connected as %s (e2ee %d)", priv->connection_id,
      priv->e2ee);

  for (i = 0; i < priv->publishers->len; i++) {
    OtcPublisher *pub = g_ptr_array_index (priv->publishers, i);

    if (pub && otc_publisher_has_pads (pub))
      otc_publisher_start (pub);
  }
  streams = otc_connection_list_connections (conn);
  for (l = streams; l; l = l->next) {
    gst_structure_set_name (l->data, OTC_MSG_CONNECTION_CREATED);
    gst_otc_session_post (self, gst_structure_copy (l->data));
  }
  g_list_free_full (streams, (GDestroyNotify) gst_structure_free);
  streams = otc_connection_list_streams (conn);
  for (l = streams; l; l = l->next) {
    post_stream (self, OTC_MSG_STREAM_CREATED, l->data);
    maybe_subscribe (self, l->data);
  }
  g_list_free_full (streams, (GDestroyNotify) gst_structure_free);
  g_mutex_unlock (dispatch_lock (self));
  return TRUE;
}

static GstStateChangeReturn
gst_otc_session_change_state (GstElement * element, GstStateChange transition)
{
  GstOtcSession *self = GST_OTC_SESSION (element);
  GstStateChangeReturn ret;

  if (transition == GST_STATE_CHANGE_NULL_TO_READY && !start_session (self))
    return GST_STATE_CHANGE_FAILURE;
  ret = GST_ELEMENT_CLASS (gst_otc_session_parent_class)->change_state
      (element, transition);
  /* media arrives live from the network: no preroll to wait for */
  if (ret == GST_STATE_CHANGE_SUCCESS && can_subscribe (self)
      && (transition == GST_STATE_CHANGE_READY_TO_PAUSED
          || transition == GST_STATE_CHANGE_PLAYING_TO_PAUSED))
    ret = GST_STATE_CHANGE_NO_PREROLL;
  if (transition == GST_STATE_CHANGE_READY_TO_NULL
      || (ret == GST_STATE_CHANGE_FAILURE
          && transition == GST_STATE_CHANGE_NULL_TO_READY))
    stop_session (self);
  return ret;
}

/* --- pads --------------------------------------------------------------- */

static GstPad *
gst_otc_session_request_new_pad (GstElement * element, GstPadTemplate * templ,
    const gchar * name, const GstCaps * caps)
{
  GstOtcSession *self = GST_OTC_SESSION (element);
  GstOtcSessionPrivate *priv = gst_otc_session_get_priv (self);
  gboolean video = g_str_has_prefix (templ->name_template, "video");
  const gchar *prefix = video ? "video_" : "audio_";
  OtcPublisher *pub;
  GstPad *pad;
  gchar *pad_name;
  guint index = 0;
  gboolean start;

  g_mutex_lock (&priv->lock);
  if (name && g_str_has_prefix (name, prefix)) {
    index = (guint) g_ascii_strtoull (name + strlen (prefix), NULL, 10);
  } else {
    /* the first stream without this medium */
    for (index = 0; index < priv->publishers->len; index++) {
      OtcPublisher *p = g_ptr_array_index (priv->publishers, index);
      gchar *n = g_strdup_printf ("%s%u", prefix, index);
      GstPad *existing = gst_element_get_static_pad (element, n);

      g_free (n);
      if (existing == NULL && (p == NULL || !otc_publisher_is_started (p)))
        break;
      g_clear_object (&existing);
    }
  }
  if (index > 255) {
    g_mutex_unlock (&priv->lock);
    GST_WARNING_OBJECT (self, "at most 256 published streams");
    return NULL;
  }
  if (index >= priv->publishers->len)
    g_ptr_array_set_size (priv->publishers, index + 1);
  pub = g_ptr_array_index (priv->publishers, index);
  if (pub && otc_publisher_is_started (pub)) {
    g_mutex_unlock (&priv->lock);
    GST_WARNING_OBJECT (self, "stream %u is already published: request "
        "its pads before the session starts, or use another number", index);
    return NULL;
  }
  if (pub == NULL) {
    pub = otc_publisher_new (self, index);
    g_ptr_array_index (priv->publishers, index) = pub;
  }
  start = priv->running;
  g_mutex_unlock (&priv->lock);

  pad_name = g_strdup_printf ("%s%u", prefix, index);
  if (gst_element_get_static_pad (element, pad_name)) {
    GST_WARNING_OBJECT (self, "pad %s exists already", pad_name);
    g_free (pad_name);
    return NULL;
  }
  pad = gst_ghost_pad_new_no_target_from_template (pad_name, templ);
  g_free (pad_name);
  otc_publisher_add_pad (pub, pad, video);
  gst_pad_set_active (pad, TRUE);
  gst_element_add_pad (element, pad);
  fix_flags (self);
  if (start) {
    g_mutex_lock (dispatch_lock (self));
    if (priv->running)
      otc_publisher_start (pub);
    g_mutex_unlock (dispatch_lock (self));
  }
  return pad;
}

static void
gst_otc_session_release_pad (GstElement * element, GstPad * pad)
{
  GstOtcSession *self = GST_OTC_SESSION (element);
  GstOtcSessionPrivate *priv = gst_otc_session_get_priv (self);
  guint i;

  for (i = 0; i < priv->publishers->len; i++) {
    OtcPublisher *pub = g_ptr_array_index (priv->publishers, i);

    if (pub == NULL)
      continue;
    otc_publisher_remove_pad (pub, pad);
    if (!otc_publisher_has_pads (pub)) {
      otc_publisher_stop (pub);
      otc_publisher_free (pub);
      g_ptr_array_index (priv->publishers, i) = NULL;
    }
  }
  gst_pad_set_active (pad, FALSE);
  gst_element_remove_pad (element, pad);
  fix_flags (self);
}

/* Messages of our otcencrypt/otcdecrypt get the stream's ids and come from
 * this element. */
static void
gst_otc_session_handle_message (GstBin * bin, GstMessage * message)
{
  GstOtcSession *self = GST_OTC_SESSION (bin);
  GstOtcSessionPrivate *priv = gst_otc_session_get_priv (self);
  const GstStructure *s = gst_message_get_structure (message);

  if (GST_MESSAGE_TYPE (message) == GST_MESSAGE_ELEMENT && s
      && GST_MESSAGE_SRC (message) != GST_OBJECT (self)
      && g_str_has_prefix (gst_structure_get_name (s), "otc-")) {
    GstStructure *copy = gst_structure_copy (s);
    GstObject *src = GST_MESSAGE_SRC (message);
    GHashTableIter it;
    gpointer value;
    guint i;

    g_mutex_lock (&priv->lock);
    g_hash_table_iter_init (&it, priv->subscribers);
    while (g_hash_table_iter_next (&it, NULL, &value)) {
      if (otc_subscriber_owns (value, src)) {
        gst_structure_set (copy, "stream-id", G_TYPE_STRING,
            otc_subscriber_get_stream_id (value), "connection-id",
            G_TYPE_STRING, otc_subscriber_get_connection_id (value), NULL);
        break;
      }
    }
    for (i = 0; i < priv->publishers->len; i++) {
      OtcPublisher *pub = g_ptr_array_index (priv->publishers, i);

      if (pub && otc_publisher_owns (pub, src)) {
        const gchar *id = otc_publisher_get_stream_id (pub);

        if (id)
          gst_structure_set (copy, "stream-id", G_TYPE_STRING, id, NULL);
        gst_structure_set (copy, "connection-id", G_TYPE_STRING,
            priv->connection_id, NULL);
      }
    }
    g_mutex_unlock (&priv->lock);
    gst_structure_set (copy, "media", G_TYPE_STRING,
        strstr (GST_OBJECT_NAME (src), "-v") ? "video" : "audio", NULL);
    gst_message_unref (message);
    gst_otc_session_post (self, copy);
    return;
  }
  GST_BIN_CLASS (gst_otc_session_parent_class)->handle_message (bin, message);
}

/* --- EOS and flags ------------------------------------------------------ */

void
gst_otc_session_check_eos (GstOtcSession * self)
{
  GstOtcSessionPrivate *priv = gst_otc_session_get_priv (self);
  gboolean all = TRUE, any = FALSE;
  guint i;

  g_mutex_lock (&priv->lock);
  for (i = 0; i < priv->publishers->len; i++) {
    OtcPublisher *pub = g_ptr_array_index (priv->publishers, i);

    if (pub && otc_publisher_has_pads (pub)) {
      any = TRUE;
      all &= otc_publisher_is_eos (pub);
    }
  }
  if (!any || !all || priv->eos_posted) {
    g_mutex_unlock (&priv->lock);
    return;
  }
  priv->eos_posted = TRUE;
  g_mutex_unlock (&priv->lock);
  GST_INFO_OBJECT (self, "every published pad had EOS");
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_eos (GST_OBJECT (self)));
}

gboolean
gst_otc_session_is_eos (GstOtcSession * self)
{
  return g_atomic_int_get (&gst_otc_session_get_priv (self)->src_eos) != 0;
}

void
gst_otc_session_push_eos_once (GstPad * pad)
{
  gboolean first;

  GST_OBJECT_LOCK (pad);
  first = !g_object_get_data (G_OBJECT (pad), "otc-eos-sent");
  if (first)
    g_object_set_data (G_OBJECT (pad), "otc-eos-sent", GINT_TO_POINTER (1));
  GST_OBJECT_UNLOCK (pad);
  if (first)
    gst_pad_push_event (pad, gst_event_new_eos ());
}

/* Half a second after EOS was sent to the element: pads whose streams
 * sent nothing since (a silent medium, frames that do not decrypt) get it
 * from this thread; their streaming threads are idle. */
static gboolean
eos_idle_pads (GstClock * clock, GstClockTime time, GstClockID id,
    gpointer user_data)
{
  GstElement *element = user_data;
  GstIterator *it = gst_element_iterate_src_pads (element);
  GValue v = G_VALUE_INIT;

  while (gst_iterator_next (it, &v) == GST_ITERATOR_OK) {
    gst_otc_session_push_eos_once (g_value_get_object (&v));
    g_value_reset (&v);
  }
  g_value_unset (&v);
  gst_iterator_free (it);
  return TRUE;
}

/* An EOS sent to the element (gst-launch-1.0 -e, an application ending a
 * recording) ends every received stream: EOS on each src pad. */
static gboolean
gst_otc_session_send_event (GstElement * element, GstEvent * event)
{
  GstOtcSession *self = GST_OTC_SESSION (element);

  if (GST_EVENT_TYPE (event) != GST_EVENT_EOS)
    return GST_ELEMENT_CLASS (gst_otc_session_parent_class)->send_event
        (element, event);
  /* each received stream's thread sends it with its next buffer; the
   * others, a moment later */
  g_atomic_int_set (&gst_otc_session_get_priv (self)->src_eos, 1);
  gst_event_unref (event);
  {
    GstClock *clock = gst_system_clock_obtain ();
    GstClockID id = gst_clock_new_single_shot_id (clock,
        gst_clock_get_time (clock) + GST_SECOND / 2);

    gst_clock_id_wait_async (id, eos_idle_pads, gst_object_ref (element),
        (GDestroyNotify) gst_object_unref);
    gst_clock_id_unref (id);
    gst_object_unref (clock);
  }
  return TRUE;
}

/* Internal webrtcbins are sinks and sources; what the pipeline should see
 * is what this element does: a sink while it has request (sink) pads, a
 * source when it subscribes. */
static void
fix_flags (GstOtcSession * self)
{
  GstElement *e = GST_ELEMENT (self);

  GstOtcSessionClass *klass = GST_OTC_SESSION_GET_CLASS (self);

  GST_OBJECT_LOCK (self);
  if (e->numsinkpads > 0 || (klass->can_publish && !klass->can_subscribe))
    GST_OBJECT_FLAG_SET (self, GST_ELEMENT_FLAG_SINK);
  else
    GST_OBJECT_FLAG_UNSET (self, GST_ELEMENT_FLAG_SINK);
  if (klass->can_subscribe)
    GST_OBJECT_FLAG_SET (self, GST_ELEMENT_FLAG_SOURCE);
  else
    GST_OBJECT_FLAG_UNSET (self, GST_ELEMENT_FLAG_SOURCE);
  GST_OBJECT_UNLOCK (self);
}

static gboolean
gst_otc_session_add_element (GstBin * bin, GstElement * element)
{
  gboolean ok = GST_BIN_CLASS (gst_otc_session_parent_class)->add_element
      (bin, element);

  fix_flags (GST_OTC_SESSION (bin));
  return ok;
}

/* --- signals ------------------------------------------------------------ */

static gboolean
gst_otc_session_send_signal (GstOtcSession * self, const gchar * type,
    const gchar * data, const gchar * to)
{
  GstOtcSessionPrivate *priv = gst_otc_session_get_priv (self);
  gboolean ok = FALSE;

  if (data == NULL || g_utf8_strlen (data, -1) > OTC_SIGNAL_MAX_DATA
      || (type && g_utf8_strlen (type, -1) > OTC_SIGNAL_MAX_TYPE)) {
    GST_WARNING_OBJECT (self, "signal refused: data missing or too long");
    return FALSE;
  }
  g_mutex_lock (dispatch_lock (self));
  if (priv->running && priv->conn) {
    otc_signaller_send_signal (otc_connection_get_signaller (priv->conn), to,
        type, data);
    ok = TRUE;
  }
  g_mutex_unlock (dispatch_lock (self));
  return ok;
}

/* --- properties --------------------------------------------------------- */

static void
replace_string (GstOtcSessionPrivate * priv, gchar ** field,
    const GValue * value)
{
  g_mutex_lock (&priv->lock);
  g_free (*field);
  *field = g_value_dup_string (value);
  g_mutex_unlock (&priv->lock);
}

static void
gst_otc_session_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstOtcSession *self = GST_OTC_SESSION (object);
  GstOtcSessionPrivate *priv = gst_otc_session_get_priv (self);

  switch (prop_id) {
    case PROP_URL:
      replace_string (priv, &priv->join.url, value);
      break;
    case PROP_SESSION_ID:
      replace_string (priv, &priv->join.session_id, value);
      break;
    case PROP_TOKEN:
      g_mutex_lock (&priv->lock);
      if (priv->join.token) {
        OPENSSL_cleanse (priv->join.token, strlen (priv->join.token));
        g_free (priv->join.token);
      }
      priv->join.token = g_value_dup_string (value);
      g_mutex_unlock (&priv->lock);
      break;
    case PROP_ENCRYPTION_SECRET:
      if (g_value_get_string (value) == NULL) {
        gst_otc_secret_holder_remove_secret (&priv->secret);
        priv->secret_invalid = FALSE;
      } else
        set_secret (self, g_value_get_string (value), FALSE);
      break;
    case PROP_ENCRYPTION_SECRET_FILE:
      set_secret (self, g_value_get_string (value), TRUE);
      break;
    case PROP_ICE_ADDRESSES:
      replace_string (priv, &priv->ice_addresses, value);
      break;
    case PROP_CONNECT_TIMEOUT:
      priv->connect_timeout = g_value_get_uint (value);
      break;
    case PROP_MISMATCH_DELAY:
      priv->mismatch_delay = g_value_get_uint (value);
      break;
    case PROP_AUTO_SUBSCRIBE:
      priv->auto_subscribe = g_value_get_boolean (value);
      break;
    case PROP_STREAM_NAME:
      replace_string (priv, &priv->stream_name, value);
      break;
    case PROP_VIDEO_TYPE:
      replace_string (priv, &priv->video_type, value);
      break;
    case PROP_VIDEO_BITRATE:
      priv->video_bitrate = g_value_get_uint (value);
      break;
    case PROP_SIGNALLER:
      g_mutex_lock (&priv->lock);
      g_clear_object (&priv->custom_signaller);
      priv->custom_signaller = g_value_dup_object (value);
      g_mutex_unlock (&priv->lock);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
gst_otc_session_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstOtcSession *self = GST_OTC_SESSION (object);
  GstOtcSessionPrivate *priv = gst_otc_session_get_priv (self);

  g_mutex_lock (&priv->lock);
  switch (prop_id) {
    case PROP_URL:
      g_value_set_string (value, priv->join.url);
      break;
    case PROP_SESSION_ID:
      g_value_set_string (value, priv->join.session_id);
      break;
    case PROP_ICE_ADDRESSES:
      g_value_set_string (value, priv->ice_addresses);
      break;
    case PROP_CONNECT_TIMEOUT:
      g_value_set_uint (value, priv->connect_timeout);
      break;
    case PROP_MISMATCH_DELAY:
      g_value_set_uint (value, priv->mismatch_delay);
      break;
    case PROP_AUTO_SUBSCRIBE:
      g_value_set_boolean (value, priv->auto_subscribe);
      break;
    case PROP_STREAM_NAME:
      g_value_set_string (value, priv->stream_name);
      break;
    case PROP_VIDEO_TYPE:
      g_value_set_string (value, priv->video_type);
      break;
    case PROP_VIDEO_BITRATE:
      g_value_set_uint (value, priv->video_bitrate);
      break;
    case PROP_SIGNALLER:
      g_value_set_object (value, priv->custom_signaller);
      break;
    case PROP_CONNECTION_ID:
      g_value_set_string (value, priv->connection_id);
      break;
    case PROP_E2EE:
      g_value_set_boolean (value, priv->running && priv->e2ee);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  g_mutex_unlock (&priv->lock);
}

static void
gst_otc_session_init (GstOtcSession * self)
{
  GstOtcSessionPrivate *priv = gst_otc_session_get_priv (self);
  GMutex *dl = g_new0 (GMutex, 1);

  g_mutex_init (dl);
  g_object_set_data (G_OBJECT (self), "otc-dispatch-lock", dl);
  priv->element = self;
  g_mutex_init (&priv->lock);
  g_mutex_init (&priv->pad_lock);
  gst_otc_secret_holder_init (&priv->secret, GST_ELEMENT (self));
  priv->connect_timeout = DEFAULT_CONNECT_TIMEOUT;
  priv->mismatch_delay = DEFAULT_MISMATCH_DELAY;
  priv->auto_subscribe = DEFAULT_AUTO_SUBSCRIBE;
  priv->stream_name = g_strdup (DEFAULT_STREAM_NAME);
  priv->video_type = g_strdup (DEFAULT_VIDEO_TYPE);
  priv->video_bitrate = DEFAULT_VIDEO_BITRATE;
  priv->publishers = g_ptr_array_new ();
  priv->subscribers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      NULL);
}

static void
gst_otc_session_finalize (GObject * object)
{
  GstOtcSession *self = GST_OTC_SESSION (object);
  GstOtcSessionPrivate *priv = gst_otc_session_get_priv (self);
  GMutex *dl = dispatch_lock (self);
  guint i;

  for (i = 0; i < priv->publishers->len; i++)
    if (g_ptr_array_index (priv->publishers, i))
      otc_publisher_free (g_ptr_array_index (priv->publishers, i));
  g_ptr_array_unref (priv->publishers);
  g_hash_table_unref (priv->subscribers);
  gst_otc_secret_holder_clear (&priv->secret);
  if (priv->pending.pending)
    gst_structure_free (priv->pending.pending);
  g_free (priv->join.url);
  g_free (priv->join.session_id);
  if (priv->join.token) {
    OPENSSL_cleanse (priv->join.token, strlen (priv->join.token));
    g_free (priv->join.token);
  }
  g_free (priv->ice_addresses);
  g_free (priv->stream_name);
  g_free (priv->video_type);
  g_clear_object (&priv->custom_signaller);
  g_clear_object (&priv->pool);
  g_mutex_clear (&priv->lock);
  g_mutex_clear (&priv->pad_lock);
  g_mutex_clear (dl);
  g_free (dl);
  G_OBJECT_CLASS (gst_otc_session_parent_class)->finalize (object);
}

static void
gst_otc_session_class_init (GstOtcSessionClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBinClass *bin_class = GST_BIN_CLASS (klass);

  gobject_class->set_property = gst_otc_session_set_property;
  gobject_class->get_property = gst_otc_session_get_property;
  gobject_class->finalize = gst_otc_session_finalize;
  element_class->change_state =
      GST_DEBUG_FUNCPTR (gst_otc_session_change_state);
  element_class->request_new_pad =
      GST_DEBUG_FUNCPTR (gst_otc_session_request_new_pad);
  element_class->release_pad = GST_DEBUG_FUNCPTR (gst_otc_session_release_pad);
  element_class->set_context = GST_DEBUG_FUNCPTR (gst_otc_session_set_context);
  bin_class->handle_message =
      GST_DEBUG_FUNCPTR (gst_otc_session_handle_message);
  bin_class->add_element = GST_DEBUG_FUNCPTR (gst_otc_session_add_element);
  element_class->send_event = GST_DEBUG_FUNCPTR (gst_otc_session_send_event);
  klass->set_encryption_secret = gst_otc_session_set_encryption_secret;
  klass->send_signal = gst_otc_session_send_signal;

  g_object_class_install_property (gobject_class, PROP_URL,
      g_param_spec_string ("url", "URL",
          "The session server's base URL, e.g. http://127.0.0.1:8080 "
          "(signalling at URL/signal)", NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_SESSION_ID,
      g_param_spec_string ("session-id", "Session id",
          "The session to join (optional: the token names it; when set, "
          "it must be the token's)", NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_TOKEN,
      g_param_spec_string ("token", "Token",
          "The client token (write-only)", NULL,
          G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_ENCRYPTION_SECRET,
      g_param_spec_string ("encryption-secret", "Encryption secret",
          GST_OTC_SECRET_BLURB ". Needed to join an end-to-end encrypted "
          "session; NULL removes it (new publishers and subscribers are "
          "then refused)", NULL,
          G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_ENCRYPTION_SECRET_FILE,
      g_param_spec_string ("encryption-secret-file", "Encryption secret file",
          GST_OTC_SECRET_FILE_BLURB, NULL,
          G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_ICE_ADDRESSES,
      g_param_spec_string ("ice-addresses", "ICE addresses",
          "Comma-separated local addresses ICE may gather on. Default: "
          "127.0.0.1 when url names a loopback host, else every address",
          NULL, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_CONNECT_TIMEOUT,
      g_param_spec_uint ("connect-timeout", "Connect timeout",
          "How long joining may take (ms) before the start fails",
          100, 600000, DEFAULT_CONNECT_TIMEOUT,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_MISMATCH_DELAY,
      g_param_spec_uint ("mismatch-delay", "Mismatch delay",
          "How long (ms) subscribers hold frames that do not decrypt before "
          "reporting a mismatch: a secret rotation in which participants "
          "switch within this time loses no frame and reports nothing",
          0, 10000, DEFAULT_MISMATCH_DELAY,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_AUTO_SUBSCRIBE,
      g_param_spec_boolean ("auto-subscribe", "Subscribe automatically",
          "Subscribe to every stream of the other connections",
          DEFAULT_AUTO_SUBSCRIBE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_STREAM_NAME,
      g_param_spec_string ("stream-name", "Stream name",
          "The name of published streams (\"NAME N\" for stream N > 0)",
          DEFAULT_STREAM_NAME, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_VIDEO_TYPE,
      g_param_spec_string ("video-type", "Video type",
          "The video type of published streams: camera, screen or custom",
          DEFAULT_VIDEO_TYPE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_VIDEO_BITRATE,
      g_param_spec_uint ("video-bitrate", "Video bitrate",
          "Target bit rate (bit/s) when raw video is encoded here",
          10000, 100000000, DEFAULT_VIDEO_BITRATE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_SIGNALLER,
      g_param_spec_object ("signaller", "Signaller",
          "Another signalling backend (an OtcSignaller); NULL: otc-router's "
          "protocol", OTC_TYPE_SIGNALLER,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_CONNECTION_ID,
      g_param_spec_string ("connection-id", "Connection id",
          "This participant's connection id while connected", NULL,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_E2EE,
      g_param_spec_boolean ("e2ee", "End-to-end encrypted",
          "Whether the joined session is end-to-end encrypted", FALSE,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  /**
   * GstOtcSession::set-encryption-secret:
   * Sets the secret; FALSE (and an otc-invalid-encryption-secret message)
   * for an invalid one, which leaves the previous secret in force.
   */
  signals[SIGNAL_SET_ENCRYPTION_SECRET] =
      g_signal_new ("set-encryption-secret", G_TYPE_FROM_CLASS (klass),
      G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION,
      G_STRUCT_OFFSET (GstOtcSessionClass, set_encryption_secret), NULL, NULL,
      NULL, G_TYPE_BOOLEAN, 1, G_TYPE_STRING);
  /**
   * GstOtcSession::send-signal:
   * @type: the signal type (may be NULL), @data: at most 8,192
   * characters, @to: a connection id, or NULL for everyone.
   * Returns FALSE when not connected or when @data is too long.
   */
  signals[SIGNAL_SEND_SIGNAL] =
      g_signal_new ("send-signal", G_TYPE_FROM_CLASS (klass),
      G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION,
      G_STRUCT_OFFSET (GstOtcSessionClass, send_signal), NULL, NULL, NULL,
      G_TYPE_BOOLEAN, 3, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);

  gst_type_mark_as_plugin_api (GST_TYPE_OTC_SESSION, 0);
}

/* --- the otcsession element: publishes and subscribes ------------------- */

GstStaticPadTemplate gst_otc_video_sink_template =
GST_STATIC_PAD_TEMPLATE ("video_%u", GST_PAD_SINK, GST_PAD_REQUEST,
    GST_STATIC_CAPS ("video/x-raw; video/x-vp8"));
GstStaticPadTemplate gst_otc_audio_sink_template =
GST_STATIC_PAD_TEMPLATE ("audio_%u", GST_PAD_SINK, GST_PAD_REQUEST,
    GST_STATIC_CAPS ("audio/x-raw; audio/x-opus"));
GstStaticPadTemplate gst_otc_video_src_template =
GST_STATIC_PAD_TEMPLATE ("video_%s", GST_PAD_SRC, GST_PAD_SOMETIMES,
    GST_STATIC_CAPS ("video/x-raw; video/x-vp8"));
GstStaticPadTemplate gst_otc_audio_src_template =
GST_STATIC_PAD_TEMPLATE ("audio_%s", GST_PAD_SRC, GST_PAD_SOMETIMES,
    GST_STATIC_CAPS ("audio/x-raw; audio/x-opus"));

struct _GstOtcSessionBin
{
  GstOtcSession parent;
};

G_DEFINE_TYPE (GstOtcSessionBin, gst_otc_session_bin, GST_TYPE_OTC_SESSION);
GST_ELEMENT_REGISTER_DEFINE (otcsession, "otcsession", GST_RANK_NONE,
    GST_TYPE_OTC_SESSION_BIN);

static void
gst_otc_session_bin_init (GstOtcSessionBin * self)
{
}

static void
gst_otc_session_bin_class_init (GstOtcSessionBinClass * klass)
{
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  GST_OTC_SESSION_CLASS (klass)->can_publish = TRUE;
  GST_OTC_SESSION_CLASS (klass)->can_subscribe = TRUE;
  gst_element_class_add_static_pad_template (element_class,
      &gst_otc_video_sink_template);
  gst_element_class_add_static_pad_template (element_class,
      &gst_otc_audio_sink_template);
  gst_element_class_add_static_pad_template (element_class,
      &gst_otc_video_src_template);
  gst_element_class_add_static_pad_template (element_class,
      &gst_otc_audio_src_template);
  gst_element_class_set_static_metadata (element_class,
      "otc session", "Source/Sink/Network/WebRTC",
      "Joins an otc session: publishes and subscribes to streams over "
      "WebRTC, end-to-end encrypted when the session is",
      "otc developers");
}
