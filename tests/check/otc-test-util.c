#include <string.h>

#include "otc-test-util.h"

JsonNode *
otc_test_load_vectors (const gchar * name)
{
  const gchar *dir = g_getenv ("OTC_SHARED_DIR");
  gchar *path, *text, *quoted;
  GError *error = NULL;
  JsonParser *parser;
  JsonNode *root;
  GRegex *re;

  fail_unless (dir != NULL, "OTC_SHARED_DIR is not set");
  path = g_build_filename (dir, "testvectors", name, NULL);
  if (!g_file_get_contents (path, &text, NULL, &error))
    fail ("Cannot read %s: %s", path, error->message);

  /* json-glib reads integers as gint64; quote kid/ctr to keep 2^64-1. */
  re = g_regex_new ("\"(kid|ctr)\"(\\s*):(\\s*)([0-9]+)", 0, 0, NULL);
  quoted = g_regex_replace (re, text, -1, 0, "\"\\1\"\\2:\\3\"\\4\"", 0,
      NULL);
  g_regex_unref (re);

  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, quoted, -1, &error))
    fail ("Cannot parse %s: %s", path, error->message);
  root = json_node_copy (json_parser_get_root (parser));
  g_object_unref (parser);
  g_free (quoted);
  g_free (text);
  g_free (path);
  return root;
}

guint64
otc_test_get_u64 (JsonObject * o, const gchar * member)
{
  JsonNode *node = json_object_get_member (o, member);
  guint64 v = 0;

  fail_unless (node != NULL, "missing member %s", member);
  if (json_node_get_value_type (node) == G_TYPE_STRING) {
    fail_unless (g_ascii_string_to_unsigned (json_node_get_string (node), 10,
            0, G_MAXUINT64, &v, NULL));
  } else {
    gint64 i = json_node_get_int (node);
    fail_unless (i >= 0);
    v = (guint64) i;
  }
  return v;
}

guint8 *
otc_test_get_hex (JsonObject * o, const gchar * member, gsize * len)
{
  const gchar *hex = json_object_get_string_member (o, member);
  gsize n, i;
  guint8 *out;

  fail_unless (hex != NULL, "missing member %s", member);
  n = strlen (hex);
  fail_unless (n % 2 == 0);
  out = g_malloc (n / 2 + 1);
  for (i = 0; i < n / 2; i++) {
    gint hi = g_ascii_xdigit_value (hex[2 * i]);
    gint lo = g_ascii_xdigit_value (hex[2 * i + 1]);
    fail_unless (hi >= 0 && lo >= 0);
    out[i] = (guint8) (hi << 4 | lo);
  }
  *len = n / 2;
  return out;
}

gchar *
otc_test_to_hex (const guint8 * data, gsize len)
{
  GString *s = g_string_sized_new (len * 2);
  gsize i;

  for (i = 0; i < len; i++)
    g_string_append_printf (s, "%02x", data[i]);
  return g_string_free (s, FALSE);
}

static GHashTable *sk_cache;

OtcSecretKey *
otc_test_secret_key (const gchar * secret, const gchar * session_id)
{
  gchar *k = g_strconcat (secret, "\x01", session_id ? session_id : "", NULL);
  OtcSecretKey *sk;

  if (sk_cache == NULL)
    sk_cache = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
        (GDestroyNotify) otc_secret_key_unref);
  sk = g_hash_table_lookup (sk_cache, k);
  if (sk == NULL) {
    GError *error = NULL;

    sk = otc_secret_key_derive (secret, session_id, &error);
    fail_unless (sk != NULL, "derive: %s", error ? error->message : "?");
    g_hash_table_insert (sk_cache, k, sk);
  } else {
    g_free (k);
  }
  return otc_secret_key_ref (sk);
}

guint
otc_test_count_messages (GstBus * bus, const gchar * name, GList ** out)
{
  GstMessage *msg;
  guint n = 0;
  GList *kept = NULL;

  while ((msg = gst_bus_pop (bus)) != NULL) {
    const GstStructure *s = gst_message_get_structure (msg);

    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT && s != NULL
        && gst_structure_has_name (s, name)) {
      n++;
      if (out)
        *out = g_list_append (*out, gst_structure_copy (s));
    } else {
      kept = g_list_append (kept, msg);
      continue;
    }
    gst_message_unref (msg);
  }
  /* put the others back, in order */
  for (GList * l = kept; l; l = l->next)
    gst_bus_post (bus, l->data);
  g_list_free (kept);
  return n;
}

