/* Media legs: one webrtcbin each. A publisher leg answers the client's
 * offer and feeds a tee per received stream; a subscriber leg offers the
 * publisher's streams (same SSRC and payload type, no header extensions)
 * and is fed from those tees without depayloading, so E2EE frames stay
 * ciphertext. Key frame requests from subscribers are merged per
 * publisher stream and sent to the publisher as one PLI per interval. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include <gio/gio.h>
#include <gst/video/video.h>
#include <nice/agent.h>

#include "otc-router-media-private.h"

#define GST_CAT_DEFAULT otc_router_media_debug

typedef struct
{
  OtcMediaLeg *leg;
  guint mline;
  gchar *candidate;
} CandidateEvent;

typedef struct
{
  OtcMediaLeg *leg;
  gchar *reason;
} LegEvent;

typedef struct
{
  OtcMediaLeg *leg;
  gchar *type;
  gchar *sdp;
} DescriptionEvent;

static void leg_fail (OtcMediaLeg * leg, const gchar * reason);
static gboolean subscriber_negotiate (OtcMediaLeg * leg, GError ** error);
static void subscriber_link_outputs (OtcMediaLeg * leg);

/* ------------------------------------------------------------------------ */
/* reference counting */

OtcMediaLeg *
otc_media_leg_ref (OtcMediaLeg * leg)
{
  g_atomic_int_inc (&leg->refcount);
  return leg;
}

gpointer
otc_media_leg_copy (gconstpointer leg, gpointer unused)
{
  return otc_media_leg_ref ((OtcMediaLeg *) leg);
}

static void
leg_closure_notify (gpointer leg, GClosure * closure)
{
  otc_media_leg_unref (leg);
}

void
otc_publisher_stream_free (OtcPublisherStream * stream)
{
  g_assert (stream->trailing_request == NULL);
  gst_clear_caps (&stream->caps);
  otc_direct_stream_clear (stream);
  gst_clear_object (&stream->src_pad);
  gst_clear_object (&stream->tee);
  g_free (stream);
}

void
otc_media_leg_unref (OtcMediaLeg * leg)
{
  CandidateEvent *ev;

  if (!g_atomic_int_dec_and_test (&leg->refcount))
    return;
  GST_DEBUG ("freeing leg %s", leg->name);
  while ((ev = g_queue_pop_head (&leg->pending_candidates))) {
    g_free (ev->candidate);
    g_free (ev);
  }
  if (leg->streams)
    g_ptr_array_unref (leg->streams);
  if (leg->outputs)
    g_ptr_array_unref (leg->outputs);
  g_assert (leg->subscribers == NULL && leg->extra_sinks == NULL);
  if (leg->publisher)
    otc_media_leg_unref (leg->publisher);
  gst_clear_object (&leg->webrtc);
  gst_clear_event (&leg->segment);
  g_assert (leg->transport == NULL);
  g_mutex_clear (&leg->direct_lock);
  g_free (leg->stream_id);
  g_free (leg->name);
  otc_router_media_unref (leg->media);
  g_free (leg);
}

static void
leg_event_free (LegEvent * ev)
{
  otc_media_leg_unref (ev->leg);
  g_free (ev->reason);
  g_free (ev);
}

static gboolean
leg_fail_cb (LegEvent * ev)
{
  leg_fail (ev->leg, ev->reason);
  return G_SOURCE_REMOVE;
}

/* From any thread: the leg is gone for @reason. */
void
otc_media_leg_fail_async (OtcMediaLeg * leg, const gchar * reason)
{
  LegEvent *ev = g_new0 (LegEvent, 1);

  ev->leg = otc_media_leg_ref (leg);
  ev->reason = g_strdup (reason);
  otc_router_media_dispatch (leg->media, (GSourceFunc) leg_fail_cb, ev,
      (GDestroyNotify) leg_event_free);
}

/* ------------------------------------------------------------------------ */
/* webrtcbin */

/* Waits for a webrtcbin promise; FALSE with @error if it reported one. */
static gboolean
promise_wait_reply (GstPromise * promise, const gchar * what,
    GstStructure ** reply_out, GError ** error)
{
  GstPromiseResult res = gst_promise_wait (promise);
  const GstStructure *reply;
  GError *err = NULL;

  if (reply_out)
    *reply_out = NULL;
  if (res != GST_PROMISE_RESULT_REPLIED) {
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR, OTC_ROUTER_MEDIA_ERROR_FAILED,
        "%s: no reply from webrtcbin", what);
    return FALSE;
  }
  reply = gst_promise_get_reply (promise);
  if (reply && gst_structure_has_field (reply, "error")) {
    gst_structure_get (reply, "error", G_TYPE_ERROR, &err, NULL);
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
        OTC_ROUTER_MEDIA_ERROR_INVALID_SDP, "%s: %s", what,
        err ? err->message : "failed");
    g_clear_error (&err);
    return FALSE;
  }
  if (reply_out && reply)
    *reply_out = gst_structure_copy (reply);
  return TRUE;
}

static gboolean
webrtc_set_description (GstElement * webrtc, const gchar * signal,
    GstWebRTCSDPType type, const GstSDPMessage * sdp, GError ** error)
{
  GstSDPMessage *copy = NULL;
  GstWebRTCSessionDescription *desc;
  GstPromise *promise = gst_promise_new ();
  gboolean ok;

  gst_sdp_message_copy (sdp, &copy);
  desc = gst_webrtc_session_description_new (type, copy);
  g_signal_emit_by_name (webrtc, signal, desc, promise);
  ok = promise_wait_reply (promise, signal, NULL, error);
  gst_promise_unref (promise);
  gst_webrtc_session_description_free (desc);
  return ok;
}

/* create-offer / create-answer, then set-local-description. */
static gchar *
webrtc_create_local (GstElement * webrtc, GstWebRTCSDPType type,
    GError ** error)
{
  const gchar *what = type == GST_WEBRTC_SDP_TYPE_OFFER ? "offer" : "answer";
  gchar *signal = g_strdup_printf ("create-%s", what);
  GstPromise *promise = gst_promise_new ();
  GstStructure *reply = NULL;
  GstWebRTCSessionDescription *desc = NULL;
  gchar *text = NULL;

  g_signal_emit_by_name (webrtc, signal, NULL, promise);
  if (!promise_wait_reply (promise, signal, &reply, error))
    goto done;
  if (reply == NULL || !gst_structure_get (reply, what,
          GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &desc, NULL) || desc == NULL) {
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR, OTC_ROUTER_MEDIA_ERROR_FAILED,
        "webrtcbin made no %s", what);
    goto done;
  }
  if (!webrtc_set_description (webrtc, "set-local-description", type,
          desc->sdp, error))
    goto done;
  text = gst_sdp_message_as_text (desc->sdp);

done:
  if (desc)
    gst_webrtc_session_description_free (desc);
  if (reply)
    gst_structure_free (reply);
  gst_promise_unref (promise);
  g_free (signal);
  return text;
}

/* rtpfunnel src pad of a leg: webrtcbin marks each stream with a sticky
 * "GstWebRtcBinUpdateTos" event (its m-line's mid), which rtpfunnel sends
 * down the transport, where the ICE socket's TOS is set from the
 * transceiver's priority, whenever the stream of the packets changes, that
 * is up to a hundred times a second with audio and video interleaved. The
 * router gives its transceivers no priority, so all streams have the same
 * TOS: the first event goes on, later ones stop here. (Should the router
 * ever set a sender's priority, this probe must go: the TOS would stay
 * that of the first stream.) */
