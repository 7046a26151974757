/* Real encoders through the transform and stock RTP payloaders:
 *   vp8enc ! otcencrypt ! rtpvp8pay ! rtpvp8depay ! otcdecrypt
 *   opusenc ! otcencrypt ! rtpopuspay ! rtpopusdepay ! otcdecrypt
 * Every decrypted frame is byte-identical to the encoder's output, every
 * protected frame has exactly the clear prefix the policy chose, and the
 * payloaders never fail. */
#include <string.h>

#include "otc-test-util.h"

#define SECRET "pipeline test secret"

typedef struct
{
  OtcCodec codec;
  GPtrArray *plain;             /* encoder output, in order */
  guint protected_checked;
  guint min_clear;
  guint max_clear;
  guint64 clear_total;
  guint out;
  guint mismatched;
  gboolean bad_clear;
} Capture;

static GstPadProbeReturn
plain_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  Capture *c = user_data;

  g_ptr_array_add (c->plain, gst_buffer_copy_deep (GST_PAD_PROBE_INFO_BUFFER
          (info)));
  return GST_PAD_PROBE_OK;
}

/* Each protected frame: the footer holds the policy's clear length, the
 * clear prefix equals the plaintext, and the rest is not the plaintext. */
static GstPadProbeReturn
protected_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  Capture *c = user_data;
  GstBuffer *p = GST_PAD_PROBE_INFO_BUFFER (info);
  GstBuffer *plain = g_ptr_array_index (c->plain, c->protected_checked);
  GstMapInfo pm, fm;
  guint expect_clear = 0;

  gst_buffer_map (p, &pm, GST_MAP_READ);
  gst_buffer_map (plain, &fm, GST_MAP_READ);
  if (!otc_codec_clear_length (c->codec, fm.data, fm.size, &expect_clear,
          NULL) || pm.data[pm.size - 1] != expect_clear
      || memcmp (pm.data, fm.data, expect_clear) != 0)
    c->bad_clear = TRUE;
  /* the encrypted part must not carry the plaintext */
  if (fm.size > expect_clear + 16
      && memcmp (pm.data + pm.size - 1 - 10 - 16, fm.data + fm.size - 16,
          16) == 0)
    c->bad_clear = TRUE;
  c->min_clear = MIN (c->min_clear, expect_clear);
  c->max_clear = MAX (c->max_clear, expect_clear);
  c->clear_total += expect_clear;
  gst_buffer_unmap (plain, &fm);
  gst_buffer_unmap (p, &pm);
  c->protected_checked++;
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn
out_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  Capture *c = user_data;
  GstBuffer *b = GST_PAD_PROBE_INFO_BUFFER (info);
  GstMapInfo m, fm;

  if (c->out < c->plain->len) {
    GstBuffer *plain = g_ptr_array_index (c->plain, c->out);
    gst_buffer_map (b, &m, GST_MAP_READ);
    gst_buffer_map (plain, &fm, GST_MAP_READ);
    if (m.size != fm.size || memcmp (m.data, fm.data, m.size) != 0)
      c->mismatched++;
    gst_buffer_unmap (plain, &fm);
    gst_buffer_unmap (b, &m);
  } else {
    c->mismatched++;
  }
  c->out++;
  return GST_PAD_PROBE_OK;
}

static void
probe (GstElement * pipeline, const gchar * name, const gchar * pad_name,
    GstPadProbeCallback cb, Capture * c)
{
  GstElement *e = gst_bin_get_by_name (GST_BIN (pipeline), name);
  GstPad *pad = gst_element_get_static_pad (e, pad_name);

  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, cb, c, NULL);
  gst_object_unref (pad);
  gst_object_unref (e);
}

/* Runs @source ! otcencrypt ! @pay ! @depay ! otcdecrypt ! fakesink and
 * returns the number of frames that made the round trip. */
