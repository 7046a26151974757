/* The frame-format core beyond the vectors: secrets, headers, every suite
 * over many lengths, tampering, truncation, replays, the key cache and the
 * decryptor's per-stream events. */
#include <string.h>

#include "otc-test-util.h"

static gchar *
repeat (const gchar * unit, guint n)
{
  GString *s = g_string_new (NULL);

  while (n--)
    g_string_append (s, unit);
  return g_string_free (s, FALSE);
}

static void
assert_invalid_secret (const gchar * secret)
{
  GError *error = NULL;

  fail_if (otc_secret_validate (secret, &error));
  fail_unless (g_error_matches (error, OTC_E2EE_ERROR,
          OTC_E2EE_ERROR_INVALID_ENCRYPTION_SECRET));
  fail_unless_equals_int (error->code, 6004);
  if (secret && *secret)
    fail_unless (strstr (error->message, secret) == NULL);
  g_clear_error (&error);
  fail_unless (otc_secret_key_derive (secret, "s", &error) == NULL);
  fail_unless_equals_int (error->code, 6004);
  g_clear_error (&error);
}

GST_START_TEST (test_secret_validation)
{
  gchar *s;

  assert_invalid_secret (NULL);
  assert_invalid_secret ("");
  assert_invalid_secret ("1234567");
  fail_unless (otc_secret_validate ("12345678", NULL));
  s = repeat ("a", 256);
  fail_unless (otc_secret_validate (s, NULL));
  g_free (s);
  s = repeat ("a", 257);
  assert_invalid_secret (s);
  g_free (s);
  /* characters, not bytes: 256 two- and four-byte characters are valid */
  s = repeat ("\xc3\xa9", 256);
  fail_unless (otc_secret_validate (s, NULL));
  g_free (s);
  s = repeat ("\xf0\x9f\x94\x90", 256);
  fail_unless (otc_secret_validate (s, NULL));
  g_free (s);
  s = repeat ("\xc3\xa9", 257);
  assert_invalid_secret (s);
  g_free (s);
  /* 7 characters of 2 bytes each is still too short */
  s = repeat ("\xc3\xa9", 7);
  assert_invalid_secret (s);
  g_free (s);
  assert_invalid_secret ("abcdefgh\xff\xfe");
  assert_invalid_secret ("\xc3\x28 invalid utf8");
  /* used as given: no trimming */
  fail_unless (otc_secret_validate ("        ", NULL));
}

GST_END_TEST;

GST_START_TEST (test_error_names)
{
  gint code;

  for (code = 6000; code <= 6006; code++)
    fail_unless (otc_e2ee_error_name (code) != NULL);
  fail_unless (otc_e2ee_error_name (5999) == NULL);
  fail_unless_equals_string (otc_e2ee_error_name (6003),
      "EncryptionSecretMismatch");
  fail_unless (otc_has_end_to_end_encryption_support ());
  fail_unless (otc_cipher_suite_from_string ("aes-256-ctr-hmac-sha512-80")->
      suite == OTC_CIPHER_SUITE_DEFAULT);
  fail_unless (otc_cipher_suite_from_string ("AES_128_GCM_SHA256_128")->suite
      == 4);
  fail_unless (otc_cipher_suite_from_string ("rot13") == NULL);
  fail_unless (otc_cipher_suite_get_info (0) == NULL);
  fail_unless (otc_cipher_suite_get_info (9) == NULL);
}

GST_END_TEST;

GST_START_TEST (test_header_range)
{
  static const guint64 values[] = { 0, 1, 7, 8, 255, 256, 65535, 65536,
    G_GUINT64_CONSTANT (0xffffffff), G_GUINT64_CONSTANT (0x100000000),
    G_MAXUINT64 - 1, G_MAXUINT64
  };
  guint i, j;

  for (i = 0; i < G_N_ELEMENTS (values); i++) {
    for (j = 0; j < G_N_ELEMENTS (values); j++) {
      guint8 buf[OTC_SFRAME_HEADER_MAX_SIZE];
      guint64 kid, ctr;
      gsize n = otc_sframe_header_encode (values[i], values[j], buf);

      fail_unless (n >= 1 && n <= OTC_SFRAME_HEADER_MAX_SIZE);
      fail_unless_equals_uint64 (otc_sframe_header_decode (buf, n, &kid, &ctr),
          n);
      fail_unless_equals_uint64 (kid, values[i]);
      fail_unless_equals_uint64 (ctr, values[j]);
    }
  }
  {
    guint64 kid, ctr;
    fail_unless_equals_uint64 (otc_sframe_header_decode (NULL, 0, &kid, &ctr),
        0);
  }
}

