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

/* The element holds the bus and the messages left on it hold the element
 * (their source): flushing the bus breaks that cycle. */
static void
teardown (GstHarness * h, GstBus * bus)
{
  gst_harness_teardown (h);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
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
  teardown (h, bus);
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
  teardown (h, bus);
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
  teardown (h, bus);
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
  teardown (h, bus);
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
  teardown (h, bus);
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
  teardown (h, bus);
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
  teardown (h2, bus2);

  g_ptr_array_unref (prot);
  g_ptr_array_unref (frames);
  teardown (h, bus);
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
  teardown (h, bus);
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
  teardown (h, bus);
}

GST_END_TEST;

GST_START_TEST (test_unsupported_codec)
{
  GstElement *e = gst_element_factory_make ("otcdecrypt", NULL);
  GstHarness *h = gst_harness_new_with_element (e, "sink", "src");
  GstBus *bus = gst_bus_new ();
  GList *msgs = NULL;
  GstCaps *caps;
  gint code = 0;

  gst_element_set_bus (h->element, bus);
  gst_harness_push_event (h, gst_event_new_stream_start ("x"));
  caps = gst_caps_from_string ("video/x-h264");
  gst_harness_push_event (h, gst_event_new_caps (caps));
  gst_caps_unref (caps);
  fail_unless_equals_int (otc_test_count_messages (bus,
          "otc-decryption-unsupported-codec", &msgs), 1);
  fail_unless (gst_structure_get_int (msgs->data, "code", &code));
  fail_unless_equals_int (code, 6006);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  gst_object_unref (e);
  teardown (h, bus);
}

GST_END_TEST;

/* ---- hostile input (issue 5) ---- */

/* A seed for the random frames: OTC_TEST_SEED, or a fresh one that the
 * failure messages name. */
static guint32
hostile_seed (void)
{
  const gchar *env = g_getenv ("OTC_TEST_SEED");

  return env ? (guint32) g_ascii_strtoull (env, NULL, 10) : g_random_int ();
}

static GstBuffer *
random_buffer (GRand * rand, gsize len)
{
  guint8 *data = g_malloc (len ? len : 1);
  gsize i;

  for (i = 0; i < len; i++)
    data[i] = (guint8) g_rand_int (rand);
  return gst_buffer_new_wrapped_full (0, data, len ? len : 1, 0, len, data,
      g_free);
}

/* @len bytes that start with a well-formed SFrame header (random KID of
 * any encoded length, random counter) and end in a footer whose clear
 * length fits: these reach the key schedule and the tag check. */
static GstBuffer *
forged_buffer (GRand * rand, gsize len)
{
  guint8 hdr[OTC_SFRAME_HEADER_MAX_SIZE];
  guint64 kid = ((guint64) g_rand_int (rand) << 32 | g_rand_int (rand))
      >> g_rand_int_range (rand, 0, 64);
  guint64 ctr = ((guint64) g_rand_int (rand) << 32 | g_rand_int (rand))
      >> g_rand_int_range (rand, 0, 64);
  gsize h = otc_sframe_header_encode (kid, ctr, hdr);
  GstBuffer *b = random_buffer (rand, len);
  GstMapInfo map;

  if (len <= h + 1)
    return b;
  gst_buffer_map (b, &map, GST_MAP_WRITE);
  memcpy (map.data, hdr, h);
  map.data[len - 1] = (guint8) g_rand_int_range (rand, 0, 3);
  gst_buffer_unmap (b, &map);
  return b;
}

static guint
count_messages_checked (GstBus * bus, const gchar * name, gint want_code,
    guint64 * count_sum)
{
  GList *msgs = NULL, *l;
  guint n = otc_test_count_messages (bus, name, &msgs);

  for (l = msgs; l; l = l->next) {
    gint code = -1;
    guint64 count = 0;

    fail_unless (gst_structure_get_int (l->data, "code", &code));
    fail_unless_equals_int (code, want_code);
    if (count_sum && gst_structure_get_uint64 (l->data, "count", &count))
      *count_sum += count;
  }
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  return n;
}

/* Frames of every length 0..300, random bytes and forged headers, into
 * otcdecrypt with the right secret, for VP8 and Opus caps, with and
 * without holding failing frames: nothing comes out, nothing crashes,
 * every frame is counted as malformed or as failing authentication, and
 * the messages stay within their rate limits (docs/messages.md). The
 * element still decrypts a genuine stream afterwards. */
