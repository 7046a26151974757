#ifndef _GNU_SOURCE
#define _GNU_SOURCE             /* memmem */
#endif
#include <stdarg.h>
#include <stdlib.h>
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

/* A run of bytes to search for; not NUL-terminated (raw runs hold any
 * byte). */
typedef struct
{
  gsize len;
  const gchar *what;            /* for the failure message; after data */
  guint8 data[];
} Needle;

static void
add_needle (GPtrArray * needles, const void *data, gsize len,
    const gchar * format, ...) G_GNUC_PRINTF (4, 5);

static void
add_needle (GPtrArray * needles, const void *data, gsize len,
    const gchar * format, ...)
{
  gchar *what;
  gsize what_len;
  Needle *n;
  va_list args;

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);
  what_len = strlen (what);
  n = g_malloc (sizeof (Needle) + len + what_len + 1);
  n->len = len;
  memcpy (n->data, data, len);
  memcpy (n->data + len, what, what_len + 1);
  n->what = (const gchar *) n->data + len;
  g_ptr_array_add (needles, n);
  g_free (what);
}

static gchar *
hex (const guint8 * d, gsize n, gboolean upper, gboolean spaced)
{
  GString *s = g_string_sized_new (3 * n);
  gsize i;

  for (i = 0; i < n; i++)
    g_string_append_printf (s, upper ? "%s%02X" : "%s%02x", spaced && i > 0 ?
        " " : "", d[i]);
  return g_string_free (s, FALSE);
}

/* Every form of every 8-byte run of @key (@len bytes) that
 * otc_test_secret_needles() promises; raw runs only when @raw (a
 * passphrase's 8-byte runs are words that output may well hold). */
static void
add_runs (GPtrArray * needles, const guint8 * key, gsize len, gboolean raw,
    const gchar * what)
{
  const gsize run = 8;
  gsize p;

  for (p = 0; p + run <= len; p++) {
    guint f;

    if (raw)
      add_needle (needles, key + p, run, "bytes %" G_GSIZE_FORMAT "-%"
          G_GSIZE_FORMAT " of %s", p, p + run - 1, what);
    for (f = 0; f < 4; f++) {
      gchar *h = hex (key + p, run, f & 1, f & 2);

      add_needle (needles, h, strlen (h), "bytes %" G_GSIZE_FORMAT "-%"
          G_GSIZE_FORMAT " of %s in %s%s hex", p, p + run - 1, what,
          f & 1 ? "upper-case" : "lower-case", f & 2 ? " spaced" : "");
      g_free (h);
    }
  }
  /* any base64 text of 8 or more consecutive bytes of @key holds 6 of them
   * that start a 3-byte group: 8 characters, whatever the alignment */
  for (p = 0; p + 6 <= len; p++) {
    gchar *b = g_base64_encode (key + p, 6);

    add_needle (needles, b, 8, "bytes %" G_GSIZE_FORMAT "-%" G_GSIZE_FORMAT
        " of %s in base64", p, p + 5, what);
    g_strdelimit (b, "+", '-');
    g_strdelimit (b, "/", '_');
    if (strpbrk (b, "-_"))
      add_needle (needles, b, 8, "bytes %" G_GSIZE_FORMAT "-%"
          G_GSIZE_FORMAT " of %s in base64url", p, p + 5, what);
    g_free (b);
  }
}

