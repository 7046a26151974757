/* Hostile input at the library level (issue 5): a flood of a million
 * distinct forged key ids into one frame decryptor. Its memory stays
 * bounded by its fixed tables (the stream table and the key cache), and
 * genuine streams keep decrypting during and after the flood. */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "otc-test-util.h"

#ifdef OTC_UNDER_ASAN
#define SLOW_MEMCHECK 1
#else
#define SLOW_MEMCHECK RUNNING_ON_VALGRIND
#endif

#define SECRET "correct horse battery staple"
#define PLAIN_LEN 64

/* Heap bytes in use (glibc: small blocks and mmapped ones). */
static gsize
heap_in_use (void)
{
#ifdef OTC_UNDER_ASAN
  return __sanitizer_get_current_allocated_bytes ();
#else
  struct mallinfo2 mi = mallinfo2 ();

  return mi.uordblks + mi.hblkhd;
#endif
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

/* VmRSS of this process in KiB. */
static guint64
rss_kib (void)
{
  gchar *text = NULL;
  const gchar *p;
  guint64 kib = 0;

  fail_unless (g_file_get_contents ("/proc/self/status", &text, NULL, NULL));
  p = strstr (text, "\nVmRSS:");
  fail_unless (p != NULL);
  kib = g_ascii_strtoull (p + strlen ("\nVmRSS:"), NULL, 10);
  g_free (text);
  return kib;
}

/* One genuine frame of @enc: PLAIN_LEN bytes of @fill, no clear prefix. */
static gsize
genuine (OtcFrameEncryptor * enc, guint8 * out, guint8 fill)
{
  guint8 frame[PLAIN_LEN];
  gssize n;

  memset (frame, fill, sizeof (frame));
  n = otc_frame_encryptor_protect (enc, frame, sizeof (frame), 0, out,
      PLAIN_LEN + OTC_FRAME_MAX_OVERHEAD, NULL);
  fail_unless (n > 0);
  return n;
}

/* Decrypts @frame and checks it is the genuine @fill frame. */
static void
assert_decrypts (OtcFrameDecryptor * dec, const guint8 * frame, gsize len,
    guint8 fill, guint64 kid)
{
  guint8 plain[PLAIN_LEN + OTC_FRAME_MAX_OVERHEAD];
  OtcUnprotectResult res;
  guint i;

  otc_frame_decryptor_unprotect (dec, frame, len, plain, sizeof (plain), 0,
      &res);
  fail_unless_equals_int (res.status, OTC_FRAME_OK);
  fail_unless_equals_uint64 (res.kid, kid);
  fail_unless_equals_uint64 (res.out_len, PLAIN_LEN);
  for (i = 0; i < PLAIN_LEN; i++)
    fail_unless_equals_int (plain[i], fill);
}

/* The random bytes of the forged frames: seeded from OTC_TEST_SEED, or
 * afresh (the seed is logged and named in failure messages). */
static GRand *rand_bytes;
static guint32 rand_seed;

static void
seed_random (void)
{
  const gchar *env = g_getenv ("OTC_TEST_SEED");

  rand_seed = env ? (guint32) g_ascii_strtoull (env, NULL, 10) :
      g_random_int ();
  if (rand_bytes)
    g_rand_free (rand_bytes);
  rand_bytes = g_rand_new_with_seed (rand_seed);
  GST_INFO ("seed %u (OTC_TEST_SEED=%u repeats this run)", rand_seed,
      rand_seed);
}

/* A forged frame for @kid: a valid SFrame header, random bytes, footer
 * L = 0 (nothing in clear), long enough to reach the tag check. */
static gsize
forged (guint64 kid, guint64 ctr, guint8 * out, gsize size)
{
  gsize h = otc_sframe_header_encode (kid, ctr, out);
  gsize i;

  for (i = h; i < size; i++)
    out[i] = (guint8) g_rand_int (rand_bytes);
  out[size - 1] = 0;
  return size;
}

static gint
compare_u64 (gconstpointer a, gconstpointer b)
{
  guint64 x = *(const guint64 *) a, y = *(const guint64 *) b;

  return x < y ? -1 : x > y;
}

static gchar *
hex (const guint8 * data, gsize len)
{
  GString *s = g_string_new (NULL);
  gsize i;

  for (i = 0; i < len; i++)
    g_string_append_printf (s, "%02x", data[i]);
  return g_string_free (s, FALSE);
}

/* A forged frame that authenticates is a forgery that worked: name it. */
static void
assert_refused (const OtcUnprotectResult * res, guint suite, guint64 i,
    const guint8 * frame, gsize len)
{
  if (res->status == OTC_FRAME_OK) {
    gchar *h = hex (frame, len);

    fail ("forged frame %" G_GUINT64_FORMAT " authenticated (suite %u, %"
        G_GSIZE_FORMAT " bytes, seed %u): %s", i, suite, len, rand_seed, h);
    g_free (h);
  }
}

/* The genuine streams' KIDs: in the range no forged one takes
 * (otc_test_flood_kid) */
#define KID_A G_GUINT64_CONSTANT (0xA11CE)
#define KID_B G_GUINT64_CONSTANT (0xB0B0B)

/* The flood's KIDs are what the flood tests say: every one of the 2^20
 * that otc_test_flood_kid() makes is distinct (sorted, no two equal), none
 * is a genuine stream's, and every encoded length is among those of the
 * million below. */
GST_START_TEST (test_flood_kids_distinct)
{
  guint64 *kids = g_new (guint64, OTC_TEST_FLOOD_KIDS);
  guint by_length[9] = { 0 };
  guint64 i;

  for (i = 0; i < OTC_TEST_FLOOD_KIDS; i++) {
    guint8 header[OTC_SFRAME_HEADER_MAX_SIZE];

    kids[i] = otc_test_flood_kid (i);
    fail_if (OTC_TEST_FLOOD_FREE_KID (kids[i]), "KID %" G_GUINT64_FORMAT
        " of %" G_GUINT64_FORMAT " is in the genuine streams' range",
        kids[i], i);
    /* a counter below 8 takes no byte: the rest is the KID's */
    if (i < 1000000)
      by_length[otc_sframe_header_encode (kids[i], 0, header) - 1]++;
  }
  fail_unless (OTC_TEST_FLOOD_FREE_KID (KID_A)
      && OTC_TEST_FLOOD_FREE_KID (KID_B));
  qsort (kids, OTC_TEST_FLOOD_KIDS, sizeof (guint64), compare_u64);
  for (i = 1; i < OTC_TEST_FLOOD_KIDS; i++)
    fail_unless (kids[i - 1] < kids[i], "KID %" G_GUINT64_FORMAT " twice",
        kids[i]);
  for (i = 0; i < G_N_ELEMENTS (by_length); i++) {
    GST_INFO ("KIDs of %u bytes: %u", (guint) i, by_length[i]);
    fail_unless (by_length[i] > 0, "no KID of %u bytes", (guint) i);
  }
  g_free (kids);
}

GST_END_TEST;

/* a million; far fewer where every allocation is checked */
#define FLOOD ((guint64) (SLOW_MEMCHECK ? 30000 : 1000000))
#define WARMUP ((guint64) (SLOW_MEMCHECK ? 10000 : 20000))
/* Heap growth allowed between the end of the warm-up and the end of the
 * flood: the tables are full after the warm-up, so a correct decryptor
 * allocates nothing more for good. A leak of even one byte per forged KID
 * is ~1 MB here. */
#define MAX_HEAP_GROWTH (256 * 1024)
#define MAX_RSS_GROWTH_KIB (4 * 1024)

GST_START_TEST (test_million_kid_flood)
{
  OtcSecretKey *sk = otc_test_secret_key (SECRET, "s");
  OtcFrameDecryptor *dec =
      otc_frame_decryptor_new (OTC_CIPHER_SUITE_DEFAULT, 0, 0);
  OtcFrameEncryptor *a = otc_frame_encryptor_new (OTC_CIPHER_SUITE_DEFAULT,
      KID_A, 0);
  OtcFrameEncryptor *b = NULL;
  guint8 frame[PLAIN_LEN + OTC_FRAME_MAX_OVERHEAD];
  guint8 first_a[PLAIN_LEN + OTC_FRAME_MAX_OVERHEAD];
  guint8 plain[PLAIN_LEN + OTC_FRAME_MAX_OVERHEAD];
  gsize len, first_a_len;
  gsize heap_warm = 0, heap_end;
  guint64 rss_warm = 0, rss_end, genuine_ok = 0, b_ok = 0, i;
  guint64 auth_failed = 0, max_streams_seen = 0;
  gint64 t0 = g_get_monotonic_time ();
  OtcUnprotectResult res;

  seed_random ();
  fail_unless (otc_frame_encryptor_set_secret_key (a, sk, NULL));
  otc_frame_decryptor_set_secret_key (dec, sk, 0);
  first_a_len = genuine (a, first_a, 0);
  assert_decrypts (dec, first_a, first_a_len, 0, KID_A);

  for (i = 0; i < FLOOD; i++) {
    gsize n = forged (otc_test_flood_kid (i), i, frame, 24 + i % 40);

    otc_frame_decryptor_unprotect (dec, frame, n, plain, sizeof (plain), 0,
        &res);
    assert_refused (&res, OTC_CIPHER_SUITE_DEFAULT, i, frame, n);
    /* too short for the tag is malformed; anything else fails the tag */
    fail_unless (res.status == OTC_FRAME_AUTH_FAILED
        || res.status == OTC_FRAME_MALFORMED, "status %d at %" G_GUINT64_FORMAT,
        res.status, i);
    auth_failed += res.status == OTC_FRAME_AUTH_FAILED;
    max_streams_seen = MAX (max_streams_seen,
        otc_frame_decryptor_get_n_streams (dec));

    /* the genuine stream keeps decrypting throughout */
    if (i % 1000 == 999) {
      len = genuine (a, frame, (guint8) (i / 1000));
      assert_decrypts (dec, frame, len, (guint8) (i / 1000), KID_A);
      genuine_ok++;
    }
    /* a second genuine stream joins in the middle of the flood */
    if (i == FLOOD / 2) {
      b = otc_frame_encryptor_new (OTC_CIPHER_SUITE_DEFAULT, KID_B, 0);
      fail_unless (otc_frame_encryptor_set_secret_key (b, sk, NULL));
    }
    if (b != NULL && i % 1000 == 500) {
      len = genuine (b, frame, 0xbb);
      assert_decrypts (dec, frame, len, 0xbb, KID_B);
      b_ok++;
    }
    if (i == WARMUP) {
      heap_warm = heap_in_use ();
      rss_warm = rss_kib ();
    }
  }
  heap_end = heap_in_use ();
  rss_end = rss_kib ();
  GST_INFO ("%u forged KIDs in %.1f s: %" G_GUINT64_FORMAT " failed the tag, "
      "heap %" G_GSIZE_FORMAT " -> %" G_GSIZE_FORMAT " bytes, RSS %"
      G_GUINT64_FORMAT " -> %" G_GUINT64_FORMAT " KiB, streams <= %"
      G_GUINT64_FORMAT, (guint) FLOOD, (g_get_monotonic_time () - t0) / 1e6,
      auth_failed, heap_warm, heap_end, rss_warm, rss_end, max_streams_seen);

  /* most forged frames went as far as a key derivation */
  fail_unless (auth_failed > FLOOD / 2);
  fail_unless (max_streams_seen <= OTC_DECRYPTOR_DEFAULT_MAX_STREAMS);
  fail_unless (otc_frame_decryptor_get_n_streams (dec) <=
      OTC_DECRYPTOR_DEFAULT_MAX_STREAMS);
  if (!RUNNING_ON_VALGRIND)
    fail_unless (heap_end <= heap_warm + MAX_HEAP_GROWTH,
        "heap grew by %" G_GSSIZE_FORMAT " bytes over %u forged KIDs",
        (gssize) (heap_end - heap_warm), (guint) (FLOOD - WARMUP));
  if (rss_meaningful ())
    fail_unless (rss_end <= rss_warm + MAX_RSS_GROWTH_KIB,
        "RSS grew by %" G_GUINT64_FORMAT " KiB", rss_end - rss_warm);
  fail_unless_equals_uint64 (genuine_ok, FLOOD / 1000);
  fail_unless (b_ok >= FLOOD / 2000 - 1);

  /* after the flood: the first stream's replay window survived (its very
   * first frame is still a replay), and both streams go on */
  otc_frame_decryptor_unprotect (dec, first_a, first_a_len, plain,
      sizeof (plain), 0, &res);
  fail_unless_equals_int (res.status, OTC_FRAME_REPLAYED);
  len = genuine (a, frame, 0x11);
  assert_decrypts (dec, frame, len, 0x11, KID_A);
  len = genuine (b, frame, 0x22);
  assert_decrypts (dec, frame, len, 0x22, KID_B);

  otc_frame_encryptor_free (a);
  otc_frame_encryptor_free (b);
  otc_frame_decryptor_free (dec);
  otc_secret_key_unref (sk);
}

GST_END_TEST;

/* Every suite: a smaller flood, the same bounds on the tables. */
GST_START_TEST (test_kid_flood_every_suite)
{
  OtcSecretKey *sk = otc_test_secret_key (SECRET, "s");
  guint s;

  seed_random ();
  for (s = 1; s <= 8; s++) {
    OtcFrameDecryptor *dec = otc_frame_decryptor_new (s, 8, 4);
    OtcFrameEncryptor *a = otc_frame_encryptor_new (s, 7, 0);
    guint8 frame[PLAIN_LEN + OTC_FRAME_MAX_OVERHEAD];
    guint8 plain[PLAIN_LEN + OTC_FRAME_MAX_OVERHEAD];
    OtcUnprotectResult res;
    gsize len;
    guint i;

    fail_unless (otc_cipher_suite_get_info (s) != NULL);
    fail_unless (otc_frame_encryptor_set_secret_key (a, sk, NULL));
    otc_frame_decryptor_set_secret_key (dec, sk, 0);
    for (i = 0; i < (SLOW_MEMCHECK ? 2000 : 20000); i++) {
      gsize n = forged (1000 + i, i, frame, 24 + i % 40);

      otc_frame_decryptor_unprotect (dec, frame, n, plain, sizeof (plain), 0,
          &res);
      assert_refused (&res, s, i, frame, n);
      fail_unless (otc_frame_decryptor_get_n_streams (dec) <= 8);
      if (i % 100 == 0) {
        len = genuine (a, frame, (guint8) i);
        assert_decrypts (dec, frame, len, (guint8) i, 7);
      }
    }
    otc_frame_encryptor_free (a);
    otc_frame_decryptor_free (dec);
  }
  otc_secret_key_unref (sk);
}

GST_END_TEST;

static Suite *
hostile_suite (void)
{
  Suite *s = suite_create ("otc-e2ee-hostile");
  TCase *tc = tcase_create ("hostile");

  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 300);
  tcase_add_test (tc, test_flood_kids_distinct);
  tcase_add_test (tc, test_million_kid_flood);
  tcase_add_test (tc, test_kid_flood_every_suite);
  return s;
}

GST_CHECK_MAIN (hostile);