GST_START_TEST (test_hostile_every_length)
{
  const gchar *caps[] = { "video/x-vp8", "audio/x-opus" };
  GPtrArray *frames = otc_test_collect_buffers ("audiotestsrc num-buffers=20 "
      "! opusenc");
  /* a 4-byte KID that random headers practically never hit */
  GPtrArray *prot = otc_test_protect_all (frames, OTC_CODEC_OPUS, SECRET, "",
      G_GUINT64_CONSTANT (0x5eed1234), 0);
  guint32 seed = hostile_seed ();
  /* one key derivation shared by the four elements below */
  OtcSecretKey *shared = otc_secret_key_derive_shared (SECRET, "", NULL);
  guint c, delay_ms;

  GST_INFO ("seed %u (OTC_TEST_SEED=%u repeats this run)", seed, seed);
  for (c = 0; c < G_N_ELEMENTS (caps); c++) {
    for (delay_ms = 0; delay_ms <= 1000; delay_ms += 1000) {
      GRand *rand = g_rand_new_with_seed (seed + c * 2 + delay_ms);
      GstBus *bus;
      GstHarness *h = new_harness_full (&bus, caps[c],
          "encryption-secret", SECRET, "mismatch-delay", delay_ms, NULL);
      guint64 n = 0, malformed, auth, count_sum = 0;
      guint len, k, n_internal, n_mismatch;
      gint64 t0;
      gdouble elapsed;

      otc_test_wait_key_ready (h->element);
      t0 = g_get_monotonic_time ();
      for (len = 0; len <= 300; len++) {
        for (k = 0; k < 8; k++) {
          GstBuffer *b = k < 4 ? random_buffer (rand, len) :
              forged_buffer (rand, len);
          GstFlowReturn ret = gst_harness_push (h, b);

          fail_unless (ret == GST_FLOW_OK, "flow %s at length %u (seed %u)",
              gst_flow_get_name (ret), len, seed);
          n++;
        }
        /* and the all-zero and all-ones frames of this length */
        for (k = 0; k < 2; k++) {
          GstBuffer *b = gst_buffer_new_allocate (NULL, len, NULL);

          gst_buffer_memset (b, 0, k ? 0xff : 0x00, len);
          fail_unless_equals_int (gst_harness_push (h, b), GST_FLOW_OK);
          n++;
        }
      }
      fail_unless_equals_int (gst_harness_buffers_received (h), 0);
      /* the genuine stream still gets through, byte-identical */
      for (k = 0; k < prot->len; k++) {
        GstBuffer *out = gst_harness_push_and_pull (h,
            gst_buffer_ref (g_ptr_array_index (prot, k)));

        fail_unless (out != NULL);
        assert_same (out, g_ptr_array_index (frames, k));
        gst_buffer_unref (out);
      }
      /* held frames are given up at the end of the stream at the latest */
      gst_harness_push_event (h, gst_event_new_eos ());
      elapsed = (g_get_monotonic_time () - t0) / 1e6;

      fail_unless_equals_int (gst_harness_buffers_received (h), prot->len);
      fail_unless_equals_uint64 (otc_test_stats_u64 (h->element,
              "frames-in"), n + prot->len);
      fail_unless_equals_uint64 (otc_test_stats_u64 (h->element,
              "frames-out"), prot->len);
      malformed = otc_test_stats_u64 (h->element, "frames-malformed");
      auth = otc_test_stats_u64 (h->element, "frames-auth-failed");
      fail_unless_equals_uint64 (malformed + auth, n);
      fail_unless (malformed > 0 && auth > 0,
          "malformed %" G_GUINT64_FORMAT ", auth %" G_GUINT64_FORMAT,
          malformed, auth);
      fail_unless_equals_uint64 (otc_test_stats_u64 (h->element,
              "frames-replayed"), 0);
      fail_unless_equals_uint64 (otc_test_stats_u64 (h->element,
              "frames-internal-error"), 0);
      fail_unless_equals_uint64 (otc_test_stats_u64 (h->element,
              "frames-held"), 0);

      /* rate limits: internal errors once a second with a count; mismatch
       * reports for new KIDs at most 8 a second, the rest counted */
      n_internal = count_messages_checked (bus,
          "otc-decryption-internal-error", 6002, &count_sum);
      fail_unless (n_internal >= 1);
      fail_unless (n_internal <= 1 + (guint) elapsed + 1,
          "%u internal-error messages in %.2f s", n_internal, elapsed);
      fail_unless (count_sum <= malformed);
      n_mismatch = count_messages_checked (bus,
          "otc-encryption-secret-mismatch", 6003, NULL);
      /* held or not (test_forged_kid_reports_rate_limited) */
      fail_unless (n_mismatch <= 8 * ((guint) elapsed + 2),
          "%u mismatch messages in %.2f s", n_mismatch, elapsed);
      fail_unless_equals_uint64 (otc_test_stats_u64 (h->element,
              "mismatches"), n_mismatch + otc_test_stats_u64 (h->element,
              "reports-suppressed"));
      fail_unless_equals_int (otc_test_count_messages (bus,
              "otc-encryption-secret-match", NULL), 0);
      fail_unless (otc_test_stats_u64 (h->element, "mismatches") > 0);
      GST_INFO ("%s, mismatch-delay %u: %" G_GUINT64_FORMAT " frames, %"
          G_GUINT64_FORMAT " malformed, %" G_GUINT64_FORMAT
          " failed the tag, %u + %u messages in %.2f s", caps[c], delay_ms,
          n, malformed, auth, n_internal, n_mismatch, elapsed);

      teardown (h, bus);
      g_rand_free (rand);
    }
  }
  otc_secret_key_unref (shared);
  g_ptr_array_unref (prot);
  g_ptr_array_unref (frames);
}

