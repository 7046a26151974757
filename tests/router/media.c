/* otc-router media module, in process: webrtcbin clients wired straight to
 * the module's callbacks (no signalling server), over 127.0.0.1 in a
 * loopback-only network namespace (tests/netns-run.sh).
 *
 *   publisher: videotestsrc ! vp8enc ! otcencrypt ! rtpvp8pay ! webrtcbin
 *              audiotestsrc ! opusenc ! otcencrypt ! rtpopuspay ! webrtcbin
 *   router:    webrtcbin (publisher leg) ! tee ! webrtcbin (subscriber legs)
 *   subscriber: webrtcbin ! rtpvp8depay ! otcdecrypt ! fakesink (and Opus)
 */
#define GST_USE_UNSTABLE_API
#include <string.h>

#include <gst/rtp/rtp.h>
#include <gst/sdp/sdp.h>
#include <gst/webrtc/webrtc.h>
#include <nice/agent.h>
#include <openssl/crypto.h>
#include <otc/codec-policy.h>

#include "otc-test-util.h"
#include "otc-router-media.h"
#include "otc-router-media-private.h"

#define SECRET "router media test secret"
#define SESSION "router-media-test"
#define STREAM "alice-camera"
#define WAIT_MS 20000

static GMainContext *ctx;
static OtcRouterMedia *media;

/* ------------------------------------------------------------------------ */
/* waiting */

static gboolean
timed_out_cb (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

typedef gboolean (*Condition) (gpointer data);

/* Iterates the test's context until @cond holds or @timeout_ms passed.
 * Streaming threads wake the context up when they change what a
 * condition looks at. */
static gboolean
wait_for (Condition cond, gpointer data, guint timeout_ms)
{
  gboolean timed_out = FALSE;
  GSource *timeout = g_timeout_source_new (timeout_ms);
  gboolean ok;

  g_source_set_callback (timeout, timed_out_cb, &timed_out, NULL);
  g_source_attach (timeout, ctx);
  while (!(ok = cond (data)) && !timed_out)
    g_main_context_iteration (ctx, TRUE);
  g_source_destroy (timeout);
  g_source_unref (timeout);
  return ok;
}

/* Runs the context for @ms (to let something that must NOT happen have
 * its chance). */
static void
run_for (guint ms)
{
  gboolean done = FALSE;
  GSource *timeout = g_timeout_source_new (ms);

  g_source_set_callback (timeout, timed_out_cb, &done, NULL);
  g_source_attach (timeout, ctx);
  while (!done)
    g_main_context_iteration (ctx, TRUE);
  g_source_unref (timeout);
}

static void
dispatch (GSourceFunc func, gpointer data, GDestroyNotify notify)
{
  GSource *s = g_idle_source_new ();

  g_source_set_callback (s, func, data, notify);
  g_source_attach (s, ctx);
  g_source_unref (s);
}

/* ------------------------------------------------------------------------ */
/* frame capture */

typedef struct
{
  GMutex lock;
  GPtrArray *frames;            /* GBytes */
  GArray *times;                /* gint64: when each frame passed, µs */
  guint64 keyframes;
} Capture;

static void
capture_init (Capture * c)
{
  g_mutex_init (&c->lock);
  c->frames = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  c->times = g_array_new (FALSE, FALSE, sizeof (gint64));
}

static void
capture_clear (Capture * c)
{
  g_ptr_array_unref (c->frames);
  g_array_unref (c->times);
  g_mutex_clear (&c->lock);
}

static guint
capture_len (Capture * c)
{
  guint n;

  g_mutex_lock (&c->lock);
  n = c->frames->len;
  g_mutex_unlock (&c->lock);
  return n;
}

static GstPadProbeReturn
capture_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  Capture *c = user_data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  GstMapInfo map;
  gint64 now = g_get_monotonic_time ();

  gst_buffer_map (buf, &map, GST_MAP_READ);
  g_mutex_lock (&c->lock);
  g_ptr_array_add (c->frames, g_bytes_new (map.data, map.size));
  g_array_append_val (c->times, now);
  if (!GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT))
    c->keyframes++;
  g_mutex_unlock (&c->lock);
  gst_buffer_unmap (buf, &map);
  g_main_context_wakeup (ctx);
  return GST_PAD_PROBE_OK;
}

/* RTP payloads as they came out of the router (after SRTP). */
static GstPadProbeReturn
capture_rtp_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  Capture *c = user_data;
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;

  if (gst_rtp_buffer_map (GST_PAD_PROBE_INFO_BUFFER (info), GST_MAP_READ, &rtp)) {
    g_mutex_lock (&c->lock);
    g_ptr_array_add (c->frames,
        g_bytes_new (gst_rtp_buffer_get_payload (&rtp),
            gst_rtp_buffer_get_payload_len (&rtp)));
    g_mutex_unlock (&c->lock);
    gst_rtp_buffer_unmap (&rtp);
  }
  return GST_PAD_PROBE_OK;
}

static void
add_capture (GstElement * element, const gchar * pad_name, Capture * c,
    GstPadProbeCallback cb)
{
  GstPad *pad = gst_element_get_static_pad (element, pad_name);

  fail_unless (pad != NULL);
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, cb ? cb : capture_probe,
      c, NULL);
  gst_object_unref (pad);
}

static gint
compare_i64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

/* @got must be a run of consecutive frames of @ref, at least @min long.
 * Returns the median time from @ref to @got in µs. */
static gint64
assert_subsequence (Capture * got, Capture * ref, guint min, const gchar * what)
{
  guint k, i;
  gboolean found = FALSE;
  GArray *delays;
  gint64 median;

  g_mutex_lock (&got->lock);
  g_mutex_lock (&ref->lock);
  fail_unless (got->frames->len >= min, "%s: %u frames, wanted %u", what,
      got->frames->len, min);
  for (k = 0; k < ref->frames->len && !found; k++) {
    if (k + got->frames->len > ref->frames->len)
      break;
    found = TRUE;
    for (i = 0; i < got->frames->len && found; i++)
      found = g_bytes_equal (g_ptr_array_index (got->frames, i),
          g_ptr_array_index (ref->frames, k + i));
  }
  fail_unless (found, "%s: the %u frames received are not a run of the %u "
      "frames sent", what, got->frames->len, ref->frames->len);
  k--;
  delays = g_array_new (FALSE, FALSE, sizeof (gint64));
  for (i = 0; i < got->frames->len; i++) {
    gint64 d = g_array_index (got->times, gint64, i) -
        g_array_index (ref->times, gint64, k + i);

    g_array_append_val (delays, d);
  }
  g_array_sort (delays, compare_i64);
  median = g_array_index (delays, gint64, delays->len / 2);
  GST_INFO ("%s: %u frames byte-identical (from frame %u of %u), delay "
      "%" G_GINT64_FORMAT " ms median", what, got->frames->len, k,
      ref->frames->len, median / 1000);
  g_array_unref (delays);
  g_mutex_unlock (&ref->lock);
  g_mutex_unlock (&got->lock);
  return median;
}

/* ------------------------------------------------------------------------ */
/* clients */

typedef struct
{
  guint mline;
  gchar *candidate;
} Candidate;

typedef struct
{
  gint refcount;                /* the test's and queued candidates' */
  gboolean gone;                /* client_free() was called */
  gchar *name;
  gboolean publisher;
  gboolean e2ee;
  GstElement *pipeline;
  GstElement *webrtc;
  OtcMediaLeg *leg;
  gboolean remote_ready;        /* the router may take our candidates */
  GQueue pending;               /* Candidate */
  GPtrArray *router_candidates; /* gchar *: what the router gathered */
  gboolean closed;
  gchar *closed_reason;
  gboolean no_ice;              /* candidates are not passed on: a peer
                                 * that answers and never connects */

  /* publisher */
  GstElement *venc;
  Capture plain_video, plain_audio;     /* encoder output */
  Capture enc_video, enc_audio; /* otcencrypt output */
  gint encoder_key_requests;    /* upstream ForceKeyUnit at vp8enc */
  GMutex lock;
  GArray *encoder_request_times;        /* gint64 µs, under lock */

  /* subscriber */
  gboolean quiet;               /* never asks for key frames itself */
  GstElement *vdepay;
  Capture rx_video, rx_audio;   /* depayloaded (ciphertext with E2EE) */
  Capture dec_video, dec_audio; /* otcdecrypt output */
  Capture rtp;                  /* RTP payloads from the router */
} Client;

static void
client_restrict_ice (GstElement * webrtc, const gchar * address)
{
  GObject *ice = NULL, *agent = NULL;
  NiceAddress addr;

  g_object_get (webrtc, "ice-agent", &ice, NULL);
  g_object_get (ice, "agent", &agent, NULL);
  nice_address_init (&addr);
  fail_unless (nice_address_set_from_string (&addr, address));
  fail_unless (nice_agent_add_local_address (NICE_AGENT (agent), &addr));
  g_object_unref (agent);
  g_object_unref (ice);
}

static GstStructure *
promise_wait_ok (GstPromise * promise, const gchar * what)
{
  const GstStructure *reply;
  GError *err = NULL;

  fail_unless_equals_int (gst_promise_wait (promise),
      GST_PROMISE_RESULT_REPLIED);
  reply = gst_promise_get_reply (promise);
  if (reply && gst_structure_has_field (reply, "error")) {
    gst_structure_get (reply, "error", G_TYPE_ERROR, &err, NULL);
    fail ("%s: %s", what, err ? err->message : "?");
  }
  return reply ? gst_structure_copy (reply) : NULL;
}

static void
client_set_description (Client * c, const gchar * signal,
    GstWebRTCSDPType type, const gchar * sdp)
{
  GstSDPMessage *msg;
  GstWebRTCSessionDescription *desc;
  GstPromise *promise = gst_promise_new ();
  GstStructure *reply;

  fail_unless_equals_int (gst_sdp_message_new_from_text (sdp, &msg),
      GST_SDP_OK);
  desc = gst_webrtc_session_description_new (type, msg);
  g_signal_emit_by_name (c->webrtc, signal, desc, promise);
  reply = promise_wait_ok (promise, signal);
  if (reply)
    gst_structure_free (reply);
  gst_promise_unref (promise);
  gst_webrtc_session_description_free (desc);
}

static gchar *
client_create_local (Client * c, GstWebRTCSDPType type)
{
  const gchar *what = type == GST_WEBRTC_SDP_TYPE_OFFER ? "offer" : "answer";
  gchar *signal = g_strdup_printf ("create-%s", what);
  GstPromise *promise = gst_promise_new ();
  GstWebRTCSessionDescription *desc = NULL;
  GstStructure *reply;
  gchar *text;

  g_signal_emit_by_name (c->webrtc, signal, NULL, promise);
  reply = promise_wait_ok (promise, signal);
  fail_unless (reply != NULL);
  gst_structure_get (reply, what, GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &desc,
      NULL);
  fail_unless (desc != NULL);
  text = gst_sdp_message_as_text (desc->sdp);
  client_set_description (c, "set-local-description", type, text);
  gst_webrtc_session_description_free (desc);
  gst_structure_free (reply);
  gst_promise_unref (promise);
  g_free (signal);
  return text;
}

