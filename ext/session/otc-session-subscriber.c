/* A remote stream that otcsession subscribes to: a webrtcbin that answers
 * the router's offer, and per medium that arrives
 *
 *   webrtcbin -> rtpvp8depay -> [otcdecrypt] -> [vp8dec] -> video_<stream id>
 *               (rtpopusdepay, opusdec, audio_<stream id>)
 *
 * otcdecrypt goes in for an end-to-end encrypted session. The decoder goes
 * in unless what the src pad is linked to accepts the encoded frames and
 * not raw ones: "otcsrc ! webmmux" gets the decrypted VP8 frames,
 * "otcsrc ! videoconvert" decoded video. */
#include <string.h>

#include "gstotcsession-private.h"
#include "otc-signalling.h"

#define GST_CAT_DEFAULT gst_otc_session_debug

enum
{ VIDEO, AUDIO, N_MEDIA };

struct _OtcSubscriber
{
  GstOtcSession *session;       /* not referenced: it owns us */
  GMutex lock;
  gchar *stream_id;
  gchar *connection_id;
  gchar *tag;
  gchar *subscription_id;
  guint serial;
  GstElement *webrtc;
  GPtrArray *elements;          /* added to the bin, webrtcbin first */
  GstElement *decrypt[N_MEDIA];
  GstPad *pads[N_MEDIA];        /* exposed ghost src pads */
  gboolean stopping;
};

static guint subscriber_serial;

OtcSubscriber *
otc_subscriber_new (GstOtcSession * self, const GstStructure * stream)
{
  OtcSubscriber *sub = g_new0 (OtcSubscriber, 1);

  sub->session = self;
  sub->stream_id = g_strdup (gst_structure_get_string (stream, "stream-id"));
  sub->connection_id = g_strdup (gst_structure_get_string (stream,
          "connection-id"));
  sub->serial = g_atomic_int_add (&subscriber_serial, 1);
  sub->elements = g_ptr_array_new ();
  g_mutex_init (&sub->lock);
  return sub;
}

static GstElement *
make (OtcSubscriber * sub, const gchar * factory, const gchar * what)
{
  gchar *name = g_strdup_printf ("sub%u-%s", sub->serial, what);
  GstElement *e = gst_element_factory_make (factory, name);

  g_free (name);
  if (e == NULL)
    GST_ELEMENT_ERROR (sub->session, CORE, MISSING_PLUGIN,
        ("Element \"%s\" is missing: check the GStreamer installation",
            factory), (NULL));
  return e;
}

static GstElement *
add (OtcSubscriber * sub, GstElement * e)
{
  gst_bin_add (GST_BIN (sub->session), e);
  g_mutex_lock (&sub->lock);
  g_ptr_array_add (sub->elements, e);
  g_mutex_unlock (&sub->lock);
  return e;
}

/* Data for a src pad that nothing is linked to is dropped, rather than
 * stopping the pipeline with not-linked ("otcsrc ! videoconvert" leaves
 * the audio pad alone). */
static GstPadProbeReturn
drop_unlinked (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  GstPad *ghost = user_data;
  GstOtcSession *self = GST_OTC_SESSION (GST_OBJECT_PARENT (ghost));

  if (self && gst_otc_session_is_eos (self)) {
    /* the element was sent EOS: it goes out from this streaming thread
     * (pushing it from the application's thread can deadlock with a muxer
     * that holds this stream waiting for another), then nothing more */
    gst_otc_session_push_eos_once (ghost);
    return GST_PAD_PROBE_DROP;
  }
  return gst_pad_is_linked (ghost) ? GST_PAD_PROBE_OK : GST_PAD_PROBE_DROP;
}

