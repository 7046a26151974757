/* Section 1: one frame through protect + unprotect, against the raw
 * OpenSSL work it is made of.
 *
 * "raw" is the least a CTR+HMAC implementation has to do per frame, done
 * the ordinary EVP way: AES-CTR over the encrypted bytes with a pre-keyed
 * EVP_CIPHER_CTX whose IV is set per frame, and HMAC over the same
 * authenticated bytes (RFC 9605 section 4.5.1: lengths, nonce, header,
 * clear bytes, footer, ciphertext) with a pre-keyed EVP_MAC re-initialised
 * per frame; once to encrypt and once to decrypt, like the pair. Its
 * output is checked against the library's before anything is timed, so
 * that both sides do the same work. For the GCM suites raw is one EVP
 * AES-GCM seal and open with the same AAD. */
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <string.h>

#include <otc/e2ee.h>

#include "bench.h"

#define CLEAR_LEN 1             /* Opus policy: the TOC byte */
#define BENCH_KID G_GUINT64_CONSTANT (0x5eed1234)       /* a 32-bit KID */
#define TAG_PREFIX_SIZE (24 + OTC_NONCE_SIZE)
#define MAX_ROUNDS 9
#define MAIN_ROUNDS 7
#define MAIN_ROUND_NS (40 * G_GINT64_CONSTANT (1000000))
#define SUITE_ROUNDS 5
#define SUITE_ROUND_NS (15 * G_GINT64_CONSTANT (1000000))
#define SUITE_FRAME_SIZE 1200

typedef enum
{
  VARIANT_RAW,
  VARIANT_FRAME,                /* otc_frame_protect / _parse / _unprotect */
  VARIANT_OBJECTS,              /* OtcFrameEncryptor / OtcFrameDecryptor */
  N_VARIANTS
} Variant;

typedef struct
{
  const OtcCipherSuiteInfo *info;
  gsize len;
  guint8 *frame;
  guint8 *prot;                 /* protected frame, or raw ct || tag */
  guint8 *plain;
  gsize buf_size;

  /* raw OpenSSL */
  guint8 key[OTC_MAX_KEY_SIZE];
  guint8 salt[OTC_NONCE_SIZE];
  EVP_CIPHER_CTX *raw_enc;
  EVP_CIPHER_CTX *raw_dec;
  EVP_MAC_CTX *mac_enc;
  EVP_MAC_CTX *mac_dec;
  guint64 raw_ctr;

  /* the library */
  OtcFrameKey *key_tx;
  OtcFrameKey *key_rx;
  guint64 frame_ctr;
  OtcFrameEncryptor *enc;
  OtcFrameDecryptor *dec;
  gint64 now_us;

  guint64 failures;
} FrameBench;

static void
write_be64 (guint8 * p, guint64 v)
{
  guint i;

  for (i = 0; i < 8; i++)
    p[i] = (guint8) (v >> (56 - 8 * i));
}

static void
make_nonce (const guint8 salt[OTC_NONCE_SIZE], guint64 ctr,
    guint8 nonce[OTC_NONCE_SIZE])
{
  guint i;

  memcpy (nonce, salt, OTC_NONCE_SIZE);
  for (i = 0; i < 8; i++)
    nonce[OTC_NONCE_SIZE - 1 - i] ^= (guint8) (ctr >> (8 * i));
}

/* aad = header || clear bytes || footer; returns its length. */
static gsize
write_aad (const FrameBench * b, guint64 ctr, guint8 * aad)
{
  gsize hlen = otc_sframe_header_encode (BENCH_KID, ctr, aad);

  memcpy (aad + hlen, b->frame, CLEAR_LEN);
  aad[hlen + CLEAR_LEN] = CLEAR_LEN;
  return hlen + CLEAR_LEN + 1;
}

