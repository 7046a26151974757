/* Subscriber legs without webrtcbin ("direct"): the router makes the offer
 * itself and sends each packet of the publisher's streams with one SRTP
 * protect and one send on the leg's OtcSrtpTransport (ICE + DTLS-SRTP,
 * ext/router/transport/), from the publisher stream's streaming thread,
 * before its tee. What webrtcbin's send path did for a leg is done here:
 * sender reports (every second), and key frame requests (PLI, FIR) read
 * from the subscriber's RTCP and passed on to the publisher (throttled).
 * Packets go out unchanged: same SSRC, sequence numbers, timestamps and
 * (end-to-end encrypted) payload. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "otc-router-media-private.h"

#define GST_CAT_DEFAULT otc_router_media_debug

#define REPORT_INTERVAL_MS 1000
/* From this many direct subscribers of a stream on, the packets are sent
 * by more than one thread: a key frame is tens of packets that arrive at
 * once, and sending them to every subscriber in turn on one thread made
 * the last subscriber wait for all the others (the p99 latency at N = 20,
 * docs/performance.md). Below it, handing packets over costs more. */
#define FAN_OUT_SPLIT 8
/* at most this many threads per stream (the streaming thread included) */
#define FAN_OUT_MAX_WORKERS 4
/* packets waiting for a helper; beyond, its subscribers lose them (a
 * helper that cannot keep up must not grow the router without bound) */
#define FAN_OUT_MAX_QUEUED 1000
/* RFC 3550 4: seconds from 1900 to 1970 */
#define NTP_UNIX_OFFSET G_GUINT64_CONSTANT (2208988800)
#define CNAME "otc-router"

void
otc_router_media_set_subscriber_transport (OtcRouterMedia * media,
    OtcRouterMediaSubscriberTransport transport)
{
  g_return_if_fail (media != NULL);
  media->subscriber_transport = transport;
}

void
otc_router_media_set_connect_timeout (OtcRouterMedia * media, guint seconds)
{
  g_return_if_fail (media != NULL);
  media->connect_timeout_s = seconds;
}

/* ------------------------------------------------------------------------ */
/* publisher streams: the fan-out */

/* A thread that sends a stream's packets to its share of the direct
 * subscribers (those whose worker it is). */
typedef struct
{
  OtcPublisherStream *stream;
  guint worker;
  GAsyncQueue *queue;           /* GstBuffer (ref); the helper itself: stop */
  GThread *thread;
} OtcFanOutHelper;

static void fan_out (OtcPublisherStream * stream, GstBuffer * buffer,
    guint worker);

static gpointer
fan_out_helper_run (gpointer data)
{
  OtcFanOutHelper *h = data;
  gpointer item;

  while ((item = g_async_queue_pop (h->queue)) != h) {
    pthread_rwlock_rdlock (&h->stream->direct_lock);
    fan_out (h->stream, item, h->worker);
    pthread_rwlock_unlock (&h->stream->direct_lock);
    gst_buffer_unref (item);
  }
  return NULL;
}

static void
fan_out_helper_free (OtcFanOutHelper * h)
{
  gpointer item;

  g_async_queue_push (h->queue, h);
  g_thread_join (h->thread);
  while ((item = g_async_queue_try_pop (h->queue)))
    gst_buffer_unref (item);
  g_async_queue_unref (h->queue);
  g_free (h);
}