GST_END_TEST;

static guint64
self_rss_kib (void)
{
  gchar *text = NULL;
  const gchar *p;
  guint64 kib;

  fail_unless (g_file_get_contents ("/proc/self/status", &text, NULL, NULL));
  p = strstr (text, "\nVmRSS:");
  fail_unless (p != NULL);
  kib = g_ascii_strtoull (p + strlen ("\nVmRSS:"), NULL, 10);
  g_free (text);
  return kib;
}

static gboolean
rss_meaningful (void)
{
#ifdef OTC_UNDER_ASAN
  return FALSE;
#else
  return !RUNNING_ON_VALGRIND;
#endif
}

#ifdef OTC_UNDER_ASAN
#define ELEMENT_FLOOD ((guint64) 5000)
#else
#define ELEMENT_FLOOD ((guint64) (RUNNING_ON_VALGRIND ? 5000 : 100000))
#endif

/* 100,000 distinct forged KIDs (otc_test_flood_kid: of every encoded
 * length) through the element (5,000 under ASan or valgrind; the library
 * test libs/hostile.c does a million on the decryptor itself) while a
 * genuine stream goes on (one frame every 400 forged ones): its frames all come out, byte-identical and in order; the
 * stream table, the held frames and the process's memory stay bounded;
 * mismatch reports are rate-limited. */