GST_END_TEST;

/* Every suite, frame lengths 0..300, several clear lengths: the round trip
 * is exact and every single-bit change or truncation is rejected. */
GST_START_TEST (test_all_suites_roundtrip)
{
  OtcSecretKey *sk = otc_test_secret_key ("correct horse battery", "sess");
  static const guint clear_lens[] = { 0, 1, 3, 10, 30, 255, 1000 };
  guint8 frame[300], prot[300 + OTC_FRAME_MAX_OVERHEAD], plain[400];
  OtcCipherSuite suite;
  guint i;

  for (i = 0; i < sizeof (frame); i++)
    frame[i] = (guint8) g_random_int ();

  for (suite = 1; suite <= 8; suite++) {
    OtcFrameKey *key = otc_frame_key_new_for_kid (sk, suite, 1234, NULL);
    guint len, c;

    fail_unless (key != NULL);
    for (len = 0; len <= 300; len++) {
      for (c = 0; c < G_N_ELEMENTS (clear_lens); c++) {
        guint64 ctr = len * 10 + c;
        gssize n = otc_frame_protect (key, ctr, frame, len, clear_lens[c],
            prot, sizeof (prot), NULL);
        OtcFrameInfo info;

        fail_unless (n > 0);
        fail_unless_equals_uint64 (n, otc_frame_protected_size (suite, 1234,
                ctr, len));
        /* the clear prefix really is only the first L bytes */
        fail_unless_equals_int (prot[n - 1], MIN (MIN (clear_lens[c], len),
                255));
        fail_unless (otc_frame_parse (suite, prot, n, &info));
        fail_unless_equals_uint64 (OTC_FRAME_INFO_PLAIN_SIZE (&info), len);
        fail_unless_equals_int (otc_frame_unprotect (key, prot, &info, plain),
            OTC_FRAME_OK);
        fail_unless (memcmp (plain, frame, len) == 0);
        /* in place */
        fail_unless_equals_int (otc_frame_unprotect_in_place (key, prot,
                &info), OTC_FRAME_OK);
        fail_unless (memcmp (prot, frame, len) == 0);
      }
    }

    /* tamper: flip each bit of a 40-byte frame protected with L=10 */
    {
      gssize n = otc_frame_protect (key, 99, frame, 40, 10, prot,
          sizeof (prot), NULL);
      gssize byte;

      for (byte = 0; byte < n; byte++) {
        guint bit;

        for (bit = 0; bit < 8; bit++) {
          OtcFrameInfo info;

          prot[byte] ^= 1 << bit;
          if (otc_frame_parse (suite, prot, n, &info)) {
            if (info.kid == 1234) {
              guint8 copy[40 + OTC_FRAME_MAX_OVERHEAD];

              fail_if (otc_frame_unprotect (key, prot, &info, plain) ==
                  OTC_FRAME_OK, "suite %u byte %zd bit %u", suite, byte, bit);
              /* a failed in-place attempt leaves the frame as it was */
              memcpy (copy, prot, n);
              fail_if (otc_frame_unprotect_in_place (key, copy, &info) ==
                  OTC_FRAME_OK);
              fail_unless (memcmp (copy, prot, n) == 0, "suite %u", suite);
            }
          }
          prot[byte] ^= 1 << bit;
        }
      }
      /* truncation to every shorter length */
      for (byte = 0; byte < n; byte++) {
        OtcFrameInfo info;

        if (otc_frame_parse (suite, prot, byte, &info) && info.kid == 1234)
          fail_if (otc_frame_unprotect (key, prot, &info, plain) ==
              OTC_FRAME_OK);
      }
    }
    otc_frame_key_free (key);
  }
  otc_secret_key_unref (sk);
}

GST_END_TEST;

GST_START_TEST (test_protect_output_too_small)
{
  OtcSecretKey *sk = otc_test_secret_key ("correct horse battery", "sess");
  OtcFrameKey *key = otc_frame_key_new_for_kid (sk, 6, 1, NULL);
  guint8 frame[100] = { 0 }, out[100 + OTC_FRAME_MAX_OVERHEAD];
  GError *error = NULL;
  gsize need = otc_frame_protected_size (6, 1, 0, 100);

  fail_unless (otc_frame_protect (key, 0, frame, 100, 1, out, need - 1,
          &error) < 0);
  fail_unless (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE));
  g_clear_error (&error);
  fail_unless_equals_int64 (otc_frame_protect (key, 0, frame, 100, 1, out,
          need, NULL), need);
  otc_frame_key_free (key);
  otc_secret_key_unref (sk);
}

