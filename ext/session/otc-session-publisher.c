/* A stream that otcsession publishes: its request pads (video_N, audio_N
 * with the same N), and from the start of the session a webrtcbin that
 * offers to the router:
 *
 *   video_N -> queue -> [videoconvert -> vp8enc] -> [otcencrypt] ->
 *     rtpvp8pay -> webrtcbin     (audio: audioconvert/audioresample/opusenc,
 *                                 rtpopuspay)
 *
 * The encoder goes in when the caps say the input is raw; otcencrypt goes
 * in when the session is end-to-end encrypted. */
#include <string.h>

#include "gstotcsession-private.h"
#include "otc-signalling.h"

#define GST_CAT_DEFAULT gst_otc_session_debug

enum
{ VIDEO, AUDIO, N_MEDIA };

static const gchar *media_name[N_MEDIA] = { "video", "audio" };

struct _OtcPublisher
{
  GstOtcSession *session;       /* not referenced: it owns us */
  guint index;
  GMutex lock;

  GstPad *pads[N_MEDIA];        /* our ghost request pads */
  GstElement *entry[N_MEDIA];   /* the queue each pad feeds */
  GstElement *tail[N_MEDIA];    /* what the entry links to once caps come */
  GstElement *encrypt[N_MEDIA];
  GPtrArray *elements;          /* everything added to the bin but entries */

  gboolean eos[N_MEDIA];        /* EOS arrived on the pad */
  GstElement *webrtc;
  gboolean started;
  gboolean refused;             /* cannot publish: media is dropped */
  gboolean offered;
  gchar *tag;
  gchar *stream_id;
  GQueue candidates;            /* gchar * "mline\ncandidate", until id */
};

OtcPublisher *
otc_publisher_new (GstOtcSession * self, guint index)
{
  OtcPublisher *pub = g_new0 (OtcPublisher, 1);

  pub->session = self;
  pub->index = index;
  pub->elements = g_ptr_array_new ();
  g_mutex_init (&pub->lock);
  return pub;
}

static GstElement *
make (OtcPublisher * pub, const gchar * factory, const gchar * what)
{
  gchar *name = g_strdup_printf ("pub%u-%s", pub->index, what);
  GstElement *e = gst_element_factory_make (factory, name);

  g_free (name);
  if (e == NULL) {
    GST_ELEMENT_ERROR (pub->session, CORE, MISSING_PLUGIN,
        ("Element \"%s\" is missing: check the GStreamer installation",
            factory), (NULL));
    return NULL;
  }
  return e;
}

/* Adds @e to the bin and remembers it for removal. */
static GstElement *
add (OtcPublisher * pub, GstElement * e)
{
  gst_bin_add (GST_BIN (pub->session), e);
  g_ptr_array_add (pub->elements, e);
  return e;
}

static void
sync_all (GPtrArray * elements, guint from)
{
  guint i;

  for (i = from; i < elements->len; i++)
    gst_element_sync_state_with_parent (g_ptr_array_index (elements, i));
}

static gint
media_of_pad (OtcPublisher * pub, GstPad * pad)
{
  gint m;

  for (m = 0; m < N_MEDIA; m++)
    if (pub->pads[m] == pad)
      return m;
  return -1;
}

/* The first caps on an entry's src pad: link it to the tail, through an
 * encoder if the input is raw (or to a fakesink if there is no tail). */