GST_START_TEST (test_kid_flood_element)
{
  GPtrArray *frames = otc_test_collect_buffers ("audiotestsrc num-buffers=200 "
      "! opusenc");
  /* in the range no forged KID takes (otc_test_flood_kid) */
  GPtrArray *prot = otc_test_protect_all (frames, OTC_CODEC_OPUS, SECRET, "",
      G_GUINT64_CONSTANT (0x5eed1), 0);
  OtcSecretKey *shared = otc_secret_key_derive_shared (SECRET, "", NULL);
  guint delay_ms;

  fail_unless (OTC_TEST_FLOOD_FREE_KID (G_GUINT64_CONSTANT (0x5eed1)));
  for (delay_ms = 0; delay_ms <= 1000; delay_ms += 1000) {
    GstBus *bus;
    GstHarness *h = new_harness_full (&bus, "audio/x-opus",
        "encryption-secret", SECRET, "mismatch-delay", delay_ms, NULL);
    guint64 i, rss_warm = 0, rss_end, max_held = 0, n_forged = 0;
    guint out_i = 0, n_mismatch, max_streams = 0;
    guint8 data[60];
    gint64 t0 = g_get_monotonic_time ();
    gdouble elapsed;

    otc_test_wait_key_ready (h->element);
    for (i = 0; i < ELEMENT_FLOOD; i++) {
      gsize hl = otc_sframe_header_encode (otc_test_flood_kid (i), i, data);

      memset (data + hl, (gint) (i & 0xff), sizeof (data) - hl);
      data[sizeof (data) - 1] = 0;
      fail_unless_equals_int (gst_harness_push (h,
              gst_buffer_new_memdup (data, sizeof (data))), GST_FLOW_OK);
      n_forged++;
      if (i % (ELEMENT_FLOOD / 250) == 0 && out_i < prot->len) {
        GstBuffer *out = gst_harness_push_and_pull (h,
            gst_buffer_ref (g_ptr_array_index (prot, out_i)));

        fail_unless (out != NULL);
        assert_same (out, g_ptr_array_index (frames, out_i));
        gst_buffer_unref (out);
        out_i++;
      }
      if (i % 5000 == 0) {
        GstStructure *st = NULL;
        guint streams = 0;
        guint64 held = 0;

        g_object_get (h->element, "stats", &st, NULL);
        fail_unless (gst_structure_get_uint (st, "streams", &streams));
        fail_unless (gst_structure_get_uint64 (st, "frames-held", &held));
        gst_structure_free (st);
        max_streams = MAX (max_streams, streams);
        max_held = MAX (max_held, held);
        /* messages are not left to pile up in the test's own bus */
        otc_test_count_messages (bus, "otc-encryption-secret-mismatch", NULL);
      }
      if (i == ELEMENT_FLOOD / 5)
        rss_warm = self_rss_kib ();
    }
    rss_end = self_rss_kib ();
    elapsed = (g_get_monotonic_time () - t0) / 1e6;
    fail_unless_equals_int (out_i, prot->len);
    fail_unless_equals_int (gst_harness_buffers_received (h), prot->len);
    fail_unless (max_streams <= OTC_DECRYPTOR_DEFAULT_MAX_STREAMS,
        "%u streams", max_streams);
    fail_unless (max_held <= 300, "%" G_GUINT64_FORMAT " frames held",
        max_held);
    if (rss_meaningful ())
      fail_unless (rss_end <= rss_warm + 8 * 1024, "RSS %" G_GUINT64_FORMAT
          " -> %" G_GUINT64_FORMAT " KiB", rss_warm, rss_end);
    gst_harness_push_event (h, gst_event_new_eos ());
    fail_unless_equals_uint64 (otc_test_stats_u64 (h->element,
            "frames-out"), prot->len);
    fail_unless_equals_uint64 (otc_test_stats_u64 (h->element,
            "frames-auth-failed"), n_forged);
    n_mismatch = otc_test_count_messages (bus,
        "otc-encryption-secret-mismatch", NULL);
    fail_unless (otc_test_stats_u64 (h->element, "mismatches") -
        otc_test_stats_u64 (h->element, "reports-suppressed") <=
        8 * ((guint64) elapsed + 2), "%" G_GUINT64_FORMAT " reports in %.1f s",
        otc_test_stats_u64 (h->element, "mismatches") -
        otc_test_stats_u64 (h->element, "reports-suppressed"), elapsed);
    fail_unless (otc_test_stats_u64 (h->element, "reports-suppressed") > 0);
    fail_unless_equals_int (otc_test_count_messages (bus,
            "otc-encryption-secret-match", NULL), 0);
    GST_INFO ("mismatch-delay %u: %u forged KIDs in %.1f s, streams <= %u, "
        "held <= %" G_GUINT64_FORMAT ", RSS %" G_GUINT64_FORMAT " -> %"
        G_GUINT64_FORMAT " KiB, %u mismatch messages at the end",
        delay_ms, (guint) ELEMENT_FLOOD, elapsed, max_streams, max_held, rss_warm, rss_end,
        n_mismatch);
    teardown (h, bus);
  }
  otc_secret_key_unref (shared);
  g_ptr_array_unref (prot);
  g_ptr_array_unref (frames);
}

GST_END_TEST;

/* Replays in bulk: every genuine frame comes out once and in order; each
 * replay (recent, old, far outside the window) is dropped, counted, and
 * posts nothing. */