static void
client_flush_candidates (Client * c)
{
  Candidate *cand;

  while ((cand = g_queue_pop_head (&c->pending))) {
    if (c->leg && !c->no_ice)
      otc_media_leg_add_remote_candidate (c->leg, cand->mline, cand->candidate);
    g_free (cand->candidate);
    g_free (cand);
  }
}

typedef struct
{
  Client *client;
  Candidate *cand;
} CandidateEvent;

static void client_unref (Client * c);

static gboolean
client_candidate_cb (CandidateEvent * ev)
{
  if (!ev->client->gone) {
    g_queue_push_tail (&ev->client->pending, ev->cand);
    ev->cand = NULL;
    if (ev->client->remote_ready)
      client_flush_candidates (ev->client);
  }
  return G_SOURCE_REMOVE;
}

static void
candidate_event_free (CandidateEvent * ev)
{
  if (ev->cand) {
    g_free (ev->cand->candidate);
    g_free (ev->cand);
  }
  client_unref (ev->client);
  g_free (ev);
}

/* client webrtcbin thread */
static void
client_on_ice_candidate (GstElement * webrtc, guint mline,
    const gchar * candidate, Client * c)
{
  CandidateEvent *ev = g_new0 (CandidateEvent, 1);

  g_atomic_int_inc (&c->refcount);
  ev->client = c;
  ev->cand = g_new0 (Candidate, 1);
  ev->cand->mline = mline;
  ev->cand->candidate = g_strdup (candidate);
  dispatch ((GSourceFunc) client_candidate_cb, ev,
      (GDestroyNotify) candidate_event_free);
}

/* the router's callbacks */

/* When set, a subscriber's answer goes through it instead of straight to
 * otc_media_leg_set_remote_answer() */
static void (*answer_hook) (Client * c, const gchar * answer);

static void
router_local_description (OtcMediaLeg * leg, const gchar * type,
    const gchar * sdp, gpointer user_data)
{
  Client *c = user_data;
  GError *err = NULL;

  fail_unless (leg == c->leg);
  GST_DEBUG ("%s: router %s:\n%s", c->name, type, sdp);
  if (c->publisher) {
    fail_unless_equals_string (type, "answer");
    client_set_description (c, "set-remote-description",
        GST_WEBRTC_SDP_TYPE_ANSWER, sdp);
  } else {
    gchar *answer;

    fail_unless_equals_string (type, "offer");
    client_set_description (c, "set-remote-description",
        GST_WEBRTC_SDP_TYPE_OFFER, sdp);
    answer = client_create_local (c, GST_WEBRTC_SDP_TYPE_ANSWER);
    if (answer_hook)
      answer_hook (c, answer);
    else
      fail_unless (otc_media_leg_set_remote_answer (leg, answer, &err),
          "%s", err ? err->message : "");
    g_free (answer);
  }
  c->remote_ready = TRUE;
  client_flush_candidates (c);
}

static void
router_local_candidate (OtcMediaLeg * leg, guint mline,
    const gchar * candidate, gpointer user_data)
{
  Client *c = user_data;

  fail_unless (leg == c->leg);
  g_ptr_array_add (c->router_candidates, g_strdup (candidate));
  if (!c->no_ice)
    g_signal_emit_by_name (c->webrtc, "add-ice-candidate", mline, candidate);
}

static void
router_closed (OtcMediaLeg * leg, const gchar * reason, gpointer user_data)
{
  Client *c = user_data;

  fail_unless (leg == c->leg);
  fail_if (c->closed, "%s: closed twice", c->name);
  GST_INFO ("%s: closed: %s", c->name, reason);
  c->closed = TRUE;
  c->closed_reason = g_strdup (reason);
  c->leg = NULL;
}

static const OtcMediaLegCallbacks router_callbacks = {
  router_local_description,
  router_local_candidate,
  router_closed,
};

static Client *
client_alloc (const gchar * name, gboolean publisher, gboolean e2ee)
{
  Client *c = g_new0 (Client, 1);

  c->refcount = 1;
  c->name = g_strdup (name);
  c->publisher = publisher;
  c->e2ee = e2ee;
  g_queue_init (&c->pending);
  c->router_candidates = g_ptr_array_new_with_free_func (g_free);
  g_mutex_init (&c->lock);
  c->encoder_request_times = g_array_new (FALSE, FALSE, sizeof (gint64));
  capture_init (&c->plain_video);
  capture_init (&c->plain_audio);
  capture_init (&c->enc_video);
  capture_init (&c->enc_audio);
  capture_init (&c->rx_video);
  capture_init (&c->rx_audio);
  capture_init (&c->dec_video);
  capture_init (&c->dec_audio);
  capture_init (&c->rtp);
  return c;
}

static void
client_unref (Client * c)
{
  Candidate *cand;

  if (!g_atomic_int_dec_and_test (&c->refcount))
    return;
  while ((cand = g_queue_pop_head (&c->pending))) {
    g_free (cand->candidate);
    g_free (cand);
  }
  g_ptr_array_unref (c->router_candidates);
  g_array_unref (c->encoder_request_times);
  g_mutex_clear (&c->lock);
  capture_clear (&c->plain_video);
  capture_clear (&c->plain_audio);
  capture_clear (&c->enc_video);
  capture_clear (&c->enc_audio);
  capture_clear (&c->rx_video);
  capture_clear (&c->rx_audio);
  capture_clear (&c->dec_video);
  capture_clear (&c->dec_audio);
  capture_clear (&c->rtp);
  g_free (c->closed_reason);
  g_free (c->name);
  g_free (c);
}

/* Closes the client's leg and stops it; candidates it gathered may still
 * be queued on the context. */
static void
client_free (Client * c)
{
  c->gone = TRUE;
  if (c->leg)
    otc_media_leg_close (c->leg);
  c->leg = NULL;
  if (c->pipeline) {
    gst_element_set_state (c->pipeline, GST_STATE_NULL);
    gst_object_unref (c->pipeline);
    c->pipeline = NULL;
  }
  client_unref (c);
}

static GstPadProbeReturn
encoder_request_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  Client *c = user_data;
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);

  if (gst_video_event_is_force_key_unit (event)) {
    gint64 now = g_get_monotonic_time ();

    GST_INFO ("%s: key frame request at the encoder", c->name);
    g_mutex_lock (&c->lock);
    g_array_append_val (c->encoder_request_times, now);
    g_mutex_unlock (&c->lock);
    g_atomic_int_inc (&c->encoder_key_requests);
    g_main_context_wakeup (ctx);
  }
  return GST_PAD_PROBE_OK;
}

static gboolean
pads_have_caps (gpointer data)
{
  Client *c = data;
  GstIterator *it = gst_element_iterate_sink_pads (c->webrtc);
  GValue v = G_VALUE_INIT;
  gboolean all = TRUE;
  guint n = 0;

  while (gst_iterator_next (it, &v) == GST_ITERATOR_OK) {
    all = all && gst_pad_has_current_caps (g_value_get_object (&v));
    n++;
    g_value_reset (&v);
  }
  g_value_unset (&v);
  gst_iterator_free (it);
  return all && n > 0;
}

static GstElement *
get_element (Client * c, const gchar * name)
{
  GstElement *e = gst_bin_get_by_name (GST_BIN (c->pipeline), name);

  fail_unless (e != NULL, "%s: no %s", c->name, name);
  gst_object_unref (e);         /* the pipeline keeps it */
  return e;
}

/* A publisher client that offers VP8 (and Opus if @audio) and publishes
 * @stream_id; returns once the router has the offer. */
/* @offer without its a=ssrc lines: the router learns the SSRCs from RTP */
static gchar *
strip_ssrc_lines (const gchar * offer)
{
  gchar **lines = g_strsplit (offer, "\r\n", -1);
  GString *out = g_string_new (NULL);
  guint i;

  for (i = 0; lines[i]; i++) {
    if (g_str_has_prefix (lines[i], "a=ssrc"))
      continue;
    g_string_append (out, lines[i]);
    if (lines[i + 1])
      g_string_append (out, "\r\n");
  }
  g_strfreev (lines);
  return g_string_free (out, FALSE);
}