static guint
run_roundtrip (OtcCodec codec, const gchar * source, const gchar * suite,
    const gchar * pay, const gchar * depay)
{
  gchar *desc = g_strdup_printf ("%s ! otcencrypt name=enc cipher-suite=%s "
      "! %s ! %s ! otcdecrypt name=dec cipher-suite=%s "
      "! fakesink name=sink sync=false", source, suite, pay, depay, suite);
  GstElement *pipeline = gst_parse_launch (desc, NULL);
  GstElement *enc, *dec;
  Capture c = { codec, NULL, 0, G_MAXUINT, 0, 0, 0, 0, FALSE };
  GstMessage *msg;
  guint n;

  fail_unless (pipeline != NULL, "%s", desc);
  c.plain = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_buffer_unref);
  enc = gst_bin_get_by_name (GST_BIN (pipeline), "enc");
  dec = gst_bin_get_by_name (GST_BIN (pipeline), "dec");
  g_object_set (enc, "encryption-secret", SECRET, NULL);
  g_object_set (dec, "encryption-secret", SECRET, NULL);
  probe (pipeline, "enc", "sink", plain_probe, &c);
  probe (pipeline, "enc", "src", protected_probe, &c);
  probe (pipeline, "sink", "sink", out_probe, &c);

  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  msg = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (pipeline),
      300 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "timeout: %s", desc);
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    GError *err = NULL;
    gst_message_parse_error (msg, &err, NULL);
    fail ("%s: error from %s: %s", desc, GST_OBJECT_NAME (msg->src),
        err->message);
  }
  gst_message_unref (msg);
  gst_element_set_state (pipeline, GST_STATE_NULL);

  n = c.plain->len;
  GST_INFO ("%s: %u frames, clear %u..%u bytes (mean %.1f)", desc, n,
      c.min_clear, c.max_clear, n ? (double) c.clear_total / n : 0);
  fail_unless (n > 0);
  fail_if (c.bad_clear, "%s: a protected frame had the wrong clear part",
      desc);
  fail_unless_equals_int (c.protected_checked, n);
  fail_unless_equals_int (c.out, n);
  fail_unless_equals_int (c.mismatched, 0);
  fail_unless_equals_uint64 (otc_test_stats_u64 (enc, "frames-protected"), n);
  fail_unless_equals_uint64 (otc_test_stats_u64 (dec, "frames-out"), n);
  fail_unless_equals_uint64 (otc_test_stats_u64 (dec, "frames-auth-failed"),
      0);
  if (codec == OTC_CODEC_VP8)
    fail_unless (c.min_clear >= 3 && c.max_clear >= 10 && c.max_clear < 40);

  gst_object_unref (enc);
  gst_object_unref (dec);
  gst_object_unref (pipeline);
  g_ptr_array_unref (c.plain);
  g_free (desc);
  return n;
}

static const struct
{
  const gchar *source;
  const gchar *suite;
} vp8_configs[] = {
  {"videotestsrc num-buffers=700 pattern=ball "
        "! video/x-raw,width=320,height=240,framerate=30/1 "
        "! vp8enc deadline=1 keyframe-max-dist=30",
      "aes-256-ctr-hmac-sha512-80"},
  {"videotestsrc num-buffers=600 pattern=snow "
        "! video/x-raw,width=176,height=144,framerate=30/1 "
        "! vp8enc deadline=1 keyframe-max-dist=10 "
        "error-resilient=default+partitions",
      "aes-256-ctr-hmac-sha512-80"},
  {"videotestsrc num-buffers=400 pattern=smpte "
        "! video/x-raw,width=640,height=480,framerate=30/1 "
        "! vp8enc deadline=1 cpu-used=8 sharpness=7 noise-sensitivity=2 "
        "keyframe-max-dist=60",
      "aes-128-gcm-sha256-128"},
  {"videotestsrc num-buffers=120 pattern=ball "
        "! video/x-raw,width=1280,height=720,framerate=30/1 "
        "! vp8enc deadline=1 cpu-used=16 static-threshold=100 "
        "keyframe-max-dist=40",
      "aes-256-gcm-sha512-128"},
  {"videotestsrc num-buffers=300 pattern=ball "
        "! video/x-raw,width=352,height=288,framerate=30/1 "
        "! vp8enc deadline=20000 cpu-used=4 end-usage=cq cq-level=20 "
        "keyframe-max-dist=50",
      "aes-128-ctr-hmac-sha256-80"},
  {"videotestsrc num-buffers=900 pattern=pinwheel "
        "! video/x-raw,width=160,height=120,framerate=30/1 "
        "! vp8enc deadline=1 target-bitrate=40000 min-quantizer=30 "
        "max-quantizer=63 sharpness=3 keyframe-max-dist=100 "
        "error-resilient=partitions",
      "aes-256-ctr-hmac-sha512-32"},
  {"videotestsrc num-buffers=200 pattern=gamut "
        "! video/x-raw,width=640,height=360,framerate=30/1 "
        "! vp8enc deadline=1 token-partitions=1 keyframe-max-dist=25 "
        "target-bitrate=2000000",
      "aes-128-ctr-hmac-sha256-32"},
};