GPtrArray *
otc_test_secret_needles (const gchar * const *secrets,
    const gchar * session_id, const guint64 * kids, guint n_kids)
{
  GPtrArray *n = g_ptr_array_new_with_free_func (g_free);
  guint i, j, suite;

  for (i = 0; secrets[i]; i++) {
    OtcSecretKey *sk;
    gchar *what;

    add_needle (n, secrets[i], strlen (secrets[i]), "secret %u", i + 1);
    /* a shorter one in hex or base64 would be a few common characters */
    if (strlen (secrets[i]) >= 8) {
      what = g_strdup_printf ("secret %u", i + 1);
      add_runs (n, (const guint8 *) secrets[i], strlen (secrets[i]), FALSE,
          what);
      g_free (what);
    }
    if (!otc_secret_validate (secrets[i], NULL))
      continue;                 /* no key from an invalid secret */
    sk = otc_test_secret_key (secrets[i], session_id);
    what = g_strdup_printf ("the SK of secret %u", i + 1);
    add_runs (n, otc_secret_key_peek_bytes (sk), OTC_SECRET_KEY_SIZE, TRUE,
        what);
    g_free (what);
    for (j = 0; j < n_kids; j++) {
      for (suite = 1; suite <= 8; suite++) {
        const OtcCipherSuiteInfo *info = otc_cipher_suite_get_info (suite);
        guint8 base[OTC_MAX_HASH_SIZE], key[OTC_MAX_KEY_SIZE],
            salt[OTC_NONCE_SIZE];

        fail_unless (otc_derive_sender_base_key (sk, suite, kids[j], base,
                NULL));
        fail_unless (otc_derive_sframe_key_salt (suite, kids[j], base,
                info->hash_size, key, salt, NULL));
        what = g_strdup_printf ("the sender base key of KID %"
            G_GUINT64_FORMAT ", suite %u, secret %u", kids[j], suite, i + 1);
        add_runs (n, base, info->hash_size, TRUE, what);
        g_free (what);
        /* the CTR suites' authentication key is its second part */
        what = g_strdup_printf ("the SFrame key of KID %" G_GUINT64_FORMAT
            ", suite %u, secret %u", kids[j], suite, i + 1);
        add_runs (n, key, info->key_size, TRUE, what);
        g_free (what);
        what = g_strdup_printf ("the SFrame salt of KID %" G_GUINT64_FORMAT
            ", suite %u, secret %u", kids[j], suite, i + 1);
        add_runs (n, salt, OTC_NONCE_SIZE, TRUE, what);
        g_free (what);
      }
    }
    otc_secret_key_unref (sk);
  }
  return n;
}

/* Needles are found by their first 8 bytes: a bitmap over a hash of those
 * says whether a position may start one (a few in a hundred do), and a
 * sorted array of them gives the needles that do. One pass over the
 * haystack, whatever the number of needles. */
#define FILTER_BITS 22

typedef struct
{
  guint64 prefix;
  const Needle *needle;
} Prefix;

static inline guint64
load_u64 (const guint8 * p)
{
  guint64 v;

  memcpy (&v, p, sizeof (v));
  return v;
}

static inline guint
filter_slot (guint64 v)
{
  return (guint) ((v * G_GUINT64_CONSTANT (0x9E3779B97F4A7C15)) >>
      (64 - FILTER_BITS));
}

static gint
compare_prefix (gconstpointer a, gconstpointer b)
{
  guint64 x = ((const Prefix *) a)->prefix, y = ((const Prefix *) b)->prefix;

  return x < y ? -1 : x > y;
}

