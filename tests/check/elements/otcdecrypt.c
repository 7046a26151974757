/* otcdecrypt in a GstHarness: only authentic frames leave, byte-identical;
 * mismatch/match are posted once per stream; malformed, tampered and
 * replayed frames are dropped and counted. */
#include <string.h>

#include "otc-test-util.h"

#define SECRET "correct horse battery staple"
#define WRONG "incorrect horse battery staple"
#define VP8_FRAMES "videotestsrc num-buffers=60 pattern=ball " \
  "! video/x-raw,width=160,height=120,framerate=30/1 " \
  "! vp8enc keyframe-max-dist=20 deadline=1"

static GstHarness *
new_harness_full (GstBus ** bus, const gchar * caps, const gchar * first,
    ...)
{
  GstElement *e = gst_element_factory_make ("otcdecrypt", NULL);
  GstHarness *h;
  va_list args;

  va_start (args, first);
  if (first)
    g_object_set_valist (G_OBJECT (e), first, args);
  va_end (args);
  h = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);
  *bus = gst_bus_new ();
  gst_element_set_bus (h->element, *bus);
  gst_harness_set_src_caps_str (h, caps);
  return h;
}

static void
assert_same (GstBuffer * a, GstBuffer * b)
{
  GstMapInfo ma, mb;

  gst_buffer_map (a, &ma, GST_MAP_READ);
  gst_buffer_map (b, &mb, GST_MAP_READ);
  fail_unless_equals_uint64 (ma.size, mb.size);
  fail_unless (memcmp (ma.data, mb.data, ma.size) == 0);
  gst_buffer_unmap (a, &ma);
  gst_buffer_unmap (b, &mb);
}

static guint
count_force_key_units (GstHarness * h)
{
  GstEvent *ev;
  guint n = 0;

  while ((ev = gst_harness_try_pull_upstream_event (h)) != NULL) {
    if (gst_video_event_is_force_key_unit (ev))
      n++;
    gst_event_unref (ev);
  }
  return n;
}

GST_START_TEST (test_wrong_then_right_secret)
{
  GPtrArray *frames = otc_test_collect_buffers (VP8_FRAMES);
  GPtrArray *prot = otc_test_protect_all (frames, OTC_CODEC_VP8, SECRET, "",
      1234, 0);
  GstBus *bus;
  GstHarness *h = new_harness_full (&bus, "video/x-vp8",
      "encryption-secret", WRONG, "mismatch-delay", 0, NULL);
  GList *msgs = NULL;
  guint i, out_start = 0, fku;
  guint64 kid = 0;
  gint code = 0;
  GstBuffer *out;

  fail_unless_equals_int (frames->len, 60);
  for (i = 0; i < 10; i++)
    gst_harness_push (h, gst_buffer_ref (g_ptr_array_index (prot, i)));
  fail_unless_equals_int (gst_harness_buffers_received (h), 0);
  fail_unless_equals_int (otc_test_count_messages (bus,
          "otc-encryption-secret-mismatch", &msgs), 1);
  fail_unless (gst_structure_get_uint64 (msgs->data, "key-id", &kid));
  fail_unless_equals_uint64 (kid, 1234);
  fail_unless (gst_structure_get_int (msgs->data, "code", &code));
  fail_unless_equals_int (code, 6003);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  msgs = NULL;
  fail_unless_equals_uint64 (otc_test_stats_u64 (h->element,
          "frames-auth-failed"), 10);
  count_force_key_units (h);

  /* the right secret, while PLAYING */
  g_object_set (h->element, "encryption-secret", SECRET, NULL);
  otc_test_wait_key_ready (h->element);
  for (i = 10; i < 60; i++) {
    gst_harness_push (h, gst_buffer_ref (g_ptr_array_index (prot, i)));
    if (out_start == 0 && gst_harness_buffers_received (h) > 0)
      out_start = i;
  }
  /* delta frames after the gap are held back until the key frame at 20 */
  fail_unless_equals_int (out_start, 20);
  fail_unless_equals_int (gst_harness_buffers_received (h), 40);
  for (i = 20; i < 60; i++) {
    out = gst_harness_pull (h);
    assert_same (out, g_ptr_array_index (frames, i));
    gst_buffer_unref (out);
  }
  fail_unless_equals_int (otc_test_count_messages (bus,
          "otc-encryption-secret-match", &msgs), 1);
  fail_unless (gst_structure_get_uint64 (msgs->data, "key-id", &kid));
  fail_unless_equals_uint64 (kid, 1234);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  fail_unless_equals_int (otc_test_count_messages (bus,
          "otc-encryption-secret-mismatch", NULL), 0);
  fku = count_force_key_units (h);
  fail_unless (fku >= 1, "no GstForceKeyUnit went upstream");

  g_ptr_array_unref (prot);
  g_ptr_array_unref (frames);
  gst_harness_teardown (h);
  gst_object_unref (bus);
}