GstStructure *
otc_test_wait_message (GstBus * bus, const gchar * name, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * 1000;

  for (;;) {
    gint64 left = deadline - g_get_monotonic_time ();
    GstMessage *msg;

    if (left <= 0)
      return NULL;
    msg = gst_bus_timed_pop_filtered (bus, left * 1000, GST_MESSAGE_ELEMENT);
    if (msg == NULL)
      return NULL;
    if (gst_structure_has_name (gst_message_get_structure (msg), name)) {
      GstStructure *s = gst_structure_copy (gst_message_get_structure (msg));
      gst_message_unref (msg);
      return s;
    }
    gst_message_unref (msg);
  }
}

guint64
otc_test_stats_u64 (GstElement * element, const gchar * field)
{
  GstStructure *stats = NULL;
  guint64 v = 0;

  g_object_get (element, "stats", &stats, NULL);
  fail_unless (stats != NULL);
  fail_unless (gst_structure_get_uint64 (stats, field, &v), "no %s", field);
  gst_structure_free (stats);
  return v;
}

static GstPadProbeReturn
collect_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  g_ptr_array_add (user_data, gst_buffer_ref (GST_PAD_PROBE_INFO_BUFFER (info)));
  return GST_PAD_PROBE_OK;
}

GPtrArray *
otc_test_collect_buffers (const gchar * description)
{
  gchar *desc = g_strdup_printf ("%s ! fakesink name=otc_collect sync=false",
      description);
  GError *error = NULL;
  GstElement *pipeline = gst_parse_launch (desc, &error);
  GPtrArray *out = g_ptr_array_new_with_free_func (
      (GDestroyNotify) gst_buffer_unref);
  GstElement *sink;
  GstPad *pad;
  GstMessage *msg;

  fail_unless (pipeline != NULL, "%s: %s", desc, error ? error->message : "");
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "otc_collect");
  pad = gst_element_get_static_pad (sink, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, collect_probe, out, NULL);
  gst_object_unref (pad);
  gst_object_unref (sink);
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  msg = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (pipeline),
      120 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "timeout running %s", desc);
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    GError *err = NULL;
    gst_message_parse_error (msg, &err, NULL);
    fail ("%s: %s", desc, err->message);
  }
  gst_message_unref (msg);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  g_free (desc);
  return out;
}

GPtrArray *
otc_test_protect_all (GPtrArray * frames, OtcCodec codec,
    const gchar * secret, const gchar * session_id, guint64 kid,
    guint64 first_ctr)
{
  OtcSecretKey *sk = otc_test_secret_key (secret, session_id);
  OtcFrameEncryptor *enc = otc_frame_encryptor_new (OTC_CIPHER_SUITE_DEFAULT,
      kid, first_ctr);
  GPtrArray *out = g_ptr_array_new_with_free_func (
      (GDestroyNotify) gst_buffer_unref);
  guint i;

  fail_unless (otc_frame_encryptor_set_secret_key (enc, sk, NULL));
  for (i = 0; i < frames->len; i++) {
    GstBuffer *in = g_ptr_array_index (frames, i), *p;
    GstMapInfo map;
    guint8 *data;
    guint clear_len;
    gssize n;

    gst_buffer_map (in, &map, GST_MAP_READ);
    fail_unless (otc_codec_clear_length (codec, map.data, map.size,
            &clear_len, NULL));
    data = g_malloc (map.size + OTC_FRAME_MAX_OVERHEAD);
    n = otc_frame_encryptor_protect (enc, map.data, map.size, clear_len, data,
        map.size + OTC_FRAME_MAX_OVERHEAD, NULL);
    fail_unless (n > 0);
    gst_buffer_unmap (in, &map);
    p = gst_buffer_new_wrapped (data, n);
    GST_BUFFER_PTS (p) = GST_BUFFER_PTS (in);
    GST_BUFFER_DURATION (p) = GST_BUFFER_DURATION (in);
    g_ptr_array_add (out, p);
  }
  otc_frame_encryptor_free (enc);
  otc_secret_key_unref (sk);
  return out;
}