/* Writes enc_len bytes of ciphertext and the tag to @ct. */
static gboolean
raw_seal (FrameBench * b, guint64 ctr, guint8 * ct)
{
  const OtcCipherSuiteInfo *info = b->info;
  guint8 auth[TAG_PREFIX_SIZE + OTC_SFRAME_HEADER_MAX_SIZE + CLEAR_LEN + 1];
  guint8 nonce[OTC_NONCE_SIZE];
  guint8 iv[16] = { 0 };
  guint8 mac[EVP_MAX_MD_SIZE];
  gsize enc_len = b->len - CLEAR_LEN, aad_len;
  size_t mac_len;
  int n;

  make_nonce (b->salt, ctr, nonce);
  if (info->is_gcm) {
    aad_len = write_aad (b, ctr, auth);
    return EVP_EncryptInit_ex2 (b->raw_enc, NULL, NULL, nonce, NULL) == 1
        && EVP_EncryptUpdate (b->raw_enc, NULL, &n, auth, (int) aad_len) == 1
        && EVP_EncryptUpdate (b->raw_enc, ct, &n, b->frame + CLEAR_LEN,
        (int) enc_len) == 1
        && EVP_EncryptFinal_ex (b->raw_enc, ct + enc_len, &n) == 1
        && EVP_CIPHER_CTX_ctrl (b->raw_enc, EVP_CTRL_AEAD_GET_TAG,
        (int) info->tag_size, ct + enc_len) == 1;
  }

  memcpy (iv, nonce, OTC_NONCE_SIZE);
  if (EVP_EncryptInit_ex2 (b->raw_enc, NULL, NULL, iv, NULL) != 1
      || EVP_EncryptUpdate (b->raw_enc, ct, &n, b->frame + CLEAR_LEN,
          (int) enc_len) != 1)
    return FALSE;

  aad_len = write_aad (b, ctr, auth + TAG_PREFIX_SIZE);
  write_be64 (auth, aad_len);
  write_be64 (auth + 8, enc_len);
  write_be64 (auth + 16, info->tag_size);
  memcpy (auth + 24, nonce, OTC_NONCE_SIZE);
  if (EVP_MAC_init (b->mac_enc, NULL, 0, NULL) != 1
      || EVP_MAC_update (b->mac_enc, auth, TAG_PREFIX_SIZE + aad_len) != 1
      || EVP_MAC_update (b->mac_enc, ct, enc_len) != 1
      || EVP_MAC_final (b->mac_enc, mac, &mac_len, sizeof (mac)) != 1)
    return FALSE;
  memcpy (ct + enc_len, mac, info->tag_size);
  return TRUE;
}

/* Verifies @ct (ciphertext || tag), then decrypts into @pt. */
static gboolean
raw_open (FrameBench * b, guint64 ctr, const guint8 * ct, guint8 * pt)
{
  const OtcCipherSuiteInfo *info = b->info;
  guint8 auth[TAG_PREFIX_SIZE + OTC_SFRAME_HEADER_MAX_SIZE + CLEAR_LEN + 1];
  guint8 nonce[OTC_NONCE_SIZE];
  guint8 iv[16] = { 0 };
  guint8 mac[EVP_MAX_MD_SIZE];
  gsize enc_len = b->len - CLEAR_LEN, aad_len;
  size_t mac_len;
  int n;

  make_nonce (b->salt, ctr, nonce);
  if (info->is_gcm) {
    aad_len = write_aad (b, ctr, auth);
    return EVP_DecryptInit_ex2 (b->raw_dec, NULL, NULL, nonce, NULL) == 1
        && EVP_DecryptUpdate (b->raw_dec, NULL, &n, auth, (int) aad_len) == 1
        && EVP_DecryptUpdate (b->raw_dec, pt, &n, ct, (int) enc_len) == 1
        && EVP_CIPHER_CTX_ctrl (b->raw_dec, EVP_CTRL_AEAD_SET_TAG,
        (int) info->tag_size, (void *) (ct + enc_len)) == 1
        && EVP_DecryptFinal_ex (b->raw_dec, pt + enc_len, &n) == 1;
  }

  aad_len = write_aad (b, ctr, auth + TAG_PREFIX_SIZE);
  write_be64 (auth, aad_len);
  write_be64 (auth + 8, enc_len);
  write_be64 (auth + 16, info->tag_size);
  memcpy (auth + 24, nonce, OTC_NONCE_SIZE);
  if (EVP_MAC_init (b->mac_dec, NULL, 0, NULL) != 1
      || EVP_MAC_update (b->mac_dec, auth, TAG_PREFIX_SIZE + aad_len) != 1
      || EVP_MAC_update (b->mac_dec, ct, enc_len) != 1
      || EVP_MAC_final (b->mac_dec, mac, &mac_len, sizeof (mac)) != 1
      || CRYPTO_memcmp (mac, ct + enc_len, info->tag_size) != 0)
    return FALSE;

  memcpy (iv, nonce, OTC_NONCE_SIZE);
  return EVP_DecryptInit_ex2 (b->raw_dec, NULL, NULL, iv, NULL) == 1
      && EVP_DecryptUpdate (b->raw_dec, pt, &n, ct, (int) enc_len) == 1;
}