static GstPadProbeReturn
funnel_tos_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
  gint *seen = user_data;

  if (GST_EVENT_TYPE (event) != GST_EVENT_CUSTOM_DOWNSTREAM_STICKY
      || !gst_event_has_name (event, "GstWebRtcBinUpdateTos"))
    return GST_PAD_PROBE_OK;
  if (g_atomic_int_compare_and_exchange (seen, 0, 1))
    return GST_PAD_PROBE_OK;
  gst_event_unref (event);
  GST_PAD_PROBE_INFO_DATA (info) = NULL;
  return GST_PAD_PROBE_HANDLED;
}

/* webrtcbin syncs each send path to the clock (clocksync sync=true): a
 * forwarder would hold every packet for its jitterbuffer latency. Measured
 * by otc-router-bench: p99 added latency ~110 ms with it, 3-4 ms without
 * (N = 1, 5). */
static void
leg_deep_element_added (GstBin * bin, GstBin * sub_bin, GstElement * element,
    gpointer user_data)
{
  GstElementFactory *f = gst_element_get_factory (element);

  if (f == NULL)
    return;
  if (g_str_equal (GST_OBJECT_NAME (f), "clocksync")) {
    g_object_set (element, "sync", FALSE, NULL);
  } else if (g_str_equal (GST_OBJECT_NAME (f), "rtpfunnel")) {
    GstPad *src = gst_element_get_static_pad (element, "src");

    if (src) {
      gst_pad_add_probe (src, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
          funnel_tos_probe, g_new0 (gint, 1), g_free);
      gst_object_unref (src);
    }
  }
}

/* @sdp without its ICE password (it authenticates the leg's checks) */
static gchar *
sdp_for_log (const gchar * sdp)
{
  gchar **lines = g_strsplit (sdp, "\n", -1);
  gchar **l, *res;

  for (l = lines; *l; l++) {
    if (g_str_has_prefix (*l, "a=ice-pwd:")) {
      g_free (*l);
      *l = g_strdup ("a=ice-pwd:(not logged)\r");
    }
  }
  res = g_strjoinv ("\n", lines);
  g_strfreev (lines);
  return res;
}

/* ICE only on the configured addresses, UDP only, no STUN/TURN. */
static gboolean
webrtc_restrict_ice (OtcRouterMedia * media, GstElement * webrtc,
    GError ** error)
{
  GObject *ice = NULL;
  GObject *agent = NULL;
  GParamSpec *pspec;
  gchar **a;

  g_object_get (webrtc, "ice-agent", &ice, NULL);
  pspec = ice ? g_object_class_find_property (G_OBJECT_GET_CLASS (ice),
      "agent") : NULL;
  if (pspec == NULL || pspec->value_type != NICE_TYPE_AGENT) {
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR, OTC_ROUTER_MEDIA_ERROR_FAILED,
        "webrtcbin's ICE agent is not libnice's: cannot restrict addresses");
    g_clear_object (&ice);
    return FALSE;
  }
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (ice), "ice-tcp"))
    g_object_set (ice, "ice-tcp", FALSE, NULL);
  g_object_get (ice, "agent", &agent, NULL);
  /* no UPnP port mapping: it searches the network by multicast and costs a
   * thread per leg */
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (agent), "upnp"))
    g_object_set (agent, "upnp", FALSE, NULL);
  for (a = media->ice_addresses; *a; a++) {
    NiceAddress addr;

    nice_address_init (&addr);
    if (!nice_address_set_from_string (&addr, *a)
        || !nice_agent_add_local_address (NICE_AGENT (agent), &addr)) {
      g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
          OTC_ROUTER_MEDIA_ERROR_FAILED, "ICE address %s refused", *a);
      g_object_unref (agent);
      g_object_unref (ice);
      return FALSE;
    }
  }
  g_object_unref (agent);
  g_object_unref (ice);
  return TRUE;
}

/* "candidate:F C udp PRIO ADDRESS PORT typ ..." -> is ADDRESS allowed? */
static gboolean
candidate_address_allowed (OtcRouterMedia * media, const gchar * candidate)
{
  gchar **parts = g_strsplit (candidate, " ", 7);
  GInetAddress *addr = NULL;
  gboolean ok = FALSE;
  GList *l;

  if (g_strv_length (parts) >= 6)
    addr = g_inet_address_new_from_string (parts[4]);
  for (l = media->ice_inet_addresses; addr && l && !ok; l = l->next)
    ok = g_inet_address_equal (addr, l->data);
  g_clear_object (&addr);
  g_strfreev (parts);
  return ok;
}

/* ------------------------------------------------------------------------ */
/* calling the caller (context thread) */

static void
leg_deliver_candidate (OtcMediaLeg * leg, CandidateEvent * ev)
{
  if (leg->user_closed || leg->closed_notified || leg->torn_down
      || leg->media->shut_down)
    return;
  if (leg->callbacks.local_candidate)
    leg->callbacks.local_candidate (leg, ev->mline, ev->candidate,
        leg->user_data);
}

static gboolean
candidate_cb (CandidateEvent * ev)
{
  OtcMediaLeg *leg = ev->leg;

  if (!leg->description_sent) {
    CandidateEvent *copy = g_new0 (CandidateEvent, 1);

    copy->mline = ev->mline;
    copy->candidate = g_strdup (ev->candidate);
    g_queue_push_tail (&leg->pending_candidates, copy);
    return G_SOURCE_REMOVE;
  }
  leg_deliver_candidate (leg, ev);
  return G_SOURCE_REMOVE;
}

static void
candidate_event_destroy (CandidateEvent * ev)
{
  otc_media_leg_unref (ev->leg);
  g_free (ev->candidate);
  g_free (ev);
}

static gboolean
description_cb (DescriptionEvent * ev)
{
  OtcMediaLeg *leg = ev->leg;
  CandidateEvent *c;

  if (leg->user_closed || leg->closed_notified || leg->torn_down
      || leg->media->shut_down)
    return G_SOURCE_REMOVE;
  leg->description_sent = TRUE;
  if (leg->callbacks.local_description)
    leg->callbacks.local_description (leg, ev->type, ev->sdp, leg->user_data);
  while ((c = g_queue_pop_head (&leg->pending_candidates))) {
    leg_deliver_candidate (leg, c);
    g_free (c->candidate);
    g_free (c);
  }
  return G_SOURCE_REMOVE;
}

static void
description_event_free (DescriptionEvent * ev)
{
  otc_media_leg_unref (ev->leg);
  g_free (ev->type);
  g_free (ev->sdp);
  g_free (ev);
}

static void
leg_dispatch_description (OtcMediaLeg * leg, const gchar * type, gchar * sdp)
{
  DescriptionEvent *ev = g_new0 (DescriptionEvent, 1);

  ev->leg = otc_media_leg_ref (leg);
  ev->type = g_strdup (type);
  ev->sdp = sdp;
  otc_router_media_dispatch (leg->media, (GSourceFunc) description_cb, ev,
      (GDestroyNotify) description_event_free);
}

/* The caller's closed callback, at most once and never after the caller
 * closed the leg. The caller's handle is released afterwards. */
static void
leg_notify_closed (OtcMediaLeg * leg, const gchar * reason)
{
  if (leg->user_closed || leg->closed_notified)
    return;
  leg->closed_notified = TRUE;
  GST_INFO ("leg %s closed: %s", leg->name, reason);
  otc_media_leg_ref (leg);
  if (leg->callbacks.closed && !leg->media->shut_down)
    leg->callbacks.closed (leg, reason, leg->user_data);
  /* otc_media_leg_close() from inside the callback released it already */
  if (!leg->user_closed) {
    leg->user_closed = TRUE;
    otc_media_leg_unref (leg);
  }
  otc_media_leg_unref (leg);
}