gboolean
otc_test_vp8_is_keyframe (GstBuffer * buf)
{
  guint8 b = 1;

  gst_buffer_extract (buf, 0, &b, 1);
  return (b & 1) == 0;
}

void
otc_test_wait_key_ready (GstElement * element)
{
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  for (;;) {
    GstStructure *stats = NULL;
    gboolean pending = TRUE;

    g_object_get (element, "stats", &stats, NULL);
    gst_structure_get_boolean (stats, "secret-pending", &pending);
    gst_structure_free (stats);
    if (!pending)
      return;
    fail_unless (g_get_monotonic_time () < deadline, "key never derived");
    g_usleep (2000);            /* polling a condition, bounded above */
  }
}

static gchar *
hex (const guint8 * d, gsize n, const gchar * fmt)
{
  GString *s = g_string_new (NULL);
  gsize i;

  for (i = 0; i < n; i++)
    g_string_append_printf (s, fmt, d[i]);
  return g_string_free (s, FALSE);
}

GPtrArray *
otc_test_secret_needles (const gchar * const *secrets,
    const gchar * session_id, const guint64 * kids, guint n_kids)
{
  GPtrArray *n = g_ptr_array_new_with_free_func (g_free);
  guint i, j, suite;

  for (i = 0; secrets[i]; i++) {
    OtcSecretKey *sk;

    g_ptr_array_add (n, g_strdup (secrets[i]));
    if (!otc_secret_validate (secrets[i], NULL))
      continue;                 /* no key from an invalid secret */
    sk = otc_test_secret_key (secrets[i], session_id);
    for (j = 0; j < n_kids; j++) {
      for (suite = 1; suite <= 8; suite++) {
        const OtcCipherSuiteInfo *info = otc_cipher_suite_get_info (suite);
        const guint8 *keys[4];
        gsize lens[4];
        guint8 base[OTC_MAX_HASH_SIZE], key[OTC_MAX_KEY_SIZE],
            salt[OTC_NONCE_SIZE];
        guint k;

        fail_unless (otc_derive_sender_base_key (sk, suite, kids[j], base,
                NULL));
        fail_unless (otc_derive_sframe_key_salt (suite, kids[j], base,
                info->hash_size, key, salt, NULL));
        keys[0] = otc_secret_key_peek_bytes (sk);
        lens[0] = OTC_SECRET_KEY_SIZE;
        keys[1] = base;
        lens[1] = info->hash_size;
        keys[2] = key;
        lens[2] = info->key_size;
        keys[3] = key + info->enc_key_size;     /* HMAC key (or beyond) */
        lens[3] = MAX (info->key_size - info->enc_key_size, 8);
        for (k = 0; k < 4; k++) {
          gsize m = MIN (lens[k], 8);   /* any 8-byte run is enough */

          g_ptr_array_add (n, hex (keys[k], m, "%02x"));
          g_ptr_array_add (n, hex (keys[k], m, "%02X"));
          g_ptr_array_add (n, hex (keys[k], m, "%02x "));
          g_ptr_array_add (n, g_base64_encode (keys[k], 9));
        }
      }
    }
  }
  return n;
}

void
otc_test_assert_clean (const gchar * what, const gchar * haystack,
    GPtrArray * n)
{
  guint i;

  fail_unless (haystack != NULL);
  for (i = 0; i < n->len; i++) {
    const gchar *needle = g_ptr_array_index (n, i);
    const gchar *hit = strstr (haystack, needle);

    if (hit) {
      const gchar *start = MAX (haystack, hit - 200);
      fail ("%s contains secret material \"%s\" near: %.400s", what, needle,
          start);
    }
  }
}

gchar *
otc_test_write_secret_file (const gchar * secret)
{
  gchar *path = NULL;
  gint fd = g_file_open_tmp ("otc-hygiene-XXXXXX", &path, NULL);

  fail_unless (fd >= 0);
  fail_unless (write (fd, secret, strlen (secret)) == (gssize) strlen (secret));
  close (fd);
  return path;
}
