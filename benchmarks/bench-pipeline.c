/* Sections 2 and 3: what a pair of elements adds per frame.
 *
 * appsrc ! A ! B ! fakesink, frames pushed as fast as the pipeline takes
 * them. Each frame is made and pushed from appsrc's need-data callback,
 * which runs on appsrc's own streaming thread: creating the buffer, the
 * two elements and the sink then all run on one thread, one frame at a
 * time, and the time from the first push of a round to the arrival of its
 * last frame at the sink is the cost of the whole chain, with no queue or
 * thread hand-over in it. The same is measured with identity ! identity;
 * the difference is what the pair adds. Rounds of the pipelines alternate
 * and the median round counts. */
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <openssl/rand.h>
#include <string.h>

#include "bench.h"

#define FRAME_SIZE 160          /* an Opus frame, 64 kbit/s at 20 ms */
#define RTP_HEADER_SIZE 12
#define RTP_SSRC 0x0badcafe
#define WARMUP_FRAMES 2000
#define ROUND_FRAMES 20000
#define ROUNDS 7
#define ROUND_TIMEOUT_US (20 * G_USEC_PER_SEC)
#define OTC_TARGET_US 3.0

#define OPUS_CAPS "audio/x-opus,rate=48000,channels=2,channel-mapping-family=0"
#define RTP_CAPS "application/x-rtp,media=audio,clock-rate=48000," \
    "encoding-name=OPUS,payload=96,ssrc=(uint)" G_STRINGIFY (RTP_SSRC)

typedef struct
{
  const gchar *label;
  const gchar *description;
  gboolean rtp;
  GstElement *pipeline;
  GstElement *src;

  guint8 frame[RTP_HEADER_SIZE + FRAME_SIZE];
  gsize frame_size;
  guint16 seq;
  guint32 rtp_ts;

  GMutex lock;
  GCond cond;
  guint64 target;               /* frames to push so far */
  guint64 round_first;
  guint64 received;
  gboolean stop;
  gboolean eos_sent;
  gboolean output_ok;
  guint64 pushed;               /* streaming thread only */
  gint64 t_start;               /* ns, streaming thread */
  gint64 t_end;

  gdouble samples[ROUNDS];
  gdouble ns_per_frame;
  gboolean failed;
} Runner;

static GstBuffer *
runner_make_buffer (Runner * r)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, r->frame_size, NULL);
  guint8 *f = r->frame;

  if (r->rtp) {
    f[2] = r->seq >> 8;
    f[3] = r->seq & 0xff;
    f[4] = r->rtp_ts >> 24;
    f[5] = (r->rtp_ts >> 16) & 0xff;
    f[6] = (r->rtp_ts >> 8) & 0xff;
    f[7] = r->rtp_ts & 0xff;
    r->seq++;
    r->rtp_ts += 960;
  }
  gst_buffer_fill (buf, 0, f, r->frame_size);
  return buf;
}

static void
runner_need_data (GstAppSrc * src, guint length, gpointer user_data)
{
  Runner *r = user_data;
  gboolean first;

  g_mutex_lock (&r->lock);
  while (r->pushed >= r->target && !r->stop)
    g_cond_wait (&r->cond, &r->lock);
  if (r->stop) {
    gboolean send_eos = !r->eos_sent;

    r->eos_sent = TRUE;
    g_mutex_unlock (&r->lock);
    if (send_eos)
      gst_app_src_end_of_stream (src);
    return;
  }
  first = r->pushed == r->round_first;
  g_mutex_unlock (&r->lock);

  if (first)
    r->t_start = bench_now_ns ();
  r->pushed++;
  gst_app_src_push_buffer (src, runner_make_buffer (r));
}

/* The last frame of a round must come out as it went in (for RTP: the
 * payload; srtpdec restores the whole packet). */
static gboolean
runner_check_output (Runner * r, GstBuffer * buf)
{
  GstMapInfo map;
  gboolean ok;

  if (!gst_buffer_map (buf, &map, GST_MAP_READ))
    return FALSE;
  ok = map.size == r->frame_size && memcmp (map.data + (r->rtp ?
          RTP_HEADER_SIZE : 0), r->frame + (r->rtp ? RTP_HEADER_SIZE : 0),
      FRAME_SIZE) == 0;
  gst_buffer_unmap (buf, &map);
  return ok;
}

static GstPadProbeReturn
runner_sink_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  Runner *r = user_data;

  g_mutex_lock (&r->lock);
  if (++r->received == r->target) {
    r->t_end = bench_now_ns ();
    r->output_ok = runner_check_output (r, GST_PAD_PROBE_INFO_BUFFER (info));
    g_cond_broadcast (&r->cond);
  }
  g_mutex_unlock (&r->lock);
  return GST_PAD_PROBE_OK;
}