static GstPadProbeReturn
entry_caps_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  OtcPublisher *pub = user_data;
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
  GstCaps *caps;
  GstStructure *s;
  GstElement *entry = GST_ELEMENT (gst_pad_get_parent (pad));
  GstElement *tail;
  gboolean raw;
  guint from;
  gint m;

  if (GST_EVENT_TYPE (event) != GST_EVENT_CAPS)
    goto out;
  gst_event_parse_caps (event, &caps);
  s = gst_caps_get_structure (caps, 0);
  raw = g_str_has_suffix (gst_structure_get_name (s), "/x-raw");
  g_mutex_lock (&pub->lock);
  m = pub->entry[VIDEO] == entry ? VIDEO : AUDIO;
  if (gst_pad_is_linked (pad)) {
    g_mutex_unlock (&pub->lock);
    goto out;                   /* caps changed later: the chain stays */
  }
  from = pub->elements->len;
  tail = pub->tail[m];
  if (tail == NULL) {
    tail = add (pub, make (pub, "fakesink", m == VIDEO ? "vdrop" : "adrop"));
    g_object_set (tail, "sync", FALSE, "async", FALSE, NULL);
  }
  if (raw && pub->tail[m]) {
    GstOtcSessionPrivate *priv = gst_otc_session_get_priv (pub->session);
    GstElement *conv, *enc;

    if (m == VIDEO) {
      conv = add (pub, make (pub, "videoconvert", "vconvert"));
      enc = add (pub, make (pub, "vp8enc", "vp8enc"));
      /* real time; key frames mostly on request; one token partition */
      g_object_set (enc, "deadline", (gint64) 1, "cpu-used", 4,
          "keyframe-max-dist", 300, "target-bitrate", priv->video_bitrate,
          "end-usage", 1 /* cbr */ , NULL);
    } else {
      GstElement *resample = add (pub, make (pub, "audioresample",
              "aresample"));

      conv = add (pub, make (pub, "audioconvert", "aconvert"));
      gst_element_link (conv, resample);
      enc = add (pub, make (pub, "opusenc", "opusenc"));
      gst_element_link (resample, enc);
    }
    if (m == VIDEO)
      gst_element_link (conv, enc);
    gst_element_link (entry, conv);
    gst_element_link (enc, tail);
    GST_DEBUG_OBJECT (pub->session, "stream %u: encoding raw %s", pub->index,
        media_name[m]);
  } else {
    gst_element_link (entry, tail);
  }
  sync_all (pub->elements, from);
  g_mutex_unlock (&pub->lock);
out:
  gst_object_unref (entry);
  return GST_PAD_PROBE_OK;
}

/* EOS on a published pad ends nothing on the network (the stream stays
 * published until the element stops); it only tells the pipeline that
 * this sink is done. */
static GstPadProbeReturn
entry_eos_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  OtcPublisher *pub = user_data;
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
  GstElement *entry;
  gint m;

  if (GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_STOP) {
    entry = GST_ELEMENT (gst_pad_get_parent (pad));
    g_mutex_lock (&pub->lock);
    for (m = 0; m < N_MEDIA; m++)
      if (pub->entry[m] == entry)
        pub->eos[m] = FALSE;
    g_mutex_unlock (&pub->lock);
    gst_object_unref (entry);
    return GST_PAD_PROBE_OK;
  }
  if (GST_EVENT_TYPE (event) != GST_EVENT_EOS)
    return GST_PAD_PROBE_OK;
  entry = GST_ELEMENT (gst_pad_get_parent (pad));
  g_mutex_lock (&pub->lock);
  for (m = 0; m < N_MEDIA; m++)
    if (pub->entry[m] == entry)
      pub->eos[m] = TRUE;
  g_mutex_unlock (&pub->lock);
  gst_object_unref (entry);
  gst_otc_session_check_eos (pub->session);
  return GST_PAD_PROBE_DROP;
}

gboolean
otc_publisher_is_eos (OtcPublisher * pub)
{
  gboolean eos = TRUE;
  gint m;

  g_mutex_lock (&pub->lock);
  for (m = 0; m < N_MEDIA; m++)
    if (pub->pads[m] && !pub->eos[m])
      eos = FALSE;
  g_mutex_unlock (&pub->lock);
  return eos;
}