static gint64
loop_raw (FrameBench * b, guint n)
{
  gint64 start = bench_now_ns ();
  guint i;

  for (i = 0; i < n; i++) {
    if (!raw_seal (b, b->raw_ctr, b->prot)
        || !raw_open (b, b->raw_ctr, b->prot, b->plain + CLEAR_LEN))
      b->failures++;
    b->raw_ctr++;
  }
  return bench_now_ns () - start;
}

static gint64
loop_frame (FrameBench * b, guint n)
{
  gint64 start = bench_now_ns ();
  OtcFrameInfo info;
  gssize len;
  guint i;

  for (i = 0; i < n; i++) {
    len = otc_frame_protect (b->key_tx, b->frame_ctr++, b->frame, b->len,
        CLEAR_LEN, b->prot, b->buf_size, NULL);
    if (len < 0 || !otc_frame_parse (b->info->suite, b->prot, len, &info)
        || otc_frame_unprotect (b->key_rx, b->prot, &info,
            b->plain) != OTC_FRAME_OK)
      b->failures++;
  }
  return bench_now_ns () - start;
}

static gint64
loop_objects (FrameBench * b, guint n)
{
  gint64 start = bench_now_ns ();
  OtcUnprotectResult res;
  gssize len;
  guint i;

  for (i = 0; i < n; i++) {
    len = otc_frame_encryptor_protect (b->enc, b->frame, b->len, CLEAR_LEN,
        b->prot, b->buf_size, NULL);
    otc_frame_decryptor_unprotect (b->dec, b->prot, len < 0 ? 0 : len,
        b->plain, b->buf_size, b->now_us, &res);
    if (len < 0 || res.status != OTC_FRAME_OK || res.out_len != b->len)
      b->failures++;
  }
  return bench_now_ns () - start;
}

typedef gint64 (*LoopFunc) (FrameBench * b, guint n);

static const LoopFunc loops[N_VARIANTS] = {
  loop_raw, loop_frame, loop_objects
};

static void
frame_bench_free (FrameBench * b)
{
  if (b == NULL)
    return;
  EVP_CIPHER_CTX_free (b->raw_enc);
  EVP_CIPHER_CTX_free (b->raw_dec);
  EVP_MAC_CTX_free (b->mac_enc);
  EVP_MAC_CTX_free (b->mac_dec);
  otc_frame_key_free (b->key_tx);
  otc_frame_key_free (b->key_rx);
  otc_frame_encryptor_free (b->enc);
  otc_frame_decryptor_free (b->dec);
  OPENSSL_cleanse (b->key, sizeof (b->key));
  g_free (b->frame);
  g_free (b->prot);
  g_free (b->plain);
  g_free (b);
}