void
otc_direct_stream_init (OtcPublisherStream * stream)
{
  pthread_rwlockattr_t attr;

  pthread_rwlockattr_init (&attr);
  pthread_rwlockattr_setkind_np (&attr,
      PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  pthread_rwlock_init (&stream->direct_lock, &attr);
  pthread_rwlockattr_destroy (&attr);
  stream->direct_outputs = g_ptr_array_new_with_free_func ((GDestroyNotify)
      otc_media_output_unref);
  stream->fan_out_helpers = g_ptr_array_new_with_free_func ((GDestroyNotify)
      fan_out_helper_free);
}

/* (when the stream's streaming thread is gone) */
void
otc_direct_stream_clear (OtcPublisherStream * stream)
{
  g_ptr_array_unref (stream->fan_out_helpers);
  g_ptr_array_unref (stream->direct_outputs);
  pthread_rwlock_destroy (&stream->direct_lock);
}

/* Context thread, writer lock held: the worker for a new output, a helper
 * started for it if it is the first of its worker. */
static guint
fan_out_assign (OtcPublisherStream * stream)
{
  guint workers = CLAMP (g_get_num_processors (), 1, FAN_OUT_MAX_WORKERS);
  guint w, best = 0;

  if (stream->direct_outputs->len + 1 < FAN_OUT_SPLIT)
    workers = 1;
  for (w = 1; w < workers; w++)
    if (stream->fan_out_load[w] < stream->fan_out_load[best])
      best = w;
  while (best > 0 && stream->fan_out_helpers->len < best) {
    OtcFanOutHelper *h = g_new0 (OtcFanOutHelper, 1);
    gchar *name = g_strdup_printf ("fan-out-%u",
        stream->fan_out_helpers->len + 1);

    h->stream = stream;
    h->worker = stream->fan_out_helpers->len + 1;
    h->queue = g_async_queue_new ();
    h->thread = g_thread_new (name, fan_out_helper_run, h);
    g_free (name);
    g_ptr_array_add (stream->fan_out_helpers, h);
    GST_INFO ("leg %s m-line %u: fan-out helper %u started",
        stream->leg->name, stream->mline, h->worker);
  }
  stream->fan_out_load[best]++;
  return best;
}

/* Reader lock held: @buffer to the outputs of @worker. */
static void
fan_out (OtcPublisherStream * stream, GstBuffer * buffer, guint worker)
{
  GstMapInfo map;
  guint32 rtp_time, ssrc;
  gint64 now;
  guint i;

  if (!gst_buffer_map (buffer, &map, GST_MAP_READ))
    return;
  if (map.size < 12) {
    gst_buffer_unmap (buffer, &map);
    return;
  }
  /* what the sender reports need, once per packet */
  rtp_time = GST_READ_UINT32_BE (map.data + 4);
  /* (the SSRC received, which may differ from the one signalled) */
  ssrc = GST_READ_UINT32_BE (map.data + 8);
  now = g_get_monotonic_time ();
  for (i = 0; i < stream->direct_outputs->len; i++) {
    OtcOutput *out = g_ptr_array_index (stream->direct_outputs, i);
    OtcMediaLeg *leg = out->leg;

    if (out->worker != worker || !g_atomic_int_get (&leg->connected)
        || g_atomic_int_get (&out->failed))
      continue;
    if (G_UNLIKELY (!g_atomic_int_get (&out->started)))
      otc_media_output_start (out);
    if (otc_srtp_transport_send_rtp (leg->transport, map.data, map.size)) {
      g_mutex_lock (&leg->direct_lock);
      out->packets++;
      out->octets += map.size - 12;
      out->last_rtp_time = rtp_time;
      out->ssrc = ssrc;
      out->last_send = now;
      g_mutex_unlock (&leg->direct_lock);
    }
  }
  gst_buffer_unmap (buffer, &map);
}

/* The tee's sink pad, streaming thread: every packet of the stream goes to
 * the direct legs, then on to the tee (webrtcbin legs, recordings). */
static void
fan_out_all (OtcPublisherStream * stream, GstBuffer * buffer)
{
  guint i;

  /* the helpers first: they work while this thread does its share */
  for (i = 0; i < stream->fan_out_helpers->len; i++) {
    OtcFanOutHelper *h = g_ptr_array_index (stream->fan_out_helpers, i);

    if (stream->fan_out_load[h->worker] > 0
        && g_async_queue_length (h->queue) < FAN_OUT_MAX_QUEUED)
      g_async_queue_push (h->queue, gst_buffer_ref (buffer));
  }
  fan_out (stream, buffer, 0);
}

static GstPadProbeReturn
fan_out_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  OtcPublisherStream *stream = user_data;

  pthread_rwlock_rdlock (&stream->direct_lock);
  if (stream->direct_outputs->len > 0) {
    if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
      GstBufferList *list = GST_PAD_PROBE_INFO_BUFFER_LIST (info);
      guint i, n = gst_buffer_list_length (list);

      for (i = 0; i < n; i++)
        fan_out_all (stream, gst_buffer_list_get (list, i));
    } else {
      fan_out_all (stream, GST_PAD_PROBE_INFO_BUFFER (info));
    }
  }
  pthread_rwlock_unlock (&stream->direct_lock);
  return GST_PAD_PROBE_OK;
}