/* Before it has a target, the src pad offers its template caps. */
static GstPadProbeReturn
ghost_caps_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  GstQuery *query = GST_PAD_PROBE_INFO_QUERY (info);
  GstPad *target;
  GstCaps *filter, *caps;

  if (GST_QUERY_TYPE (query) != GST_QUERY_CAPS)
    return GST_PAD_PROBE_OK;
  if ((target = gst_ghost_pad_get_target (GST_GHOST_PAD (pad))) != NULL) {
    gst_object_unref (target);
    return GST_PAD_PROBE_OK;
  }
  caps = gst_pad_get_pad_template_caps (pad);
  gst_query_parse_caps (query, &filter);
  if (filter) {
    GstCaps *both = gst_caps_intersect_full (filter, caps,
        GST_CAPS_INTERSECT_FIRST);

    gst_caps_unref (caps);
    caps = both;
  }
  gst_query_set_caps_result (query, caps);
  gst_caps_unref (caps);
  return GST_PAD_PROBE_HANDLED;
}

/* Does what @pad is linked to take raw media? Unlinked: yes (decoded by
 * default). */
static gboolean
peer_wants_raw (GstPad * pad, gint m)
{
  GstCaps *raw = gst_caps_from_string (m == VIDEO ? "video/x-raw" :
      "audio/x-raw");
  GstCaps *enc = gst_caps_from_string (m == VIDEO ? "video/x-vp8" :
      "audio/x-opus");
  GstCaps *peer;
  gboolean want;

  if (!gst_pad_is_linked (pad)) {
    want = TRUE;
  } else {
    peer = gst_pad_peer_query_caps (pad, NULL);
    want = gst_caps_can_intersect (peer, raw)
        || !gst_caps_can_intersect (peer, enc);
    gst_caps_unref (peer);
  }
  gst_caps_unref (raw);
  gst_caps_unref (enc);
  return want;
}