GST_END_TEST;

/* After a match, the key frame request is repeated about every 400 ms
 * until a key frame decrypts (browsers ignore requests < ~300 ms apart). */
GST_START_TEST (test_keyframe_request_repeats)
{
  GPtrArray *frames = otc_test_collect_buffers (VP8_FRAMES);
  GPtrArray *prot = otc_test_protect_all (frames, OTC_CODEC_VP8, SECRET, "",
      77, 0);
  GstBus *bus;
  GstHarness *h = new_harness_full (&bus, "video/x-vp8",
      "encryption-secret", WRONG, "mismatch-delay", 0, NULL);
  gint64 t_first = 0, t_second = 0, deadline;
  guint i = 1;

  gst_harness_push (h, gst_buffer_ref (g_ptr_array_index (prot, 0)));
  g_object_set (h->element, "encryption-secret", SECRET, NULL);
  otc_test_wait_key_ready (h->element);
  count_force_key_units (h);
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  /* delta frames 1..19 at 20 fps pace: no key frame among them */
  while (t_second == 0 && i < 20 && g_get_monotonic_time () < deadline) {
    guint n;

    gst_harness_push (h, gst_buffer_ref (g_ptr_array_index (prot, i++)));
    n = count_force_key_units (h);
    if (n && t_first == 0)
      t_first = g_get_monotonic_time ();
    else if (n)
      t_second = g_get_monotonic_time ();
    g_usleep (50000);           /* frame pacing, not a wait for a result */
  }
  fail_unless (t_first != 0 && t_second != 0);
  fail_unless (t_second - t_first >= 350000 && t_second - t_first <= 700000,
      "repeat after %" G_GINT64_FORMAT " us", t_second - t_first);
  fail_unless_equals_int (gst_harness_buffers_received (h), 0);
  g_ptr_array_unref (prot);
  g_ptr_array_unref (frames);
  gst_harness_teardown (h);
  gst_object_unref (bus);
}

GST_END_TEST;

GST_START_TEST (test_missing_secret)
{
  GPtrArray *frames = otc_test_collect_buffers (VP8_FRAMES);
  GPtrArray *prot = otc_test_protect_all (frames, OTC_CODEC_VP8, SECRET, "",
      5, 0);
  GstBus *bus;
  GstHarness *h = new_harness_full (&bus, "video/x-vp8", NULL);
  GList *msgs = NULL;
  gint code = 0;
  guint i;

  for (i = 0; i < 5; i++)
    gst_harness_push (h, gst_buffer_ref (g_ptr_array_index (prot, i)));
  fail_unless_equals_int (gst_harness_buffers_received (h), 0);
  fail_unless_equals_int (otc_test_count_messages (bus,
          "otc-encryption-secret-missing", &msgs), 1);
  fail_unless (gst_structure_get_int (msgs->data, "code", &code));
  fail_unless_equals_int (code, 6000);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  fail_unless_equals_int (otc_test_count_messages (bus,
          "otc-encryption-secret-mismatch", NULL), 0);
  fail_unless_equals_uint64 (otc_test_stats_u64 (h->element,
          "frames-dropped-no-secret"), 5);
  g_ptr_array_unref (prot);
  g_ptr_array_unref (frames);
  gst_harness_teardown (h);
  gst_object_unref (bus);
}

GST_END_TEST;

GST_START_TEST (test_opus_byte_identical)
{
  GPtrArray *frames = otc_test_collect_buffers ("audiotestsrc num-buffers=100 "
      "! opusenc");
  GPtrArray *prot = otc_test_protect_all (frames, OTC_CODEC_OPUS, SECRET,
      "sess", 9, 0);
  GstBus *bus;
  GstHarness *h = new_harness_full (&bus, "audio/x-opus",
      "encryption-secret", SECRET, "session-id", "sess", NULL);
  guint i;

  for (i = 0; i < prot->len; i++) {
    GstBuffer *out = gst_harness_push_and_pull (h,
        gst_buffer_ref (g_ptr_array_index (prot, i)));
    assert_same (out, g_ptr_array_index (frames, i));
    gst_buffer_unref (out);
  }
  fail_unless_equals_uint64 (otc_test_stats_u64 (h->element, "frames-out"),
      prot->len);
  fail_unless_equals_int (otc_test_count_messages (bus,
          "otc-encryption-secret-match", NULL), 0);
  g_ptr_array_unref (prot);
  g_ptr_array_unref (frames);
  gst_harness_teardown (h);
  gst_object_unref (bus);
}