static void
runner_report_bus (Runner * r)
{
  GstBus *bus = gst_element_get_bus (r->pipeline);
  GstMessage *msg;

  while ((msg = gst_bus_pop_filtered (bus,
              GST_MESSAGE_ERROR | GST_MESSAGE_WARNING)) != NULL) {
    GError *err = NULL;
    gchar *dbg = NULL;

    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR)
      gst_message_parse_error (msg, &err, &dbg);
    else
      gst_message_parse_warning (msg, &err, &dbg);
    g_printerr ("    %s: %s (%s)\n", GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)),
        err->message, dbg ? dbg : "");
    g_clear_error (&err);
    g_free (dbg);
    gst_message_unref (msg);
  }
  gst_object_unref (bus);
}

/* Pushes @n frames; returns ns per frame, or -1. */
static gdouble
runner_round (Runner * r, guint n)
{
  gint64 deadline = g_get_monotonic_time () + ROUND_TIMEOUT_US;
  gboolean done = TRUE;

  g_mutex_lock (&r->lock);
  r->round_first = r->target;
  r->target += n;
  r->output_ok = FALSE;
  g_cond_broadcast (&r->cond);
  while (r->received < r->target && done)
    done = g_cond_wait_until (&r->cond, &r->lock, deadline);
  done = r->received >= r->target && r->output_ok;
  g_mutex_unlock (&r->lock);

  if (!done) {
    g_printerr ("  %s: %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
        " frames arrived%s\n", r->label, r->received, r->target,
        r->received >= r->target ? ", but altered" : "");
    runner_report_bus (r);
    return -1;
  }
  return (gdouble) (r->t_end - r->t_start) / n;
}