GST_START_TEST (test_replay_flood)
{
  GPtrArray *frames = otc_test_collect_buffers ("audiotestsrc num-buffers=300 "
      "! opusenc");
  GPtrArray *prot = otc_test_protect_all (frames, OTC_CODEC_OPUS, SECRET, "",
      42, 0);
  GstBus *bus;
  GstHarness *h = new_harness_full (&bus, "audio/x-opus",
      "encryption-secret", SECRET, NULL);
  GRand *rand = g_rand_new_with_seed (hostile_seed ());
  guint i, k, replays = 0;

  otc_test_wait_key_ready (h->element);
  for (i = 0; i < prot->len; i++) {
    GstBuffer *out = gst_harness_push_and_pull (h,
        gst_buffer_ref (g_ptr_array_index (prot, i)));

    assert_same (out, g_ptr_array_index (frames, i));
    gst_buffer_unref (out);
    /* the frame itself again, and three earlier ones */
    gst_harness_push (h, gst_buffer_ref (g_ptr_array_index (prot, i)));
    replays++;
    for (k = 0; k < 3; k++) {
      gst_harness_push (h, gst_buffer_ref (g_ptr_array_index (prot,
                  g_rand_int_range (rand, 0, i + 1))));
      replays++;
    }
    fail_unless_equals_int (gst_harness_buffers_received (h), i + 1);
  }
  fail_unless_equals_uint64 (otc_test_stats_u64 (h->element,
          "frames-replayed"), replays);
  fail_unless_equals_uint64 (otc_test_stats_u64 (h->element, "frames-out"),
      prot->len);
  fail_unless_equals_uint64 (otc_test_stats_u64 (h->element,
          "frames-auth-failed"), 0);
  fail_unless_equals_uint64 (otc_test_stats_u64 (h->element, "frames-held"),
      0);
  fail_unless_equals_int (otc_test_count_messages (bus,
          "otc-encryption-secret-mismatch", NULL), 0);
  fail_unless_equals_int (otc_test_count_messages (bus,
          "otc-decryption-internal-error", NULL), 0);
  g_rand_free (rand);
  g_ptr_array_unref (prot);
  g_ptr_array_unref (frames);
  teardown (h, bus);
}

GST_END_TEST;

/* Forged KIDs sent twice each. Found here (issue 5): the first frame of a
 * forged KID is held (mismatch-delay) and gave the KID a stream entry; once
 * the held queue was full (300 frames), its second frame was declared
 * mismatched at once and, the KID no longer being "first seen", reported
 * outside the limit of 8 a second (one message per forged KID in the
 * stream table, every hold period). Now a KID counts as new until one of
 * its frames authenticates. */
GST_START_TEST (test_forged_kid_reports_rate_limited)
{
  GstBus *bus;
  GstHarness *h = new_harness_full (&bus, "audio/x-opus",
      "encryption-secret", SECRET, "mismatch-delay", 1000, NULL);
  guint8 data[60];
  guint64 kid;
  guint n_mismatch, round;
  gint64 t0;
  gdouble elapsed;

  otc_test_wait_key_ready (h->element);
  t0 = g_get_monotonic_time ();
  /* 300 forged KIDs fill the held queue; then the second frames of the
   * last 64 (those still in the stream table) */
  for (round = 0; round < 2; round++) {
    for (kid = round ? 1300 - OTC_DECRYPTOR_DEFAULT_MAX_STREAMS : 1000;
        kid < 1300; kid++) {
      gsize hl = otc_sframe_header_encode (kid, round, data);

      memset (data + hl, 0xab, sizeof (data) - hl);
      data[sizeof (data) - 1] = 0;
      gst_harness_push (h, gst_buffer_new_memdup (data, sizeof (data)));
    }
  }
  elapsed = (g_get_monotonic_time () - t0) / 1e6;
  fail_unless_equals_uint64 (otc_test_stats_u64 (h->element, "frames-in"),
      300 + OTC_DECRYPTOR_DEFAULT_MAX_STREAMS);
  fail_unless_equals_int (gst_harness_buffers_received (h), 0);
  n_mismatch = otc_test_count_messages (bus, "otc-encryption-secret-mismatch",
      NULL);
  GST_INFO ("%u mismatch reports for 300 + 64 forged frames in %.3f s "
      "(%" G_GUINT64_FORMAT " suppressed)", n_mismatch, elapsed,
      otc_test_stats_u64 (h->element, "reports-suppressed"));
  fail_unless (n_mismatch <= 8 * ((guint) elapsed + 1),
      "%u mismatch reports for forged KIDs in %.3f s: the limit is 8 a "
      "second", n_mismatch, elapsed);
  teardown (h, bus);
}

GST_END_TEST;

/* Pops the mismatch reports from @bus; how many named @kid. */
static guint
count_mismatch_reports_for (GstBus * bus, guint64 kid, guint * n_all)
{
  GList *all = NULL, *l;
  guint n = 0;

  *n_all = otc_test_count_messages (bus, "otc-encryption-secret-mismatch",
      &all);
  for (l = all; l; l = l->next) {
    guint64 k = 0;

    if (gst_structure_get_uint64 (l->data, "key-id", &k) && k == kid)
      n++;
  }
  g_list_free_full (all, (GDestroyNotify) gst_structure_free);
  return n;
}

/* A real mismatch whose report the limit swallowed (forged KIDs had used
 * the second's 8 reports) is reported once the limit allows it, from the
 * stream's next frames; once only. Before, that stream stayed "reported"
 * and the application never learnt of the mismatch. */