GST_END_TEST;

static GstBuffer *
modified (GstBuffer * b, gint flip_at, gsize truncate_to)
{
  GstBuffer *c = gst_buffer_copy_deep (b);
  GstMapInfo map;

  if (truncate_to)
    gst_buffer_resize (c, 0, truncate_to);      /* keep the first bytes */
  gst_buffer_map (c, &map, GST_MAP_WRITE);
  if (flip_at >= 0)
    map.data[flip_at] ^= 0x40;
  gst_buffer_unmap (c, &map);
  return c;
}

GST_START_TEST (test_tampered_truncated_replayed)
{
  GPtrArray *frames = otc_test_collect_buffers ("audiotestsrc num-buffers=20 "
      "! opusenc");
  GPtrArray *prot = otc_test_protect_all (frames, OTC_CODEC_OPUS, SECRET, "",
      3, 0);
  GstBus *bus;
  GstHarness *h = new_harness_full (&bus, "audio/x-opus",
      "encryption-secret", SECRET, "mismatch-delay", 0, NULL);
  GList *msgs = NULL;
  guint i;
  guint64 count = 0;

  gst_buffer_unref (gst_harness_push_and_pull (h,
          gst_buffer_ref (g_ptr_array_index (prot, 0))));
  /* replay: dropped silently */
  gst_harness_push (h, gst_buffer_ref (g_ptr_array_index (prot, 0)));
  fail_unless_equals_int (gst_harness_buffers_received (h), 1);
  fail_unless_equals_uint64 (otc_test_stats_u64 (h->element,
          "frames-replayed"), 1);

  /* 100 truncated frames: counted, one rate-limited report */
  for (i = 0; i < 100; i++)
    gst_harness_push (h, modified (g_ptr_array_index (prot, 1), -1, 1 + i % 5));
  fail_unless_equals_int (gst_harness_buffers_received (h), 1);
  fail_unless_equals_uint64 (otc_test_stats_u64 (h->element,
          "frames-malformed"), 100);
  fail_unless_equals_int (otc_test_count_messages (bus,
          "otc-decryption-internal-error", &msgs), 1);
  fail_unless (gst_structure_get_uint64 (msgs->data, "count", &count));
  fail_unless_equals_uint64 (count, 1);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);

  /* a flipped bit in the ciphertext, the clear byte, the tag */
  gst_harness_push (h, modified (g_ptr_array_index (prot, 1), 10, 0));
  gst_harness_push (h, modified (g_ptr_array_index (prot, 2), 0, 0));
  gst_harness_push (h, modified (g_ptr_array_index (prot, 3),
          gst_buffer_get_size (g_ptr_array_index (prot, 3)) - 3, 0));
  fail_unless_equals_int (gst_harness_buffers_received (h), 1);
  fail_unless_equals_uint64 (otc_test_stats_u64 (h->element,
          "frames-auth-failed"), 3);
  /* the genuine frames still decrypt after that */
  for (i = 1; i < 20; i++) {
    GstBuffer *out = gst_harness_push_and_pull (h,
        gst_buffer_ref (g_ptr_array_index (prot, i)));
    assert_same (out, g_ptr_array_index (frames, i));
    gst_buffer_unref (out);
  }
  g_ptr_array_unref (prot);
  g_ptr_array_unref (frames);
  gst_harness_teardown (h);
  gst_object_unref (bus);
}

GST_END_TEST;

/* A secret change on its way loses nothing: failing frames are held and
 * go out, in order, once the new key is there. No mismatch is reported. */