GST_END_TEST;

GST_START_TEST (test_replay_window)
{
  OtcReplayWindow w;
  guint64 i;

  otc_replay_window_init (&w);
  fail_unless (otc_replay_window_check (&w, 0));
  otc_replay_window_accept (&w, 5);
  fail_if (otc_replay_window_check (&w, 5));
  fail_unless (otc_replay_window_check (&w, 4));
  fail_unless (otc_replay_window_check (&w, 6));
  /* out of order inside the window: once each */
  for (i = 200; i > 80; i -= 3) {
    fail_unless (otc_replay_window_check (&w, i));
    otc_replay_window_accept (&w, i);
    fail_if (otc_replay_window_check (&w, i));
  }
  for (i = 200; i > 80; i -= 3)
    fail_if (otc_replay_window_check (&w, i));
  fail_unless (otc_replay_window_check (&w, 199));
  fail_unless (otc_replay_window_check (&w, 200 - 127));
  fail_if (otc_replay_window_check (&w, 200 - 128));    /* too old */
  /* a jump larger than the window */
  otc_replay_window_accept (&w, 100000);
  fail_if (otc_replay_window_check (&w, 199));
  fail_unless (otc_replay_window_check (&w, 99999));
  otc_replay_window_accept (&w, G_MAXUINT64);
  fail_if (otc_replay_window_check (&w, G_MAXUINT64));
  fail_unless (otc_replay_window_check (&w, G_MAXUINT64 - 1));
  fail_unless (otc_replay_window_check (&w, G_MAXUINT64 - 127));
  fail_if (otc_replay_window_check (&w, G_MAXUINT64 - 128));
}

GST_END_TEST;

GST_START_TEST (test_key_cache_bound)
{
  OtcSecretKey *sk = otc_test_secret_key ("correct horse battery", "sess");
  OtcSecretKey *sk2 = otc_test_secret_key ("another secret!", "sess");
  OtcKeyCache *cache = otc_key_cache_new (6, 8);
  OtcFrameKey *a, *b;
  guint64 kid;

  for (kid = 1; kid <= 100; kid++) {
    fail_unless (otc_key_cache_lookup (cache, sk, kid, NULL) != NULL);
    fail_unless (otc_key_cache_get_size (cache) <= 8);
  }
  fail_unless_equals_int (otc_key_cache_get_size (cache), 8);
  a = otc_key_cache_lookup (cache, sk, 100, NULL);
  fail_unless (otc_key_cache_lookup (cache, sk, 100, NULL) == a);       /* hit */
  fail_unless_equals_uint64 (otc_frame_key_get_kid (a), 100);
  b = otc_key_cache_lookup (cache, sk2, 100, NULL);
  fail_unless (b != a);         /* per (secret, KID) */
  otc_key_cache_forget_secret (cache, otc_secret_key_get_id (sk2));
  fail_unless_equals_int (otc_key_cache_get_size (cache), 7);
  otc_key_cache_free (cache);
  otc_secret_key_unref (sk);
  otc_secret_key_unref (sk2);
}

GST_END_TEST;

/* Protects @n frames with @enc into the array @out (each 64+overhead). */
static gsize
protect_one (OtcFrameEncryptor * enc, guint8 * out, guint8 fill)
{
  guint8 frame[64];
  gssize n;

  memset (frame, fill, sizeof (frame));
  n = otc_frame_encryptor_protect (enc, frame, sizeof (frame), 1, out,
      sizeof (frame) + OTC_FRAME_MAX_OVERHEAD, NULL);
  fail_unless (n > 0);
  return n;
}

/* @n frames from @w that fail to authenticate at @dec: how many of them
 * were reported a mismatch. */
static guint
failing_frames_mismatches (OtcFrameDecryptor * dec, OtcFrameEncryptor * w,
    guint n)
{
  guint8 wf[64 + OTC_FRAME_MAX_OVERHEAD], plain[64 + OTC_FRAME_MAX_OVERHEAD];
  OtcUnprotectResult res;
  guint i, events = 0;

  for (i = 0; i < n; i++) {
    gsize len = protect_one (w, wf, i);

    otc_frame_decryptor_unprotect (dec, wf, len, plain, sizeof (plain), 0,
        &res);
    fail_unless_equals_int (res.status, OTC_FRAME_AUTH_FAILED);
    events += res.event == OTC_STREAM_EVENT_MISMATCH;
    fail_unless (!res.report_retry || res.event == OTC_STREAM_EVENT_MISMATCH);
  }
  return events;
}