void
otc_publisher_add_pad (OtcPublisher * pub, GstPad * pad, gboolean video)
{
  gint m = video ? VIDEO : AUDIO;
  GstElement *q;
  GstPad *src, *sink;

  q = make (pub, "queue", video ? "vqueue" : "aqueue");
  /* a live source must never block on the network */
  g_object_set (q, "max-size-buffers", 0, "max-size-bytes", 0,
      "max-size-time", (guint64) GST_SECOND, "leaky", 2 /* downstream */ ,
      NULL);
  gst_bin_add (GST_BIN (pub->session), q);
  src = gst_element_get_static_pad (q, "src");
  gst_pad_add_probe (src, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
      entry_caps_probe, pub, NULL);
  gst_object_unref (src);
  sink = gst_element_get_static_pad (q, "sink");
  gst_pad_add_probe (sink, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM |
      GST_PAD_PROBE_TYPE_EVENT_FLUSH, entry_eos_probe, pub, NULL);
  gst_ghost_pad_set_target (GST_GHOST_PAD (pad), sink);
  gst_object_unref (sink);
  g_mutex_lock (&pub->lock);
  pub->pads[m] = pad;
  pub->entry[m] = gst_object_ref (q);
  g_mutex_unlock (&pub->lock);
  gst_element_sync_state_with_parent (q);
}

void
otc_publisher_remove_pad (OtcPublisher * pub, GstPad * pad)
{
  gint m;
  GstElement *entry;

  g_mutex_lock (&pub->lock);
  m = media_of_pad (pub, pad);
  if (m < 0) {
    g_mutex_unlock (&pub->lock);
    return;
  }
  entry = pub->entry[m];
  pub->pads[m] = NULL;
  pub->entry[m] = NULL;
  pub->eos[m] = FALSE;
  g_mutex_unlock (&pub->lock);
  gst_ghost_pad_set_target (GST_GHOST_PAD (pad), NULL);
  /* at dispose the bin has taken its children out already */
  if (GST_OBJECT_PARENT (entry) == GST_OBJECT (pub->session)) {
    gst_element_set_state (entry, GST_STATE_NULL);
    gst_bin_remove (GST_BIN (pub->session), entry);
  }
  gst_object_unref (entry);
}

gboolean
otc_publisher_has_pads (OtcPublisher * pub)
{
  return pub->pads[VIDEO] || pub->pads[AUDIO];
}

/* --- negotiation -------------------------------------------------------- */

static void
send_candidate (OtcPublisher * pub, guint mline, const gchar * candidate)
{
  GstOtcSessionPrivate *priv = gst_otc_session_get_priv (pub->session);

  otc_signaller_add_candidate (otc_connection_get_signaller (priv->conn),
      pub->stream_id, mline, candidate);
}

static void
on_ice_candidate (GstElement * webrtc, guint mline, gchar * candidate,
    gpointer user_data)
{
  OtcPublisher *pub = user_data;

  g_mutex_lock (&pub->lock);
  if (pub->stream_id == NULL)
    g_queue_push_tail (&pub->candidates, g_strdup_printf ("%u\n%s", mline,
            candidate));
  else
    send_candidate (pub, mline, candidate);
  g_mutex_unlock (&pub->lock);
}

static void
on_offer (GstPromise * promise, gpointer user_data)
{
  OtcPublisher *pub = user_data;
  GstOtcSessionPrivate *priv = gst_otc_session_get_priv (pub->session);
  const GstStructure *reply = gst_promise_get_reply (promise);
  GstWebRTCSessionDescription *offer = NULL;
  GstStructure *info;
  gchar *sdp, *name;

  if (reply)
    gst_structure_get (reply, "offer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION,
        &offer, NULL);
  gst_promise_unref (promise);
  if (offer == NULL || gst_sdp_message_medias_len (offer->sdp) == 0) {
    /* stopping, or an early empty offer: wait for the real one */
    GST_DEBUG_OBJECT (pub->session, "no offer, or an empty one");
    if (offer)
      gst_webrtc_session_description_free (offer);
    g_mutex_lock (&pub->lock);
    pub->offered = FALSE;
    g_mutex_unlock (&pub->lock);
    return;
  }
  g_signal_emit_by_name (pub->webrtc, "set-local-description", offer, NULL);
  sdp = gst_sdp_message_as_text (offer->sdp);
  gst_webrtc_session_description_free (offer);

  g_mutex_lock (&priv->lock);
  name = pub->index == 0 ? g_strdup (priv->stream_name) :
      g_strdup_printf ("%s %u", priv->stream_name, pub->index);
  info = gst_structure_new ("otc/publish", "name", G_TYPE_STRING, name,
      "has-audio", G_TYPE_BOOLEAN, pub->pads[AUDIO] != NULL,
      "has-video", G_TYPE_BOOLEAN, pub->pads[VIDEO] != NULL,
      "video-type", G_TYPE_STRING, priv->video_type, NULL);
  g_mutex_unlock (&priv->lock);
  GST_INFO_OBJECT (pub->session, "publishing stream %u (%s)", pub->index,
      pub->tag);
  otc_signaller_publish (otc_connection_get_signaller (priv->conn), pub->tag,
      sdp, info);
  gst_structure_free (info);
  g_free (name);
  g_free (sdp);
}