static Client *
publisher_new_full (const gchar * stream_id, gboolean e2ee, gboolean audio,
    gboolean signal_ssrc)
{
  Client *c = client_alloc ("publisher", TRUE, e2ee);
  const gchar *venc = e2ee ? "otcencrypt name=vcrypt" : "identity name=vcrypt";
  const gchar *aenc = e2ee ? "otcencrypt name=acrypt" : "identity name=acrypt";
  gchar *desc;
  GError *err = NULL;
  GstIterator *it;
  GValue v = G_VALUE_INIT;
  GstPad *pad;
  gchar *offer;

  desc = g_strdup_printf ("webrtcbin name=w bundle-policy=max-bundle "
      "videotestsrc is-live=true pattern=ball "
      "! video/x-raw,width=320,height=240,framerate=30/1 "
      "! vp8enc name=venc deadline=1 cpu-used=8 keyframe-max-dist=100000 "
      "! %s ! rtpvp8pay mtu=1200 picture-id-mode=15-bit "
      "! application/x-rtp,media=video,encoding-name=VP8,payload=96,"
      "clock-rate=90000,rtcp-fb-nack-pli=(boolean)true ! w.sink_0 %s%s%s",
      venc, audio ? "audiotestsrc is-live=true wave=ticks "
      "! audio/x-raw,rate=48000,channels=1 ! opusenc name=aenc frame-size=20 "
      "! " : "", audio ? aenc : "", audio ? " ! rtpopuspay "
      "! application/x-rtp,media=audio,encoding-name=OPUS,payload=111,"
      "clock-rate=48000 ! w.sink_1" : "");
  c->pipeline = gst_parse_launch (desc, &err);
  fail_unless (c->pipeline != NULL, "%s: %s", desc, err ? err->message : "");
  g_free (desc);
  c->webrtc = get_element (c, "w");
  c->venc = get_element (c, "venc");
  client_restrict_ice (c->webrtc, "127.0.0.1");
  g_signal_connect (c->webrtc, "on-ice-candidate",
      G_CALLBACK (client_on_ice_candidate), c);
  if (e2ee) {
    g_object_set (get_element (c, "vcrypt"), "encryption-secret", SECRET,
        "session-id", SESSION, NULL);
    if (audio)
      g_object_set (get_element (c, "acrypt"), "encryption-secret", SECRET,
          "session-id", SESSION, NULL);
  }
  add_capture (get_element (c, "vcrypt"), "sink", &c->plain_video, NULL);
  add_capture (get_element (c, "vcrypt"), "src", &c->enc_video, NULL);
  if (audio) {
    add_capture (get_element (c, "acrypt"), "sink", &c->plain_audio, NULL);
    add_capture (get_element (c, "acrypt"), "src", &c->enc_audio, NULL);
  }
  pad = gst_element_get_static_pad (c->venc, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM,
      encoder_request_probe, c, NULL);
  gst_object_unref (pad);

  /* send only */
  it = gst_element_iterate_sink_pads (c->webrtc);
  while (gst_iterator_next (it, &v) == GST_ITERATOR_OK) {
    GObject *trans = NULL;

    g_object_get (g_value_get_object (&v), "transceiver", &trans, NULL);
    g_object_set (trans, "direction",
        GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDONLY, NULL);
    g_object_unref (trans);
    g_value_reset (&v);
  }
  g_value_unset (&v);
  gst_iterator_free (it);

  fail_if (gst_element_set_state (c->pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE);
  fail_unless (wait_for (pads_have_caps, c, WAIT_MS));
  offer = client_create_local (c, GST_WEBRTC_SDP_TYPE_OFFER);
  if (!signal_ssrc) {
    gchar *stripped = strip_ssrc_lines (offer);

    fail_unless (strstr (offer, "a=ssrc:") != NULL);
    g_free (offer);
    offer = stripped;
  }
  GST_DEBUG ("publisher offer:\n%s", offer);
  c->leg = otc_router_media_publish (media, stream_id, offer,
      &router_callbacks, c, &err);
  fail_unless (c->leg != NULL, "publish: %s", err ? err->message : "");
  fail_unless (otc_media_leg_is_publisher (c->leg));
  fail_unless (otc_media_leg_get_user_data (c->leg) == c);
  fail_unless_equals_string (otc_media_leg_get_stream_id (c->leg), stream_id);
  g_free (offer);
  return c;
}

static Client *
publisher_new (const gchar * stream_id, gboolean e2ee, gboolean audio)
{
  return publisher_new_full (stream_id, e2ee, audio, TRUE);
}

static GstElement *
make (const gchar * factory)
{
  GstElement *e = gst_element_factory_make (factory, NULL);

  fail_unless (e != NULL, "no %s", factory);
  return e;
}

static GstPadProbeReturn
drop_key_unit_requests (GstPad * pad, GstPadProbeInfo * info,
    gpointer user_data)
{
  if (gst_video_event_is_force_key_unit (GST_PAD_PROBE_INFO_EVENT (info)))
    return GST_PAD_PROBE_DROP;
  return GST_PAD_PROBE_OK;
}

/* subscriber webrtcbin streaming thread */
static void
subscriber_pad_added (GstElement * webrtc, GstPad * pad, Client * c)
{
  GstCaps *caps;
  const gchar *encoding;
  gboolean video;
  GstElement *depay, *dec, *sink;

  if (GST_PAD_DIRECTION (pad) != GST_PAD_SRC)
    return;
  caps = gst_pad_get_current_caps (pad);
  if (caps == NULL)
    caps = gst_pad_query_caps (pad, NULL);
  encoding = gst_structure_get_string (gst_caps_get_structure (caps, 0),
      "encoding-name");
  fail_unless (encoding != NULL);
  video = g_ascii_strcasecmp (encoding, "VP8") == 0;
  GST_INFO ("%s: receiving %s", c->name, encoding);

  depay = make (video ? "rtpvp8depay" : "rtpopusdepay");
  /* like a browser, ask again while frames cannot be decoded */
  if (video && !c->quiet)
    g_object_set (depay, "request-keyframe", TRUE, "wait-for-keyframe",
        TRUE, NULL);
  dec = c->e2ee ? make ("otcdecrypt") : make ("identity");
  sink = make ("fakesink");
  g_object_set (sink, "sync", FALSE, "async", FALSE, NULL);
  if (c->e2ee)
    g_object_set (dec, "encryption-secret", SECRET, "session-id", SESSION,
        NULL);
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, capture_rtp_probe,
      &c->rtp, NULL);
  add_capture (depay, "src", video ? &c->rx_video : &c->rx_audio, NULL);
  add_capture (dec, "src", video ? &c->dec_video : &c->dec_audio, NULL);
  if (video)
    c->vdepay = depay;
  if (c->quiet) {
    GstPad *p = gst_element_get_static_pad (depay, "sink");

    gst_pad_add_probe (p, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM,
        drop_key_unit_requests, NULL, NULL);
    gst_object_unref (p);
  }
  gst_bin_add_many (GST_BIN (c->pipeline), depay, dec, sink, NULL);
  fail_unless (gst_element_link_many (depay, dec, sink, NULL));
  gst_element_sync_state_with_parent (sink);
  gst_element_sync_state_with_parent (dec);
  gst_element_sync_state_with_parent (depay);
  {
    GstPad *sinkpad = gst_element_get_static_pad (depay, "sink");

    fail_unless_equals_int (gst_pad_link (pad, sinkpad), GST_PAD_LINK_OK);
    gst_object_unref (sinkpad);
  }
  gst_caps_unref (caps);
}

static Client *
subscriber_new_full (const gchar * name, const gchar * stream_id,
    gboolean e2ee, gboolean quiet)
{
  Client *c = client_alloc (name, FALSE, e2ee);
  GError *err = NULL;

  c->quiet = quiet;
  c->pipeline = gst_pipeline_new (name);
  c->webrtc = make ("webrtcbin");
  g_object_set (c->webrtc, "bundle-policy",
      GST_WEBRTC_BUNDLE_POLICY_MAX_BUNDLE, "latency", 50, NULL);
  client_restrict_ice (c->webrtc, "127.0.0.1");
  gst_bin_add (GST_BIN (c->pipeline), c->webrtc);
  g_signal_connect (c->webrtc, "on-ice-candidate",
      G_CALLBACK (client_on_ice_candidate), c);
  g_signal_connect (c->webrtc, "pad-added",
      G_CALLBACK (subscriber_pad_added), c);
  fail_if (gst_element_set_state (c->pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE);
  c->leg = otc_router_media_subscribe (media, stream_id, &router_callbacks,
      c, &err);
  fail_unless (c->leg != NULL, "subscribe: %s", err ? err->message : "");
  fail_if (otc_media_leg_is_publisher (c->leg));
  return c;
}

static Client *
subscriber_new (const gchar * name, const gchar * stream_id, gboolean e2ee)
{
  return subscriber_new_full (name, stream_id, e2ee, FALSE);
}

/* ------------------------------------------------------------------------ */
/* conditions */

static gboolean
media_flowing (gpointer data)
{
  GstStructure *s = otc_router_media_get_stream_stats (media, data, NULL);
  gboolean flowing = FALSE;

  if (s) {
    gst_structure_get_boolean (s, "media-flowing", &flowing);
    gst_structure_free (s);
  }
  return flowing;
}

typedef struct
{
  Client **clients;
  guint n;
  guint video;
  guint audio;
} Enough;

/* What each client got, for failure messages. */
static gchar *
describe (Enough * e)
{
  GString *s = g_string_new (NULL);
  guint i;

  for (i = 0; i < e->n; i++) {
    Client *c = e->clients[i];

    g_string_append_printf (s, "%s%s: video %u/%u (%" G_GUINT64_FORMAT
        " key), audio %u/%u%s", i ? "; " : "", c->name,
        capture_len (&c->rx_video), capture_len (&c->dec_video),
        c->rx_video.keyframes, capture_len (&c->rx_audio),
        capture_len (&c->dec_audio), c->closed ? ", closed" : "");
  }
  return g_string_free (s, FALSE);
}

static gboolean
received_enough (gpointer data)
{
  Enough *e = data;
  guint i;

  for (i = 0; i < e->n; i++) {
    Client *c = e->clients[i];

    if (capture_len (&c->dec_video) < e->video
        || capture_len (&c->dec_audio) < e->audio)
      return FALSE;
  }
  return TRUE;
}

static void
wait_for_media (Enough * e)
{
  if (!wait_for (received_enough, e, WAIT_MS)) {
    gchar *what = describe (e);

    fail ("not enough media: %s", what);
    g_free (what);
  }
}

static guint64
stream_stat (const gchar * stream_id, const gchar * field)
{
  GstStructure *s = otc_router_media_get_stream_stats (media, stream_id,
      NULL);
  guint64 v = 0;

  fail_unless (s != NULL);
  if (!gst_structure_get_uint64 (s, field, &v)) {
    guint u = 0;

    fail_unless (gst_structure_get_uint (s, field, &u), "no %s", field);
    v = u;
  }
  gst_structure_free (s);
  return v;
}

/* Whatever the router chains into a subscriber leg went after the stream's
 * stream-start, caps and segment: a leg whose tee pad was requested while
 * the stream's first events went through the tee (a subscriber that
 * arrives with the media) once got buffers without stream-start. */
static void
assert_leg_events (Client * sub)
{
  GstIterator *it;
  GValue v = G_VALUE_INIT;
  guint n = 0;

  if (sub->leg->webrtc == NULL) {
    /* a direct leg: no pads, packets go straight to its transport */
    fail_unless (sub->leg->transport != NULL);
    fail_unless (otc_srtp_transport_is_connected (sub->leg->transport));
    return;
  }
  it = gst_element_iterate_sink_pads (sub->leg->webrtc);

  while (gst_iterator_next (it, &v) == GST_ITERATOR_OK) {
    GstPad *pad = g_value_get_object (&v);
    GstEventType types[] = { GST_EVENT_STREAM_START, GST_EVENT_CAPS,
      GST_EVENT_SEGMENT
    };
    guint i;

    for (i = 0; i < G_N_ELEMENTS (types); i++) {
      GstEvent *ev = gst_pad_get_sticky_event (pad, types[i], 0);

      fail_unless (ev != NULL, "%s:%s has no %s", GST_DEBUG_PAD_NAME (pad),
          gst_event_type_get_name (types[i]));
      gst_event_unref (ev);
    }
    n++;
    g_value_reset (&v);
  }
  g_value_unset (&v);
  gst_iterator_free (it);
  fail_unless (n > 0);
}

/* ------------------------------------------------------------------------ */
/* fixture */

static void
setup (void)
{
  GError *err = NULL;

  ctx = g_main_context_new ();
  g_main_context_push_thread_default (ctx);
  media = otc_router_media_new (NULL, &err);
  fail_unless (media != NULL, "%s", err ? err->message : "");
}

/* subscriber legs without webrtcbin (ext/router/transport/) */
static void
setup_direct (void)
{
  setup ();
  otc_router_media_set_subscriber_transport (media,
      OTC_ROUTER_MEDIA_SUBSCRIBER_TRANSPORT_DIRECT);
}

static void
teardown (void)
{
  answer_hook = NULL;
  otc_router_media_free (media);
  media = NULL;
  /* whatever the media left queued */
  while (g_main_context_iteration (ctx, FALSE));
  g_main_context_pop_thread_default (ctx);
  g_main_context_unref (ctx);
  ctx = NULL;
}

/* ------------------------------------------------------------------------ */
/* tests */

/* One publisher, three subscribers: what each subscriber depayloads is
 * byte for byte what the publisher's otcencrypt produced, and its
 * otcdecrypt gives back the encoder's frames. */
GST_START_TEST (test_forward_e2ee)
{
  Client *pub, *subs[3];
  Enough enough = { subs, 3, 40, 50 };
  /* publisher, router and subscriber together, on a machine that may be
   * busy: a generous bound that still catches a 200 ms jitterbuffer or a
   * sync to the clock; sanitizer builds are several times slower */
  gint64 max_delay_ms = g_getenv ("OTC_CHILD_LD_PRELOAD") ? 1000 : 400;
  guint i;

  pub = publisher_new (STREAM, TRUE, TRUE);
  for (i = 0; i < 3; i++) {
    gchar *name = g_strdup_printf ("subscriber%u", i);

    subs[i] = subscriber_new (name, STREAM, TRUE);
    g_free (name);
  }
  wait_for_media (&enough);
  for (i = 0; i < 3; i++)
    assert_leg_events (subs[i]);
  fail_unless_equals_uint64 (stream_stat (STREAM, "subscribers"), 3);

  for (i = 0; i < 3; i++) {
    gint64 delay;

    /* publisher, router and subscriber together; loopback, 2 cores */
    delay = assert_subsequence (&subs[i]->rx_video, &pub->enc_video, 40,
        "encrypted VP8");
    fail_unless (delay < max_delay_ms * 1000, "delay %" G_GINT64_FORMAT
        " ms", delay / 1000);
    assert_subsequence (&subs[i]->dec_video, &pub->plain_video, 40,
        "decrypted VP8");
    assert_subsequence (&subs[i]->rx_audio, &pub->enc_audio, 50,
        "encrypted Opus");
    assert_subsequence (&subs[i]->dec_audio, &pub->plain_audio, 50,
        "decrypted Opus");
    /* and it was encrypted on the way */
    g_mutex_lock (&subs[i]->rx_video.lock);
    g_mutex_lock (&pub->plain_video.lock);
    fail_if (g_bytes_equal (g_ptr_array_index (subs[i]->rx_video.frames, 0),
            g_ptr_array_index (pub->plain_video.frames, 0)));
    g_mutex_unlock (&pub->plain_video.lock);
    g_mutex_unlock (&subs[i]->rx_video.lock);
  }

  for (i = 0; i < 3; i++)
    client_free (subs[i]);
  client_free (pub);
}

GST_END_TEST;


/* ------------------------------------------------------------------------ */
/* plaintext detection: every 16-byte window of the frames' encrypted part */

static guint64
window_fingerprint (const guint8 * p)
{
  guint64 a, b;

  memcpy (&a, p, 8);
  memcpy (&b, p + 8, 8);
  a *= G_GUINT64_CONSTANT (0x9E3779B97F4A7C15);
  b = (b ^ (b >> 29)) * G_GUINT64_CONSTANT (0xBF58476D1CE4E5B9);
  return a ^ b ^ (a >> 31);
}

static gint
compare_u64 (gconstpointer a, gconstpointer b)
{
  guint64 x = *(const guint64 *) a, y = *(const guint64 *) b;

  return x < y ? -1 : x > y;
}

/* The windows of @plain that the encryption must hide: everything after
 * each frame's clear prefix. */
static void
add_plaintext_windows (GArray * windows, Capture * plain, OtcCodec codec)
{
  guint i;

  g_mutex_lock (&plain->lock);
  for (i = 0; i < plain->frames->len; i++) {
    gsize size;
    const guint8 *data = g_bytes_get_data (g_ptr_array_index (plain->frames,
            i), &size);
    guint clear = 0;
    gsize off;

    fail_unless (otc_codec_clear_length (codec, data, size, &clear, NULL));
    for (off = clear; off + 16 <= size; off++) {
      guint64 f = window_fingerprint (data + off);

      g_array_append_val (windows, f);
    }
  }
  g_mutex_unlock (&plain->lock);
}

/* How many 16-byte windows of the @payloads are plaintext windows. */
static guint
count_plaintext_hits (GArray * windows, GPtrArray * payloads)
{
  guint i, hits = 0;

  for (i = 0; i < payloads->len; i++) {
    gsize size, off;
    const guint8 *data = g_bytes_get_data (g_ptr_array_index (payloads, i),
        &size);

    for (off = 0; off + 16 <= size; off++) {
      guint64 f = window_fingerprint (data + off);

      if (bsearch (&f, windows->data, windows->len, sizeof (guint64),
              compare_u64))
        hits++;
    }
  }
  return hits;
}

/* RTP payloads that a payloader makes of @frames in the clear: what the
 * router would forward if encryption were bypassed. */
static GPtrArray *
payload_in_the_clear (Capture * frames, const gchar * pay, const gchar * caps)
{
  GstHarness *h = gst_harness_new_parse (pay);
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify)
      g_bytes_unref);
  GstBuffer *buf;
  guint i;

  gst_harness_set_src_caps_str (h, caps);
  g_mutex_lock (&frames->lock);
  for (i = 0; i < frames->frames->len; i++) {
    GBytes *b = g_ptr_array_index (frames->frames, i);

    buf = gst_buffer_new_wrapped_bytes (b);
    GST_BUFFER_PTS (buf) = i * 20 * GST_MSECOND;
    fail_unless_equals_int (gst_harness_push (h, buf), GST_FLOW_OK);
  }
  g_mutex_unlock (&frames->lock);
  while ((buf = gst_harness_try_pull (h))) {
    GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;

    fail_unless (gst_rtp_buffer_map (buf, GST_MAP_READ, &rtp));
    g_ptr_array_add (out, g_bytes_new (gst_rtp_buffer_get_payload (&rtp),
            gst_rtp_buffer_get_payload_len (&rtp)));
    gst_rtp_buffer_unmap (&rtp);
    gst_buffer_unref (buf);
  }
  gst_harness_teardown (h);
  return out;
}