void
otc_direct_stream_attach (OtcPublisherStream * stream, GstPad * tee_sink)
{
  gst_pad_add_probe (tee_sink, GST_PAD_PROBE_TYPE_BUFFER |
      GST_PAD_PROBE_TYPE_BUFFER_LIST, fan_out_probe, stream, NULL);
}

/* Context thread. */
void
otc_direct_output_link (OtcOutput * out, OtcPublisherStream * stream)
{
  const GstStructure *s;
  gint rate = 0;
  guint ssrc = 0;

  g_mutex_lock (&out->publisher->media->lock);
  s = stream->caps ? gst_caps_get_structure (stream->caps, 0) : NULL;
  if (s) {
    gst_structure_get_int (s, "clock-rate", &rate);
    gst_structure_get_uint (s, "ssrc", &ssrc);
  }
  g_mutex_unlock (&out->publisher->media->lock);
  g_mutex_lock (&out->leg->direct_lock);
  out->clock_rate = rate > 0 ? rate : 90000;
  out->ssrc = ssrc;
  g_mutex_unlock (&out->leg->direct_lock);

  pthread_rwlock_wrlock (&stream->direct_lock);
  out->worker = fan_out_assign (stream);
  g_ptr_array_add (stream->direct_outputs, otc_media_output_ref (out));
  pthread_rwlock_unlock (&stream->direct_lock);
  g_atomic_int_set (&out->linked, 1);
}

/* Context thread: once this returns, the streaming thread no longer uses
 * @out (it held the reader lock while it did). */
void
otc_direct_output_unlink (OtcOutput * out, OtcPublisherStream * stream)
{
  guint worker = out->worker;

  g_atomic_int_set (&out->linked, 0);
  pthread_rwlock_wrlock (&stream->direct_lock);
  /* (the caller still holds @out) */
  if (g_ptr_array_remove (stream->direct_outputs, out))
    stream->fan_out_load[worker]--;
  pthread_rwlock_unlock (&stream->direct_lock);
}

/* ------------------------------------------------------------------------ */
/* RTCP */

/* A sender report and a CNAME for each stream that has sent, in one
 * compound packet per stream (RFC 3550 6.1). The NTP time is the router's
 * wall clock; the RTP time is the last packet's, advanced by the time
 * since it went out (the publisher's timestamps follow its clock). */