GST_START_TEST (test_decryptor_events)
{
  OtcSecretKey *right = otc_test_secret_key ("correct horse battery", "s");
  OtcSecretKey *wrong = otc_test_secret_key ("wrong horse battery", "s");
  OtcFrameEncryptor *enc = otc_frame_encryptor_new (6, 0, 0);
  OtcFrameDecryptor *dec = otc_frame_decryptor_new (6, 0, 0);
  guint8 prot[64 + OTC_FRAME_MAX_OVERHEAD], plain[200];
  OtcUnprotectResult res;
  guint i, mismatches = 0, matches = 0;
  gsize n;
  GError *error = NULL;

  /* encryptor without a secret refuses */
  fail_unless (otc_frame_encryptor_protect (enc, plain, 10, 1, prot,
          sizeof (prot), &error) < 0);
  fail_unless_equals_int (error->code, OTC_E2EE_ERROR_ENCRYPTION_SECRET_MISSING);
  g_clear_error (&error);
  fail_unless (otc_frame_encryptor_set_secret_key (enc, right, NULL));

  /* decryptor without a secret */
  n = protect_one (enc, prot, 1);
  otc_frame_decryptor_unprotect (dec, prot, n, plain, sizeof (plain), 0, &res);
  fail_unless_equals_int (res.status, OTC_FRAME_NO_SECRET);

  otc_frame_decryptor_set_secret_key (dec, wrong, 0);
  for (i = 0; i < 20; i++) {
    n = protect_one (enc, prot, i);
    otc_frame_decryptor_unprotect (dec, prot, n, plain, sizeof (plain), 0,
        &res);
    fail_unless_equals_int (res.status, OTC_FRAME_AUTH_FAILED);
    fail_unless_equals_uint64 (res.kid, otc_frame_encryptor_get_key_id (enc));
    mismatches += res.event == OTC_STREAM_EVENT_MISMATCH;
  }
  fail_unless_equals_int (mismatches, 1);

  otc_frame_decryptor_set_secret_key (dec, right, 0);
  for (i = 0; i < 20; i++) {
    n = protect_one (enc, prot, i);
    otc_frame_decryptor_unprotect (dec, prot, n, plain, sizeof (plain), 0,
        &res);
    fail_unless_equals_int (res.status, OTC_FRAME_OK);
    fail_unless_equals_int (plain[5], i);
    matches += res.event == OTC_STREAM_EVENT_MATCH;
  }
  fail_unless_equals_int (matches, 1);

  /* replay of an accepted frame */
  otc_frame_decryptor_unprotect (dec, prot, n, plain, sizeof (plain), 0, &res);
  fail_unless_equals_int (res.status, OTC_FRAME_REPLAYED);
  fail_unless_equals_int (res.event, OTC_STREAM_EVENT_NONE);

  /* secret change: the previous one is honoured for the grace period */
  otc_frame_decryptor_set_grace_period (dec, 1000);
  otc_frame_decryptor_set_secret_key (dec, wrong, 5000);
  n = protect_one (enc, prot, 7);
  otc_frame_decryptor_unprotect (dec, prot, n, plain, sizeof (plain), 5500,
      &res);
  fail_unless_equals_int (res.status, OTC_FRAME_OK);
  fail_unless_equals_int (res.event, OTC_STREAM_EVENT_NONE);
  n = protect_one (enc, prot, 8);
  otc_frame_decryptor_unprotect (dec, prot, n, plain, sizeof (plain), 6001,
      &res);
  fail_unless_equals_int (res.status, OTC_FRAME_AUTH_FAILED);
  fail_unless_equals_int (res.event, OTC_STREAM_EVENT_MISMATCH);

  otc_frame_encryptor_free (enc);
  otc_frame_decryptor_free (dec);
  otc_secret_key_unref (right);
  otc_secret_key_unref (wrong);
}

GST_END_TEST;