const gchar *
otc_test_find_secret (const guint8 * haystack, gsize len,
    GPtrArray * needles, gsize * at)
{
  guint64 *filter = g_new0 (guint64, (1 << FILTER_BITS) / 64);
  Prefix *prefixes = g_new (Prefix, needles->len);
  GPtrArray *shorter = g_ptr_array_new ();
  const Needle *found = NULL;
  gsize n = 0, pos = 0, i;

  for (i = 0; i < needles->len; i++) {
    const Needle *nd = g_ptr_array_index (needles, i);

    if (nd->len < 8) {
      g_ptr_array_add (shorter, (gpointer) nd);
    } else {
      guint slot;

      prefixes[n].prefix = load_u64 (nd->data);
      prefixes[n].needle = nd;
      slot = filter_slot (prefixes[n].prefix);
      filter[slot / 64] |= G_GUINT64_CONSTANT (1) << (slot % 64);
      n++;
    }
  }
  qsort (prefixes, n, sizeof (Prefix), compare_prefix);

  for (pos = 0; found == NULL && len >= 8 && pos <= len - 8; pos++) {
    guint64 v = load_u64 (haystack + pos);
    guint slot = filter_slot (v);
    gsize lo = 0, hi = n;

    if (!(filter[slot / 64] >> (slot % 64) & 1))
      continue;
    while (lo < hi) {           /* the first prefix >= v */
      gsize mid = lo + (hi - lo) / 2;

      if (prefixes[mid].prefix < v)
        lo = mid + 1;
      else
        hi = mid;
    }
    for (; found == NULL && lo < n && prefixes[lo].prefix == v; lo++) {
      const Needle *nd = prefixes[lo].needle;

      if (nd->len <= len - pos && memcmp (haystack + pos, nd->data,
              nd->len) == 0) {
        found = nd;
        *at = pos;
      }
    }
  }
  for (i = 0; found == NULL && i < shorter->len; i++) {
    const Needle *nd = g_ptr_array_index (shorter, i);
    const guint8 *hit = memmem (haystack, len, nd->data, nd->len);

    if (hit) {
      found = nd;
      *at = hit - haystack;
    }
  }
  g_ptr_array_unref (shorter);
  g_free (prefixes);
  g_free (filter);
  return found ? found->what : NULL;
}

void
otc_test_assert_clean_len (const gchar * what, const guint8 * haystack,
    gsize len, GPtrArray * needles)
{
  gsize at = 0;
  const gchar *found = otc_test_find_secret (haystack, len, needles, &at);

  if (found) {
    gsize start = at > 200 ? at - 200 : 0, end = MIN (len, at + 200), i;
    GString *context = g_string_new (NULL);

    /* printable: raw runs may hold any byte */
    for (i = start; i < end; i++) {
      if (g_ascii_isprint (haystack[i]) || haystack[i] == '\n')
        g_string_append_c (context, haystack[i]);
      else
        g_string_append_printf (context, "\\x%02x", haystack[i]);
    }
    fail ("%s contains secret material (%s) at byte %" G_GSIZE_FORMAT
        " of %" G_GSIZE_FORMAT ", near: %s", what, found, at, len,
        context->str);
    g_string_free (context, TRUE);
  }
}

void
otc_test_assert_clean (const gchar * what, const gchar * haystack,
    GPtrArray * needles)
{
  fail_unless (haystack != NULL);
  otc_test_assert_clean_len (what, (const guint8 *) haystack,
      strlen (haystack), needles);
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

/* A bijection of the @bits-bit numbers (1 <= @bits <= 64): a product with
 * an odd number is invertible modulo 2^bits, and so is x ^ (x >> s) (its
 * top s bits are x's, from which the next s follow, and so on). */
static guint64
scramble_bits (guint64 x, guint bits)
{
  guint64 mask = bits == 64 ? G_MAXUINT64 :
      (G_GUINT64_CONSTANT (1) << bits) - 1;

  x = (x * G_GUINT64_CONSTANT (0x9E3779B97F4A7C15)) & mask;
  x ^= x >> (bits / 2 + 1);
  x = (x * G_GUINT64_CONSTANT (0xBF58476D1CE4E5B9)) & mask;
  x ^= x >> (bits / 3 + 1);
  return x;
}

/* One @i in 16 gives a KID below 2^16 (i / 16 scrambled on 16 bits: 0 to
 * 2 bytes after the config byte); the others a KID of exactly 21 to 64
 * bits (3 to 8 bytes, by @i % 44): its top bit set, below it @i scrambled
 * on the bits left, at least 20 (@i < 2^20). Distinct: KIDs of one bit
 * length come from one bijection, and two lengths never meet. */
guint64
otc_test_flood_kid (guint64 i)
{
  guint bits;

  g_assert (i < OTC_TEST_FLOOD_KIDS);
  if (i % 16 == 0)
    return scramble_bits (i / 16, 16);
  bits = 21 + i % 44;
  return G_GUINT64_CONSTANT (1) << (bits - 1) | scramble_bits (i, bits - 1);
}