static EVP_MAC_CTX *
new_hmac (const OtcCipherSuiteInfo * info, const guint8 * key)
{
  EVP_MAC *mac = EVP_MAC_fetch (NULL, "HMAC", NULL);
  EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new (mac) : NULL;
  OSSL_PARAM params[2];

  params[0] = OSSL_PARAM_construct_utf8_string (OSSL_MAC_PARAM_DIGEST,
      (char *) (info->hash_size == 64 ? "SHA512" : "SHA256"), 0);
  params[1] = OSSL_PARAM_construct_end ();
  if (ctx != NULL && EVP_MAC_init (ctx, key + info->enc_key_size,
          info->key_size - info->enc_key_size, params) != 1) {
    EVP_MAC_CTX_free (ctx);
    ctx = NULL;
  }
  EVP_MAC_free (mac);
  return ctx;
}

/* Keys every variant from one SK and KID, and checks that raw produces
 * what the library produces. */
static FrameBench *
frame_bench_new (OtcSecretKey * sk, OtcCipherSuite suite, gsize len)
{
  FrameBench *b = g_new0 (FrameBench, 1);
  guint8 base_key[OTC_MAX_HASH_SIZE];
  const gchar *cipher_name;
  EVP_CIPHER *cipher;
  gsize hlen;
  gssize n;
  GError *error = NULL;

  b->info = otc_cipher_suite_get_info (suite);
  b->len = len;
  b->buf_size = len + OTC_FRAME_MAX_OVERHEAD;
  b->frame = g_malloc (len);
  b->prot = g_malloc (b->buf_size);
  b->plain = g_malloc (b->buf_size);
  RAND_bytes (b->frame, (int) len);
  b->frame[0] = 0xfc;           /* an Opus TOC byte: CELT FB 20 ms, code 0 */

  if (!otc_derive_sender_base_key (sk, suite, BENCH_KID, base_key, &error)
      || !otc_derive_sframe_key_salt (suite, BENCH_KID, base_key,
          b->info->hash_size, b->key, b->salt, &error))
    goto failed;
  OPENSSL_cleanse (base_key, sizeof (base_key));

  if (b->info->is_gcm)
    cipher_name = b->info->enc_key_size == 32 ? "AES-256-GCM" : "AES-128-GCM";
  else
    cipher_name = b->info->enc_key_size == 32 ? "AES-256-CTR" : "AES-128-CTR";
  cipher = EVP_CIPHER_fetch (NULL, cipher_name, NULL);
  b->raw_enc = EVP_CIPHER_CTX_new ();
  b->raw_dec = EVP_CIPHER_CTX_new ();
  if (cipher == NULL
      || EVP_EncryptInit_ex2 (b->raw_enc, cipher, b->key, NULL, NULL) != 1
      || EVP_DecryptInit_ex2 (b->raw_dec, cipher, b->key, NULL, NULL) != 1) {
    EVP_CIPHER_free (cipher);
    g_set_error (&error, OTC_E2EE_ERROR, OTC_E2EE_ERROR_ENCRYPTION_INTERNAL,
        "Could not set up %s", cipher_name);
    goto failed;
  }
  EVP_CIPHER_free (cipher);
  if (!b->info->is_gcm) {
    b->mac_enc = new_hmac (b->info, b->key);
    b->mac_dec = new_hmac (b->info, b->key);
    if (b->mac_enc == NULL || b->mac_dec == NULL) {
      g_set_error (&error, OTC_E2EE_ERROR,
          OTC_E2EE_ERROR_ENCRYPTION_INTERNAL, "Could not set up HMAC");
      goto failed;
    }
  }

  /* sender and receiver each hold their own key state, as in a call */
  b->key_tx = otc_frame_key_new_for_kid (sk, suite, BENCH_KID, &error);
  if (b->key_tx == NULL)
    goto failed;
  b->key_rx = otc_frame_key_new_for_kid (sk, suite, BENCH_KID, &error);
  if (b->key_rx == NULL)
    goto failed;
  b->enc = otc_frame_encryptor_new (suite, BENCH_KID, 0);
  if (!otc_frame_encryptor_set_secret_key (b->enc, sk, &error))
    goto failed;
  b->now_us = g_get_monotonic_time ();
  b->dec = otc_frame_decryptor_new (suite, 0, 0);
  otc_frame_decryptor_set_secret_key (b->dec, sk, b->now_us);

  /* Same work on both sides: raw must reproduce the library's C || T. */
  n = otc_frame_protect (b->key_tx, 1000, b->frame, len, CLEAR_LEN,
      b->prot, b->buf_size, &error);
  if (n < 0)
    goto failed;
  hlen = otc_sframe_header_size (BENCH_KID, 1000);
  if (!raw_seal (b, 1000, b->plain)
      || memcmp (b->plain, b->prot + CLEAR_LEN + hlen,
          len - CLEAR_LEN + b->info->tag_size) != 0) {
    g_set_error (&error, OTC_E2EE_ERROR, OTC_E2EE_ERROR_ENCRYPTION_INTERNAL,
        "The raw OpenSSL reference does not reproduce the library's "
        "output: the comparison would not be fair");
    goto failed;
  }
  b->raw_ctr = b->frame_ctr = 0;
  return b;

failed:
  g_printerr ("  %s at %" G_GSIZE_FORMAT " B: %s\n", b->info->name, len,
      error ? error->message : "failed");
  g_clear_error (&error);
  frame_bench_free (b);
  return NULL;
}