/* No 16-byte window of what the encoders produced (past the clear prefix
 * that E2EE leaves for the payloaders) appears in any RTP payload that the
 * router sent to a subscriber. The same check on the frames payloaded in
 * the clear finds them: it would catch a bypassed encryption. */
GST_START_TEST (test_no_plaintext_forwarded)
{
  Client *pub, *sub;
  Client *subs[1];
  Enough enough = { subs, 1, 60, 80 };
  GArray *windows = g_array_new (FALSE, FALSE, sizeof (guint64));
  GPtrArray *clear_video, *clear_audio;
  guint hits, control_video, control_audio;

  pub = publisher_new (STREAM, TRUE, TRUE);
  sub = subs[0] = subscriber_new ("subscriber", STREAM, TRUE);
  wait_for_media (&enough);
  /* stop the publisher so that every plaintext frame is known */
  gst_element_set_state (pub->pipeline, GST_STATE_NULL);

  add_plaintext_windows (windows, &pub->plain_video, OTC_CODEC_VP8);
  add_plaintext_windows (windows, &pub->plain_audio, OTC_CODEC_OPUS);
  g_array_sort (windows, compare_u64);
  GST_INFO ("%u plaintext windows, %u RTP payloads received", windows->len,
      capture_len (&sub->rtp));
  fail_unless (windows->len > 10000);

  g_mutex_lock (&sub->rtp.lock);
  fail_unless (sub->rtp.frames->len > 100);
  hits = count_plaintext_hits (windows, sub->rtp.frames);
  g_mutex_unlock (&sub->rtp.lock);
  fail_unless_equals_int (hits, 0);

  /* the control: the same frames payloaded without encryption */
  clear_video = payload_in_the_clear (&pub->plain_video,
      "rtpvp8pay mtu=1200", "video/x-vp8,width=320,height=240,"
      "framerate=30/1");
  clear_audio = payload_in_the_clear (&pub->plain_audio, "rtpopuspay",
      "audio/x-opus,channels=1,rate=48000,channel-mapping-family=0");
  control_video = count_plaintext_hits (windows, clear_video);
  control_audio = count_plaintext_hits (windows, clear_audio);
  GST_INFO ("control: %u video and %u audio plaintext windows found",
      control_video, control_audio);
  fail_unless (control_video > 10000, "%u", control_video);
  fail_unless (control_audio > 100, "%u", control_audio);

  g_ptr_array_unref (clear_video);
  g_ptr_array_unref (clear_audio);
  g_array_unref (windows);
  client_free (sub);
  client_free (pub);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* key frame requests */

static gboolean
encoder_requested (gpointer data)
{
  Client *pub = ((Client **) data)[0];
  gint *before = ((gint **) data)[1];

  return g_atomic_int_get (&pub->encoder_key_requests) > *before;
}

static gboolean
got_keyframe (gpointer data)
{
  Client *c = data;
  gboolean got;

  g_mutex_lock (&c->rx_video.lock);
  got = c->rx_video.keyframes > 0 && c->rx_video.frames->len >= 5;
  g_mutex_unlock (&c->rx_video.lock);
  return got;
}

static void
request_keyframe (Client * sub)
{
  GstPad *pad = gst_element_get_static_pad (sub->vdepay, "src");

  fail_unless (gst_pad_send_event (pad,
          gst_video_event_new_upstream_force_key_unit (GST_CLOCK_TIME_NONE,
              TRUE, 1)));
  gst_object_unref (pad);
}

/* A subscriber's key frame request reaches the publisher's encoder as a
 * PLI; requests from three subscribers are throttled to one per interval;
 * a new subscriber gets a key frame without asking for one. */
GST_START_TEST (test_keyframe_requests)
{
  Client *pub, *subs[3], *quiet;
  Enough enough = { subs, 3, 10, 0 };
  gpointer cond[2];
  gint before;
  guint64 req0, sent0, thr0, req, sent, thr;
  gint64 start, elapsed;
  guint i, round, enc0, enc_delta;
  gint64 min_gap = G_MAXINT64;

  pub = publisher_new (STREAM, TRUE, FALSE);
  for (i = 0; i < 3; i++) {
    gchar *name = g_strdup_printf ("subscriber%u", i);

    subs[i] = subscriber_new (name, STREAM, TRUE);
    g_free (name);
  }
  /* the publisher sends a key frame only when asked (after its first
   * frame): the new subscribers asked */
  wait_for_media (&enough);
  fail_unless (stream_stat (STREAM, "keyframe-requests-sent") >= 1);
  before = 0;
  cond[0] = pub;
  cond[1] = &before;
  fail_unless (wait_for (encoder_requested, cond, 5000),
      "the new subscribers' request did not reach the publisher's encoder");

  /* one request from one subscriber */
  run_for (OTC_ROUTER_MEDIA_KEYFRAME_INTERVAL_MS + 100);
  before = g_atomic_int_get (&pub->encoder_key_requests);
  request_keyframe (subs[1]);
  fail_unless (wait_for (encoder_requested, cond, 5000),
      "the request did not reach the publisher's encoder");
  fail_unless (wait_for ((Condition) got_keyframe, subs[1], 5000));

  /* a burst from everybody: at most one request per interval is sent */
  run_for (OTC_ROUTER_MEDIA_KEYFRAME_INTERVAL_MS + 100);
  /* the window covers the snapshots (a loaded machine may stall here) */
  start = g_get_monotonic_time ();
  req0 = stream_stat (STREAM, "keyframe-requests");
  sent0 = stream_stat (STREAM, "keyframe-requests-sent");
  thr0 = stream_stat (STREAM, "keyframe-requests-throttled");
  enc0 = g_atomic_int_get (&pub->encoder_key_requests);
  g_mutex_lock (&pub->lock);
  g_array_set_size (pub->encoder_request_times, 0);
  g_mutex_unlock (&pub->lock);
  for (round = 0; round < 12; round++) {
    for (i = 0; i < 3; i++)
      request_keyframe (subs[i]);
    run_for (50);
  }
  /* the merged request goes out when the interval ends */
  run_for (OTC_ROUTER_MEDIA_KEYFRAME_INTERVAL_MS + 300);
  req = stream_stat (STREAM, "keyframe-requests") - req0;
  sent = stream_stat (STREAM, "keyframe-requests-sent") - sent0;
  thr = stream_stat (STREAM, "keyframe-requests-throttled") - thr0;
  elapsed = g_get_monotonic_time () - start;
  enc_delta = g_atomic_int_get (&pub->encoder_key_requests) - enc0;
  g_mutex_lock (&pub->lock);
  for (i = 1; i < pub->encoder_request_times->len; i++)
    min_gap = MIN (min_gap, g_array_index (pub->encoder_request_times,
            gint64, i) - g_array_index (pub->encoder_request_times, gint64,
            i - 1));
  g_mutex_unlock (&pub->lock);
  GST_INFO ("burst over %" G_GINT64_FORMAT " ms: %" G_GUINT64_FORMAT
      " requests at the router, %" G_GUINT64_FORMAT " sent, %"
      G_GUINT64_FORMAT " throttled, %u at the encoder, closest %"
      G_GINT64_FORMAT " ms apart", elapsed / 1000, req, sent, thr, enc_delta,
      min_gap / 1000);
  fail_unless (req >= 2, "only %" G_GUINT64_FORMAT " requests arrived", req);
  fail_unless (sent >= 1);
  fail_unless (sent <= (guint64) (elapsed / 1000 /
          OTC_ROUTER_MEDIA_KEYFRAME_INTERVAL_MS) + 1,
      "%" G_GUINT64_FORMAT " requests sent in %" G_GINT64_FORMAT " ms", sent,
      elapsed / 1000);
  /* each request is sent at once or merged into a later one */
  fail_unless (thr >= 1);
  fail_unless (sent < req);
  /* one PLI from before the window may still be on its way */
  fail_unless (enc_delta >= 1 && enc_delta <= sent + 1,
      "%u requests at the encoder, %" G_GUINT64_FORMAT " sent", enc_delta,
      sent);

  /* a subscriber that never asks gets a key frame all the same */
  run_for (OTC_ROUTER_MEDIA_KEYFRAME_INTERVAL_MS + 100);
  req0 = stream_stat (STREAM, "keyframe-requests");
  quiet = subscriber_new_full ("quiet", STREAM, TRUE, TRUE);
  fail_unless (wait_for ((Condition) got_keyframe, quiet, WAIT_MS),
      "a new subscriber got no key frame");
  fail_unless (stream_stat (STREAM, "keyframe-requests") > req0);

  client_free (quiet);
  for (i = 0; i < 3; i++)
    client_free (subs[i]);
  client_free (pub);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* leaving */

static gboolean
more_frames (gpointer data)
{
  Client *c = ((Client **) data)[0];
  guint *n = ((guint **) data)[1];

  return capture_len (&c->dec_video) >= *n;
}

static gboolean
all_closed (gpointer data)
{
  Client **c = data;

  return c[0]->closed && c[1]->closed;
}

/* A subscriber that leaves does not disturb the others; a publisher that
 * leaves takes its subscribers along (closed callbacks), and its stream is
 * gone. */
/* Steady state of a subscriber leg: no event goes down its transport.
 * (webrtcbin's rtpfunnel once sent the other stream's segment and a TOS
 * event there at every audio/video switch.) */
static GstPadProbeReturn
count_event (GstPad * pad, GstPadProbeInfo * info, gpointer counter)
{
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);

  GST_INFO_OBJECT (pad, "%" GST_PTR_FORMAT, event);
  g_atomic_int_inc ((gint *) counter);
  return GST_PAD_PROBE_OK;
}

/* The rtp_sink pad of @sub's leg's transport (webrtcbin's TransportSendBin),
 * its downstream events counted in @counter until the probe is removed. */
static GstPad *
count_transport_events (Client * sub, gint * counter, gulong * probe)
{
  GstIterator *it = gst_bin_iterate_recurse (GST_BIN (sub->leg->webrtc));
  GValue v = G_VALUE_INIT;
  GstPad *pad = NULL;

  while (gst_iterator_next (it, &v) == GST_ITERATOR_OK) {
    GstElement *e = g_value_get_object (&v);

    if (pad == NULL && g_str_equal (G_OBJECT_TYPE_NAME (e),
            "TransportSendBin"))
      pad = gst_element_get_static_pad (e, "rtp_sink");
    g_value_reset (&v);
  }
  g_value_unset (&v);
  gst_iterator_free (it);
  fail_unless (pad != NULL, "no transport in %s", sub->name);
  *probe = gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
      count_event, counter, NULL);
  return pad;
}