static gboolean
report_cb (gpointer data)
{
  OtcMediaLeg *leg = data;
  gint64 now_mono = g_get_monotonic_time ();
  gint64 now_real = g_get_real_time ();
  guint64 ntp_sec = now_real / G_USEC_PER_SEC + NTP_UNIX_OFFSET;
  guint64 ntp_frac = ((guint64) (now_real % G_USEC_PER_SEC) << 32) /
      G_USEC_PER_SEC;
  guint i;

  if (leg->outputs == NULL || !g_atomic_int_get (&leg->connected))
    return G_SOURCE_CONTINUE;
  for (i = 0; i < leg->outputs->len; i++) {
    OtcOutput *out = g_ptr_array_index (leg->outputs, i);
    guint8 pkt[28 + 8 + 2 + sizeof (CNAME) + 4];
    guint32 rtp_time, packets, octets, ssrc;
    gsize sdes_len, len;

    g_mutex_lock (&leg->direct_lock);
    if (out->last_send == 0) {
      g_mutex_unlock (&leg->direct_lock);
      continue;
    }
    rtp_time = out->last_rtp_time + (guint32) ((now_mono - out->last_send) *
        (gint64) out->clock_rate / G_USEC_PER_SEC);
    packets = out->packets;
    octets = out->octets;
    ssrc = out->ssrc;
    g_mutex_unlock (&leg->direct_lock);

    memset (pkt, 0, sizeof pkt);
    pkt[0] = 0x80;              /* V=2, no report blocks */
    pkt[1] = 200;
    GST_WRITE_UINT16_BE (pkt + 2, 6);
    GST_WRITE_UINT32_BE (pkt + 4, ssrc);
    GST_WRITE_UINT32_BE (pkt + 8, (guint32) ntp_sec);
    GST_WRITE_UINT32_BE (pkt + 12, (guint32) ntp_frac);
    GST_WRITE_UINT32_BE (pkt + 16, rtp_time);
    GST_WRITE_UINT32_BE (pkt + 20, packets);
    GST_WRITE_UINT32_BE (pkt + 24, octets);
    /* SDES: one chunk, CNAME, END, padded to 32 bits */
    sdes_len = 4 + 4 + 2 + strlen (CNAME) + 1;
    sdes_len = (sdes_len + 3) & ~3;
    pkt[28] = 0x81;
    pkt[29] = 202;
    GST_WRITE_UINT16_BE (pkt + 30, sdes_len / 4 - 1);
    GST_WRITE_UINT32_BE (pkt + 32, ssrc);
    pkt[36] = 1;
    pkt[37] = strlen (CNAME);
    memcpy (pkt + 38, CNAME, strlen (CNAME));
    len = 28 + sdes_len;
    otc_srtp_transport_send_rtcp (leg->transport, pkt, len);
  }
  return G_SOURCE_CONTINUE;
}

/* The publisher stream whose SSRC a subscriber's feedback names. */
static OtcPublisherStream *
stream_for_ssrc (OtcMediaLeg * leg, guint32 ssrc)
{
  OtcRouterMedia *media = leg->media;
  OtcPublisherStream *found = NULL;
  guint i;

  g_mutex_lock (&media->lock);
  for (i = 0; leg->publisher && i < leg->publisher->streams->len; i++) {
    OtcPublisherStream *s = g_ptr_array_index (leg->publisher->streams, i);

    if (s->ssrc_known && s->ssrc == ssrc)
      found = s;
  }
  g_mutex_unlock (&media->lock);
  return found;
}

static void
feedback_for (OtcMediaLeg * leg, guint32 ssrc, const gchar * what)
{
  OtcPublisherStream *stream = stream_for_ssrc (leg, ssrc);

  if (stream == NULL) {
    GST_LOG ("leg %s: %s for unknown SSRC %u", leg->name, what, ssrc);
    return;
  }
  GST_DEBUG ("leg %s: %s from the subscriber", leg->name, what);
  otc_publisher_stream_request_keyframe (stream, what);
}

/* Context thread: the subscriber's compound RTCP (RR, PLI, FIR, ...). */
static void
transport_rtcp (OtcSrtpTransport * t, const guint8 * data, gsize len,
    gpointer user_data)
{
  OtcMediaLeg *leg = user_data;
  gsize off = 0;

  if (leg->torn_down)
    return;
  while (off + 4 <= len) {
    guint fmt = data[off] & 0x1f;
    guint pt = data[off + 1];
    gsize plen = ((gsize) GST_READ_UINT16_BE (data + off + 2) + 1) * 4;

    if ((data[off] >> 6) != 2 || off + plen > len)
      break;
    if (pt == 206 && plen >= 12) {      /* payload-specific feedback */
      if (fmt == 1) {
        feedback_for (leg, GST_READ_UINT32_BE (data + off + 8), "PLI");
      } else if (fmt == 4) {
        gsize fci;

        for (fci = off + 12; fci + 8 <= off + plen; fci += 8)
          feedback_for (leg, GST_READ_UINT32_BE (data + fci), "FIR");
      }
    }
    off += plen;
  }
}

/* ------------------------------------------------------------------------ */
/* the transport's callbacks (context thread) */

static void
transport_candidate (OtcSrtpTransport * t, const gchar * candidate,
    gpointer user_data)
{
  /* bundled: one transport, announced on the first m-line */
  otc_media_leg_add_local_candidate (user_data, 0, candidate);
}

