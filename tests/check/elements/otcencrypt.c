/* otcencrypt in a GstHarness: nothing leaves unprotected, the first frame
 * is protected, messages are posted once, secrets change without gaps. */
#include <string.h>

#include "otc-test-util.h"

#define SECRET "correct horse battery staple"
#define OPUS_CAPS "audio/x-opus, channel-mapping-family=(int)0"

/* The harness starts the element at once: properties that must be in place
 * before the start (as in a pipeline) are set on the element first. */
static GstHarness *
new_harness_full (GstBus ** bus, const gchar * first_property, ...)
{
  GstElement *e = gst_element_factory_make ("otcencrypt", NULL);
  GstHarness *h;
  va_list args;

  va_start (args, first_property);
  if (first_property)
    g_object_set_valist (G_OBJECT (e), first_property, args);
  va_end (args);
  h = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);
  *bus = gst_bus_new ();
  gst_element_set_bus (h->element, *bus);
  return h;
}

#define new_harness(bus) new_harness_full (bus, NULL)

/* The bus is flushed first: the messages on it hold the element. */
static void
teardown (GstHarness * h, GstBus * bus)
{
  gst_harness_teardown (h);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
}

static GstBuffer *
opus_frame (guint8 fill, gsize len)
{
  GstBuffer *b = gst_buffer_new_allocate (NULL, len, NULL);

  gst_buffer_memset (b, 0, fill, len);
  return b;
}

/* Decrypts @buf with the library, asserting it authenticates. */
static GstBuffer *
decrypt (GstBuffer * buf, const gchar * secret, const gchar * sid,
    OtcCipherSuite suite, guint64 * kid)
{
  OtcSecretKey *sk = otc_test_secret_key (secret, sid);
  OtcFrameDecryptor *dec = otc_frame_decryptor_new (suite, 0, 0);
  OtcUnprotectResult res;
  GstMapInfo map;
  guint8 *out;
  GstBuffer *plain = NULL;

  otc_frame_decryptor_set_secret_key (dec, sk, 0);
  gst_buffer_map (buf, &map, GST_MAP_READ);
  out = g_malloc (map.size);
  otc_frame_decryptor_unprotect (dec, map.data, map.size, out, map.size, 0,
      &res);
  gst_buffer_unmap (buf, &map);
  if (res.status == OTC_FRAME_OK) {
    plain = gst_buffer_new_wrapped (out, res.out_len);
    if (kid)
      *kid = res.kid;
  } else {
    g_free (out);
  }
  otc_frame_decryptor_free (dec);
  otc_secret_key_unref (sk);
  return plain;
}

GST_START_TEST (test_first_frame_protected)
{
  GstBus *bus;
  GstHarness *h = new_harness_full (&bus, "encryption-secret", SECRET,
      "session-id", "s1", NULL);
  GstBuffer *in, *out, *plain;
  guint64 kid = 0;

  gst_harness_set_src_caps_str (h, OPUS_CAPS);
  in = opus_frame (0x5a, 160);
  out = gst_harness_push_and_pull (h, gst_buffer_ref (in));
  fail_unless (out != NULL);
  fail_unless_equals_int (gst_buffer_get_size (out),
      otc_frame_protected_size (6, otc_test_stats_u64 (h->element, "key-id"),
          0, 160));
  /* TOC byte clear, the rest not */
  fail_unless (gst_buffer_memcmp (out, 0, "\x5a", 1) == 0);
  fail_if (gst_buffer_memcmp (out, 10, "\x5a\x5a\x5a\x5a", 4) == 0);
  plain = decrypt (out, SECRET, "s1", 6, &kid);
  fail_unless (plain != NULL);
  fail_unless_equals_uint64 (kid, otc_test_stats_u64 (h->element, "key-id"));
  fail_unless (gst_buffer_get_size (plain) == 160);
  fail_unless (gst_buffer_memcmp (plain, 0, "\x5a\x5a\x5a\x5a", 4) == 0);
  /* caps pass unchanged: nothing about the key in them */
  {
    GstCaps *caps = gst_pad_get_current_caps (h->sinkpad);
    gchar *str = gst_caps_to_string (caps);
    fail_unless_equals_string (str,
        "audio/x-opus, channel-mapping-family=(int)0");
    g_free (str);
    gst_caps_unref (caps);
  }
  fail_unless_equals_uint64 (otc_test_stats_u64 (h->element,
          "frames-protected"), 1);
  gst_buffer_unref (in);
  gst_buffer_unref (out);
  gst_buffer_unref (plain);
  fail_unless_equals_int (otc_test_count_messages (bus,
          "otc-encryption-secret-missing", NULL), 0);
  teardown (h, bus);
}