static void
on_pad_added (GstElement * webrtc, GstPad * pad, gpointer user_data)
{
  OtcSubscriber *sub = user_data;
  GstOtcSession *self = sub->session;
  GstOtcSessionPrivate *priv = gst_otc_session_get_priv (self);
  GstCaps *caps;
  const gchar *media;
  GstElement *depay, *decrypt = NULL, *dec, *last;
  GstPad *ghost, *target, *sink;
  GstPadTemplate *templ;
  gchar *name;
  gint m;
  guint from;

  if (GST_PAD_DIRECTION (pad) != GST_PAD_SRC)
    return;
  caps = gst_pad_get_current_caps (pad);
  if (caps == NULL)
    caps = gst_pad_query_caps (pad, NULL);
  media = gst_structure_get_string (gst_caps_get_structure (caps, 0),
      "media");
  m = g_strcmp0 (media, "audio") == 0 ? AUDIO : VIDEO;
  gst_caps_unref (caps);

  /* one pad at a time per element: applications (and gst-launch's delayed
   * linking) see pads appear one after the other */
  g_mutex_lock (&priv->pad_lock);
  g_mutex_lock (&sub->lock);
  if (sub->stopping || sub->pads[m]) {
    g_mutex_unlock (&sub->lock);
    g_mutex_unlock (&priv->pad_lock);
    return;
  }
  from = sub->elements->len;
  g_mutex_unlock (&sub->lock);

  depay = add (sub, make (sub, m == VIDEO ? "rtpvp8depay" : "rtpopusdepay",
          m == VIDEO ? "vdepay" : "adepay"));
  last = depay;
  if (priv->e2ee) {
    decrypt = add (sub, make (sub, "otcdecrypt", m == VIDEO ? "vdecrypt" :
            "adecrypt"));
    gst_otc_session_configure_transform (self, decrypt);
    gst_element_link (depay, decrypt);
    last = decrypt;
  }
  dec = add (sub, make (sub, m == VIDEO ? "vp8dec" : "opusdec",
          m == VIDEO ? "vdec" : "adec"));
  gst_element_link (last, dec);

  name = g_strdup_printf ("%s_%s", m == VIDEO ? "video" : "audio",
      sub->stream_id);
  templ = gst_element_class_get_pad_template (GST_ELEMENT_GET_CLASS (self),
      m == VIDEO ? "video_%s" : "audio_%s");
  /* no target yet: linkable to what takes raw or encoded media */
  ghost = gst_ghost_pad_new_no_target_from_template (name, templ);
  gst_pad_add_probe (ghost, GST_PAD_PROBE_TYPE_QUERY_UPSTREAM,
      ghost_caps_probe, NULL, NULL);
  g_free (name);
  gst_pad_set_active (ghost, TRUE);

  g_mutex_lock (&sub->lock);
  sub->decrypt[m] = decrypt;
  sub->pads[m] = ghost;
  g_mutex_unlock (&sub->lock);
  gst_element_add_pad (GST_ELEMENT (self), ghost);

  /* the application has linked it (or not) in its pad-added handler */
  if (!peer_wants_raw (ghost, m)) {
    target = gst_element_get_static_pad (last, "src");
    gst_element_unlink (last, dec);
    g_mutex_lock (&sub->lock);
    g_ptr_array_remove (sub->elements, dec);
    g_mutex_unlock (&sub->lock);
    gst_bin_remove (GST_BIN (self), dec);
    GST_INFO_OBJECT (self, "stream %s: %s frames stay encoded",
        sub->stream_id, m == VIDEO ? "video" : "audio");
  } else {
    target = gst_element_get_static_pad (dec, "src");
  }
  gst_ghost_pad_set_target (GST_GHOST_PAD (ghost), target);
  gst_pad_add_probe (target, GST_PAD_PROBE_TYPE_BUFFER |
      GST_PAD_PROBE_TYPE_BUFFER_LIST, drop_unlinked, ghost, NULL);
  gst_object_unref (target);

  g_mutex_lock (&sub->lock);
  for (guint i = from; i < sub->elements->len; i++)
    gst_element_sync_state_with_parent (g_ptr_array_index (sub->elements, i));
  g_mutex_unlock (&sub->lock);
  sink = gst_element_get_static_pad (depay, "sink");
  if (gst_pad_link (pad, sink) != GST_PAD_LINK_OK)
    GST_WARNING_OBJECT (self, "cannot link the received %s",
        m == VIDEO ? "video" : "audio");
  gst_object_unref (sink);
  g_mutex_unlock (&priv->pad_lock);
}

static void
on_ice_candidate (GstElement * webrtc, guint mline, gchar * candidate,
    gpointer user_data)
{
  OtcSubscriber *sub = user_data;
  GstOtcSessionPrivate *priv = gst_otc_session_get_priv (sub->session);

  g_mutex_lock (&sub->lock);
  if (sub->subscription_id && !sub->stopping && priv->conn)
    otc_signaller_add_candidate (otc_connection_get_signaller (priv->conn),
        sub->subscription_id, mline, candidate);
  g_mutex_unlock (&sub->lock);
}

static void
on_ice_state (GstElement * webrtc, GParamSpec * pspec, gpointer user_data)
{
  OtcSubscriber *sub = user_data;
  GstWebRTCICEConnectionState state;

  g_object_get (webrtc, "ice-connection-state", &state, NULL);
  if (state == GST_WEBRTC_ICE_CONNECTION_STATE_FAILED)
    otc_subscriber_on_error (sub, OTC_SIGNALLING_ERROR_SUBSCRIBE_FAILED,
        "ICE failed: no network path to the router");
}