/* The state of that race, made on purpose: every tee pad of the router
 * lets the stream-start go by as if it had passed it on (HANDLED: marked
 * received, never sent). The legs must still get it before the caps, the
 * segment and the first buffer (else GStreamer's "Got data flow before
 * stream-start" warning, fatal here, or assert_leg_events fails). */
static GstPadProbeReturn
swallow_stream_start (GstPad * pad, GstPadProbeInfo * info, gpointer unused)
{
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);

  if (GST_EVENT_TYPE (event) != GST_EVENT_STREAM_START)
    return GST_PAD_PROBE_OK;
  gst_event_unref (event);
  GST_PAD_PROBE_INFO_DATA (info) = NULL;
  return GST_PAD_PROBE_HANDLED;
}

static void
on_tee_pad_added (GstElement * tee, GstPad * pad, gpointer unused)
{
  if (GST_PAD_IS_SRC (pad))
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
        swallow_stream_start, NULL, NULL);
}

static void
on_router_element_added (GstBin * bin, GstElement * element, gpointer unused)
{
  GstElementFactory *f = gst_element_get_factory (element);

  if (f != NULL && g_str_equal (GST_OBJECT_NAME (f), "tee"))
    g_signal_connect (element, "pad-added", G_CALLBACK (on_tee_pad_added),
        NULL);
}

GST_START_TEST (test_leg_missed_stream_start)
{
  Client *pub, *sub;
  Enough enough = { &sub, 1, 10, 10 };
  gulong id = g_signal_connect (media->pipeline, "element-added",
      G_CALLBACK (on_router_element_added), NULL);

  pub = publisher_new (STREAM, TRUE, TRUE);
  sub = subscriber_new ("subscriber", STREAM, TRUE);
  wait_for_media (&enough);
  assert_leg_events (sub);
  client_free (sub);
  client_free (pub);
  g_signal_handler_disconnect (media->pipeline, id);
}

GST_END_TEST;