GST_END_TEST;

GST_START_TEST (test_missing_secret)
{
  GstBus *bus;
  GstHarness *h = new_harness (&bus);
  GList *msgs = NULL;
  GstBuffer *out = NULL;
  gint64 deadline;
  guint i;

  gst_harness_set_src_caps_str (h, OPUS_CAPS);
  for (i = 0; i < 10; i++)
    fail_unless_equals_int (gst_harness_push (h, opus_frame (i, 100)),
        GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_buffers_received (h), 0);
  fail_unless_equals_int (otc_test_count_messages (bus,
          "otc-encryption-secret-missing", &msgs), 1);
  {
    gint code = 0;
    fail_unless (gst_structure_get_int (msgs->data, "code", &code));
    fail_unless_equals_int (code, 6000);
  }
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  fail_unless_equals_uint64 (otc_test_stats_u64 (h->element,
          "frames-dropped-no-secret"), 10);

  /* set while PLAYING: derived on a worker, then frames flow */
  g_object_set (h->element, "encryption-secret", SECRET, NULL);
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (out == NULL && g_get_monotonic_time () < deadline) {
    gst_harness_push (h, opus_frame (0x11, 100));
    out = gst_harness_try_pull (h);
  }
  fail_unless (out != NULL, "frames did not flow after the secret was set");
  gst_buffer_unref (out);
  fail_unless_equals_int (otc_test_count_messages (bus,
          "otc-encryption-secret-missing", NULL), 0);
  teardown (h, bus);
}

GST_END_TEST;

GST_START_TEST (test_invalid_secret_keeps_previous)
{
  GstBus *bus;
  GstHarness *h = new_harness_full (&bus, "encryption-secret", SECRET, NULL);
  const gchar *bad[] = { "", "1234567", "abcdefgh\xff", NULL };
  gchar *too_long = g_strnfill (257, 'x');
  GList *msgs = NULL, *l;
  GstBuffer *out, *plain;
  guint i;

  gst_harness_set_src_caps_str (h, OPUS_CAPS);
  for (i = 0; bad[i]; i++)
    g_object_set (h->element, "encryption-secret", bad[i], NULL);
  g_object_set (h->element, "encryption-secret", too_long, NULL);
  g_object_set (h->element, "encryption-secret", NULL, NULL);
  fail_unless_equals_int (otc_test_count_messages (bus,
          "otc-invalid-encryption-secret", &msgs), 5);
  for (l = msgs; l; l = l->next) {
    gint code = 0;
    gchar *str = gst_structure_to_string (l->data);

    fail_unless (gst_structure_get_int (l->data, "code", &code));
    fail_unless_equals_int (code, 6004);
    fail_unless (strstr (str, "1234567") == NULL);
    fail_unless (strstr (str, "xxxxxxxx") == NULL);
    g_free (str);
  }
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);

  /* the secret set first still protects */
  out = gst_harness_push_and_pull (h, opus_frame (3, 50));
  plain = decrypt (out, SECRET, "", 6, NULL);
  fail_unless (plain != NULL);
  gst_buffer_unref (plain);
  gst_buffer_unref (out);
  g_free (too_long);
  teardown (h, bus);
}

GST_END_TEST;

/* gst-launch sets properties before there is a bus: the report waits. */
GST_START_TEST (test_invalid_secret_before_bus)
{
  GstElement *e = gst_element_factory_make ("otcencrypt", NULL);
  GstBus *bus = gst_bus_new ();
  GstStructure *s;

  g_object_set (e, "encryption-secret", "short", NULL);
  gst_element_set_bus (e, bus);
  fail_unless_equals_int (otc_test_count_messages (bus,
          "otc-invalid-encryption-secret", NULL), 0);
  gst_element_set_state (e, GST_STATE_READY);
  s = otc_test_wait_message (bus, "otc-invalid-encryption-secret", 1000);
  fail_unless (s != NULL);
  gst_structure_free (s);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_object_unref (e);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
}