static void
transport_connected (OtcSrtpTransport * t, gpointer user_data)
{
  OtcMediaLeg *leg = user_data;

  GST_INFO ("leg %s: connected (direct)", leg->name);
  g_atomic_int_set (&leg->connected, 1);
}

static void
transport_failed (OtcSrtpTransport * t, const gchar * reason,
    gpointer user_data)
{
  otc_media_leg_fail_async (user_data, reason);
}

/* ------------------------------------------------------------------------ */
/* the leg */

gboolean
otc_direct_leg_init (OtcMediaLeg * leg, GError ** error)
{
  static const OtcSrtpTransportCallbacks callbacks = {
    transport_candidate, transport_connected, transport_failed, transport_rtcp
  };
  OtcRouterMedia *media = leg->media;
  OtcDtlsIdentity *identity;

  g_mutex_init (&leg->direct_lock);
  if (media->dtls_identity == NULL) {
    GError *err = NULL;

    media->dtls_identity = otc_dtls_identity_new (&err);
    if (media->dtls_identity == NULL) {
      g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
          OTC_ROUTER_MEDIA_ERROR_FAILED, "%s", err->message);
      g_clear_error (&err);
      return FALSE;
    }
  }
  identity = media->dtls_identity;
  /* the transport's callbacks use the leg: they stop with
   * otc_direct_leg_teardown(), before the leg goes */
  leg->transport = otc_srtp_transport_new (media->context,
      (const gchar * const *) media->ice_addresses, identity, &callbacks, leg,
      NULL);
  if (leg->transport == NULL) {
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR, OTC_ROUTER_MEDIA_ERROR_FAILED,
        "could not make the subscriber's transport");
    return FALSE;
  }
  if (media->connect_timeout_s > 0)
    otc_srtp_transport_set_connect_timeout (leg->transport,
        media->connect_timeout_s);
  leg->report_timer = g_timeout_source_new (REPORT_INTERVAL_MS);
  g_source_set_callback (leg->report_timer, report_cb, leg, NULL);
  g_source_attach (leg->report_timer, media->context);
  return TRUE;
}

/* Context thread, after the outputs are unlinked (nothing sends now). */
void
otc_direct_leg_teardown (OtcMediaLeg * leg)
{
  if (leg->report_timer) {
    g_source_destroy (leg->report_timer);
    g_clear_pointer (&leg->report_timer, g_source_unref);
  }
  g_atomic_int_set (&leg->connected, 0);
  g_clear_pointer (&leg->transport, otc_srtp_transport_free);
}

static void
media_add_attr (GstSDPMedia * m, const gchar * key, const gchar * value)
{
  gst_sdp_media_add_attribute (m, key, value);
}

/* The offer: one m-line per publisher stream, bundled on one transport,
 * with the publisher's payload type, codec and SSRC. */