GST_START_TEST (test_held_frames_recover)
{
  GPtrArray *frames = otc_test_collect_buffers (VP8_FRAMES);
  GPtrArray *prot = otc_test_protect_all (frames, OTC_CODEC_VP8, SECRET, "",
      31, 0);
  GstBus *bus;
  GstHarness *h = new_harness_full (&bus, "video/x-vp8",
      "encryption-secret", WRONG, "mismatch-delay", 10000, NULL);
  guint i;

  for (i = 0; i < 10; i++)
    gst_harness_push (h, gst_buffer_ref (g_ptr_array_index (prot, i)));
  fail_unless_equals_int (gst_harness_buffers_received (h), 0);
  fail_unless_equals_uint64 (otc_test_stats_u64 (h->element, "frames-held"),
      10);
  g_object_set (h->element, "encryption-secret", SECRET, NULL);
  otc_test_wait_key_ready (h->element);
  for (i = 10; i < 15; i++)
    gst_harness_push (h, gst_buffer_ref (g_ptr_array_index (prot, i)));
  fail_unless_equals_int (gst_harness_buffers_received (h), 15);
  for (i = 0; i < 15; i++) {
    GstBuffer *out = gst_harness_pull (h);
    assert_same (out, g_ptr_array_index (frames, i));
    gst_buffer_unref (out);
  }
  fail_unless_equals_uint64 (otc_test_stats_u64 (h->element,
          "frames-recovered"), 10);
  fail_unless_equals_uint64 (otc_test_stats_u64 (h->element, "frames-held"),
      0);
  fail_unless_equals_int (otc_test_count_messages (bus,
          "otc-encryption-secret-mismatch", NULL), 0);
  fail_unless_equals_int (otc_test_count_messages (bus,
          "otc-encryption-secret-match", NULL), 0);
  g_ptr_array_unref (prot);
  g_ptr_array_unref (frames);
  gst_harness_teardown (h);
  gst_object_unref (bus);
}

GST_END_TEST;

/* With no secret change coming, the mismatch is declared once the delay
 * has passed, and at the end of the stream at the latest. */
GST_START_TEST (test_mismatch_after_delay)
{
  GPtrArray *frames = otc_test_collect_buffers ("audiotestsrc num-buffers=40 "
      "! opusenc");
  GPtrArray *prot = otc_test_protect_all (frames, OTC_CODEC_OPUS, WRONG, "",
      8, 0);
  GstBus *bus;
  GstHarness *h = new_harness_full (&bus, "audio/x-opus",
      "encryption-secret", SECRET, "mismatch-delay", 200, NULL);
  GstHarness *h2;
  GstBus *bus2;
  gint64 start = g_get_monotonic_time (), declared = 0;
  guint i = 0;

  while (declared == 0 && i < 40) {
    gst_harness_push (h, gst_buffer_ref (g_ptr_array_index (prot, i++)));
    if (otc_test_count_messages (bus, "otc-encryption-secret-mismatch",
            NULL) == 1)
      declared = g_get_monotonic_time ();
    g_usleep (20000);           /* frame pacing: 50 frames per second */
  }
  fail_unless (declared != 0);
  fail_unless (declared - start >= 200000);
  for (; i < 40; i++)
    gst_harness_push (h, gst_buffer_ref (g_ptr_array_index (prot, i)));
  fail_unless_equals_int (otc_test_count_messages (bus,
          "otc-encryption-secret-mismatch", NULL), 0);
  fail_unless_equals_int (gst_harness_buffers_received (h), 0);
  fail_unless_equals_uint64 (otc_test_stats_u64 (h->element,
          "frames-auth-failed"), 40);

  /* a short stream that ends while frames are held */
  h2 = new_harness_full (&bus2, "audio/x-opus", "encryption-secret", SECRET,
      "mismatch-delay", 60000, NULL);
  for (i = 0; i < 3; i++)
    gst_harness_push (h2, gst_buffer_ref (g_ptr_array_index (prot, i)));
  fail_unless_equals_int (otc_test_count_messages (bus2,
          "otc-encryption-secret-mismatch", NULL), 0);
  gst_harness_push_event (h2, gst_event_new_eos ());
  fail_unless_equals_int (otc_test_count_messages (bus2,
          "otc-encryption-secret-mismatch", NULL), 1);
  gst_harness_teardown (h2);
  gst_object_unref (bus2);

  g_ptr_array_unref (prot);
  g_ptr_array_unref (frames);
  gst_harness_teardown (h);
  gst_object_unref (bus);
}

GST_END_TEST;