void
otc_subscriber_start (OtcSubscriber * sub)
{
  GstOtcSessionPrivate *priv = gst_otc_session_get_priv (sub->session);
  GstElement *webrtc = make (sub, "webrtcbin", "webrtc");

  g_object_set (webrtc, "bundle-policy", GST_WEBRTC_BUNDLE_POLICY_MAX_BUNDLE,
      "latency", 100, NULL);
  gst_otc_session_setup_webrtc (sub->session, webrtc);
  g_signal_connect (webrtc, "pad-added", G_CALLBACK (on_pad_added), sub);
  g_signal_connect (webrtc, "on-ice-candidate",
      G_CALLBACK (on_ice_candidate), sub);
  g_signal_connect (webrtc, "notify::ice-connection-state",
      G_CALLBACK (on_ice_state), sub);
  g_mutex_lock (&sub->lock);
  sub->webrtc = webrtc;
  sub->tag = otc_connection_new_tag (priv->conn, "subscribe");
  g_mutex_unlock (&sub->lock);
  add (sub, webrtc);
  gst_element_sync_state_with_parent (webrtc);
  GST_INFO_OBJECT (sub->session, "subscribing to %s", sub->stream_id);
  otc_signaller_subscribe (otc_connection_get_signaller (priv->conn),
      sub->tag, sub->stream_id);
}

gboolean
otc_subscriber_matches (OtcSubscriber * sub, const gchar * tag,
    const gchar * leg_id)
{
  gboolean match;

  g_mutex_lock (&sub->lock);
  match = (tag && g_strcmp0 (sub->tag, tag) == 0) ||
      (leg_id && g_strcmp0 (sub->subscription_id, leg_id) == 0);
  g_mutex_unlock (&sub->lock);
  return match;
}

static void
on_answer (GstPromise * promise, gpointer user_data)
{
  OtcSubscriber *sub = user_data;
  GstOtcSessionPrivate *priv = gst_otc_session_get_priv (sub->session);
  const GstStructure *reply = gst_promise_get_reply (promise);
  GstWebRTCSessionDescription *answer = NULL;
  gchar *sdp;

  if (reply)
    gst_structure_get (reply, "answer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION,
        &answer, NULL);
  gst_promise_unref (promise);
  if (answer == NULL) {
    GST_DEBUG_OBJECT (sub->session, "no answer (stopping?)");
    return;
  }
  g_signal_emit_by_name (sub->webrtc, "set-local-description", answer, NULL);
  sdp = gst_sdp_message_as_text (answer->sdp);
  gst_webrtc_session_description_free (answer);
  g_mutex_lock (&sub->lock);
  if (!sub->stopping && priv->conn)
    otc_signaller_answer (otc_connection_get_signaller (priv->conn),
        sub->subscription_id, sdp);
  g_mutex_unlock (&sub->lock);
  g_free (sdp);
}

void
otc_subscriber_on_offer (OtcSubscriber * sub, const gchar * subscription_id,
    const gchar * sdp_text)
{
  GstSDPMessage *sdp;
  GstWebRTCSessionDescription *offer;

  if (subscription_id == NULL || sdp_text == NULL
      || gst_sdp_message_new_from_text (sdp_text, &sdp) != GST_SDP_OK) {
    otc_subscriber_on_error (sub, OTC_SIGNALLING_ERROR_SUBSCRIBE_FAILED,
        "The router's offer is not valid SDP");
    return;
  }
  g_mutex_lock (&sub->lock);
  g_free (sub->subscription_id);
  sub->subscription_id = g_strdup (subscription_id);
  g_mutex_unlock (&sub->lock);
  offer = gst_webrtc_session_description_new (GST_WEBRTC_SDP_TYPE_OFFER, sdp);
  g_signal_emit_by_name (sub->webrtc, "set-remote-description", offer, NULL);
  gst_webrtc_session_description_free (offer);
  g_signal_emit_by_name (sub->webrtc, "create-answer", NULL,
      gst_promise_new_with_change_func (on_answer, sub, NULL));
  {
    GstStructure *s = gst_structure_new (OTC_MSG_SUBSCRIBED,
        "stream-id", G_TYPE_STRING, sub->stream_id,
        "connection-id", G_TYPE_STRING, sub->connection_id,
        "subscription-id", G_TYPE_STRING, subscription_id, NULL);

    gst_otc_session_post (sub->session, s);
  }
}