GST_END_TEST;

GST_START_TEST (test_unsupported_codec)
{
  GstBus *bus;
  GstHarness *h = new_harness (&bus);
  GList *msgs = NULL;
  gint code = 0;

  gst_harness_play (h);
  fail_unless (gst_harness_push_event (h, gst_event_new_stream_start ("x")));
  /* sticky: stored even when refused; the buffer shows the refusal */
  {
    GstCaps *h264 = gst_caps_from_string ("video/x-h264");

    gst_harness_push_event (h, gst_event_new_caps (h264));
    gst_caps_unref (h264);
  }
  {
    GstSegment seg;
    gst_segment_init (&seg, GST_FORMAT_TIME);
    gst_harness_push_event (h, gst_event_new_segment (&seg));
  }
  fail_unless_equals_int (gst_harness_push (h, opus_frame (1, 10)),
      GST_FLOW_NOT_NEGOTIATED);
  fail_unless_equals_int (gst_harness_buffers_received (h), 0);
  fail_unless_equals_int (otc_test_count_messages (bus,
          "otc-encryption-unsupported-codec", &msgs), 1);
  fail_unless (gst_structure_get_int (msgs->data, "code", &code));
  fail_unless_equals_int (code, 6005);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  teardown (h, bus);
}

GST_END_TEST;

/* While the new key derives (PBKDF2 on a worker), frames keep flowing with
 * the old one; afterwards they use the new one. None is lost. */
GST_START_TEST (test_secret_change_while_playing)
{
  GstBus *bus;
  GstHarness *h = new_harness_full (&bus, "encryption-secret", SECRET, NULL);
  guint pushed = 0, old_key = 0, new_key = 0, i;
  gint64 deadline;
  guint64 kid_before;

  gst_harness_set_src_caps_str (h, OPUS_CAPS);
  gst_buffer_unref (gst_harness_push_and_pull (h, opus_frame (1, 80)));
  kid_before = otc_test_stats_u64 (h->element, "key-id");

  g_object_set (h->element, "encryption-secret", "the new secret", NULL);
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (new_key < 3 && g_get_monotonic_time () < deadline) {
    GstBuffer *out = gst_harness_push_and_pull (h, opus_frame (pushed, 80));
    GstBuffer *plain;

    pushed++;
    fail_unless (out != NULL);
    if ((plain = decrypt (out, "the new secret", "", 6, NULL))) {
      new_key++;
    } else {
      fail_unless (new_key == 0, "old key used after the new one");
      plain = decrypt (out, SECRET, "", 6, NULL);
      fail_unless (plain != NULL);
      old_key++;
    }
    fail_unless (gst_buffer_memcmp (plain, 1, "\0", 1) != 0
        || (pushed - 1) % 256 == 0);
    gst_buffer_unref (plain);
    gst_buffer_unref (out);
  }
  fail_unless_equals_int (new_key, 3);
  fail_unless_equals_int (old_key + new_key, pushed);
  /* same KID, counter continued */
  fail_unless_equals_uint64 (otc_test_stats_u64 (h->element, "key-id"),
      kid_before);
  fail_unless_equals_uint64 (otc_test_stats_u64 (h->element, "counter"),
      pushed + 1);
  for (i = 0; i < 3; i++)
    fail_unless (otc_test_count_messages (bus, "otc-encryption-secret-missing",
            NULL) == 0);
  teardown (h, bus);
}

GST_END_TEST;