static gboolean
notify_closed_cb (LegEvent * ev)
{
  leg_notify_closed (ev->leg, ev->reason);
  return G_SOURCE_REMOVE;
}

static void
leg_notify_closed_async (OtcMediaLeg * leg, const gchar * reason)
{
  LegEvent *ev = g_new0 (LegEvent, 1);

  ev->leg = otc_media_leg_ref (leg);
  ev->reason = g_strdup (reason);
  otc_router_media_dispatch (leg->media, (GSourceFunc) notify_closed_cb, ev,
      (GDestroyNotify) leg_event_free);
}

/* Context thread: tear the leg down and tell the caller. */
static void
leg_fail (OtcMediaLeg * leg, const gchar * reason)
{
  if (leg->user_closed || leg->closed_notified)
    return;
  otc_media_leg_teardown (leg);
  leg_notify_closed (leg, reason);
}

/* ------------------------------------------------------------------------ */
/* webrtcbin signals (webrtcbin and libnice threads) */

static void
on_ice_candidate (GstElement * webrtc, guint mline, const gchar * candidate,
    OtcMediaLeg * leg)
{
  if (candidate != NULL)
    otc_media_leg_add_local_candidate (leg, mline, candidate);
}

/* Any thread: a local candidate for the caller (after the description). */
void
otc_media_leg_add_local_candidate (OtcMediaLeg * leg, guint mline,
    const gchar * candidate)
{
  CandidateEvent *ev;

  if (g_str_has_prefix (candidate, "a="))
    candidate += 2;
  if (!candidate_address_allowed (leg->media, candidate)) {
    GST_WARNING ("leg %s: dropping candidate outside the ICE addresses: %s",
        leg->name, candidate);
    return;
  }
  GST_LOG ("leg %s: local candidate %u %s", leg->name, mline, candidate);
  ev = g_new0 (CandidateEvent, 1);
  ev->leg = otc_media_leg_ref (leg);
  ev->mline = mline;
  ev->candidate = g_strdup (candidate);
  otc_router_media_dispatch (leg->media, (GSourceFunc) candidate_cb, ev,
      (GDestroyNotify) candidate_event_destroy);
}

static void
on_connection_state (GstElement * webrtc, GParamSpec * pspec, OtcMediaLeg * leg)
{
  GstWebRTCPeerConnectionState state;

  g_object_get (webrtc, "connection-state", &state, NULL);
  GST_DEBUG ("leg %s: connection state %d", leg->name, state);
  switch (state) {
    case GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTED:
      g_atomic_int_set (&leg->connected, 1);
      break;
    case GST_WEBRTC_PEER_CONNECTION_STATE_FAILED:
      otc_media_leg_fail_async (leg, "connection failed (ICE or DTLS)");
      break;
    default:
      break;
  }
}

/* ------------------------------------------------------------------------ */
/* key frame requests */

static void
stream_send_keyframe_request (OtcPublisherStream * stream, GstPad * src_pad,
    guint32 ssrc)
{
  GstEvent *event;
  GstStructure *s;

  /* rtpsession turns it into a PLI (FIR with all-headers) only with the
   * ssrc and payload fields that rtpssrcdemux/rtpptdemux would add */
  event = gst_video_event_new_upstream_force_key_unit (GST_CLOCK_TIME_NONE,
      stream->use_fir, 0);
  s = gst_event_writable_structure (event);
  gst_structure_set (s, "ssrc", G_TYPE_UINT, ssrc, "payload", G_TYPE_UINT,
      stream->pt, NULL);
  GST_DEBUG ("leg %s m-line %u: requesting a key frame (ssrc %u)",
      stream->leg->name, stream->mline, ssrc);
  gst_pad_send_event (src_pad, event);
}

static gboolean
trailing_request_cb (OtcPublisherStream * stream)
{
  OtcRouterMedia *media = stream->leg->media;
  GstPad *pad = NULL;
  guint32 ssrc = 0;

  g_mutex_lock (&media->lock);
  if (stream->trailing_request) {
    g_source_unref (stream->trailing_request);
    stream->trailing_request = NULL;
  }
  if (!stream->leg->closing && stream->src_pad) {
    stream->last_keyframe_request = g_get_monotonic_time ();
    stream->kf_sent++;
    pad = gst_object_ref (stream->src_pad);
    ssrc = stream->ssrc;
  }
  g_mutex_unlock (&media->lock);
  if (pad) {
    stream_send_keyframe_request (stream, pad, ssrc);
    gst_object_unref (pad);
  }
  return G_SOURCE_REMOVE;
}

/* Any thread: ask the publisher for a key frame, at most once per
 * interval; a request inside the interval is sent when it ends. */
static void
stream_request_keyframe (OtcPublisherStream * stream, const gchar * why)
{
  OtcRouterMedia *media = stream->leg->media;
  gint64 now = g_get_monotonic_time ();
  const gint64 interval = OTC_ROUTER_MEDIA_KEYFRAME_INTERVAL_MS * 1000;
  GstPad *pad = NULL;
  guint32 ssrc = 0;

  if (!stream->is_video)
    return;
  g_mutex_lock (&media->lock);
  if (stream->leg->closing || stream->src_pad == NULL) {
    g_mutex_unlock (&media->lock);
    return;
  }
  stream->kf_requests++;
  if (stream->last_keyframe_request == 0
      || now - stream->last_keyframe_request >= interval) {
    stream->last_keyframe_request = now;
    stream->kf_sent++;
    pad = gst_object_ref (stream->src_pad);
    ssrc = stream->ssrc;
  } else {
    stream->kf_throttled++;
    if (stream->trailing_request == NULL) {
      GSource *s = g_timeout_source_new ((interval -
              (now - stream->last_keyframe_request)) / 1000 + 1);

      g_source_set_callback (s, (GSourceFunc) trailing_request_cb, stream,
          NULL);
      g_source_attach (s, media->context);
      stream->trailing_request = s;
    }
  }
  g_mutex_unlock (&media->lock);
  GST_LOG ("leg %s m-line %u: key frame request (%s)%s", stream->leg->name,
      stream->mline, why, pad ? "" : ", throttled");
  if (pad) {
    stream_send_keyframe_request (stream, pad, ssrc);
    gst_object_unref (pad);
  }
}

void
otc_publisher_stream_request_keyframe (OtcPublisherStream * stream,
    const gchar * why)
{
  stream_request_keyframe (stream, why);
}

/* Any thread, once per output: its first packet goes out now; a new
 * subscriber (or recording) starts with a key frame. */
void
otc_media_output_start (OtcOutput * out)
{
  if (!g_atomic_int_compare_and_exchange (&out->started, 0, 1))
    return;
  GST_INFO ("%s: media starts on output %u", out->leg ? out->leg->name :
      "recording", out->stream_index);
  stream_request_keyframe (g_ptr_array_index (out->publisher->streams,
          out->stream_index), out->leg ? "new subscriber" : "recording");
}

/* ------------------------------------------------------------------------ */
/* forwarding */

/* Context thread: a publisher stream's tee exists or its SSRC became
 * known: subscribers and recordings waiting for either go on. */