/* The sender's secret changes while the KID and counter go on. */
GST_START_TEST (test_encryptor_secret_change_keeps_counter)
{
  OtcSecretKey *a = otc_test_secret_key ("correct horse battery", "s");
  OtcSecretKey *b = otc_test_secret_key ("wrong horse battery", "s");
  OtcFrameEncryptor *enc = otc_frame_encryptor_new (6, 77, 0);
  guint8 prot[64 + OTC_FRAME_MAX_OVERHEAD];

  fail_unless (otc_frame_encryptor_set_secret_key (enc, a, NULL));
  protect_one (enc, prot, 0);
  protect_one (enc, prot, 0);
  fail_unless (otc_frame_encryptor_set_secret_key (enc, b, NULL));
  fail_unless_equals_uint64 (otc_frame_encryptor_get_key_id (enc), 77);
  fail_unless_equals_uint64 (otc_frame_encryptor_get_counter (enc), 2);
  protect_one (enc, prot, 0);
  fail_unless_equals_uint64 (otc_frame_encryptor_get_counter (enc), 3);
  otc_frame_encryptor_free (enc);
  otc_secret_key_unref (a);
  otc_secret_key_unref (b);
}

GST_END_TEST;

GST_START_TEST (test_counter_wrap_takes_new_kid)
{
  OtcSecretKey *sk = otc_test_secret_key ("correct horse battery", "s");
  OtcFrameEncryptor *enc = otc_frame_encryptor_new (6, 42, G_MAXUINT64 - 1);
  OtcFrameDecryptor *dec = otc_frame_decryptor_new (6, 0, 0);
  guint8 prot[64 + OTC_FRAME_MAX_OVERHEAD], plain[200];
  OtcUnprotectResult res;
  guint i;
  gsize n;

  fail_unless (otc_frame_encryptor_set_secret_key (enc, sk, NULL));
  otc_frame_decryptor_set_secret_key (dec, sk, 0);
  for (i = 0; i < 2; i++) {
    n = protect_one (enc, prot, i);
    otc_frame_decryptor_unprotect (dec, prot, n, plain, sizeof (plain), 0,
        &res);
    fail_unless_equals_int (res.status, OTC_FRAME_OK);
    fail_unless_equals_uint64 (res.kid, 42);
    fail_unless_equals_uint64 (res.ctr, G_MAXUINT64 - 1 + i);
  }
  n = protect_one (enc, prot, 9);
  otc_frame_decryptor_unprotect (dec, prot, n, plain, sizeof (plain), 0, &res);
  fail_unless_equals_int (res.status, OTC_FRAME_OK);
  fail_unless (res.kid != 42);
  fail_unless_equals_uint64 (res.ctr, 0);
  fail_unless_equals_uint64 (otc_frame_encryptor_get_key_id (enc), res.kid);
  otc_frame_encryptor_free (enc);
  otc_frame_decryptor_free (dec);
  otc_secret_key_unref (sk);
}

GST_END_TEST;

/* A fixed key id never reuses a counter in this process: a restarted
 * encryptor goes on where the last stopped, a second live one is refused. */
GST_START_TEST (test_fixed_kid_never_reuses_counters)
{
  OtcSecretKey *sk = otc_test_secret_key ("fixed kid secret", "s");
  OtcSecretKey *other = otc_test_secret_key ("another fixed kid secret", "s");
  OtcFrameEncryptor *a = otc_frame_encryptor_new (6, 4711, 0), *b, *c;
  guint8 prot[64 + OTC_FRAME_MAX_OVERHEAD];
  GError *error = NULL;
  guint i;

  fail_unless (otc_frame_encryptor_set_secret_key (a, sk, NULL));
  for (i = 0; i < 5; i++)
    protect_one (a, prot, i);
  /* a second live encryptor with the same (secret, KID) */
  b = otc_frame_encryptor_new (6, 4711, 0);
  fail_if (otc_frame_encryptor_set_secret_key (b, sk, &error));
  fail_unless (g_error_matches (error, OTC_E2EE_ERROR,
          OTC_E2EE_ERROR_ENCRYPTION_INTERNAL));
  g_clear_error (&error);
  /* the same KID under another secret is another pair */
  fail_unless (otc_frame_encryptor_set_secret_key (b, other, NULL));
  fail_unless_equals_uint64 (otc_frame_encryptor_get_counter (b), 0);
  otc_frame_encryptor_free (b);
  otc_frame_encryptor_free (a);
  /* restarted: resumes after the five used counters */
  c = otc_frame_encryptor_new (6, 4711, 0);
  fail_unless (otc_frame_encryptor_set_secret_key (c, sk, NULL));
  fail_unless_equals_uint64 (otc_frame_encryptor_get_counter (c), 5);
  protect_one (c, prot, 9);
  fail_unless_equals_uint64 (otc_frame_encryptor_get_counter (c), 6);
  otc_frame_encryptor_free (c);
  otc_secret_key_unref (sk);
  otc_secret_key_unref (other);
}

GST_END_TEST;