/* Output must match the input after each variant's last frame. */
static gboolean
frame_bench_check (FrameBench * b, Variant v)
{
  if (b->failures > 0)
    return FALSE;
  if (v == VARIANT_RAW)
    return memcmp (b->plain + CLEAR_LEN, b->frame + CLEAR_LEN,
        b->len - CLEAR_LEN) == 0;
  return memcmp (b->plain, b->frame, b->len) == 0;
}

/* Median ns per frame of each variant over @rounds interleaved rounds of
 * about @round_ns each. */
static gboolean
frame_bench_measure (FrameBench * b, guint rounds, gint64 round_ns,
    gdouble ns[N_VARIANTS])
{
  gdouble samples[N_VARIANTS][MAX_ROUNDS];
  guint iters[N_VARIANTS];
  guint r, k, v;

  for (v = 0; v < N_VARIANTS; v++) {
    gint64 t;

    loops[v] (b, 32);           /* warm up; derives the decryptor's key */
    t = loops[v] (b, 64);
    iters[v] = (guint) CLAMP (round_ns * 64 / MAX (t, 1), 16, 4000000);
    if (!frame_bench_check (b, v))
      return FALSE;
  }
  for (r = 0; r < rounds; r++) {
    for (k = 0; k < N_VARIANTS; k++) {
      v = (r + k) % N_VARIANTS; /* rotate the order against drift */
      samples[v][r] = (gdouble) loops[v] (b, iters[v]) / iters[v];
      if (!frame_bench_check (b, v))
        return FALSE;
    }
  }
  for (v = 0; v < N_VARIANTS; v++)
    ns[v] = bench_median (samples[v], rounds);
  return TRUE;
}

static gdouble
mb_per_s (gsize len, gdouble ns)
{
  return len / ns * 1e3;        /* 10^6 bytes per second */
}

static void
add_ratio_target (const gchar * what, const gchar * target, gdouble value,
    gboolean met)
{
  gchar *t = g_strdup_printf ("%s: %s", what, target);
  gchar *v = g_strdup_printf ("%.2fx", value);

  bench_target_add ("1", t, v, met);
  g_free (t);
  g_free (v);
}