static gboolean
stream_ready_cb (LegEvent * ev)
{
  OtcMediaLeg *pub = ev->leg;
  OtcRouterMedia *media = pub->media;
  GList *subs, *l;

  if (pub->torn_down)
    return G_SOURCE_REMOVE;
  otc_recording_start_ready (media);
  g_mutex_lock (&media->lock);
  subs = g_list_copy_deep (pub->subscribers, otc_media_leg_copy, NULL);
  g_mutex_unlock (&media->lock);
  for (l = subs; l; l = l->next) {
    OtcMediaLeg *sub = l->data;
    GError *err = NULL;

    if (sub->torn_down)
      continue;
    if (!sub->offer_made) {
      if (!subscriber_negotiate (sub, &err)) {
        leg_fail (sub, err->message);
        g_clear_error (&err);
        continue;
      }
    }
    subscriber_link_outputs (sub);
  }
  g_list_free_full (subs, (GDestroyNotify) otc_media_leg_unref);
  return G_SOURCE_REMOVE;
}

static void
stream_ready_async (OtcPublisherStream * stream)
{
  LegEvent *ev = g_new0 (LegEvent, 1);

  ev->leg = otc_media_leg_ref (stream->leg);
  otc_router_media_dispatch (stream->leg->media, (GSourceFunc) stream_ready_cb,
      ev, (GDestroyNotify) leg_event_free);
}

/* Tee sink pad: caps going down become the stream's forward caps (with
 * the SSRC actually received); key frame requests coming up are merged
 * and sent as one PLI; retransmission requests stop here. */
static GstPadProbeReturn
tee_sink_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  OtcPublisherStream *stream = user_data;
  OtcRouterMedia *media = stream->leg->media;
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);

  if (GST_EVENT_TYPE (event) == GST_EVENT_CAPS) {
    GstCaps *caps;
    const GstStructure *s;
    guint ssrc;
    gboolean newly_known = FALSE;

    gst_event_parse_caps (event, &caps);
    s = gst_caps_get_structure (caps, 0);
    g_mutex_lock (&media->lock);
    if (gst_structure_get_uint (s, "ssrc", &ssrc)
        && (!stream->ssrc_known || ssrc != stream->ssrc)) {
      if (stream->ssrc_known)
        GST_WARNING ("leg %s m-line %u: SSRC %u received, %u signalled",
            stream->leg->name, stream->mline, ssrc, stream->ssrc);
      newly_known = !stream->ssrc_known;
      stream->ssrc = ssrc;
      stream->ssrc_known = TRUE;
      stream->caps = gst_caps_make_writable (stream->caps);
      gst_caps_set_simple (stream->caps, "ssrc", G_TYPE_UINT, ssrc, NULL);
    }
    caps = gst_caps_ref (stream->caps);
    g_mutex_unlock (&media->lock);
    GST_DEBUG ("leg %s m-line %u: forwarding caps %" GST_PTR_FORMAT,
        stream->leg->name, stream->mline, caps);
    gst_event_unref (event);
    GST_PAD_PROBE_INFO_DATA (info) = gst_event_new_caps (caps);
    gst_caps_unref (caps);
    if (newly_known)
      stream_ready_async (stream);
    return GST_PAD_PROBE_OK;
  }
  if (GST_EVENT_TYPE (event) == GST_EVENT_SEGMENT) {
    const GstSegment *seg, *have;

    /* A subscriber leg bundles the publisher's streams into one (rtpfunnel)
     * and sends the segment of the stream a packet comes from down its
     * transport whenever that stream changes, unless it is the very same
     * event: streams with equal segments share one event. */
    gst_event_parse_segment (event, &seg);
    g_mutex_lock (&media->lock);
    if (stream->leg->segment) {
      gst_event_parse_segment (stream->leg->segment, &have);
      if (gst_segment_is_equal (seg, have)
          && gst_event_get_running_time_offset (event) ==
          gst_event_get_running_time_offset (stream->leg->segment)) {
        gst_event_unref (event);
        GST_PAD_PROBE_INFO_DATA (info) = gst_event_ref (stream->leg->segment);
        g_mutex_unlock (&media->lock);
        return GST_PAD_PROBE_OK;
      }
    }
    gst_event_replace (&stream->leg->segment, event);
    g_mutex_unlock (&media->lock);
    return GST_PAD_PROBE_OK;
  }
  if (GST_EVENT_TYPE (event) == GST_EVENT_CUSTOM_UPSTREAM) {
    if (gst_video_event_is_force_key_unit (event)) {
      stream_request_keyframe (stream, "downstream");
      return GST_PAD_PROBE_DROP;
    }
    if (gst_event_has_name (event, "GstRTPRetransmissionRequest"))
      return GST_PAD_PROBE_DROP;
  }
  return GST_PAD_PROBE_OK;
}

typedef struct
{
  GstPad *sink_pad;
  GstEventType before;
} MissingSticky;

#define OUTPUT_ALL_STICKY ((GstEventType) G_MAXINT)

static gboolean
send_missing_sticky (GstPad * pad, GstEvent ** event, gpointer user_data)
{
  MissingSticky *m = user_data;
  GstEventType type = GST_EVENT_TYPE (*event);
  GstEvent *have;

  if (type >= m->before)
    return FALSE;               /* sticky events come in type order */
  if (type != GST_EVENT_STREAM_START && type != GST_EVENT_CAPS
      && type != GST_EVENT_SEGMENT)
    return TRUE;
  have = gst_pad_get_sticky_event (m->sink_pad, type, 0);
  if (have == NULL) {
    GST_INFO_OBJECT (m->sink_pad, "%s missed by the tee pad: sent from the tee",
        GST_EVENT_TYPE_NAME (*event));
    gst_pad_send_event (m->sink_pad, gst_event_ref (*event));
  } else {
    gst_event_unref (have);
  }
  return TRUE;
}

/* Streaming thread: what reaches @out->sink_pad must come after the
 * stream's stream-start, caps and segment. The tee pad normally carries
 * them (tee copies its sink pad's sticky events to a new pad, and forwards
 * later ones), but a pad requested while they go through the tee can miss
 * one: tee forwards an event to the pads in its list and stores it on its
 * sink pad only afterwards. A subscriber leg then once received buffers
 * without stream-start (a rare "Got data flow before stream-start event"
 * in CI). Those the sink pad lacks, up to @before, are sent to it from
 * the tee's sink pad, in their order. */
static void
output_complete_sticky (OtcOutput * out, GstPad * tee_pad, GstEventType before)
{
  MissingSticky m = { out->sink_pad, before };
  GstElement *tee = gst_pad_get_parent_element (tee_pad);
  GstPad *tee_sink;

  if (tee == NULL)
    return;
  tee_sink = gst_element_get_static_pad (tee, "sink");
  gst_pad_sticky_events_foreach (tee_sink, send_missing_sticky, &m);
  gst_object_unref (tee_sink);
  gst_object_unref (tee);
}

/* Tee src pad of an output: a sticky event on its way to the output. */
static GstPadProbeReturn
output_event_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  OtcOutput *out = user_data;
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
  GstEvent *have;

  /* (an event pushed before the pad is linked goes nowhere: the link
   * makes the pad send all its sticky events again, in order) */
  if (!GST_EVENT_IS_STICKY (event)
      || GST_EVENT_TYPE (event) == GST_EVENT_STREAM_START
      || !gst_pad_is_linked (pad))
    return GST_PAD_PROBE_OK;
  have = gst_pad_get_sticky_event (out->sink_pad, GST_EVENT_STREAM_START, 0);
  if (have) {
    gst_event_unref (have);
    return GST_PAD_PROBE_OK;
  }
  output_complete_sticky (out, pad, GST_EVENT_TYPE (event));
  return GST_PAD_PROBE_OK;
}