/* A table full of real streams does not give one up for a forged KID. */
GST_START_TEST (test_full_table_keeps_real_streams)
{
  OtcSecretKey *sk = otc_test_secret_key ("correct horse battery", "s");
  OtcFrameDecryptor *dec = otc_frame_decryptor_new (6, 4, 4);
  OtcFrameEncryptor *enc[5];
  guint8 sent[5][64 + OTC_FRAME_MAX_OVERHEAD], plain[200];
  gsize len[5];
  OtcUnprotectResult res;
  guint i;

  otc_frame_decryptor_set_secret_key (dec, sk, 0);
  for (i = 0; i < 4; i++) {
    enc[i] = otc_frame_encryptor_new (6, 900 + i, 0);
    fail_unless (otc_frame_encryptor_set_secret_key (enc[i], sk, NULL));
    len[i] = protect_one (enc[i], sent[i], i);
    otc_frame_decryptor_unprotect (dec, sent[i], len[i], plain,
        sizeof (plain), 0, &res);
    fail_unless_equals_int (res.status, OTC_FRAME_OK);
  }
  for (i = 0; i < 1000; i++) {
    guint8 forged[40];
    gsize h = otc_sframe_header_encode (5000 + i, 0, forged);

    memset (forged + h, 0xcd, sizeof (forged) - h);
    forged[sizeof (forged) - 1] = 0;
    otc_frame_decryptor_unprotect (dec, forged, sizeof (forged), plain,
        sizeof (plain), 0, &res);
    fail_unless_equals_int (res.status, OTC_FRAME_AUTH_FAILED);
  }
  fail_unless_equals_int (otc_frame_decryptor_get_n_streams (dec), 4);
  /* every real stream still knows its first frame */
  for (i = 0; i < 4; i++) {
    otc_frame_decryptor_unprotect (dec, sent[i], len[i], plain,
        sizeof (plain), 0, &res);
    fail_unless_equals_int (res.status, OTC_FRAME_REPLAYED);
  }
  /* a sender with a wrong secret, while the table is full: reported once,
   * then matched once it has the right secret */
  {
    OtcSecretKey *wrong = otc_test_secret_key ("wrong horse battery", "s");
    OtcFrameEncryptor *w = otc_frame_encryptor_new (6, 777, 0);
    guint8 wf[64 + OTC_FRAME_MAX_OVERHEAD];
    gsize n;

    fail_unless (otc_frame_encryptor_set_secret_key (w, wrong, NULL));
    fail_unless_equals_int (failing_frames_mismatches (dec, w, 10), 1);
    fail_unless_equals_int (otc_frame_decryptor_declare_mismatch (dec, 777),
        OTC_STREAM_EVENT_NONE);
    /* a report the caller could not make comes again with the next
     * failing frame, once; a match before it is made is marked */
    otc_frame_decryptor_defer_report (dec, 777);
    fail_unless_equals_int (failing_frames_mismatches (dec, w, 3), 1);
    fail_unless_equals_int (otc_frame_decryptor_declare_mismatch (dec, 777),
        OTC_STREAM_EVENT_NONE);
    otc_frame_decryptor_defer_report (dec, 777);
    fail_unless (otc_frame_encryptor_set_secret_key (w, sk, NULL));
    n = protect_one (w, wf, 1);
    otc_frame_decryptor_unprotect (dec, wf, n, plain, sizeof (plain), 0, &res);
    fail_unless_equals_int (res.status, OTC_FRAME_OK);
    fail_unless_equals_int (res.event, OTC_STREAM_EVENT_MATCH);
    fail_unless (res.match_unreported);
    fail_unless_equals_int (otc_frame_decryptor_get_n_streams (dec), 4);
    otc_frame_encryptor_free (w);
    otc_secret_key_unref (wrong);
  }
  /* a genuine new stream still gets in (evicting the least recent) */
  enc[4] = otc_frame_encryptor_new (6, 999, 0);
  fail_unless (otc_frame_encryptor_set_secret_key (enc[4], sk, NULL));
  len[4] = protect_one (enc[4], sent[4], 4);
  otc_frame_decryptor_unprotect (dec, sent[4], len[4], plain, sizeof (plain),
      0, &res);
  fail_unless_equals_int (res.status, OTC_FRAME_OK);
  otc_frame_decryptor_unprotect (dec, sent[4], len[4], plain, sizeof (plain),
      0, &res);
  fail_unless_equals_int (res.status, OTC_FRAME_REPLAYED);
  for (i = 0; i < 5; i++)
    otc_frame_encryptor_free (enc[i]);
  otc_frame_decryptor_free (dec);
  otc_secret_key_unref (sk);
}