GST_START_TEST (test_publisher_leaves)
{
  Client *pub, *subs[3], *rest[2];
  Enough enough = { subs, 3, 10, 10 };
  gpointer cond[2];
  GstPad *transport;
  gulong probe;
  gint events = 0;
  guint n, i;
  GError *err = NULL;

  pub = publisher_new (STREAM, TRUE, TRUE);
  for (i = 0; i < 3; i++) {
    gchar *name = g_strdup_printf ("subscriber%u", i);

    subs[i] = subscriber_new (name, STREAM, TRUE);
    g_free (name);
  }
  wait_for_media (&enough);
  for (i = 0; i < 3; i++)
    assert_leg_events (subs[i]);

  /* subscriber 0 leaves: no callback for it, the others go on */
  otc_media_leg_close (subs[0]->leg);
  subs[0]->leg = NULL;
  fail_unless_equals_uint64 (stream_stat (STREAM, "subscribers"), 2);
  /* (a direct leg has no GStreamer transport: nothing to count) */
  transport = subs[1]->leg->webrtc ?
      count_transport_events (subs[1], &events, &probe) : NULL;
  n = capture_len (&subs[1]->dec_video) + 30;
  cond[0] = subs[1];
  cond[1] = &n;
  fail_unless (wait_for (more_frames, cond, WAIT_MS),
      "forwarding stopped when a subscriber left");
  if (transport) {
    gst_pad_remove_probe (transport, probe);
    gst_object_unref (transport);
  }
  fail_unless_equals_int (g_atomic_int_get (&events), 0);
  n = capture_len (&subs[2]->dec_video) + 5;
  cond[0] = subs[2];
  fail_unless (wait_for (more_frames, cond, WAIT_MS));

  /* the publisher leaves */
  otc_media_leg_close (pub->leg);
  pub->leg = NULL;
  rest[0] = subs[1];
  rest[1] = subs[2];
  fail_unless (wait_for (all_closed, rest, 5000),
      "subscribers were not closed");
  for (i = 1; i < 3; i++)
    fail_unless (strstr (subs[i]->closed_reason, "publisher") != NULL,
        "%s", subs[i]->closed_reason);
  fail_if (subs[0]->closed);
  fail_if (pub->closed);

  fail_unless (otc_router_media_get_stream_stats (media, STREAM, &err) == NULL);
  fail_unless (g_error_matches (err, OTC_ROUTER_MEDIA_ERROR,
          OTC_ROUTER_MEDIA_ERROR_UNKNOWN_STREAM));
  g_clear_error (&err);
  fail_unless (otc_router_media_subscribe (media, STREAM, &router_callbacks,
          NULL, &err) == NULL);
  fail_unless (g_error_matches (err, OTC_ROUTER_MEDIA_ERROR,
          OTC_ROUTER_MEDIA_ERROR_UNKNOWN_STREAM));
  g_clear_error (&err);

  for (i = 0; i < 3; i++)
    client_free (subs[i]);
  client_free (pub);

  /* the stream id can be published again; without a=ssrc in the offer,
   * a subscriber's offer waits for the publisher's RTP */
  pub = publisher_new_full (STREAM, TRUE, FALSE, FALSE);
  subs[0] = subscriber_new ("again", STREAM, TRUE);
  enough.n = 1;
  enough.audio = 0;
  wait_for_media (&enough);
  assert_leg_events (subs[0]);
  client_free (subs[0]);
  client_free (pub);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* bad input */

static void
expect_publish_error (const gchar * sdp, gint code)
{
  GError *err = NULL;
  OtcMediaLeg *leg;

  leg = otc_router_media_publish (media, "bad", sdp, &router_callbacks, NULL,
      &err);
  fail_unless (leg == NULL, "accepted: %s", sdp ? sdp : "(null)");
  fail_unless (err != NULL);
  if (code >= 0)
    fail_unless (g_error_matches (err, OTC_ROUTER_MEDIA_ERROR, code),
        "%s: code %d (%s), wanted %d", sdp, err->code, err->message, code);
  GST_INFO ("refused as expected: %s", err->message);
  g_clear_error (&err);
}

#define SDP_HEAD "v=0\r\no=- 1 0 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
#define SDP_ICE "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n" \
    "a=fingerprint:sha-256 00:01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:" \
    "10:11:12:13:14:15:16:17:18:19:1A:1B:1C:1D:1E:1F\r\na=setup:actpass\r\n" \
    "a=rtcp-mux\r\n"

static void
null_description (OtcMediaLeg * leg, const gchar * type, const gchar * sdp,
    gpointer user_data)
{
  gchar **out = user_data;

  g_free (*out);
  *out = g_strdup (sdp);
}

static void
null_candidate (OtcMediaLeg * leg, guint mline, const gchar * candidate,
    gpointer user_data)
{
}

static void
null_closed (OtcMediaLeg * leg, const gchar * reason, gpointer user_data)
{
}

static const OtcMediaLegCallbacks null_callbacks = {
  null_description, null_candidate, null_closed
};

static gboolean
string_set (gpointer data)
{
  return *(gchar **) data != NULL;
}

/* Every bad input is an error, never a crash. */
GST_START_TEST (test_bad_input)
{
  const gchar *bad_address[] = { "not-an-address", NULL };
  const gchar *no_stream[] = { "nobody", NULL };
  const gchar *empty[] = { NULL };
  GError *err = NULL;
  Client *pub;
  OtcMediaLeg *leg;
  gchar *offer = NULL, *bad;
  gchar junk[300];
  guint i;

  fail_unless (otc_router_media_new (bad_address, &err) == NULL);
  fail_unless (g_error_matches (err, OTC_ROUTER_MEDIA_ERROR,
          OTC_ROUTER_MEDIA_ERROR_INVALID_ARGUMENT));
  g_clear_error (&err);

  expect_publish_error (NULL, OTC_ROUTER_MEDIA_ERROR_INVALID_SDP);
  expect_publish_error ("", OTC_ROUTER_MEDIA_ERROR_INVALID_SDP);
  expect_publish_error ("garbage", OTC_ROUTER_MEDIA_ERROR_INVALID_SDP);
  expect_publish_error ("v=0\r\nm=", OTC_ROUTER_MEDIA_ERROR_INVALID_SDP);
  expect_publish_error (SDP_HEAD, OTC_ROUTER_MEDIA_ERROR_INVALID_SDP);
  for (i = 0; i < sizeof (junk) - 1; i++)
    junk[i] = (gchar) g_random_int_range (1, 256);
  junk[sizeof (junk) - 1] = '\0';
  expect_publish_error (junk, OTC_ROUTER_MEDIA_ERROR_INVALID_SDP);
  bad = g_strconcat ("v=0\r\n", junk, NULL);
  expect_publish_error (bad, -1);
  g_free (bad);
  /* no VP8 / Opus */
  expect_publish_error (SDP_HEAD "m=video 9 UDP/TLS/RTP/SAVPF 102\r\n"
      SDP_ICE "a=sendonly\r\na=rtpmap:102 H264/90000\r\n",
      OTC_ROUTER_MEDIA_ERROR_UNSUPPORTED_MEDIA);
  expect_publish_error (SDP_HEAD "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\n"
      SDP_ICE "a=sendonly\r\na=rtpmap:0 PCMU/8000\r\n",
      OTC_ROUTER_MEDIA_ERROR_UNSUPPORTED_MEDIA);
  expect_publish_error (SDP_HEAD "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
      SDP_ICE "a=sendonly\r\na=rtpmap:96 VP8/90000\r\n"
      "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
      SDP_ICE "a=sctp-port:5000\r\n", OTC_ROUTER_MEDIA_ERROR_UNSUPPORTED_MEDIA);
  expect_publish_error (SDP_HEAD "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
      SDP_ICE "a=recvonly\r\na=rtpmap:96 VP8/90000\r\n",
      OTC_ROUTER_MEDIA_ERROR_UNSUPPORTED_MEDIA);
  /* no stream id */
  leg = otc_router_media_publish (media, "", SDP_HEAD, &router_callbacks,
      NULL, &err);
  fail_unless (leg == NULL && err != NULL);
  g_clear_error (&err);
  /* webrtcbin's own refusals come back as errors too */
  expect_publish_error (SDP_HEAD "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
      "a=sendonly\r\na=rtpmap:96 VP8/90000\r\n", -1);
  fail_unless (otc_router_media_get_stream_stats (media, "bad", NULL) == NULL);

  /* unknown streams and recordings */
  fail_unless (otc_router_media_subscribe (media, "nobody", &router_callbacks,
          NULL, &err) == NULL);
  fail_unless (g_error_matches (err, OTC_ROUTER_MEDIA_ERROR,
          OTC_ROUTER_MEDIA_ERROR_UNKNOWN_STREAM));
  g_clear_error (&err);
  fail_unless (otc_router_media_subscribe (media, NULL, &router_callbacks,
          NULL, &err) == NULL);
  g_clear_error (&err);
  fail_unless (otc_router_media_get_stream_stats (media, "nobody", &err) ==
      NULL);
  fail_unless (g_error_matches (err, OTC_ROUTER_MEDIA_ERROR,
          OTC_ROUTER_MEDIA_ERROR_UNKNOWN_STREAM));
  g_clear_error (&err);
  fail_if (otc_router_media_start_recording (media, "r", no_stream,
          "/tmp/never.webm", &err));
  fail_unless (g_error_matches (err, OTC_ROUTER_MEDIA_ERROR,
          OTC_ROUTER_MEDIA_ERROR_UNKNOWN_STREAM));
  g_clear_error (&err);
  fail_if (otc_router_media_start_recording (media, "r", empty,
          "/tmp/never.webm", &err));
  fail_unless (g_error_matches (err, OTC_ROUTER_MEDIA_ERROR,
          OTC_ROUTER_MEDIA_ERROR_INVALID_ARGUMENT));
  g_clear_error (&err);
  fail_if (otc_router_media_stop_recording (media, "r", &err));
  fail_unless (g_error_matches (err, OTC_ROUTER_MEDIA_ERROR,
          OTC_ROUTER_MEDIA_ERROR_UNKNOWN_RECORDING));
  g_clear_error (&err);

  /* with a real publisher */
  pub = publisher_new (STREAM, TRUE, TRUE);
  fail_unless (otc_router_media_publish (media, STREAM, SDP_HEAD
          "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n" SDP_ICE
          "a=sendonly\r\na=rtpmap:96 VP8/90000\r\n", &router_callbacks, NULL,
          &err) == NULL);
  fail_unless (g_error_matches (err, OTC_ROUTER_MEDIA_ERROR,
          OTC_ROUTER_MEDIA_ERROR_STREAM_EXISTS));
  g_clear_error (&err);
  fail_if (otc_media_leg_set_remote_answer (pub->leg, SDP_HEAD, &err));
  fail_unless (g_error_matches (err, OTC_ROUTER_MEDIA_ERROR,
          OTC_ROUTER_MEDIA_ERROR_INVALID_STATE));
  g_clear_error (&err);
  otc_media_leg_add_remote_candidate (pub->leg, 0, "");
  otc_media_leg_add_remote_candidate (pub->leg, 0, NULL);
  otc_media_leg_add_remote_candidate (pub->leg, 7, "garbage");
  otc_media_leg_add_remote_candidate (pub->leg, 9, "candidate:garbage");
  fail_if (otc_router_media_start_recording (media, "r", (const gchar *[]) {
            STREAM, NULL
          }, "/nonexistent-dir/x.webm", &err));
  fail_unless (err != NULL);
  g_clear_error (&err);

  /* a subscriber leg that is answered badly */
  leg = otc_router_media_subscribe (media, STREAM, &null_callbacks, &offer,
      &err);
  fail_unless (leg != NULL, "%s", err ? err->message : "");
  fail_unless (wait_for (string_set, &offer, WAIT_MS));
  fail_if (otc_media_leg_set_remote_answer (leg, "garbage", &err));
  fail_unless (g_error_matches (err, OTC_ROUTER_MEDIA_ERROR,
          OTC_ROUTER_MEDIA_ERROR_INVALID_SDP));
  g_clear_error (&err);
  fail_if (otc_media_leg_set_remote_answer (leg, NULL, &err));
  g_clear_error (&err);
  fail_if (otc_media_leg_set_remote_answer (leg, SDP_HEAD
          "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n" SDP_ICE
          "a=recvonly\r\na=rtpmap:96 VP8/90000\r\n", &err));
  fail_unless (g_error_matches (err, OTC_ROUTER_MEDIA_ERROR,
          OTC_ROUTER_MEDIA_ERROR_INVALID_SDP));
  g_clear_error (&err);
  /* its own offer is no answer */
  fail_if (otc_media_leg_set_remote_answer (leg, offer, &err));
  fail_unless (err != NULL);
  GST_INFO ("refused as expected: %s", err->message);
  g_clear_error (&err);
  otc_media_leg_close (leg);
  g_free (offer);

  /* the publisher was not disturbed */
  {
    Client *sub = subscriber_new ("subscriber", STREAM, TRUE);
    Client *subs[1] = { sub };
    Enough enough = { subs, 1, 10, 10 };

    wait_for_media (&enough);
    client_free (sub);
  }
  client_free (pub);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* ICE addresses */

static gchar *
candidate_address (const gchar * candidate)
{
  gchar **parts = g_strsplit (candidate, " ", 7);
  gchar *addr;

  fail_unless (g_strv_length (parts) >= 6, "%s", candidate);
  addr = g_strdup (parts[4]);
  g_strfreev (parts);
  return addr;
}

typedef struct
{
  GMutex lock;
  GPtrArray *addresses;
  const gchar *address;
} Gathered;

static void
control_on_candidate (GstElement * webrtc, guint mline,
    const gchar * candidate, Gathered * g)
{
  g_mutex_lock (&g->lock);
  g_ptr_array_add (g->addresses, candidate_address (candidate));
  g_mutex_unlock (&g->lock);
  g_main_context_wakeup (ctx);
}

static gboolean
address_gathered (gpointer data)
{
  Gathered *g = data;
  gboolean seen = FALSE;
  guint i;

  g_mutex_lock (&g->lock);
  for (i = 0; i < g->addresses->len; i++)
    seen = seen || g_str_equal (g_ptr_array_index (g->addresses, i),
        g->address);
  g_mutex_unlock (&g->lock);
  return seen;
}

/* The router gathers candidates on the given addresses only. In the
 * test's namespace lo also carries OTC_NETNS_EXTRA_ADDRESS: a webrtcbin
 * left alone gathers that one too. */
GST_START_TEST (test_ice_addresses)
{
  const gchar *extra = g_getenv ("OTC_NETNS_EXTRA_ADDRESS");
  Client *pub, *sub;
  Client *subs[1];
  Enough enough = { subs, 1, 5, 0 };
  guint i;

  pub = publisher_new (STREAM, TRUE, FALSE);
  sub = subs[0] = subscriber_new ("subscriber", STREAM, TRUE);
  wait_for_media (&enough);
  fail_unless (pub->router_candidates->len >= 1);
  fail_unless (sub->router_candidates->len >= 1);
  for (i = 0; i < pub->router_candidates->len; i++) {
    gchar *a = candidate_address (g_ptr_array_index (pub->router_candidates,
            i));

    fail_unless_equals_string (a, "127.0.0.1");
    g_free (a);
  }
  for (i = 0; i < sub->router_candidates->len; i++) {
    gchar *a = candidate_address (g_ptr_array_index (sub->router_candidates,
            i));

    fail_unless_equals_string (a, "127.0.0.1");
    g_free (a);
  }

  if (extra && *extra) {
    GstElement *control = gst_element_factory_make ("webrtcbin", NULL);
    GPtrArray *addrs = g_ptr_array_new_with_free_func (g_free);
    GstWebRTCRTPTransceiver *trans = NULL;
    GstCaps *caps = gst_caps_from_string ("application/x-rtp,media=video,"
        "encoding-name=VP8,payload=96,clock-rate=90000");
    Client c = { 0 };
    Gathered g = { {0}, addrs, extra };
    gchar *offer;

    g_mutex_init (&g.lock);
    gst_object_ref_sink (control);
    g_signal_connect (control, "on-ice-candidate",
        G_CALLBACK (control_on_candidate), &g);
    fail_if (gst_element_set_state (control, GST_STATE_PLAYING) ==
        GST_STATE_CHANGE_FAILURE);
    g_signal_emit_by_name (control, "add-transceiver",
        GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDONLY, caps, &trans);
    c.name = (gchar *) "control";
    c.webrtc = control;
    offer = client_create_local (&c, GST_WEBRTC_SDP_TYPE_OFFER);
    fail_unless (wait_for (address_gathered, &g, WAIT_MS),
        "an unrestricted webrtcbin did not gather %s", extra);
    gst_element_set_state (control, GST_STATE_NULL);
    g_signal_handlers_disconnect_by_data (control, &g);
    gst_object_unref (trans);
    gst_object_unref (control);
    gst_caps_unref (caps);
    g_ptr_array_unref (addrs);
    g_mutex_clear (&g.lock);
    g_free (offer);
  }
  client_free (sub);
  client_free (pub);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* recording */

static gboolean
plain_frames_reached (gpointer data)
{
  Client *c = ((Client **) data)[0];
  guint *n = ((guint **) data)[1];

  return capture_len (&c->plain_video) >= *n;
}

static GstPadProbeReturn
count_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  g_atomic_int_inc ((gint *) user_data);
  return GST_PAD_PROBE_OK;
}

/* Decodes @path: frames of VP8 and Opus; the file's duration in ms. */
static void
decode_webm (const gchar * path, gint * video, gint * audio, gint64 * dur_ms)
{
  /* unbounded queues: audio may start well before the first key frame */
  gchar *desc = g_strdup_printf ("filesrc location=\"%s\" "
      "! matroskademux name=d d.video_0 ! queue max-size-buffers=0 "
      "max-size-bytes=0 max-size-time=0 ! vp8dec ! fakesink name=vs "
      "sync=false d.audio_0 ! queue max-size-buffers=0 max-size-bytes=0 "
      "max-size-time=0 ! opusdec ! fakesink name=as sync=false", path);
  GstElement *p = gst_parse_launch (desc, NULL);
  GstElement *vs, *as;
  GstPad *pad;
  GstMessage *msg;
  gint64 dur = -1;

  fail_unless (p != NULL);
  *video = *audio = 0;
  vs = gst_bin_get_by_name (GST_BIN (p), "vs");
  as = gst_bin_get_by_name (GST_BIN (p), "as");
  pad = gst_element_get_static_pad (vs, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, count_probe, video, NULL);
  gst_object_unref (pad);
  pad = gst_element_get_static_pad (as, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, count_probe, audio, NULL);
  gst_object_unref (pad);
  fail_if (gst_element_set_state (p, GST_STATE_PAUSED) ==
      GST_STATE_CHANGE_FAILURE);
  fail_unless_equals_int (gst_element_get_state (p, NULL, NULL,
          10 * GST_SECOND), GST_STATE_CHANGE_SUCCESS);
  fail_unless (gst_element_query_duration (p, GST_FORMAT_TIME, &dur));
  *dur_ms = dur / GST_MSECOND;
  gst_element_set_state (p, GST_STATE_PLAYING);
  msg = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (p), 20 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "%s did not play to the end", path);
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    GError *err = NULL;

    gst_message_parse_error (msg, &err, NULL);
    fail ("%s: %s", path, err->message);
  }
  gst_message_unref (msg);
  gst_element_set_state (p, GST_STATE_NULL);
  GST_INFO ("%s: %d video and %d audio frames, %" G_GINT64_FORMAT " ms",
      path, *video, *audio, *dur_ms);
  gst_object_unref (vs);
  gst_object_unref (as);
  gst_object_unref (p);
  g_free (desc);
}