/* Tee src pad of an output: buffers go to the output's sink pad here, so
 * that a failing or departing subscriber (or recording) returns OK to the
 * tee and cannot stop the publisher's stream for everybody else; a
 * subscriber gets nothing until its connection is up. */
static GstPadProbeReturn
output_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  OtcOutput *out = user_data;
  GstFlowReturn ret;

  /* Not linked yet, or linked while this buffer was on its way: the
   * sticky events (stream-start, caps, segment) have not gone to the sink
   * pad yet; the next push sends them first. */
  if (!g_atomic_int_get (&out->linked) || g_atomic_int_get (&out->failed))
    return GST_PAD_PROBE_DROP;
  if (G_UNLIKELY (GST_PAD_HAS_PENDING_EVENTS (pad)))
    return GST_PAD_PROBE_DROP;
  if (out->leg && !g_atomic_int_get (&out->leg->connected))
    return GST_PAD_PROBE_DROP;
  if (!g_atomic_int_get (&out->started)) {
    /* its events went through output_event_probe, unless none was
     * pending: then they may all have been missed */
    output_complete_sticky (out, pad, OUTPUT_ALL_STICKY);
    otc_media_output_start (out);
  }
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST)
    ret = gst_pad_chain_list (out->sink_pad,
        GST_PAD_PROBE_INFO_BUFFER_LIST (info));
  else
    ret = gst_pad_chain (out->sink_pad, GST_PAD_PROBE_INFO_BUFFER (info));
  GST_PAD_PROBE_INFO_DATA (info) = NULL;
  if (ret != GST_FLOW_OK && ret != GST_FLOW_FLUSHING
      && ret != GST_FLOW_NOT_LINKED && out->leg
      && g_atomic_int_compare_and_exchange (&out->failed, 0, 1)) {
    gchar *reason = g_strdup_printf ("forwarding failed: %s",
        gst_flow_get_name (ret));

    GST_WARNING ("leg %s: %s", out->leg->name, reason);
    otc_media_leg_fail_async (out->leg, reason);
    g_free (reason);
  } else if (ret != GST_FLOW_OK && out->leg == NULL) {
    /* a recording input that ended or failed */
    g_atomic_int_set (&out->failed, 1);
  }
  GST_PAD_PROBE_INFO_FLOW_RETURN (info) = GST_FLOW_OK;
  return GST_PAD_PROBE_HANDLED;
}

OtcOutput *
otc_media_output_ref (OtcOutput * out)
{
  g_atomic_int_inc (&out->refcount);
  return out;
}

void
otc_media_output_unref (OtcOutput * out)
{
  if (!g_atomic_int_dec_and_test (&out->refcount))
    return;
  g_assert (out->tee_pad == NULL);
  gst_clear_object (&out->sink_pad);
  if (out->leg)
    otc_media_leg_unref (out->leg);
  otc_media_leg_unref (out->publisher);
  g_free (out);
}

OtcOutput *
otc_media_output_new (OtcMediaLeg * publisher, guint stream_index,
    OtcMediaLeg * leg, GstPad * sink_pad)
{
  OtcOutput *out = g_new0 (OtcOutput, 1);

  out->refcount = 1;
  out->publisher = otc_media_leg_ref (publisher);
  out->leg = leg ? otc_media_leg_ref (leg) : NULL;
  out->stream_index = stream_index;
  /* (NULL: a direct subscriber leg's output) */
  out->sink_pad = sink_pad ? gst_object_ref (sink_pad) : NULL;
  return out;
}

static gboolean
copy_missing_sticky (GstPad * pad, GstEvent ** event, gpointer user_data)
{
  GstPad *to = user_data;
  GstEvent *have = gst_pad_get_sticky_event (to, GST_EVENT_TYPE (*event), 0);

  if (have == NULL)
    gst_pad_store_sticky_event (to, *event);
  else
    gst_event_unref (have);
  return TRUE;
}

/* Context thread: requests a tee pad and links it to @out->sink_pad. */
gboolean
otc_media_output_link (OtcOutput * out)
{
  OtcRouterMedia *media = out->publisher->media;
  OtcPublisherStream *stream = g_ptr_array_index (out->publisher->streams,
      out->stream_index);
  GstElement *tee = NULL;
  GstPad *tee_pad;

  if (out->tee_pad || (out->sink_pad == NULL && g_atomic_int_get (&out->linked)))
    return TRUE;
  g_mutex_lock (&media->lock);
  if (stream->tee && !out->publisher->closing)
    tee = gst_object_ref (stream->tee);
  g_mutex_unlock (&media->lock);
  if (tee == NULL)
    return FALSE;
  if (out->sink_pad == NULL) {
    /* direct: fed from the tee's sink pad */
    gst_object_unref (tee);
    otc_direct_output_link (out, stream);
    return TRUE;
  }
  tee_pad = gst_element_request_pad_simple (tee, "src_%u");
  /* tee copies the sink pad's sticky events to a new pad before the pad is
   * in its list: an event stored in between (the stream's first, while
   * this output is linked as the media starts) reaches neither, and the
   * first buffer then flows without stream-start. Copied again now that
   * the pad is in the list: whatever comes later is forwarded to it. */
  {
    GstPad *tee_sink = gst_element_get_static_pad (tee, "sink");

    gst_pad_sticky_events_foreach (tee_sink, copy_missing_sticky, tee_pad);
    gst_object_unref (tee_sink);
  }
  gst_pad_add_probe (tee_pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
      output_event_probe, otc_media_output_ref (out),
      (GDestroyNotify) otc_media_output_unref);
  gst_pad_add_probe (tee_pad, GST_PAD_PROBE_TYPE_BUFFER |
      GST_PAD_PROBE_TYPE_BUFFER_LIST, output_probe, otc_media_output_ref (out),
      (GDestroyNotify) otc_media_output_unref);
  if (gst_pad_link (tee_pad, out->sink_pad) != GST_PAD_LINK_OK) {
    GST_WARNING ("could not link %" GST_PTR_FORMAT " to %" GST_PTR_FORMAT,
        tee_pad, out->sink_pad);
    gst_element_release_request_pad (tee, tee_pad);
    gst_object_unref (tee_pad);
    gst_object_unref (tee);
    return FALSE;
  }
  out->tee_pad = tee_pad;
  g_atomic_int_set (&out->linked, 1);
  gst_object_unref (tee);
  return TRUE;
}

/* Context thread: the tee pad goes first, so that a push in flight to a
 * departing output is ignored by the tee. */
void
otc_media_output_unlink (OtcOutput * out)
{
  GstElement *tee;

  if (out->sink_pad == NULL) {
    if (g_atomic_int_get (&out->linked))
      otc_direct_output_unlink (out, g_ptr_array_index (out->publisher->streams,
              out->stream_index));
    return;
  }
  if (out->tee_pad == NULL)
    return;
  g_atomic_int_set (&out->linked, 0);
  tee = gst_pad_get_parent_element (out->tee_pad);
  gst_pad_unlink (out->tee_pad, out->sink_pad);
  if (tee) {
    gst_element_release_request_pad (tee, out->tee_pad);
    gst_object_unref (tee);
  }
  gst_clear_object (&out->tee_pad);
}

/* Publisher webrtcbin: a src pad per received stream (streaming thread).
 * The tee is linked here, before the first buffer. */