GST_END_TEST;

GST_START_TEST (test_random_kids)
{
  guint i;
  GHashTable *seen = g_hash_table_new (g_int64_hash, g_int64_equal);
  guint64 kids[1000];

  for (i = 0; i < 1000; i++) {
    OtcFrameEncryptor *enc = otc_frame_encryptor_new (6, 0, 0);

    kids[i] = otc_frame_encryptor_get_key_id (enc);
    fail_unless (kids[i] != 0 && kids[i] <= G_MAXUINT32);
    g_hash_table_add (seen, &kids[i]);
    otc_frame_encryptor_free (enc);
  }
  /* 32 random bits: a collision among 1000 is ~1e-4 likely */
  fail_unless (g_hash_table_size (seen) >= 999);
  g_hash_table_unref (seen);
}

GST_END_TEST;

/* A flood of forged KIDs neither grows memory nor evicts the replay
 * window of a real stream. */
GST_START_TEST (test_kid_flood_bounded)
{
  OtcSecretKey *sk = otc_test_secret_key ("correct horse battery", "s");
  OtcFrameEncryptor *enc = otc_frame_encryptor_new (6, 5, 0);
  OtcFrameDecryptor *dec = otc_frame_decryptor_new (6, 16, 8);
  guint8 prot[64 + OTC_FRAME_MAX_OVERHEAD], real[64 + OTC_FRAME_MAX_OVERHEAD];
  guint8 plain[200];
  OtcUnprotectResult res;
  gsize n, real_len;
  guint i;

  fail_unless (otc_frame_encryptor_set_secret_key (enc, sk, NULL));
  otc_frame_decryptor_set_secret_key (dec, sk, 0);
  real_len = protect_one (enc, real, 1);
  otc_frame_decryptor_unprotect (dec, real, real_len, plain, sizeof (plain),
      0, &res);
  fail_unless_equals_int (res.status, OTC_FRAME_OK);

  for (i = 0; i < 20000; i++) {
    guint8 forged[40];
    guint8 hdr[OTC_SFRAME_HEADER_MAX_SIZE];
    gsize h = otc_sframe_header_encode (1000 + i, 0, hdr);

    memset (forged, 0xab, sizeof (forged));
    memcpy (forged, hdr, h);
    forged[sizeof (forged) - 1] = 0;    /* L = 0 */
    otc_frame_decryptor_unprotect (dec, forged, sizeof (forged), plain,
        sizeof (plain), 0, &res);
    fail_unless_equals_int (res.status, OTC_FRAME_AUTH_FAILED);
    fail_unless (otc_frame_decryptor_get_n_streams (dec) <= 16);
  }
  /* the real stream's window survived: its first frame is still a replay */
  otc_frame_decryptor_unprotect (dec, real, real_len, plain, sizeof (plain),
      0, &res);
  fail_unless_equals_int (res.status, OTC_FRAME_REPLAYED);
  n = protect_one (enc, prot, 2);
  otc_frame_decryptor_unprotect (dec, prot, n, plain, sizeof (plain), 0, &res);
  fail_unless_equals_int (res.status, OTC_FRAME_OK);
  otc_frame_encryptor_free (enc);
  otc_frame_decryptor_free (dec);
  otc_secret_key_unref (sk);
}

GST_END_TEST;

GST_START_TEST (test_malformed_inputs)
{
  OtcSecretKey *sk = otc_test_secret_key ("correct horse battery", "s");
  OtcFrameDecryptor *dec = otc_frame_decryptor_new (6, 0, 0);
  guint8 buf[400], plain[400];
  OtcUnprotectResult res;
  guint len, malformed = 0, auth = 0;

  otc_frame_decryptor_set_secret_key (dec, sk, 0);
  for (len = 0; len <= 300; len++) {
    guint i;

    for (i = 0; i < len; i++)
      buf[i] = (guint8) g_random_int ();
    otc_frame_decryptor_unprotect (dec, buf, len, plain, sizeof (plain), 0,
        &res);
    fail_if (res.status == OTC_FRAME_OK);
    malformed += res.status == OTC_FRAME_MALFORMED;
    auth += res.status == OTC_FRAME_AUTH_FAILED;
  }
  fail_unless (malformed > 0 && auth > 0);
  otc_frame_decryptor_free (dec);
  otc_secret_key_unref (sk);
}

GST_END_TEST;