GST_START_TEST (test_suppressed_mismatch_reported_later)
{
  GPtrArray *frames = otc_test_collect_buffers ("audiotestsrc num-buffers=150 "
      "! opusenc");
  GPtrArray *wrong = NULL;
  GstBus *bus;
  GstHarness *h = new_harness_full (&bus, "audio/x-opus",
      "encryption-secret", SECRET, "mismatch-delay", 0, NULL);
  guint8 data[60];
  guint64 forged = 1000, genuine = 0, before, mismatches = 0;
  guint i, n_all, posted = 0, n_genuine = 0, attempts;
  gint64 deadline;

  otc_test_wait_key_ready (h->element);
  /* forged KIDs until the limit bites, then at once the first frame of a
   * real sender whose secret differs from this side's; on a machine so
   * slow that the second ended in between (its report went out), again
   * with another sender */
  for (attempts = 0; attempts < 5; attempts++) {
    before = otc_test_stats_u64 (h->element, "reports-suppressed");
    while (otc_test_stats_u64 (h->element, "reports-suppressed") == before) {
      gsize hl = otc_sframe_header_encode (forged++, 0, data);

      memset (data + hl, 0xab, sizeof (data) - hl);
      data[sizeof (data) - 1] = 0;
      gst_harness_push (h, gst_buffer_new_memdup (data, sizeof (data)));
    }
    genuine = G_GUINT64_CONSTANT (0x51de0) + attempts;
    g_clear_pointer (&wrong, g_ptr_array_unref);
    wrong = otc_test_protect_all (frames, OTC_CODEC_OPUS, WRONG, "", genuine,
        0);
    before = otc_test_stats_u64 (h->element, "reports-suppressed");
    mismatches = otc_test_stats_u64 (h->element, "mismatches");
    gst_harness_push (h, gst_buffer_ref (g_ptr_array_index (wrong, 0)));
    n_genuine = count_mismatch_reports_for (bus, genuine, &n_all);
    posted += n_all;
    if (otc_test_stats_u64 (h->element, "reports-suppressed") == before + 1)
      break;
  }
  fail_unless (attempts < 5 && n_genuine == 0,
      "the limit never swallowed the real mismatch's report");

  /* the sender goes on at 50 frames a second: its mismatch is reported
   * within the next second, once */
  deadline = g_get_monotonic_time () + 3 * G_USEC_PER_SEC;
  for (i = 1; n_genuine == 0 && i < wrong->len
      && g_get_monotonic_time () < deadline; i++) {
    g_usleep (20000);           /* the sender's pace */
    gst_harness_push (h, gst_buffer_ref (g_ptr_array_index (wrong, i)));
    n_genuine += count_mismatch_reports_for (bus, genuine, &n_all);
    posted += n_all;
  }
  fail_unless_equals_int (n_genuine, 1);
  for (; i < wrong->len; i++)
    gst_harness_push (h, gst_buffer_ref (g_ptr_array_index (wrong, i)));
  n_genuine += count_mismatch_reports_for (bus, genuine, &n_all);
  posted += n_all;
  fail_unless_equals_int (n_genuine, 1);
  fail_unless_equals_int (gst_harness_buffers_received (h), 0);
  /* one mismatch, however many frames tried to report it; no longer
   * counted as suppressed once reported */
  fail_unless_equals_uint64 (otc_test_stats_u64 (h->element, "mismatches"),
      mismatches + 1);
  fail_unless_equals_uint64 (otc_test_stats_u64 (h->element,
          "reports-suppressed"), before);
  /* every declared mismatch was either reported or counted suppressed */
  fail_unless_equals_uint64 (otc_test_stats_u64 (h->element, "mismatches"),
      posted + otc_test_stats_u64 (h->element, "reports-suppressed"));
  teardown (h, bus);
  g_ptr_array_unref (wrong);
  g_ptr_array_unref (frames);
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
  tcase_add_test (tc, test_suppressed_mismatch_reported_later);
  tcase_add_test (tc, test_mismatch_after_delay);
  tcase_add_test (tc, test_damaged_frame_is_not_a_mismatch);
  tcase_add_test (tc, test_unsupported_codec);
  tcase_add_test (tc, test_hostile_every_length);
  tcase_add_test (tc, test_kid_flood_element);
  tcase_add_test (tc, test_replay_flood);
  tcase_add_test (tc, test_forged_kid_reports_rate_limited);
  return s;
}

GST_CHECK_MAIN (otcdecrypt);