static gboolean
run_main_table (OtcSecretKey * sk)
{
  static const gsize sizes[] = { 160, 1200, 10240, 102400 };
  const OtcCipherSuiteInfo *info =
      otc_cipher_suite_get_info (OTC_CIPHER_SUITE_DEFAULT);
  gdouble ns[G_N_ELEMENTS (sizes)][N_VARIANTS];
  guint i;

  g_print ("== 1. One frame through protect + unprotect, against raw "
      "OpenSSL ==\n");
  g_print ("suite 0x%04x %s, clear length %d, KID of 32 bits; median of %d "
      "rounds of ~%d ms\n", info->suite, info->name, CLEAR_LEN, MAIN_ROUNDS,
      (gint) (MAIN_ROUND_NS / 1000000));
  g_print ("raw   = AES-%u-CTR (pre-keyed EVP_CIPHER_CTX, IV set per frame) "
      "+ HMAC-SHA-512 (pre-keyed\n        EVP_MAC, re-initialised per frame) "
      "over the same bytes, to encrypt and again to decrypt\n",
      info->enc_key_size * 8);
  g_print ("frame = otc_frame_protect + otc_frame_parse + "
      "otc_frame_unprotect (one OtcFrameKey per side)\n");
  g_print ("objects = otc_frame_encryptor_protect + "
      "otc_frame_decryptor_unprotect (what the elements call)\n");
  g_print ("MB/s = 10^6 frame bytes a second through the pair; x raw = "
      "throughput / raw throughput\n\n");
  g_print ("  %8s |%-20s|%-27s|%s\n", "", " raw", " frame", " objects");
  g_print ("  %8s | %9s %8s | %9s %8s %6s | %9s %8s %6s\n", "bytes",
      "us/frame", "MB/s", "us/frame", "MB/s", "x raw", "us/frame", "MB/s",
      "x raw");

  for (i = 0; i < G_N_ELEMENTS (sizes); i++) {
    FrameBench *b = frame_bench_new (sk, OTC_CIPHER_SUITE_DEFAULT, sizes[i]);
    gboolean ok = b != NULL && frame_bench_measure (b, MAIN_ROUNDS,
        MAIN_ROUND_NS, ns[i]);

    frame_bench_free (b);
    if (!ok) {
      g_print ("  %8" G_GSIZE_FORMAT " | measurement FAILED (wrong output)\n",
          sizes[i]);
      return FALSE;
    }
    g_print ("  %8" G_GSIZE_FORMAT " | %9.3f %8.0f | %9.3f %8.0f %5.2fx | "
        "%9.3f %8.0f %5.2fx\n", sizes[i],
        ns[i][VARIANT_RAW] / 1e3, mb_per_s (sizes[i], ns[i][VARIANT_RAW]),
        ns[i][VARIANT_FRAME] / 1e3, mb_per_s (sizes[i], ns[i][VARIANT_FRAME]),
        ns[i][VARIANT_RAW] / ns[i][VARIANT_FRAME],
        ns[i][VARIANT_OBJECTS] / 1e3, mb_per_s (sizes[i],
            ns[i][VARIANT_OBJECTS]),
        ns[i][VARIANT_RAW] / ns[i][VARIANT_OBJECTS]);
  }

  g_print ("\n");
  for (i = 0; i < G_N_ELEMENTS (sizes); i++) {
    gdouble fr = ns[i][VARIANT_RAW] / ns[i][VARIANT_FRAME];
    gdouble ob = ns[i][VARIANT_RAW] / ns[i][VARIANT_OBJECTS];
    gchar *target;

    if (sizes[i] < 10240)
      continue;
    target = g_strdup_printf ("throughput >= 0.9x raw at %" G_GSIZE_FORMAT
        " B", sizes[i]);
    g_print ("  ratio  %-34s frame %.2fx %-6s  objects %.2fx %s\n", target,
        fr, bench_verdict (fr >= 0.9), ob, bench_verdict (ob >= 0.9));
    add_ratio_target ("frame", target, fr, fr >= 0.9);
    add_ratio_target ("objects", target, ob, ob >= 0.9);
    g_free (target);
  }
  {
    gdouble fr = ns[0][VARIANT_FRAME] / ns[0][VARIANT_RAW];
    gdouble ob = ns[0][VARIANT_OBJECTS] / ns[0][VARIANT_RAW];
    const gchar *target = "time <= 1.5x raw at 160 B";

    g_print ("  ratio  %-34s frame %.2fx %-6s  objects %.2fx %s\n", target,
        fr, bench_verdict (fr <= 1.5), ob, bench_verdict (ob <= 1.5));
    add_ratio_target ("frame", target, fr, fr <= 1.5);
    add_ratio_target ("objects", target, ob, ob <= 1.5);
  }
  return TRUE;
}