GST_START_TEST (test_opus_and_small_vp8_clear_length)
{
  guint8 f[20] = { 0 };
  guint l = 99;

  fail_unless (otc_codec_clear_length (OTC_CODEC_OPUS, f, 20, &l, NULL));
  fail_unless_equals_int (l, 1);
  fail_unless (otc_codec_clear_length (OTC_CODEC_OPUS, f, 0, &l, NULL));
  fail_unless_equals_int (l, 0);
  fail_unless (otc_vp8_clear_length (f, 2, &l, NULL));
  fail_unless_equals_int (l, 2);
  /* key frame bit set but no start code: not VP8, the minimum of 10 */
  fail_unless (otc_vp8_clear_length (f, 20, &l, NULL));
  fail_unless_equals_int (l, 10);
  fail_unless_equals_int (otc_codec_from_media_type ("video/x-vp8"),
      OTC_CODEC_VP8);
  fail_unless_equals_int (otc_codec_from_media_type ("video/x-h264"),
      OTC_CODEC_UNKNOWN);
}

GST_END_TEST;

static gpointer
derive_shared_thread (gpointer data)
{
  return otc_secret_key_derive_shared ("shared secret!", data, NULL);
}

GST_START_TEST (test_shared_derivation)
{
  GThread *threads[4];
  OtcSecretKey *keys[4], *other, *again, *plain;
  guint64 id;
  guint i;

  /* concurrent callers share one derivation and one key */
  for (i = 0; i < 4; i++)
    threads[i] = g_thread_new ("derive", derive_shared_thread, "sess");
  for (i = 0; i < 4; i++)
    keys[i] = g_thread_join (threads[i]);
  for (i = 1; i < 4; i++)
    fail_unless (keys[i] == keys[0]);
  plain = otc_secret_key_derive ("shared secret!", "sess", NULL);
  fail_unless (memcmp (otc_secret_key_peek_bytes (plain),
          otc_secret_key_peek_bytes (keys[0]), OTC_SECRET_KEY_SIZE) == 0);
  fail_unless (otc_secret_key_get_id (plain) !=
      otc_secret_key_get_id (keys[0]));
  /* another session id is another key */
  other = otc_secret_key_derive_shared ("shared secret!", "sess2", NULL);
  fail_unless (other != keys[0]);
  fail_unless (memcmp (otc_secret_key_peek_bytes (other),
          otc_secret_key_peek_bytes (keys[0]), OTC_SECRET_KEY_SIZE) != 0);
  /* length-prefixed: ("ab", "c") is not ("a", "bc") */
  {
    OtcSecretKey *x = otc_secret_key_derive_shared ("secret-ab", "c", NULL);
    OtcSecretKey *y = otc_secret_key_derive_shared ("secret-a", "bc", NULL);
    fail_unless (x != y);
    otc_secret_key_unref (x);
    otc_secret_key_unref (y);
  }
  /* the entry goes with the last reference */
  id = otc_secret_key_get_id (keys[0]);
  for (i = 0; i < 4; i++)
    otc_secret_key_unref (keys[i]);
  again = otc_secret_key_derive_shared ("shared secret!", "sess", NULL);
  fail_unless (otc_secret_key_get_id (again) != id);
  fail_if (otc_secret_key_derive_shared ("short", "sess", NULL) != NULL);
  otc_secret_key_unref (again);
  otc_secret_key_unref (other);
  otc_secret_key_unref (plain);
}

GST_END_TEST;

static Suite *
frame_suite (void)
{
  Suite *s = suite_create ("otc-e2ee-frame");
  TCase *tc = tcase_create ("frame");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_secret_validation);
  tcase_add_test (tc, test_shared_derivation);
  tcase_add_test (tc, test_error_names);
  tcase_add_test (tc, test_header_range);
  tcase_add_test (tc, test_all_suites_roundtrip);
  tcase_add_test (tc, test_protect_output_too_small);
  tcase_add_test (tc, test_replay_window);
  tcase_add_test (tc, test_key_cache_bound);
  tcase_add_test (tc, test_decryptor_events);
  tcase_add_test (tc, test_encryptor_secret_change_keeps_counter);
  tcase_add_test (tc, test_counter_wrap_takes_new_kid);
  tcase_add_test (tc, test_random_kids);
  tcase_add_test (tc, test_fixed_kid_never_reuses_counters);
  tcase_add_test (tc, test_full_table_keeps_real_streams);
  tcase_add_test (tc, test_kid_flood_bounded);
  tcase_add_test (tc, test_malformed_inputs);
  tcase_add_test (tc, test_opus_and_small_vp8_clear_length);
  return s;
}

GST_CHECK_MAIN (frame);