static void
on_publisher_pad_added (GstElement * webrtc, GstPad * pad, OtcMediaLeg * leg)
{
  OtcRouterMedia *media = leg->media;
  GObject *trans = NULL;
  guint mline = G_MAXUINT;
  OtcPublisherStream *stream = NULL;
  GstElement *tee = NULL, *sink = NULL;
  GstPad *teesink;
  gchar *name;
  guint i;

  if (GST_PAD_DIRECTION (pad) != GST_PAD_SRC)
    return;
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (pad), "transceiver"))
    g_object_get (pad, "transceiver", &trans, NULL);
  if (trans) {
    g_object_get (trans, "mlineindex", &mline, NULL);
    g_object_unref (trans);
  }

  g_mutex_lock (&media->lock);
  if (leg->closing) {
    g_mutex_unlock (&media->lock);
    return;
  }
  for (i = 0; i < leg->streams->len; i++) {
    OtcPublisherStream *s = g_ptr_array_index (leg->streams, i);

    if (s->mline == mline && s->tee == NULL)
      stream = s;
  }
  if (stream) {
    name = g_strdup_printf ("%s-tee%u", leg->name, mline);
    tee = gst_element_factory_make ("tee", name);
    g_free (name);
    g_object_set (tee, "allow-not-linked", TRUE, NULL);
    stream->tee = gst_object_ref (tee);
    stream->src_pad = gst_object_ref (pad);
  } else {
    /* an unexpected extra stream: swallow it */
    sink = gst_element_factory_make ("fakesink", NULL);
    g_object_set (sink, "async", FALSE, "sync", FALSE, NULL);
    leg->extra_sinks = g_list_prepend (leg->extra_sinks, gst_object_ref (sink));
  }
  g_mutex_unlock (&media->lock);

  if (stream) {
    GST_INFO ("leg %s: media on m-line %u (%s)", leg->name, mline,
        GST_PAD_NAME (pad));
    teesink = gst_element_get_static_pad (tee, "sink");
    gst_pad_add_probe (teesink, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM |
        GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, tee_sink_probe, stream, NULL);
    if (media->subscriber_transport ==
        OTC_ROUTER_MEDIA_SUBSCRIBER_TRANSPORT_DIRECT)
      otc_direct_stream_attach (stream, teesink);
    gst_bin_add (GST_BIN (media->pipeline), tee);
    gst_element_sync_state_with_parent (tee);
    if (gst_pad_link (pad, teesink) != GST_PAD_LINK_OK)
      GST_ERROR ("leg %s: could not link %s to its tee", leg->name,
          GST_PAD_NAME (pad));
    gst_object_unref (teesink);
    stream_ready_async (stream);
  } else {
    GST_WARNING ("leg %s: ignoring unexpected stream %s (m-line %d)",
        leg->name, GST_PAD_NAME (pad), (gint) mline);
    teesink = gst_element_get_static_pad (sink, "sink");
    gst_bin_add (GST_BIN (media->pipeline), sink);
    gst_element_sync_state_with_parent (sink);
    gst_pad_link (pad, teesink);
    gst_object_unref (teesink);
  }
}

/* ------------------------------------------------------------------------ */
/* legs */

static OtcMediaLeg *
leg_new (OtcRouterMedia * media, OtcLegRole role, const gchar * stream_id,
    const OtcMediaLegCallbacks * callbacks, gpointer user_data, GError ** error)
{
  OtcMediaLeg *leg = g_new0 (OtcMediaLeg, 1);
  guint serial;

  /* one ref for the caller's handle, one for media->legs */
  leg->refcount = 2;
  leg->media = otc_router_media_ref (media);
  leg->role = role;
  leg->stream_id = g_strdup (stream_id);
  if (callbacks)
    leg->callbacks = *callbacks;
  leg->user_data = user_data;
  g_queue_init (&leg->pending_candidates);
  g_mutex_init (&leg->direct_lock);
  serial = media->leg_serial++;
  leg->name = g_strdup_printf ("%s%u", role == LEG_PUBLISHER ? "pub" : "sub",
      serial);

  if (role == LEG_SUBSCRIBER && media->subscriber_transport ==
      OTC_ROUTER_MEDIA_SUBSCRIBER_TRANSPORT_DIRECT) {
    if (!otc_direct_leg_init (leg, error)) {
      otc_direct_leg_teardown (leg);
      leg->refcount = 1;
      otc_media_leg_unref (leg);
      return NULL;
    }
    g_mutex_lock (&media->lock);
    media->legs = g_list_prepend (media->legs, leg);
    g_mutex_unlock (&media->lock);
    return leg;
  }

  leg->webrtc = gst_element_factory_make ("webrtcbin", leg->name);
  if (leg->webrtc == NULL) {
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR, OTC_ROUTER_MEDIA_ERROR_FAILED,
        "no webrtcbin element (gst-plugins-bad)");
    leg->refcount = 1;
    otc_media_leg_unref (leg);
    return NULL;
  }
  gst_object_ref_sink (leg->webrtc);
  g_object_set (leg->webrtc, "bundle-policy",
      GST_WEBRTC_BUNDLE_POLICY_MAX_BUNDLE, "latency",
      OTC_ROUTER_MEDIA_LATENCY_MS, NULL);
  if (!webrtc_restrict_ice (media, leg->webrtc, error)) {
    leg->refcount = 1;
    otc_media_leg_unref (leg);
    return NULL;
  }
  g_signal_connect (leg->webrtc, "deep-element-added",
      G_CALLBACK (leg_deep_element_added), NULL);
  g_signal_connect_data (leg->webrtc, "on-ice-candidate",
      G_CALLBACK (on_ice_candidate), otc_media_leg_ref (leg),
      leg_closure_notify, 0);
  g_signal_connect_data (leg->webrtc, "notify::connection-state",
      G_CALLBACK (on_connection_state), otc_media_leg_ref (leg),
      leg_closure_notify, 0);

  g_mutex_lock (&media->lock);
  media->legs = g_list_prepend (media->legs, leg);
  g_mutex_unlock (&media->lock);
  return leg;
}

static gboolean
leg_start (OtcMediaLeg * leg, GError ** error)
{
  if (leg->webrtc == NULL)
    return TRUE;                /* direct */
  gst_bin_add (GST_BIN (leg->media->pipeline), leg->webrtc);
  if (gst_element_sync_state_with_parent (leg->webrtc) == FALSE
      || gst_element_get_state (leg->webrtc, NULL, NULL, 0) ==
      GST_STATE_CHANGE_FAILURE) {
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR, OTC_ROUTER_MEDIA_ERROR_FAILED,
        "webrtcbin did not start");
    return FALSE;
  }
  return TRUE;
}