/* A stream without E2EE recorded to WebM (no re-encoding) plays back: the
 * file is finalised at stop, and also when the publisher left before. */
GST_START_TEST (test_recording)
{
  const gchar *streams[] = { STREAM, NULL };
  gchar *dir = g_dir_make_tmp ("otc-router-rec-XXXXXX", NULL);
  gchar *path1 = g_build_filename (dir, "one.webm", NULL);
  gchar *path2 = g_build_filename (dir, "two.webm", NULL);
  GError *err = NULL;
  Client *pub;
  gpointer cond[2];
  guint n;
  gint video, audio;
  gint64 dur;

  fail_unless (dir != NULL);
  pub = publisher_new (STREAM, FALSE, TRUE);
  fail_unless (wait_for (media_flowing, (gpointer) STREAM, WAIT_MS));

  fail_unless (otc_router_media_start_recording (media, "rec1", streams,
          path1, &err), "%s", err ? err->message : "");
  fail_if (otc_router_media_start_recording (media, "rec1", streams, path2,
          &err));
  fail_unless (g_error_matches (err, OTC_ROUTER_MEDIA_ERROR,
          OTC_ROUTER_MEDIA_ERROR_RECORDING_EXISTS));
  g_clear_error (&err);
  n = capture_len (&pub->plain_video) + 75;
  cond[0] = pub;
  cond[1] = &n;
  fail_unless (wait_for (plain_frames_reached, cond, WAIT_MS));
  fail_unless (otc_router_media_stop_recording (media, "rec1", &err),
      "%s", err ? err->message : "");
  decode_webm (path1, &video, &audio, &dur);
  fail_unless (video >= 45, "%d video frames", video);
  fail_unless (audio >= 75, "%d audio frames", audio);
  /* webmmux writes the duration when it finalises the file */
  fail_unless (dur >= 1000, "duration %" G_GINT64_FORMAT " ms", dur);

  /* the publisher leaves during a recording */
  fail_unless (otc_router_media_start_recording (media, "rec2", streams,
          path2, &err), "%s", err ? err->message : "");
  n = capture_len (&pub->plain_video) + 45;
  fail_unless (wait_for (plain_frames_reached, cond, WAIT_MS));
  otc_media_leg_close (pub->leg);
  pub->leg = NULL;
  fail_unless (otc_router_media_stop_recording (media, "rec2", &err),
      "%s", err ? err->message : "");
  decode_webm (path2, &video, &audio, &dur);
  fail_unless (video >= 25, "%d video frames", video);
  fail_unless (audio >= 40, "%d audio frames", audio);

  client_free (pub);
  g_unlink (path1);
  g_unlink (path2);
  g_rmdir (dir);
  g_free (path1);
  g_free (path2);
  g_free (dir);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* direct subscriber legs */

/* @answer without its lines that start with @prefix, or with @from
 * replaced by @to in them */
static gchar *
answer_edit (const gchar * answer, const gchar * prefix, const gchar * from,
    const gchar * to)
{
  gchar **lines = g_strsplit (answer, "\r\n", -1);
  GString *out = g_string_new (NULL);
  gchar **l;

  for (l = lines; *l; l++) {
    if (**l == '\0')
      continue;
    if (g_str_has_prefix (*l, prefix)) {
      gchar *p;

      if (from == NULL)
        continue;
      p = strstr (*l, from);
      fail_unless (p != NULL, "no \"%s\" in %s", from, *l);
      g_string_append_len (out, *l, p - *l);
      g_string_append (out, to);
      g_string_append (out, p + strlen (from));
    } else {
      g_string_append (out, *l);
    }
    g_string_append (out, "\r\n");
  }
  g_strfreev (lines);
  return g_string_free (out, FALSE);
}

static void
expect_answer_refused (Client * c, gchar * bad, const gchar * what)
{
  GError *err = NULL;

  fail_if (otc_media_leg_set_remote_answer (c->leg, bad, &err),
      "an answer %s was taken", what);
  fail_unless (g_error_matches (err, OTC_ROUTER_MEDIA_ERROR,
          OTC_ROUTER_MEDIA_ERROR_INVALID_SDP), "%s: %s", what, err->message);
  GST_INFO ("answer %s: %s", what, err->message);
  g_clear_error (&err);
  g_free (bad);
}

/* Answers the direct leg cannot use are refused with INVALID_SDP, and the
 * leg takes a good one afterwards. */
static void
refuse_bad_answers (Client * c, const gchar * answer)
{
  GError *err = NULL;

  expect_answer_refused (c, answer_edit (answer, "a=ice-ufrag", NULL, NULL),
      "without a=ice-ufrag");
  expect_answer_refused (c, answer_edit (answer, "a=ice-pwd", NULL, NULL),
      "without a=ice-pwd");
  expect_answer_refused (c, answer_edit (answer, "a=fingerprint", NULL,
          NULL), "without a=fingerprint");
  expect_answer_refused (c, answer_edit (answer, "a=fingerprint", "sha-256",
          "md-17"), "with an unknown fingerprint hash");
  expect_answer_refused (c, answer_edit (answer, "a=setup", "active",
          "actpass"), "with a=setup:actpass");
  fail_unless (otc_media_leg_set_remote_answer (c->leg, answer, &err), "%s",
      err ? err->message : "");
  fail_if (otc_media_leg_set_remote_answer (c->leg, answer, &err));
  fail_unless (g_error_matches (err, OTC_ROUTER_MEDIA_ERROR,
          OTC_ROUTER_MEDIA_ERROR_INVALID_STATE));
  g_clear_error (&err);
}

/* An answer whose fingerprint is not the certificate the peer shows in
 * the DTLS handshake: a man in the middle. */
static void
forge_fingerprint (Client * c, const gchar * answer)
{
  const gchar *fp = strstr (answer, "a=fingerprint:sha-256 ");
  gchar *forged = g_strdup (answer);
  GError *err = NULL;
  gchar *digit;

  fail_unless (fp != NULL);
  digit = forged + (fp - answer) + strlen ("a=fingerprint:sha-256 ");
  *digit = *digit == '0' ? '1' : '0';
  fail_unless (otc_media_leg_set_remote_answer (c->leg, forged, &err), "%s",
      err ? err->message : "");
  g_free (forged);
}

static gboolean
client_closed (gpointer data)
{
  return ((Client *) data)->closed;
}

GST_START_TEST (test_direct_answers)
{
  Client *pub, *sub, *forged;
  Enough enough = { &sub, 1, 10, 10 };

  pub = publisher_new (STREAM, TRUE, TRUE);
  answer_hook = refuse_bad_answers;
  sub = subscriber_new ("subscriber", STREAM, TRUE);
  wait_for_media (&enough);

  /* the forged one is closed once the handshake shows the real
   * certificate; it never gets a packet, the other one carries on */
  answer_hook = forge_fingerprint;
  forged = subscriber_new ("forged", STREAM, TRUE);
  fail_unless (wait_for (client_closed, forged, WAIT_MS),
      "a leg with a forged fingerprint stayed open");
  fail_unless (strstr (forged->closed_reason, "fingerprint") != NULL, "%s",
      forged->closed_reason);
  fail_unless_equals_int (capture_len (&forged->rtp), 0);
  enough.video = capture_len (&sub->dec_video) + 10;
  enough.audio = 0;
  wait_for_media (&enough);
  fail_unless_equals_uint64 (stream_stat (STREAM, "subscribers"), 1);

  client_free (forged);
  client_free (sub);
  client_free (pub);
}

GST_END_TEST;

typedef struct
{
  Client *sub;
  guint32 ssrc;
  guint64 packets_sent;
} SenderReport;

/* The subscriber's RTP session (webrtcbin's rtpbin, session 0: bundled)
 * received a sender report for the SSRC. */
static gboolean
have_sender_report (gpointer data)
{
  SenderReport *sr = data;
  GstIterator *it = gst_bin_iterate_recurse (GST_BIN (sr->sub->webrtc));
  GValue v = G_VALUE_INIT;
  GstElement *rtpbin = NULL;
  GObject *session = NULL, *source = NULL;
  GstStructure *stats = NULL;
  gboolean have_sr = FALSE;
  guint packets = 0;

  while (gst_iterator_next (it, &v) == GST_ITERATOR_OK) {
    GstElement *e = g_value_get_object (&v);
    GstElementFactory *f = gst_element_get_factory (e);

    if (rtpbin == NULL && f && g_str_equal (GST_OBJECT_NAME (f), "rtpbin"))
      rtpbin = gst_object_ref (e);
    g_value_reset (&v);
  }
  g_value_unset (&v);
  gst_iterator_free (it);
  fail_unless (rtpbin != NULL);
  g_signal_emit_by_name (rtpbin, "get-internal-session", 0, &session);
  if (session)
    g_signal_emit_by_name (session, "get-source-by-ssrc", sr->ssrc, &source);
  if (source)
    g_object_get (source, "stats", &stats, NULL);
  if (stats) {
    GST_LOG ("%" GST_PTR_FORMAT, stats);
    gst_structure_get (stats, "have-sr", G_TYPE_BOOLEAN, &have_sr,
        "sr-packet-count", G_TYPE_UINT, &packets, NULL);
    sr->packets_sent = packets;
    gst_structure_free (stats);
  }
  g_clear_object (&source);
  g_clear_object (&session);
  gst_object_unref (rtpbin);
  return have_sr && packets > 0;
}

/* Subscribers get RTCP sender reports for each stream they receive (what
 * lip sync needs), with the packets the leg sent. */
GST_START_TEST (test_sender_reports)
{
  Client *pub, *sub;
  Enough enough = { &sub, 1, 10, 10 };
  OtcPublisherStream *stream;
  SenderReport sr;
  guint i;

  pub = publisher_new (STREAM, TRUE, TRUE);
  sub = subscriber_new ("subscriber", STREAM, TRUE);
  wait_for_media (&enough);
  for (i = 0; i < 2; i++) {
    g_mutex_lock (&media->lock);
    stream = g_ptr_array_index (pub->leg->streams, i);
    sr.ssrc = stream->ssrc;
    g_mutex_unlock (&media->lock);
    sr.sub = sub;
    sr.packets_sent = 0;
    fail_unless (wait_for (have_sender_report, &sr, 10000),
        "no sender report for m-line %u (SSRC %u)", i, sr.ssrc);
    GST_INFO ("m-line %u: a sender report says %" G_GUINT64_FORMAT
        " packets sent", i, sr.packets_sent);
    fail_unless (sr.packets_sent <= capture_len (&sub->rtp) + 1000);
  }
  client_free (sub);
  client_free (pub);
}

GST_END_TEST;

/* Many direct subscribers: from FAN_OUT_SPLIT (8) on, helper threads send
 * to some of them; each still gets every frame byte for byte, and those
 * that leave and come back are served again. */
GST_START_TEST (test_fan_out_helpers)
{
  Client *pub, *subs[10];
  Enough enough = { subs, 10, 20, 20 };
  OtcPublisherStream *video;
  guint i, helpers;

  pub = publisher_new (STREAM, TRUE, TRUE);
  for (i = 0; i < 10; i++) {
    gchar *name = g_strdup_printf ("subscriber%u", i);

    subs[i] = subscriber_new (name, STREAM, TRUE);
    g_free (name);
  }
  wait_for_media (&enough);
  g_mutex_lock (&media->lock);
  video = g_ptr_array_index (pub->leg->streams, 0);
  g_mutex_unlock (&media->lock);
  pthread_rwlock_rdlock (&video->direct_lock);
  helpers = video->fan_out_helpers->len;
  fail_unless_equals_int (video->direct_outputs->len, 10);
  pthread_rwlock_unlock (&video->direct_lock);
  GST_INFO ("%u fan-out helper(s) on %u processors", helpers,
      g_get_num_processors ());
  if (g_get_num_processors () > 1)
    fail_unless (helpers >= 1, "no fan-out helper for 10 subscribers");
  for (i = 0; i < 10; i++) {
    assert_subsequence (&subs[i]->rx_video, &pub->enc_video, 20,
        "encrypted VP8");
    assert_subsequence (&subs[i]->rx_audio, &pub->enc_audio, 20,
        "encrypted Opus");
  }

  /* three leave (the helper's and the streaming thread's), two come */
  for (i = 0; i < 3; i++)
    client_free (subs[i]);
  for (i = 0; i < 2; i++) {
    gchar *name = g_strdup_printf ("again%u", i);

    subs[i] = subscriber_new (name, STREAM, TRUE);
    g_free (name);
  }
  subs[2] = subs[9];
  enough.n = 9;
  enough.video = 10;
  enough.audio = 10;
  wait_for_media (&enough);
  fail_unless_equals_uint64 (stream_stat (STREAM, "subscribers"), 9);
  for (i = 0; i < 2; i++)
    assert_subsequence (&subs[i]->rx_video, &pub->enc_video, 10,
        "encrypted VP8");
  for (i = 0; i < 9; i++)
    client_free (subs[i]);
  client_free (pub);
}

GST_END_TEST;

/* A subscriber that answers and never connects: its leg is closed once
 * the connect timeout is over, and the others carry on. */
GST_START_TEST (test_direct_connect_timeout)
{
  Client *pub, *sub, *silent;
  Enough enough = { &sub, 1, 10, 10 };
  gint64 start;

  otc_router_media_set_connect_timeout (media, 2);
  pub = publisher_new (STREAM, TRUE, TRUE);
  sub = subscriber_new ("subscriber", STREAM, TRUE);
  wait_for_media (&enough);

  start = g_get_monotonic_time ();
  silent = subscriber_new_full ("silent", STREAM, TRUE, FALSE);
  /* (the router's callbacks run from this context only, later) */
  silent->no_ice = TRUE;
  fail_unless (wait_for (client_closed, silent, 10000),
      "a leg that never connected stayed open");
  GST_INFO ("closed after %" G_GINT64_FORMAT " ms: %s",
      (g_get_monotonic_time () - start) / 1000, silent->closed_reason);
  fail_unless (g_get_monotonic_time () - start >= 2 * G_USEC_PER_SEC);
  fail_unless (strstr (silent->closed_reason, "no ICE and DTLS connection")
      != NULL, "%s", silent->closed_reason);
  fail_unless_equals_int (capture_len (&silent->rtp), 0);
  enough.video = capture_len (&sub->dec_video) + 10;
  enough.audio = 0;
  wait_for_media (&enough);
  fail_unless_equals_uint64 (stream_stat (STREAM, "subscribers"), 1);

  client_free (silent);
  client_free (sub);
  client_free (pub);
}

GST_END_TEST;

static Suite *
router_media_suite (void)
{
  Suite *s = suite_create ("router-media");
  TCase *tc = tcase_create ("media");
  /* Under the sanitizers (several times slower, leak checking with full
   * stacks) the tests that cover the same code again are left out: the
   * webrtcbin subscriber legs, which are no longer the default, run the
   * tests that are about them; plaintext detection and ICE addresses run
   * without sanitizers only. */
  gboolean all = g_getenv ("OTC_CHILD_LD_PRELOAD") == NULL;

  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_set_timeout (tc, 60);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_forward_e2ee);
  tcase_add_test (tc, test_publisher_leaves);
  tcase_add_test (tc, test_leg_missed_stream_start);
  if (all) {
    tcase_add_test (tc, test_no_plaintext_forwarded);
    tcase_add_test (tc, test_keyframe_requests);
    tcase_add_test (tc, test_bad_input);
    tcase_add_test (tc, test_ice_addresses);
    tcase_add_test (tc, test_recording);
    tcase_add_test (tc, test_sender_reports);
  }

  /* the same with direct subscriber legs, and what is theirs alone */
  tc = tcase_create ("direct");
  tcase_add_checked_fixture (tc, setup_direct, teardown);
  tcase_set_timeout (tc, 60);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_forward_e2ee);
  tcase_add_test (tc, test_keyframe_requests);
  tcase_add_test (tc, test_publisher_leaves);
  tcase_add_test (tc, test_bad_input);
  tcase_add_test (tc, test_recording);
  tcase_add_test (tc, test_sender_reports);
  tcase_add_test (tc, test_direct_answers);
  tcase_add_test (tc, test_fan_out_helpers);
  tcase_add_test (tc, test_direct_connect_timeout);
  if (all) {
    tcase_add_test (tc, test_no_plaintext_forwarded);
    tcase_add_test (tc, test_ice_addresses);
  }
  return s;
}

/* OpenSSL's exit handler frees its global state while threads that used
 * it for DTLS (GStreamer's, libnice's) may still be winding down; in a
 * test process that exits right after the last pipeline stopped, that
 * race crashes now and then (inside OPENSSL_cleanup). The process ends
 * anyway: let it end without the handler. */
int
main (int argc, char **argv)
{
  Suite *s;

  OPENSSL_init_crypto (OPENSSL_INIT_NO_ATEXIT, NULL);
  gst_check_init (&argc, &argv);
  s = router_media_suite ();
  return gst_check_run_suite (s, "router_media", __FILE__);
}