GST_START_TEST (test_vp8_roundtrip)
{
  guint i, total = 0;

  for (i = 0; i < G_N_ELEMENTS (vp8_configs); i++)
    total += run_roundtrip (OTC_CODEC_VP8, vp8_configs[i].source,
        vp8_configs[i].suite, "rtpvp8pay mtu=1200", "rtpvp8depay");
  GST_INFO ("%u VP8 frames", total);
  fail_unless (total >= 3000, "%u frames", total);
}

GST_END_TEST;

GST_START_TEST (test_opus_roundtrip)
{
  static const gchar *configs[] = {
    "audiotestsrc num-buffers=1200 samplesperbuffer=960 "
        "! audio/x-raw,rate=48000,channels=2 ! opusenc frame-size=20",
    "audiotestsrc num-buffers=1000 samplesperbuffer=480 wave=pink-noise "
        "! audio/x-raw,rate=48000,channels=1 ! opusenc frame-size=10 "
        "bitrate=24000",
    "audiotestsrc num-buffers=300 samplesperbuffer=2880 "
        "! audio/x-raw,rate=48000,channels=2 ! opusenc frame-size=60 "
        "bitrate=128000 audio-type=restricted-lowdelay",
    "audiotestsrc num-buffers=600 samplesperbuffer=960 wave=silence "
        "! audio/x-raw,rate=48000,channels=1 ! opusenc frame-size=20 dtx=true",
    "audiotestsrc num-buffers=400 samplesperbuffer=120 "
        "! audio/x-raw,rate=48000,channels=1 ! opusenc frame-size=2.5",
  };
  guint i, total = 0;

  for (i = 0; i < G_N_ELEMENTS (configs); i++)
    total += run_roundtrip (OTC_CODEC_OPUS, configs[i],
        i % 2 ? "aes-128-gcm-sha256-128" : "aes-256-ctr-hmac-sha512-80",
        "rtpopuspay", "rtpopusdepay");
  GST_INFO ("%u Opus frames", total);
  fail_unless (total >= 3000, "%u frames", total);
}

GST_END_TEST;

/* vp8enc token-partitions > 0: rtpvp8pay would need the partition table,
 * which sits after the first partition. Refused with a clear error. */
GST_START_TEST (test_vp8_token_partitions_refused)
{
  guint tp;

  /* vp8enc's nicks: "2", "4", "8" partitions */
  for (tp = 2; tp <= 8; tp *= 2) {
    gchar *desc = g_strdup_printf ("videotestsrc num-buffers=10 "
        "! video/x-raw,width=320,height=240 ! vp8enc token-partitions=%u "
        "! otcencrypt name=enc encryption-secret=\"" SECRET "\" "
        "! rtpvp8pay ! fakesink", tp);
    GstElement *pipeline = gst_parse_launch (desc, NULL);
    GstBus *bus = gst_element_get_bus (pipeline);
    GstMessage *msg;
    GError *err = NULL;
    GList *msgs = NULL;
    gint code = 0;

    gst_element_set_state (pipeline, GST_STATE_PLAYING);
    /* the element message comes before the error; keep both */
    for (;;) {
      msg = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND,
          GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_ELEMENT);
      fail_unless (msg != NULL);
      if (GST_MESSAGE_TYPE (msg) != GST_MESSAGE_ELEMENT)
        break;
      if (gst_structure_has_name (gst_message_get_structure (msg),
              "otc-encryption-unsupported-codec"))
        msgs = g_list_append (msgs,
            gst_structure_copy (gst_message_get_structure (msg)));
      gst_message_unref (msg);
    }
    fail_unless_equals_int (GST_MESSAGE_TYPE (msg), GST_MESSAGE_ERROR);
    fail_unless_equals_string (GST_OBJECT_NAME (msg->src), "enc");
    gst_message_parse_error (msg, &err, NULL);
    fail_unless (strstr (err->message, "token-partitions=1") != NULL,
        "%s", err->message);
    g_error_free (err);
    gst_message_unref (msg);
    gst_element_set_state (pipeline, GST_STATE_NULL);
    fail_unless_equals_int (g_list_length (msgs), 1);
    fail_unless (gst_structure_get_int (msgs->data, "code", &code));
    fail_unless_equals_int (code, 6005);
    g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
    gst_object_unref (bus);
    gst_object_unref (pipeline);
    g_free (desc);
  }
}

GST_END_TEST;

static Suite *
e2ee_suite (void)
{
  Suite *s = suite_create ("e2ee-pipelines");
  TCase *tc = tcase_create ("pipelines");

  tcase_set_timeout (tc, 500);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_vp8_roundtrip);
  tcase_add_test (tc, test_opus_roundtrip);
  tcase_add_test (tc, test_vp8_token_partitions_refused);
  return s;
}

GST_CHECK_MAIN (e2ee);