static void
on_negotiation_needed (GstElement * webrtc, gpointer user_data)
{
  OtcPublisher *pub = user_data;

  g_mutex_lock (&pub->lock);
  if (pub->offered || pub->refused) {
    /* the router does not renegotiate a published stream */
    g_mutex_unlock (&pub->lock);
    return;
  }
  pub->offered = TRUE;
  g_mutex_unlock (&pub->lock);
  g_signal_emit_by_name (webrtc, "create-offer", NULL,
      gst_promise_new_with_change_func (on_offer, pub, NULL));
}

static void
on_ice_state (GstElement * webrtc, GParamSpec * pspec, gpointer user_data)
{
  OtcPublisher *pub = user_data;
  GstWebRTCICEConnectionState state;

  g_object_get (webrtc, "ice-connection-state", &state, NULL);
  if (state == GST_WEBRTC_ICE_CONNECTION_STATE_FAILED)
    otc_publisher_on_error (pub, OTC_SIGNALLING_ERROR_PUBLISH_FAILED,
        "ICE failed: no network path to the router");
}

/* webrtcbin's sink pad for @m, on a send-only transceiver. No codec
 * preferences: webrtcbin then waits for every pad's caps (which carry the
 * SSRCs) before it asks for the offer, and the offer has a=ssrc lines that
 * the router needs to tell bundled audio from video. */
static GstPad *
request_webrtc_pad (OtcPublisher * pub, gint m)
{
  GstPad *pad = gst_element_request_pad_simple (pub->webrtc, "sink_%u");
  GstWebRTCRTPTransceiver *trans = NULL;

  g_object_get (pad, "transceiver", &trans, NULL);
  g_object_set (trans, "direction",
      GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDONLY, NULL);
  gst_object_unref (trans);
  return pad;
}