void
otc_subscriber_on_candidate (OtcSubscriber * sub, guint mline,
    const gchar * candidate)
{
  g_signal_emit_by_name (sub->webrtc, "add-ice-candidate", mline, candidate);
}

void
otc_subscriber_on_error (OtcSubscriber * sub, gint code,
    const gchar * message)
{
  GST_WARNING_OBJECT (sub->session, "stream %s: %d %s", sub->stream_id, code,
      message);
  gst_otc_session_post_stream_error (sub->session, OTC_MSG_ERROR, code,
      message, sub->stream_id, sub->connection_id);
}

const gchar *
otc_subscriber_get_stream_id (OtcSubscriber * sub)
{
  return sub->stream_id;
}

const gchar *
otc_subscriber_get_connection_id (OtcSubscriber * sub)
{
  return sub->connection_id;
}

void
otc_subscriber_stop (OtcSubscriber * sub, gboolean unsubscribe)
{
  GstOtcSessionPrivate *priv = gst_otc_session_get_priv (sub->session);
  GPtrArray *elements;
  GstPad *pads[N_MEDIA];
  guint i;
  gint m;

  g_mutex_lock (&sub->lock);
  sub->stopping = TRUE;
  if (unsubscribe && sub->subscription_id && priv->conn)
    otc_signaller_unsubscribe (otc_connection_get_signaller (priv->conn),
        sub->subscription_id);
  elements = sub->elements;
  sub->elements = g_ptr_array_new ();
  for (m = 0; m < N_MEDIA; m++) {
    pads[m] = sub->pads[m];
    sub->pads[m] = NULL;
    sub->decrypt[m] = NULL;
  }
  g_mutex_unlock (&sub->lock);

  /* webrtcbin first: then nothing else pushes into the src pads. Locked,
   * so that a state change of the bin running meanwhile on another thread
   * cannot bring one back up before it is out. */
  for (i = 0; i < elements->len; i++) {
    GstElement *e = g_ptr_array_index (elements, i);

    gst_object_ref (e);
    g_signal_handlers_disconnect_by_data (e, sub);
    gst_element_set_locked_state (e, TRUE);
    gst_element_set_state (e, GST_STATE_NULL);
  }
  for (m = 0; m < N_MEDIA; m++) {
    if (pads[m] == NULL)
      continue;
    gst_pad_push_event (pads[m], gst_event_new_eos ());
    gst_pad_set_active (pads[m], FALSE);
    gst_element_remove_pad (GST_ELEMENT (sub->session), pads[m]);
  }
  for (i = 0; i < elements->len; i++) {
    GstElement *e = g_ptr_array_index (elements, i);

    gst_bin_remove (GST_BIN (sub->session), e);
    gst_object_unref (e);
  }
  g_ptr_array_unref (elements);
}

void
otc_subscriber_foreach_transform (OtcSubscriber * sub, GFunc func,
    gpointer data)
{
  gint m;

  g_mutex_lock (&sub->lock);
  for (m = 0; m < N_MEDIA; m++)
    if (sub->decrypt[m])
      func (sub->decrypt[m], data);
  g_mutex_unlock (&sub->lock);
}

gboolean
otc_subscriber_owns (OtcSubscriber * sub, GstObject * element)
{
  gboolean owns = FALSE;
  guint i;

  g_mutex_lock (&sub->lock);
  for (i = 0; i < sub->elements->len && !owns; i++)
    owns = g_ptr_array_index (sub->elements, i) == (gpointer) element;
  g_mutex_unlock (&sub->lock);
  return owns;
}

void
otc_subscriber_free (OtcSubscriber * sub)
{
  g_ptr_array_unref (sub->elements);
  g_free (sub->stream_id);
  g_free (sub->connection_id);
  g_free (sub->tag);
  g_free (sub->subscription_id);
  g_mutex_clear (&sub->lock);
  g_free (sub);
}