/* Context thread. Idempotent; does not call the caller. */
void
otc_media_leg_teardown (OtcMediaLeg * leg)
{
  OtcRouterMedia *media = leg->media;
  GList *subs = NULL, *l;
  GList *extra = NULL;
  guint i;

  if (leg->torn_down)
    return;
  leg->torn_down = TRUE;
  GST_INFO ("tearing down leg %s (%s)", leg->name, leg->stream_id);

  g_mutex_lock (&media->lock);
  leg->closing = TRUE;
  media->legs = g_list_remove (media->legs, leg);
  if (leg->role == LEG_PUBLISHER) {
    if (g_hash_table_lookup (media->publishers, leg->stream_id) == leg)
      g_hash_table_remove (media->publishers, leg->stream_id);
    subs = leg->subscribers;
    leg->subscribers = NULL;
  } else if (leg->publisher) {
    GList *link = g_list_find (leg->publisher->subscribers, leg);

    if (link) {
      leg->publisher->subscribers =
          g_list_delete_link (leg->publisher->subscribers, link);
      otc_media_leg_unref (leg);
    }
  }
  g_mutex_unlock (&media->lock);

  if (leg->role == LEG_PUBLISHER) {
    GHashTableIter it;
    gpointer value;

    for (l = subs; l; l = l->next) {
      otc_media_leg_teardown (l->data);
      leg_notify_closed_async (l->data, "the publisher left");
      otc_media_leg_unref (l->data);
    }
    g_list_free (subs);
    /* recordings of this publisher: their inputs end */
    g_hash_table_iter_init (&it, media->recordings);
    while (g_hash_table_iter_next (&it, NULL, &value)) {
      OtcRecording *rec = value;

      for (i = 0; i < rec->inputs->len; i++) {
        OtcOutput *in = g_ptr_array_index (rec->inputs, i);

        if (in->publisher == leg)
          otc_recording_input_finish (in);
      }
    }
  } else if (leg->outputs) {
    for (i = 0; i < leg->outputs->len; i++)
      otc_media_output_unlink (g_ptr_array_index (leg->outputs, i));
    /* the outputs hold the leg */
    g_ptr_array_set_size (leg->outputs, 0);
  }

  if (leg->transport)
    otc_direct_leg_teardown (leg);
  if (leg->webrtc && GST_OBJECT_PARENT (leg->webrtc))
    otc_router_media_remove_element (media, leg->webrtc);

  if (leg->role == LEG_PUBLISHER) {
    for (i = 0; i < leg->streams->len; i++) {
      OtcPublisherStream *stream = g_ptr_array_index (leg->streams, i);
      GSource *trailing;

      g_mutex_lock (&media->lock);
      trailing = stream->trailing_request;
      stream->trailing_request = NULL;
      g_mutex_unlock (&media->lock);
      if (trailing) {
        g_source_destroy (trailing);
        g_source_unref (trailing);
      }
      if (stream->tee)
        otc_router_media_remove_element (media, stream->tee);
    }
    g_mutex_lock (&media->lock);
    extra = leg->extra_sinks;
    leg->extra_sinks = NULL;
    g_mutex_unlock (&media->lock);
    for (l = extra; l; l = l->next)
      otc_router_media_remove_element (media, l->data);
    g_list_free_full (extra, gst_object_unref);
    /* a recording that waited for this publisher's media goes on without */
    otc_recording_start_ready (media);
  }
  if (leg->webrtc) {
    g_signal_handlers_disconnect_by_func (leg->webrtc, on_ice_candidate, leg);
    g_signal_handlers_disconnect_by_func (leg->webrtc, on_connection_state,
        leg);
    g_signal_handlers_disconnect_by_func (leg->webrtc, on_publisher_pad_added,
        leg);
  }
  /* media->legs' ref */
  otc_media_leg_unref (leg);
}

static void
leg_abandon (OtcMediaLeg * leg)
{
  otc_media_leg_teardown (leg);
  leg->user_closed = TRUE;
  otc_media_leg_unref (leg);
}

OtcMediaLeg *
otc_router_media_publish (OtcRouterMedia * media, const gchar * stream_id,
    const gchar * offer_sdp, const OtcMediaLegCallbacks * callbacks,
    gpointer user_data, GError ** error)
{
  GstSDPMessage *offer = NULL, *filtered = NULL;
  GPtrArray *streams;
  OtcMediaLeg *leg = NULL;
  gchar *answer;
  guint i;

  g_return_val_if_fail (media != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (stream_id == NULL || *stream_id == '\0') {
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
        OTC_ROUTER_MEDIA_ERROR_INVALID_ARGUMENT, "no stream id");
    return NULL;
  }
  if (!otc_media_sdp_parse (offer_sdp, &offer, error))
    return NULL;
  streams = g_ptr_array_new_with_free_func ((GDestroyNotify)
      otc_publisher_stream_free);
  filtered = otc_media_offer_filter (offer, streams, error);
  gst_sdp_message_free (offer);
  if (filtered == NULL) {
    g_ptr_array_unref (streams);
    return NULL;
  }

  g_mutex_lock (&media->lock);
  if (g_hash_table_contains (media->publishers, stream_id)) {
    g_mutex_unlock (&media->lock);
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
        OTC_ROUTER_MEDIA_ERROR_STREAM_EXISTS,
        "stream \"%s\" is already published", stream_id);
    goto fail;
  }
  g_mutex_unlock (&media->lock);

  leg = leg_new (media, LEG_PUBLISHER, stream_id, callbacks, user_data, error);
  if (leg == NULL)
    goto fail;
  leg->streams = streams;
  streams = NULL;
  for (i = 0; i < leg->streams->len; i++)
    ((OtcPublisherStream *) g_ptr_array_index (leg->streams, i))->leg = leg;
  g_signal_connect_data (leg->webrtc, "pad-added",
      G_CALLBACK (on_publisher_pad_added), otc_media_leg_ref (leg),
      leg_closure_notify, 0);

  g_mutex_lock (&media->lock);
  g_hash_table_insert (media->publishers, g_strdup (stream_id), leg);
  g_mutex_unlock (&media->lock);

  if (!leg_start (leg, error))
    goto fail;
  if (!webrtc_set_description (leg->webrtc, "set-remote-description",
          GST_WEBRTC_SDP_TYPE_OFFER, filtered, error))
    goto fail;
  answer = webrtc_create_local (leg->webrtc, GST_WEBRTC_SDP_TYPE_ANSWER, error);
  if (answer == NULL)
    goto fail;
  GST_INFO ("leg %s publishes \"%s\" (%u m-lines)", leg->name, stream_id,
      leg->streams->len);
  if (gst_debug_category_get_threshold (GST_CAT_DEFAULT) >= GST_LEVEL_LOG) {
    gchar *shown = sdp_for_log (answer);

    GST_LOG ("leg %s answer:\n%s", leg->name, shown);
    g_free (shown);
  }
  leg_dispatch_description (leg, "answer", answer);
  gst_sdp_message_free (filtered);
  return leg;

fail:
  if (leg)
    leg_abandon (leg);
  if (streams)
    g_ptr_array_unref (streams);
  gst_sdp_message_free (filtered);
  return NULL;
}

/* Context thread: configure the transceivers and make the offer, once
 * every publisher stream's SSRC is known (from its SDP or its RTP). */
static gboolean
subscriber_negotiate (OtcMediaLeg * leg, GError ** error)
{
  OtcRouterMedia *media = leg->media;
  OtcMediaLeg *pub = leg->publisher;
  GPtrArray *caps = g_ptr_array_new_with_free_func ((GDestroyNotify)
      gst_caps_unref);
  gboolean ready = TRUE;
  gchar *offer;
  guint i;

  if (leg->offer_made || leg->torn_down)
    goto done;
  g_mutex_lock (&media->lock);
  for (i = 0; i < pub->streams->len; i++) {
    OtcPublisherStream *stream = g_ptr_array_index (pub->streams, i);

    ready = ready && stream->ssrc_known;
    g_ptr_array_add (caps, gst_caps_ref (stream->caps));
  }
  g_mutex_unlock (&media->lock);
  if (!ready) {
    GST_DEBUG ("leg %s: waiting for the publisher's SSRCs", leg->name);
    goto done;
  }

  if (leg->transport) {
    offer = otc_direct_leg_make_offer (leg, caps, error);
    if (offer == NULL) {
      g_ptr_array_unref (caps);
      return FALSE;
    }
    goto made;
  }
  for (i = 0; i < leg->outputs->len; i++) {
    OtcOutput *out = g_ptr_array_index (leg->outputs, i);
    GObject *trans = NULL;

    g_object_get (out->sink_pad, "transceiver", &trans, NULL);
    if (trans == NULL) {
      g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
          OTC_ROUTER_MEDIA_ERROR_FAILED, "webrtcbin pad without transceiver");
      g_ptr_array_unref (caps);
      return FALSE;
    }
    g_object_set (trans, "direction",
        GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDONLY, "codec-preferences",
        g_ptr_array_index (caps, i), NULL);
    if (g_object_class_find_property (G_OBJECT_GET_CLASS (trans), "do-nack"))
      g_object_set (trans, "do-nack", FALSE, NULL);
    /* (no sender priority: funnel_tos_probe relies on it) */
    g_object_unref (trans);
  }
  offer = webrtc_create_local (leg->webrtc, GST_WEBRTC_SDP_TYPE_OFFER, error);
  if (offer == NULL) {
    g_ptr_array_unref (caps);
    return FALSE;
  }