void
otc_publisher_start (OtcPublisher * pub)
{
  GstOtcSession *self = pub->session;
  GstOtcSessionPrivate *priv = gst_otc_session_get_priv (self);
  guint from;
  gint m;

  g_mutex_lock (&pub->lock);
  if (pub->started) {
    g_mutex_unlock (&pub->lock);
    return;
  }
  pub->started = TRUE;
  pub->tag = otc_connection_new_tag (priv->conn, "publish");
  if (priv->e2ee && !gst_otc_secret_holder_has_secret (&priv->secret)) {
    pub->refused = TRUE;
    g_mutex_unlock (&pub->lock);
    gst_otc_session_post_stream_error (self, GST_OTC_MSG_SECRET_MISSING,
        OTC_E2EE_ERROR_ENCRYPTION_SECRET_MISSING,
        "Cannot publish in an end-to-end encrypted session without an "
        "encryption secret: set encryption-secret", NULL, priv->connection_id);
    return;
  }
  from = pub->elements->len;
  pub->webrtc = add (pub, make (pub, "webrtcbin", "webrtc"));
  g_object_set (pub->webrtc, "bundle-policy",
      GST_WEBRTC_BUNDLE_POLICY_MAX_BUNDLE, NULL);
  gst_otc_session_setup_webrtc (self, pub->webrtc);
  g_signal_connect (pub->webrtc, "on-ice-candidate",
      G_CALLBACK (on_ice_candidate), pub);
  g_signal_connect (pub->webrtc, "on-negotiation-needed",
      G_CALLBACK (on_negotiation_needed), pub);
  g_signal_connect (pub->webrtc, "notify::ice-connection-state",
      G_CALLBACK (on_ice_state), pub);

  for (m = 0; m < N_MEDIA; m++) {
    GstElement *pay, *first;
    GstPad *src, *sink;

    if (pub->pads[m] == NULL)
      continue;
    pay = add (pub, make (pub, m == VIDEO ? "rtpvp8pay" : "rtpopuspay",
            m == VIDEO ? "vpay" : "apay"));
    g_object_set (pay, "pt", m == VIDEO ? 96 : 111, NULL);
    if (m == VIDEO)
      g_object_set (pay, "picture-id-mode", 2 /* 15 bit */ , NULL);
    first = pay;
    if (priv->e2ee) {
      pub->encrypt[m] = add (pub, make (pub, "otcencrypt",
              m == VIDEO ? "vencrypt" : "aencrypt"));
      gst_otc_session_configure_transform (self, pub->encrypt[m]);
      g_object_set (pub->encrypt[m], "key-id",
          otc_connection_next_key_id (priv->conn), NULL);
      gst_element_link (pub->encrypt[m], pay);
      first = pub->encrypt[m];
    }
    pub->tail[m] = first;
    src = gst_element_get_static_pad (pay, "src");
    sink = request_webrtc_pad (pub, m);
    gst_pad_link (src, sink);
    gst_object_unref (src);
    gst_object_unref (sink);
  }
  g_mutex_unlock (&pub->lock);
  sync_all (pub->elements, from);
}

gboolean
otc_publisher_is_started (OtcPublisher * pub)
{
  return pub->started;
}

gboolean
otc_publisher_matches (OtcPublisher * pub, const gchar * tag,
    const gchar * leg_id)
{
  gboolean match;

  g_mutex_lock (&pub->lock);
  match = (tag && g_strcmp0 (pub->tag, tag) == 0) ||
      (leg_id && g_strcmp0 (pub->stream_id, leg_id) == 0);
  g_mutex_unlock (&pub->lock);
  return match;
}

void
otc_publisher_on_answer (OtcPublisher * pub, const gchar * stream_id,
    const gchar * sdp_text)
{
  GstSDPMessage *sdp;
  GstWebRTCSessionDescription *answer;
  gchar *c;

  if (stream_id == NULL || sdp_text == NULL
      || gst_sdp_message_new_from_text (sdp_text, &sdp) != GST_SDP_OK) {
    otc_publisher_on_error (pub, OTC_SIGNALLING_ERROR_PUBLISH_FAILED,
        "The router's answer is not valid SDP");
    return;
  }
  answer = gst_webrtc_session_description_new (GST_WEBRTC_SDP_TYPE_ANSWER,
      sdp);
  g_signal_emit_by_name (pub->webrtc, "set-remote-description", answer,
      NULL);
  gst_webrtc_session_description_free (answer);

  g_mutex_lock (&pub->lock);
  g_free (pub->stream_id);
  pub->stream_id = g_strdup (stream_id);
  while ((c = g_queue_pop_head (&pub->candidates))) {
    gchar *nl = strchr (c, '\n');

    send_candidate (pub, (guint) g_ascii_strtoull (c, NULL, 10), nl + 1);
    g_free (c);
  }
  g_mutex_unlock (&pub->lock);
  GST_INFO_OBJECT (pub->session, "stream %u published as %s", pub->index,
      stream_id);
  {
    GstOtcSessionPrivate *priv = gst_otc_session_get_priv (pub->session);
    GstStructure *s = gst_structure_new (OTC_MSG_PUBLISHED,
        "stream-id", G_TYPE_STRING, stream_id,
        "connection-id", G_TYPE_STRING, priv->connection_id,
        "index", G_TYPE_UINT, pub->index, NULL);

    gst_otc_session_post (pub->session, s);
  }
}