gchar *
otc_direct_leg_make_offer (OtcMediaLeg * leg, GPtrArray * caps,
    GError ** error)
{
  GstSDPMessage *msg;
  GString *bundle = g_string_new ("BUNDLE");
  const gchar *fingerprint =
      otc_dtls_identity_get_fingerprint (leg->media->dtls_identity);
  gchar *sess_id, *text;
  guint i;

  gst_sdp_message_new (&msg);
  gst_sdp_message_set_version (msg, "0");
  sess_id = g_strdup_printf ("%" G_GUINT64_FORMAT,
      (guint64) g_random_int () << 31 | g_random_int ());
  gst_sdp_message_set_origin (msg, "-", sess_id, "0", "IN", "IP4", "0.0.0.0");
  g_free (sess_id);
  gst_sdp_message_set_session_name (msg, "-");
  gst_sdp_message_add_time (msg, "0", "0", NULL);
  gst_sdp_message_add_attribute (msg, "ice-options", "trickle");

  for (i = 0; i < caps->len; i++) {
    GstCaps *c = g_ptr_array_index (caps, i);
    const GstStructure *s = gst_caps_get_structure (c, 0);
    const gchar *kind = gst_structure_get_string (s, "media");
    GstSDPMedia *m;
    guint ssrc = 0;
    gchar *mid, *v;

    gst_sdp_media_new (&m);
    if (gst_sdp_media_set_media_from_caps (c, m) != GST_SDP_OK
        || kind == NULL || !gst_structure_get_uint (s, "ssrc", &ssrc)) {
      gst_sdp_media_free (m);
      gst_sdp_message_free (msg);
      g_string_free (bundle, TRUE);
      g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
          OTC_ROUTER_MEDIA_ERROR_FAILED, "no SDP for stream %u's caps", i);
      return NULL;
    }
    gst_sdp_media_set_port_info (m, 9, 0);
    gst_sdp_media_set_proto (m, "UDP/TLS/RTP/SAVPF");
    gst_sdp_media_add_connection (m, "IN", "IP4", "0.0.0.0", 0, 0);
    mid = g_strdup_printf ("%s%u", kind, i);
    g_string_append_printf (bundle, " %s", mid);
    media_add_attr (m, "setup", "actpass");
    media_add_attr (m, "ice-ufrag",
        otc_srtp_transport_get_ice_ufrag (leg->transport));
    media_add_attr (m, "ice-pwd",
        otc_srtp_transport_get_ice_pwd (leg->transport));
    media_add_attr (m, "fingerprint", fingerprint);
    media_add_attr (m, "rtcp-mux", NULL);
    media_add_attr (m, "sendonly", NULL);
    media_add_attr (m, "mid", mid);
    v = g_strdup_printf ("%u msid:%s %s", ssrc, leg->stream_id, mid);
    media_add_attr (m, "ssrc", v);
    g_free (v);
    v = g_strdup_printf ("%u cname:%s", ssrc, CNAME);
    media_add_attr (m, "ssrc", v);
    g_free (v);
    g_free (mid);
    gst_sdp_message_add_media (msg, m);
    gst_sdp_media_free (m);
  }
  gst_sdp_message_add_attribute (msg, "group", bundle->str);
  g_string_free (bundle, TRUE);
  text = gst_sdp_message_as_text (msg);
  gst_sdp_message_free (msg);
  return text;
}

/* a=KEY of the media, else of the session */
static const gchar *
answer_attr (const GstSDPMessage * answer, const GstSDPMedia * m,
    const gchar * key)
{
  const gchar *v = gst_sdp_media_get_attribute_val (m, key);

  return v ? v : gst_sdp_message_get_attribute_val (answer, key);
}

gboolean
otc_direct_leg_set_answer (OtcMediaLeg * leg, const GstSDPMessage * answer,
    GError ** error)
{
  const GstSDPMedia *m = gst_sdp_message_get_media (answer, 0);
  GError *err = NULL;
  guint i, j;

  /* bundled: the first m-line's transport is the transport */
  if (!otc_srtp_transport_set_remote (leg->transport,
          answer_attr (answer, m, "ice-ufrag"), answer_attr (answer, m,
              "ice-pwd"), answer_attr (answer, m, "fingerprint"),
          answer_attr (answer, m, "setup"), &err)) {
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
        OTC_ROUTER_MEDIA_ERROR_INVALID_SDP, "%s", err->message);
    g_clear_error (&err);
    return FALSE;
  }
  /* candidates in the answer itself (a peer that does not trickle) */
  for (i = 0; i < gst_sdp_message_medias_len (answer); i++) {
    const GstSDPMedia *mm = gst_sdp_message_get_media (answer, i);

    for (j = 0; j < gst_sdp_media_attributes_len (mm); j++) {
      const GstSDPAttribute *a = gst_sdp_media_get_attribute (mm, j);

      if (g_strcmp0 (a->key, "candidate") == 0 && a->value) {
        gchar *c = g_strconcat ("candidate:", a->value, NULL);

        otc_srtp_transport_add_remote_candidate (leg->transport, c);
        g_free (c);
      }
    }
  }
  return TRUE;
}

void
otc_direct_leg_add_remote_candidate (OtcMediaLeg * leg,
    const gchar * candidate)
{
  if (leg->transport)
    otc_srtp_transport_add_remote_candidate (leg->transport, candidate);
}