made:
  leg->offer_made = TRUE;
  GST_INFO ("leg %s subscribes to \"%s\"", leg->name, leg->stream_id);
  if (gst_debug_category_get_threshold (GST_CAT_DEFAULT) >= GST_LEVEL_LOG) {
    gchar *shown = sdp_for_log (offer);

    GST_LOG ("leg %s offer:\n%s", leg->name, shown);
    g_free (shown);
  }
  leg_dispatch_description (leg, "offer", offer);

done:
  g_ptr_array_unref (caps);
  return TRUE;
}

static void
subscriber_link_outputs (OtcMediaLeg * leg)
{
  guint i;

  if (!leg->offer_made || leg->torn_down)
    return;
  for (i = 0; i < leg->outputs->len; i++)
    otc_media_output_link (g_ptr_array_index (leg->outputs, i));
}

OtcMediaLeg *
otc_router_media_subscribe (OtcRouterMedia * media, const gchar * stream_id,
    const OtcMediaLegCallbacks * callbacks, gpointer user_data, GError ** error)
{
  OtcMediaLeg *pub = NULL, *leg = NULL;
  guint i;

  g_return_val_if_fail (media != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_mutex_lock (&media->lock);
  if (stream_id)
    pub = g_hash_table_lookup (media->publishers, stream_id);
  if (pub && !pub->closing)
    otc_media_leg_ref (pub);
  else
    pub = NULL;
  g_mutex_unlock (&media->lock);
  if (pub == NULL) {
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
        OTC_ROUTER_MEDIA_ERROR_UNKNOWN_STREAM, "no stream \"%s\"",
        stream_id ? stream_id : "(null)");
    return NULL;
  }

  leg = leg_new (media, LEG_SUBSCRIBER, stream_id, callbacks, user_data, error);
  if (leg == NULL) {
    otc_media_leg_unref (pub);
    return NULL;
  }
  leg->publisher = pub;
  leg->outputs = g_ptr_array_new_with_free_func ((GDestroyNotify)
      otc_media_output_unref);
  if (!leg_start (leg, error))
    goto fail;
  for (i = 0; i < pub->streams->len && leg->transport; i++)
    g_ptr_array_add (leg->outputs, otc_media_output_new (pub, i, leg, NULL));
  for (i = 0; i < pub->streams->len && leg->webrtc; i++) {
    GstPad *pad = gst_element_request_pad_simple (leg->webrtc, "sink_%u");

    if (pad == NULL) {
      g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
          OTC_ROUTER_MEDIA_ERROR_FAILED, "no webrtcbin sink pad");
      goto fail;
    }
    g_ptr_array_add (leg->outputs, otc_media_output_new (pub, i, leg, pad));
    gst_object_unref (pad);
  }

  g_mutex_lock (&media->lock);
  pub->subscribers = g_list_append (pub->subscribers, otc_media_leg_ref (leg));
  g_mutex_unlock (&media->lock);

  if (!subscriber_negotiate (leg, error))
    goto fail;
  subscriber_link_outputs (leg);
  return leg;

fail:
  leg_abandon (leg);
  return NULL;
}

gboolean
otc_media_leg_set_remote_answer (OtcMediaLeg * leg, const gchar * sdp,
    GError ** error)
{
  GstSDPMessage *answer = NULL;
  gboolean ok;

  g_return_val_if_fail (leg != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (leg->role != LEG_SUBSCRIBER) {
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
        OTC_ROUTER_MEDIA_ERROR_INVALID_STATE,
        "a publisher leg takes no answer (the router answers)");
    return FALSE;
  }
  if (leg->torn_down || leg->user_closed) {
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
        OTC_ROUTER_MEDIA_ERROR_INVALID_STATE, "the leg is closed");
    return FALSE;
  }
  if (!leg->offer_made) {
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
        OTC_ROUTER_MEDIA_ERROR_INVALID_STATE, "no offer was made yet");
    return FALSE;
  }
  if (leg->answered) {
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
        OTC_ROUTER_MEDIA_ERROR_INVALID_STATE, "the leg is already answered");
    return FALSE;
  }
  if (!otc_media_sdp_parse (sdp, &answer, error))
    return FALSE;
  if (gst_sdp_message_medias_len (answer) != leg->outputs->len) {
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
        OTC_ROUTER_MEDIA_ERROR_INVALID_SDP,
        "the answer has %u m-lines, the offer %u",
        gst_sdp_message_medias_len (answer), leg->outputs->len);
    gst_sdp_message_free (answer);
    return FALSE;
  }
  if (leg->transport)
    ok = otc_direct_leg_set_answer (leg, answer, error);
  else
    ok = webrtc_set_description (leg->webrtc, "set-remote-description",
        GST_WEBRTC_SDP_TYPE_ANSWER, answer, error);
  gst_sdp_message_free (answer);
  if (ok)
    leg->answered = TRUE;
  return ok;
}

void
otc_media_leg_add_remote_candidate (OtcMediaLeg * leg, guint mline,
    const gchar * candidate)
{
  g_return_if_fail (leg != NULL);

  if (leg->torn_down || leg->user_closed)
    return;
  /* webrtcbin 1.22 has no end-of-candidates */
  if (candidate == NULL || *candidate == '\0')
    return;
  if (g_str_has_prefix (candidate, "a="))
    candidate += 2;
  if (!g_str_has_prefix (candidate, "candidate:")) {
    GST_WARNING ("leg %s: ignoring remote candidate \"%s\"", leg->name,
        candidate);
    return;
  }
  if (leg->transport)
    otc_direct_leg_add_remote_candidate (leg, candidate);
  else
    g_signal_emit_by_name (leg->webrtc, "add-ice-candidate", mline,
        candidate);
}

void
otc_media_leg_close (OtcMediaLeg * leg)
{
  if (leg == NULL)
    return;
  g_return_if_fail (!leg->user_closed);

  leg->user_closed = TRUE;
  otc_media_leg_teardown (leg);
  otc_media_leg_unref (leg);
}

const gchar *
otc_media_leg_get_stream_id (OtcMediaLeg * leg)
{
  g_return_val_if_fail (leg != NULL, NULL);
  return leg->stream_id;
}

gboolean
otc_media_leg_is_publisher (OtcMediaLeg * leg)
{
  g_return_val_if_fail (leg != NULL, FALSE);
  return leg->role == LEG_PUBLISHER;
}

gpointer
otc_media_leg_get_user_data (OtcMediaLeg * leg)
{
  g_return_val_if_fail (leg != NULL, NULL);
  return leg->user_data;
}