void
otc_publisher_on_candidate (OtcPublisher * pub, guint mline,
    const gchar * candidate)
{
  if (pub->webrtc)
    g_signal_emit_by_name (pub->webrtc, "add-ice-candidate", mline,
        candidate);
}

void
otc_publisher_on_error (OtcPublisher * pub, gint code, const gchar * message)
{
  GstOtcSessionPrivate *priv = gst_otc_session_get_priv (pub->session);
  gchar *stream_id;

  g_mutex_lock (&pub->lock);
  stream_id = g_strdup (pub->stream_id);
  g_mutex_unlock (&pub->lock);
  GST_WARNING_OBJECT (pub->session, "stream %u: %d %s", pub->index, code,
      message);
  gst_otc_session_post_stream_error (pub->session, OTC_MSG_ERROR, code,
      message, stream_id, priv->connection_id);
  g_free (stream_id);
}

const gchar *
otc_publisher_get_stream_id (OtcPublisher * pub)
{
  return pub->stream_id;
}

void
otc_publisher_stop (OtcPublisher * pub)
{
  GstOtcSessionPrivate *priv = gst_otc_session_get_priv (pub->session);
  GPtrArray *elements;
  guint i;
  gint m;

  g_mutex_lock (&pub->lock);
  if (pub->stream_id && priv->conn)
    otc_signaller_unpublish (otc_connection_get_signaller (priv->conn),
        pub->stream_id);
  g_clear_pointer (&pub->stream_id, g_free);
  g_clear_pointer (&pub->tag, g_free);
  g_queue_clear_full (&pub->candidates, g_free);
  elements = pub->elements;
  pub->elements = g_ptr_array_new ();
  pub->webrtc = NULL;
  for (m = 0; m < N_MEDIA; m++) {
    pub->tail[m] = NULL;
    pub->encrypt[m] = NULL;
    pub->eos[m] = FALSE;
  }
  pub->started = pub->refused = pub->offered = FALSE;
  g_mutex_unlock (&pub->lock);

  for (m = 0; m < N_MEDIA; m++) {
    GstPad *src;

    if (pub->entry[m] == NULL)
      continue;
    /* unlinked again: the next caps choose the chain anew */
    src = gst_element_get_static_pad (pub->entry[m], "src");
    if (gst_pad_is_linked (src)) {
      GstPad *peer = gst_pad_get_peer (src);

      gst_pad_unlink (src, peer);
      gst_object_unref (peer);
    }
    gst_object_unref (src);
  }
  for (i = 0; i < elements->len; i++) {
    GstElement *e = g_ptr_array_index (elements, i);

    /* locked: a concurrent state change of the bin must not revive it */
    g_signal_handlers_disconnect_by_data (e, pub);
    gst_element_set_locked_state (e, TRUE);
    gst_element_set_state (e, GST_STATE_NULL);
    gst_bin_remove (GST_BIN (pub->session), e);
  }
  g_ptr_array_unref (elements);
}

void
otc_publisher_foreach_transform (OtcPublisher * pub, GFunc func,
    gpointer data)
{
  gint m;

  g_mutex_lock (&pub->lock);
  for (m = 0; m < N_MEDIA; m++)
    if (pub->encrypt[m])
      func (pub->encrypt[m], data);
  g_mutex_unlock (&pub->lock);
}

gboolean
otc_publisher_owns (OtcPublisher * pub, GstObject * element)
{
  gboolean owns;

  g_mutex_lock (&pub->lock);
  owns = (GstElement *) element == pub->encrypt[VIDEO]
      || (GstElement *) element == pub->encrypt[AUDIO]
      || (GstElement *) element == pub->webrtc;
  g_mutex_unlock (&pub->lock);
  return owns;
}

void
otc_publisher_free (OtcPublisher * pub)
{
  g_ptr_array_unref (pub->elements);
  g_queue_clear_full (&pub->candidates, g_free);
  g_free (pub->tag);
  g_free (pub->stream_id);
  g_mutex_clear (&pub->lock);
  g_free (pub);
}