/* One damaged frame in a stream that decrypts is not a mismatch. */
GST_START_TEST (test_damaged_frame_is_not_a_mismatch)
{
  GPtrArray *frames = otc_test_collect_buffers ("audiotestsrc num-buffers=10 "
      "! opusenc");
  GPtrArray *prot = otc_test_protect_all (frames, OTC_CODEC_OPUS, SECRET, "",
      12, 0);
  GstBus *bus;
  GstHarness *h = new_harness_full (&bus, "audio/x-opus",
      "encryption-secret", SECRET, NULL);
  guint i;

  for (i = 0; i < 10; i++) {
    if (i == 4)
      gst_harness_push (h, modified (g_ptr_array_index (prot, i), 8, 0));
    else
      gst_harness_push (h, gst_buffer_ref (g_ptr_array_index (prot, i)));
  }
  fail_unless_equals_int (gst_harness_buffers_received (h), 9);
  fail_unless_equals_uint64 (otc_test_stats_u64 (h->element,
          "frames-auth-failed"), 1);
  fail_unless_equals_uint64 (otc_test_stats_u64 (h->element, "frames-held"),
      0);
  fail_unless_equals_int (otc_test_count_messages (bus,
          "otc-encryption-secret-mismatch", NULL), 0);
  g_ptr_array_unref (prot);
  g_ptr_array_unref (frames);
  gst_harness_teardown (h);
  gst_object_unref (bus);
}

GST_END_TEST;

/* Two senders into one decryptor: the events name the stream. */
GST_START_TEST (test_mismatch_is_per_stream)
{
  GPtrArray *frames = otc_test_collect_buffers ("audiotestsrc num-buffers=30 "
      "! opusenc");
  GPtrArray *good = otc_test_protect_all (frames, OTC_CODEC_OPUS, SECRET, "",
      100, 0);
  GPtrArray *bad = otc_test_protect_all (frames, OTC_CODEC_OPUS, WRONG, "",
      200, 0);
  GstBus *bus;
  GstHarness *h = new_harness_full (&bus, "audio/x-opus",
      "encryption-secret", SECRET, "mismatch-delay", 0, NULL);
  GList *msgs = NULL;
  guint64 kid = 0;
  guint i;

  for (i = 0; i < 30; i++) {
    gst_harness_push (h, gst_buffer_ref (g_ptr_array_index (good, i)));
    gst_harness_push (h, gst_buffer_ref (g_ptr_array_index (bad, i)));
  }
  fail_unless_equals_int (gst_harness_buffers_received (h), 30);
  fail_unless_equals_int (otc_test_count_messages (bus,
          "otc-encryption-secret-mismatch", &msgs), 1);
  fail_unless (gst_structure_get_uint64 (msgs->data, "key-id", &kid));
  fail_unless_equals_uint64 (kid, 200);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  g_ptr_array_unref (good);
  g_ptr_array_unref (bad);
  g_ptr_array_unref (frames);
  gst_harness_teardown (h);
  gst_object_unref (bus);
}

GST_END_TEST;

GST_START_TEST (test_unsupported_codec)
{
  GstElement *e = gst_element_factory_make ("otcdecrypt", NULL);
  GstHarness *h = gst_harness_new_with_element (e, "sink", "src");
  GstBus *bus = gst_bus_new ();
  GList *msgs = NULL;
  gint code = 0;

  gst_element_set_bus (h->element, bus);
  gst_harness_push_event (h, gst_event_new_stream_start ("x"));
  gst_harness_push_event (h,
      gst_event_new_caps (gst_caps_from_string ("video/x-h264")));
  fail_unless_equals_int (otc_test_count_messages (bus,
          "otc-decryption-unsupported-codec", &msgs), 1);
  fail_unless (gst_structure_get_int (msgs->data, "code", &code));
  fail_unless_equals_int (code, 6006);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  gst_object_unref (e);
  gst_harness_teardown (h);
  gst_object_unref (bus);
}

GST_END_TEST;

static Suite *
otcdecrypt_suite (void)
{
  Suite *s = suite_create ("otcdecrypt");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_wrong_then_right_secret);
  tcase_add_test (tc, test_keyframe_request_repeats);
  tcase_add_test (tc, test_missing_secret);
  tcase_add_test (tc, test_opus_byte_identical);
  tcase_add_test (tc, test_tampered_truncated_replayed);
  tcase_add_test (tc, test_mismatch_is_per_stream);
  tcase_add_test (tc, test_held_frames_recover);
  tcase_add_test (tc, test_mismatch_after_delay);
  tcase_add_test (tc, test_damaged_frame_is_not_a_mismatch);
  tcase_add_test (tc, test_unsupported_codec);
  return s;
}

GST_CHECK_MAIN (otcdecrypt);