static gboolean
run_suites_table (OtcSecretKey * sk)
{
  static const OtcCipherSuite suites[] = {
    OTC_CIPHER_SUITE_AES_128_CTR_HMAC_SHA256_80,
    OTC_CIPHER_SUITE_AES_128_CTR_HMAC_SHA256_64,
    OTC_CIPHER_SUITE_AES_128_CTR_HMAC_SHA256_32,
    OTC_CIPHER_SUITE_AES_128_GCM_SHA256_128,
    OTC_CIPHER_SUITE_AES_256_GCM_SHA512_128,
    OTC_CIPHER_SUITE_AES_256_CTR_HMAC_SHA512_80,
    OTC_CIPHER_SUITE_AES_256_CTR_HMAC_SHA512_64,
    OTC_CIPHER_SUITE_AES_256_CTR_HMAC_SHA512_32,
  };
  guint i;

  g_print ("\n  All suites at %d B (information; median of %d rounds of "
      "~%d ms):\n", SUITE_FRAME_SIZE, SUITE_ROUNDS,
      (gint) (SUITE_ROUND_NS / 1000000));
  g_print ("  %-6s %-28s |%-11s|%-18s|%s\n", "suite", "name", " raw",
      " frame", " objects");
  g_print ("  %-6s %-28s | %9s | %9s %6s | %9s %8s %6s\n", "", "",
      "us/frame", "us/frame", "x raw", "us/frame", "MB/s", "x raw");
  for (i = 0; i < G_N_ELEMENTS (suites); i++) {
    FrameBench *b = frame_bench_new (sk, suites[i], SUITE_FRAME_SIZE);
    gdouble ns[N_VARIANTS];
    gboolean ok = b != NULL && frame_bench_measure (b, SUITE_ROUNDS,
        SUITE_ROUND_NS, ns);
    const OtcCipherSuiteInfo *info = otc_cipher_suite_get_info (suites[i]);

    frame_bench_free (b);
    if (!ok) {
      g_print ("  0x%04x %-28s | measurement FAILED\n", suites[i], info->name);
      return FALSE;
    }
    g_print ("  0x%04x %-28s | %9.3f | %9.3f %5.2fx | %9.3f %8.0f %5.2fx\n",
        suites[i], info->name, ns[VARIANT_RAW] / 1e3,
        ns[VARIANT_FRAME] / 1e3, ns[VARIANT_RAW] / ns[VARIANT_FRAME],
        ns[VARIANT_OBJECTS] / 1e3, mb_per_s (SUITE_FRAME_SIZE,
            ns[VARIANT_OBJECTS]), ns[VARIANT_RAW] / ns[VARIANT_OBJECTS]);
  }
  return TRUE;
}

/* What a secret change costs off the streaming thread. */
static void
run_pbkdf2 (void)
{
  gdouble ms[3];
  guint i;

  for (i = 0; i < G_N_ELEMENTS (ms); i++) {
    gint64 start = bench_now_ns ();
    OtcSecretKey *sk = otc_secret_key_derive ("otc benchmark secret",
        "bench-session", NULL);

    ms[i] = (bench_now_ns () - start) / 1e6;
    otc_secret_key_unref (sk);
  }
  g_print ("\n  otc_secret_key_derive (PBKDF2-HMAC-SHA256, %d iterations): "
      "%.1f ms (median of %u)\n\n", OTC_PBKDF2_ITERATIONS,
      bench_median (ms, G_N_ELEMENTS (ms)), (guint) G_N_ELEMENTS (ms));
}

gboolean
bench_frame_run (void)
{
  guint8 sk_bytes[OTC_SECRET_KEY_SIZE];
  OtcSecretKey *sk;
  gboolean ok;

  RAND_bytes (sk_bytes, sizeof (sk_bytes));
  sk = otc_secret_key_new_from_bytes (sk_bytes);
  OPENSSL_cleanse (sk_bytes, sizeof (sk_bytes));

  ok = run_main_table (sk) && run_suites_table (sk);
  if (ok)
    run_pbkdf2 ();
  else
    g_print ("\n");
  otc_secret_key_unref (sk);
  return ok;
}