static void
runner_free (Runner * r)
{
  if (r->pipeline != NULL) {
    GstBus *bus = gst_element_get_bus (r->pipeline);
    GstMessage *msg;

    g_mutex_lock (&r->lock);
    r->stop = TRUE;
    g_cond_broadcast (&r->cond);
    g_mutex_unlock (&r->lock);
    msg = gst_bus_timed_pop_filtered (bus, 5 * GST_SECOND,
        GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
    if (msg != NULL)
      gst_message_unref (msg);
    gst_object_unref (bus);
    gst_element_set_state (r->pipeline, GST_STATE_NULL);
    gst_object_unref (r->src);
    gst_object_unref (r->pipeline);
  }
  g_mutex_clear (&r->lock);
  g_cond_clear (&r->cond);
  g_free (r);
}

/* @middle: the two elements under test, named a and b. */
static Runner *
runner_new (const gchar * label, const gchar * description, gboolean rtp,
    const gchar * middle)
{
  Runner *r = g_new0 (Runner, 1);
  GstAppSrcCallbacks callbacks = { 0 };
  GError *error = NULL;
  GstElement *sink;
  GstPad *pad;
  gchar *desc;

  r->label = label;
  r->description = description;
  r->rtp = rtp;
  g_mutex_init (&r->lock);
  g_cond_init (&r->cond);

  r->frame_size = (rtp ? RTP_HEADER_SIZE : 0) + FRAME_SIZE;
  RAND_bytes (r->frame, sizeof (r->frame));
  if (rtp) {
    r->frame[0] = 0x80;         /* V=2 */
    r->frame[1] = 96;           /* PT */
    r->frame[8] = (RTP_SSRC >> 24) & 0xff;
    r->frame[9] = (RTP_SSRC >> 16) & 0xff;
    r->frame[10] = (RTP_SSRC >> 8) & 0xff;
    r->frame[11] = RTP_SSRC & 0xff;
  }
  r->frame[rtp ? RTP_HEADER_SIZE : 0] = 0xfc;   /* Opus TOC byte */

  desc = g_strdup_printf ("appsrc name=src format=time caps=\"%s\" "
      "! %s ! fakesink name=sink sync=false silent=true",
      rtp ? RTP_CAPS : OPUS_CAPS, middle);
  r->pipeline = gst_parse_launch (desc, &error);
  g_free (desc);
  if (r->pipeline == NULL) {
    g_printerr ("  %s: %s\n", label, error->message);
    g_error_free (error);
    runner_free (r);
    return NULL;
  }
  g_clear_error (&error);       /* a non-fatal warning */

  r->src = gst_bin_get_by_name (GST_BIN (r->pipeline), "src");
  callbacks.need_data = runner_need_data;
  gst_app_src_set_callbacks (GST_APP_SRC (r->src), &callbacks, r, NULL);

  sink = gst_bin_get_by_name (GST_BIN (r->pipeline), "sink");
  pad = gst_element_get_static_pad (sink, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, runner_sink_probe, r,
      NULL);
  gst_object_unref (pad);
  gst_object_unref (sink);
  return r;
}

static gboolean
runner_start (Runner * r)
{
  if (gst_element_set_state (r->pipeline,
          GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    g_printerr ("  %s: could not start\n", r->label);
    runner_report_bus (r);
    return FALSE;
  }
  return runner_round (r, WARMUP_FRAMES) >= 0;
}

static GstElement *
runner_get (Runner * r, const gchar * name)
{
  return gst_bin_get_by_name (GST_BIN (r->pipeline), name);
}

static void
set_otc_secret (Runner * r)
{
  GstElement *a = runner_get (r, "a"), *b = runner_get (r, "b");

  g_object_set (a, "encryption-secret", "otc benchmark secret", NULL);
  g_object_set (b, "encryption-secret", "otc benchmark secret", NULL);
  gst_object_unref (a);
  gst_object_unref (b);
}

/* SRTP master key (16 or 32 bytes) + master salt (14 bytes). */
static void
set_srtp_key (Runner * r, gsize key_len)
{
  GstElement *a = runner_get (r, "a");
  guint8 key[46];
  GstBuffer *buf;

  RAND_bytes (key, sizeof (key));
  buf = gst_buffer_new_memdup (key, key_len + 14);
  g_object_set (a, "key", buf, NULL);
  gst_buffer_unref (buf);
  gst_object_unref (a);
}

static guint64
stats_uint64 (Runner * r, const gchar * element, const gchar * field)
{
  GstElement *e = runner_get (r, element);
  GstStructure *s = NULL;
  guint64 v = 0;

  g_object_get (e, "stats", &s, NULL);
  if (s != NULL) {
    gst_structure_get_uint64 (s, field, &v);
    gst_structure_free (s);
  }
  gst_object_unref (e);
  return v;
}

static gboolean
element_available (const gchar * name)
{
  GstElementFactory *f = gst_element_factory_find (name);

  if (f == NULL)
    return FALSE;
  gst_object_unref (f);
  return TRUE;
}

enum
{
  RUN_IDENTITY_OPUS,
  RUN_OTC,
  RUN_IDENTITY_RTP,
  RUN_SRTP_128,
  RUN_SRTP_256,
  N_RUNS
};

static void
print_row (Runner * r, Runner * base)
{
  if (r == NULL)
    return;
  if (r == base)
    g_print ("  %-52s %9.3f %9s\n", r->description, r->ns_per_frame / 1e3, "-");
  else
    g_print ("  %-52s %9.3f %9.3f\n", r->description,
        r->ns_per_frame / 1e3, (r->ns_per_frame - base->ns_per_frame) / 1e3);
}

gboolean
bench_elements_run (gboolean with_srtp)
{
  Runner *runs[N_RUNS] = { NULL };
  gboolean ok = TRUE;
  guint i, round;

  g_print ("== 2. otcencrypt ! otcdecrypt against identity ! identity ==\n");
  if (!element_available ("otcencrypt") || !element_available ("otcdecrypt")) {
    g_print ("  otcencrypt/otcdecrypt not found in %s: run ninja -C build "
        "first\n\n", OTC_PLUGIN_DIR);
    return FALSE;
  }
  if (with_srtp && (!element_available ("srtpenc")
          || !element_available ("srtpdec"))) {
    g_print ("  (srtpenc/srtpdec not installed: section 3 skipped)\n");
    with_srtp = FALSE;
  }

  runs[RUN_IDENTITY_OPUS] = runner_new ("identity-opus",
      "appsrc ! identity ! identity ! fakesink", FALSE,
      "identity name=a silent=true ! identity name=b silent=true");
  runs[RUN_OTC] = runner_new ("otc",
      "appsrc ! otcencrypt ! otcdecrypt ! fakesink", FALSE,
      "otcencrypt name=a ! otcdecrypt name=b");
  if (runs[RUN_OTC] != NULL)
    set_otc_secret (runs[RUN_OTC]);
  if (with_srtp) {
    runs[RUN_IDENTITY_RTP] = runner_new ("identity-rtp",
        "appsrc ! identity ! identity ! fakesink", TRUE,
        "identity name=a silent=true ! identity name=b silent=true");
    runs[RUN_SRTP_128] = runner_new ("srtp-128",
        "srtpenc ! srtpdec  AES_CM_128_HMAC_SHA1_80", TRUE,
        "srtpenc name=a rtp-cipher=aes-128-icm rtp-auth=hmac-sha1-80 "
        "rtcp-cipher=aes-128-icm rtcp-auth=hmac-sha1-80 ! srtpdec name=b");
    runs[RUN_SRTP_256] = runner_new ("srtp-256",
        "srtpenc ! srtpdec  AES_256_CM_HMAC_SHA1_80", TRUE,
        "srtpenc name=a rtp-cipher=aes-256-icm rtp-auth=hmac-sha1-80 "
        "rtcp-cipher=aes-256-icm rtcp-auth=hmac-sha1-80 ! srtpdec name=b");
    if (runs[RUN_SRTP_128] != NULL)
      set_srtp_key (runs[RUN_SRTP_128], 16);
    if (runs[RUN_SRTP_256] != NULL)
      set_srtp_key (runs[RUN_SRTP_256], 32);
  }

  for (i = 0; i < N_RUNS; i++) {
    if (runs[i] != NULL && !runner_start (runs[i]))
      runs[i]->failed = TRUE;
  }
  for (round = 0; round < ROUNDS; round++) {
    for (i = 0; i < N_RUNS; i++) {
      Runner *r = runs[i];

      if (r == NULL || r->failed)
        continue;
      r->samples[round] = runner_round (r, ROUND_FRAMES);
      r->failed = r->samples[round] < 0;
    }
  }
  for (i = 0; i < N_RUNS; i++) {
    if (runs[i] == NULL && (i <= RUN_OTC || with_srtp))
      ok = FALSE;
    if (runs[i] == NULL)
      continue;
    if (runs[i]->failed) {
      ok = FALSE;
      g_print ("  %s: measurement FAILED\n", runs[i]->description);
      continue;
    }
    runs[i]->ns_per_frame = bench_median (runs[i]->samples, ROUNDS);
  }

  g_print ("%d-byte Opus-like frames (TOC byte 0xfc, caps audio/x-opus), "
      "pushed from appsrc's\nneed-data callback on its streaming thread; "
      "fakesink sync=false; median of %d rounds\nof %d frames after %d "
      "warm-up frames\n\n", FRAME_SIZE, ROUNDS, ROUND_FRAMES, WARMUP_FRAMES);
  g_print ("  %-52s %9s %9s\n", "pipeline", "us/frame", "added");
  if (runs[RUN_IDENTITY_OPUS] && runs[RUN_OTC]
      && !runs[RUN_IDENTITY_OPUS]->failed && !runs[RUN_OTC]->failed) {
    gdouble added;
    gchar *value;

    print_row (runs[RUN_IDENTITY_OPUS], runs[RUN_IDENTITY_OPUS]);
    print_row (runs[RUN_OTC], runs[RUN_IDENTITY_OPUS]);
    added = (runs[RUN_OTC]->ns_per_frame -
        runs[RUN_IDENTITY_OPUS]->ns_per_frame) / 1e3;
    g_print ("\n  otcdecrypt frames-out %" G_GUINT64_FORMAT ", "
        "frames-auth-failed %" G_GUINT64_FORMAT "\n",
        stats_uint64 (runs[RUN_OTC], "b", "frames-out"),
        stats_uint64 (runs[RUN_OTC], "b", "frames-auth-failed"));
    g_print ("  target: <= %.1f us added per 160-byte frame: %.2f us, %s\n",
        OTC_TARGET_US, added, bench_verdict (added <= OTC_TARGET_US));
    value = g_strdup_printf ("%.2f us", added);
    bench_target_add ("2", "otc pair adds <= 3 us per 160-byte frame", value,
        added <= OTC_TARGET_US);
    g_free (value);
  }
  g_print ("\n");

  if (with_srtp) {
    Runner *base = runs[RUN_IDENTITY_RTP];

    g_print ("== 3. srtpenc ! srtpdec on the same media ==\n");
    g_print ("RTP packets of a 12-byte header and the same %d-byte payload "
        "(caps application/x-rtp,\nencoding-name=OPUS); srtpdec keyed from "
        "srtpenc's caps; measured as in section 2,\nin the same rounds\n\n",
        FRAME_SIZE);
    g_print ("  %-52s %9s %9s\n", "pipeline", "us/packet", "added");
    if (base != NULL && !base->failed) {
      for (i = RUN_IDENTITY_RTP; i < N_RUNS; i++) {
        if (runs[i] != NULL && !runs[i]->failed)
          print_row (runs[i], base);
      }
      if (runs[RUN_OTC] != NULL && !runs[RUN_OTC]->failed
          && !runs[RUN_IDENTITY_OPUS]->failed) {
        g_print ("  %-52s %9.3f %9.3f\n",
            "otcencrypt ! otcdecrypt  (section 2, per frame)",
            runs[RUN_OTC]->ns_per_frame / 1e3,
            (runs[RUN_OTC]->ns_per_frame -
                runs[RUN_IDENTITY_OPUS]->ns_per_frame) / 1e3);
      }
    }
    g_print ("\n");
  }

  for (i = 0; i < N_RUNS; i++) {
    if (runs[i] != NULL)
      runner_free (runs[i]);
  }
  return ok;
}