GST_START_TEST (test_key_id_and_suite_properties)
{
  GstBus *bus;
  GstHarness *h = new_harness_full (&bus, "encryption-secret", SECRET,
      "key-id", G_GUINT64_CONSTANT (0xfedcba9876543210), "cipher-suite", 4,
      NULL);
  GstBuffer *out, *plain;
  guint64 kid = 0;
  GstMapInfo map;
  OtcFrameInfo info;
  GValue v = G_VALUE_INIT;

  /* the nick names the suite */
  g_value_init (&v, G_TYPE_STRING);
  g_value_set_string (&v, "aes-128-gcm-sha256-128");
  {
    GParamSpec *p = g_object_class_find_property (G_OBJECT_GET_CLASS
        (h->element), "cipher-suite");
    GValue e = G_VALUE_INIT;
    g_value_init (&e, p->value_type);
    fail_unless (gst_value_deserialize (&e, "aes-128-gcm-sha256-128"));
    fail_unless_equals_int (g_value_get_enum (&e), 4);
    g_value_unset (&e);
  }
  g_value_unset (&v);
  gst_harness_set_src_caps_str (h, OPUS_CAPS);
  out = gst_harness_push_and_pull (h, opus_frame (9, 300));
  gst_buffer_map (out, &map, GST_MAP_READ);
  fail_unless (otc_frame_parse (4, map.data, map.size, &info));
  fail_unless_equals_uint64 (info.kid, G_GUINT64_CONSTANT (0xfedcba9876543210));
  fail_unless_equals_uint64 (info.tag_len, 16);
  gst_buffer_unmap (out, &map);
  plain = decrypt (out, SECRET, "", 4, &kid);
  fail_unless (plain != NULL);
  gst_buffer_unref (plain);
  gst_buffer_unref (out);
  teardown (h, bus);
}

GST_END_TEST;

GST_START_TEST (test_random_kid_per_start)
{
  GstElement *e = gst_element_factory_make ("otcencrypt", NULL);
  guint64 a, b;

  g_object_set (e, "encryption-secret", SECRET, NULL);
  gst_element_set_state (e, GST_STATE_PAUSED);
  a = otc_test_stats_u64 (e, "key-id");
  gst_element_set_state (e, GST_STATE_NULL);
  gst_element_set_state (e, GST_STATE_PAUSED);
  b = otc_test_stats_u64 (e, "key-id");
  gst_element_set_state (e, GST_STATE_NULL);
  fail_unless (a != 0 && b != 0 && a != b);
  gst_object_unref (e);
}

GST_END_TEST;

GST_START_TEST (test_secret_is_write_only)
{
  GstElement *e = gst_element_factory_make ("otcencrypt", NULL);
  GParamSpec *p = g_object_class_find_property (G_OBJECT_GET_CLASS (e),
      "encryption-secret");

  fail_unless (p != NULL);
  fail_if (p->flags & G_PARAM_READABLE);
  fail_unless (p->flags & GST_PARAM_MUTABLE_PLAYING);
  p = g_object_class_find_property (G_OBJECT_GET_CLASS (e),
      "encryption-secret-file");
  fail_if (p->flags & G_PARAM_READABLE);
  gst_object_unref (e);
}

GST_END_TEST;

GST_START_TEST (test_secret_file)
{
  GstBus *bus;
  GstHarness *h;
  gchar *path = NULL;
  gint fd = g_file_open_tmp ("otc-secret-XXXXXX", &path, NULL);
  GstBuffer *out, *plain;

  fail_unless (fd >= 0);
  fail_unless (write (fd, SECRET "\n", strlen (SECRET) + 1) > 0);
  close (fd);
  h = new_harness_full (&bus, "encryption-secret-file", path, NULL);
  gst_harness_set_src_caps_str (h, OPUS_CAPS);
  out = gst_harness_push_and_pull (h, opus_frame (9, 30));
  plain = decrypt (out, SECRET, "", 6, NULL);
  fail_unless (plain != NULL);
  gst_buffer_unref (plain);
  gst_buffer_unref (out);
  /* an unreadable file is an invalid secret, the old one stays */
  g_object_set (h->element, "encryption-secret-file", "/nonexistent/x", NULL);
  fail_unless_equals_int (otc_test_count_messages (bus,
          "otc-invalid-encryption-secret", NULL), 1);
  g_unlink (path);
  g_free (path);
  teardown (h, bus);
}

GST_END_TEST;

static Suite *
otcencrypt_suite (void)
{
  Suite *s = suite_create ("otcencrypt");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_first_frame_protected);
  tcase_add_test (tc, test_missing_secret);
  tcase_add_test (tc, test_invalid_secret_keeps_previous);
  tcase_add_test (tc, test_invalid_secret_before_bus);
  tcase_add_test (tc, test_unsupported_codec);
  tcase_add_test (tc, test_secret_change_while_playing);
  tcase_add_test (tc, test_key_id_and_suite_properties);
  tcase_add_test (tc, test_random_kid_per_start);
  tcase_add_test (tc, test_secret_is_write_only);
  tcase_add_test (tc, test_secret_file);
  return s;
}

GST_CHECK_MAIN (otcencrypt);
