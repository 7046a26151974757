/* Every vector of ../shared/testvectors: RFC 9605 SFrame (suites 1-5, and
 * 6-8 from the IANA AES-256-CTR registration) and OTC-E2EE v1. */
#include <string.h>

#include "otc-test-util.h"

static JsonArray *
section (JsonNode * root, const gchar * name)
{
  JsonObject *o = json_node_get_object (root);

  fail_unless (json_object_has_member (o, name), "no section %s", name);
  return json_object_get_array_member (o, name);
}

GST_START_TEST (test_sframe_header)
{
  JsonNode *root = otc_test_load_vectors ("sframe/test-vectors.json");
  JsonArray *a = section (root, "header");
  guint i, n = json_array_get_length (a);

  fail_unless (n >= 289);
  for (i = 0; i < n; i++) {
    JsonObject *v = json_array_get_object_element (a, i);
    guint64 kid = otc_test_get_u64 (v, "kid"), ctr = otc_test_get_u64 (v,
        "ctr"), dkid, dctr;
    gsize len, hlen;
    guint8 *expect = otc_test_get_hex (v, "encoded", &len);
    guint8 buf[OTC_SFRAME_HEADER_MAX_SIZE];

    hlen = otc_sframe_header_encode (kid, ctr, buf);
    fail_unless_equals_uint64 (hlen, len);
    fail_unless_equals_uint64 (otc_sframe_header_size (kid, ctr), len);
    fail_unless (memcmp (buf, expect, len) == 0, "vector %u", i);
    fail_unless_equals_uint64 (otc_sframe_header_decode (expect, len, &dkid,
            &dctr), len);
    fail_unless_equals_uint64 (dkid, kid);
    fail_unless_equals_uint64 (dctr, ctr);
    /* one byte short is truncated */
    if (len > 1)
      fail_unless_equals_uint64 (otc_sframe_header_decode (expect, len - 1,
              &dkid, &dctr), 0);
    g_free (expect);
  }
  json_node_unref (root);
}

GST_END_TEST;

static void
check_aead_section (JsonArray * a, guint min_count)
{
  guint i, n = json_array_get_length (a);

  fail_unless (n >= min_count);
  for (i = 0; i < n; i++) {
    JsonObject *v = json_array_get_object_element (a, i);
    OtcCipherSuite suite = otc_test_get_u64 (v, "cipher_suite");
    const OtcCipherSuiteInfo *info = otc_cipher_suite_get_info (suite);
    gsize klen, elen, alen_k, nlen, aadlen, ptlen, ctlen;
    guint8 *key = otc_test_get_hex (v, "key", &klen);
    guint8 *enc_key = otc_test_get_hex (v, "enc_key", &elen);
    guint8 *auth_key = otc_test_get_hex (v, "auth_key", &alen_k);
    guint8 *nonce = otc_test_get_hex (v, "nonce", &nlen);
    guint8 *aad = otc_test_get_hex (v, "aad", &aadlen);
    guint8 *pt = otc_test_get_hex (v, "pt", &ptlen);
    guint8 *ct = otc_test_get_hex (v, "ct", &ctlen);
    guint8 *out = g_malloc0 (ptlen + OTC_MAX_TAG_SIZE);
    OtcFrameKey *fk;

    fail_unless (info != NULL);
    fail_unless_equals_uint64 (klen, info->key_size);
    fail_unless_equals_uint64 (elen, info->enc_key_size);
    fail_unless (memcmp (key, enc_key, elen) == 0);
    fail_unless (memcmp (key + elen, auth_key, alen_k) == 0);
    fail_unless_equals_uint64 (ctlen, ptlen + info->tag_size);

    fk = otc_frame_key_new_raw (suite, 0, key, NULL, NULL);
    fail_unless (fk != NULL);
    fail_unless (otc_frame_key_aead_encrypt (fk, nonce, aad, aadlen, pt,
            ptlen, out, NULL));
    fail_unless (memcmp (out, ct, ctlen) == 0, "suite %u ct", suite);
    memset (out, 0, ptlen);
    fail_unless_equals_int (otc_frame_key_aead_decrypt (fk, nonce, aad,
            aadlen, ct, ctlen, out), OTC_FRAME_OK);
    fail_unless (memcmp (out, pt, ptlen) == 0);
    ct[ctlen - 1] ^= 1;
    fail_unless_equals_int (otc_frame_key_aead_decrypt (fk, nonce, aad,
            aadlen, ct, ctlen, out), OTC_FRAME_AUTH_FAILED);
    otc_frame_key_free (fk);
    g_free (key);
    g_free (enc_key);
    g_free (auth_key);
    g_free (nonce);
    g_free (aad);
    g_free (pt);
    g_free (ct);
    g_free (out);
  }
}

GST_START_TEST (test_aead_ctr_hmac)
{
  JsonNode *root = otc_test_load_vectors ("sframe/test-vectors.json");

  check_aead_section (section (root, "aes_ctr_hmac"), 3);
  check_aead_section (section (root, "aes_256_ctr_hmac"), 3);
  json_node_unref (root);
}

GST_END_TEST;

static void
check_sframe_section (JsonArray * a, guint min_count)
{
  guint i, n = json_array_get_length (a);

  fail_unless (n >= min_count);
  for (i = 0; i < n; i++) {
    JsonObject *v = json_array_get_object_element (a, i);
    OtcCipherSuite suite = otc_test_get_u64 (v, "cipher_suite");
    const OtcCipherSuiteInfo *info = otc_cipher_suite_get_info (suite);
    guint64 kid = otc_test_get_u64 (v, "kid"), ctr = otc_test_get_u64 (v,
        "ctr");
    gsize blen, klen, slen, mlen, nlen, aadlen, ptlen, ctlen, hlen;
    guint8 *base_key = otc_test_get_hex (v, "base_key", &blen);
    guint8 *sframe_key = otc_test_get_hex (v, "sframe_key", &klen);
    guint8 *sframe_salt = otc_test_get_hex (v, "sframe_salt", &slen);
    guint8 *metadata = otc_test_get_hex (v, "metadata", &mlen);
    guint8 *nonce = otc_test_get_hex (v, "nonce", &nlen);
    guint8 *aad = otc_test_get_hex (v, "aad", &aadlen);
    guint8 *pt = otc_test_get_hex (v, "pt", &ptlen);
    guint8 *ct = otc_test_get_hex (v, "ct", &ctlen);
    guint8 key[OTC_MAX_KEY_SIZE], salt[OTC_NONCE_SIZE];
    guint8 header[OTC_SFRAME_HEADER_MAX_SIZE];
    guint8 *out = g_malloc0 (ptlen + OTC_MAX_TAG_SIZE);
    OtcFrameKey *fk;

    fail_unless (info != NULL);
    fail_unless (otc_derive_sframe_key_salt (suite, kid, base_key, blen, key,
            salt, NULL));
    fail_unless_equals_uint64 (klen, info->key_size);
    fail_unless (memcmp (key, sframe_key, klen) == 0, "suite %u key", suite);
    fail_unless (memcmp (salt, sframe_salt, slen) == 0);

    /* aad = header || metadata; ct = header || ciphertext || tag */
    hlen = otc_sframe_header_encode (kid, ctr, header);
    fail_unless_equals_uint64 (aadlen, hlen + mlen);
    fail_unless (memcmp (aad, header, hlen) == 0);
    fail_unless (memcmp (aad + hlen, metadata, mlen) == 0);
    fail_unless (memcmp (ct, header, hlen) == 0);

    fk = otc_frame_key_new_from_base_key (suite, kid, base_key, blen, NULL);
    fail_unless (fk != NULL);
    fail_unless (otc_frame_key_aead_encrypt (fk, nonce, aad, aadlen, pt,
            ptlen, out, NULL));
    fail_unless_equals_uint64 (ctlen, hlen + ptlen + info->tag_size);
    fail_unless (memcmp (out, ct + hlen, ctlen - hlen) == 0,
        "suite %u ciphertext", suite);
    fail_unless_equals_int (otc_frame_key_aead_decrypt (fk, nonce, aad,
            aadlen, ct + hlen, ctlen - hlen, out), OTC_FRAME_OK);
    fail_unless (memcmp (out, pt, ptlen) == 0);
    otc_frame_key_free (fk);
    g_free (base_key);
    g_free (sframe_key);
    g_free (sframe_salt);
    g_free (metadata);
    g_free (nonce);
    g_free (aad);
    g_free (pt);
    g_free (ct);
    g_free (out);
  }
}

GST_START_TEST (test_sframe_suites)
{
  JsonNode *root = otc_test_load_vectors ("sframe/test-vectors.json");
  JsonNode *root256 = otc_test_load_vectors ("sframe/test-vectors-aes256.json");

  check_sframe_section (section (root, "sframe"), 5);
  check_sframe_section (section (root256, "sframe_aes_256_ctr_hmac"), 3);
  json_node_unref (root);
  json_node_unref (root256);
}

GST_END_TEST;

GST_START_TEST (test_otc_positive)
{
  JsonNode *root = otc_test_load_vectors ("otc-e2ee-v1.json");
  JsonObject *o = json_node_get_object (root);
  JsonArray *a = section (root, "vectors");
  guint i, n = json_array_get_length (a);
  guint suites_seen = 0;

  fail_unless_equals_int (json_object_get_int_member (o, "pbkdf2_iterations"),
      OTC_PBKDF2_ITERATIONS);
  fail_unless (n >= 24);
  for (i = 0; i < n; i++) {
    JsonObject *v = json_array_get_object_element (a, i);
    const gchar *secret = json_object_get_string_member (v, "secret");
    const gchar *sid = json_object_get_string_member (v, "session_id");
    OtcCipherSuite suite = otc_test_get_u64 (v, "cipher_suite");
    const OtcCipherSuiteInfo *info = otc_cipher_suite_get_info (suite);
    guint64 kid = otc_test_get_u64 (v, "kid"), ctr = otc_test_get_u64 (v,
        "ctr");
    guint clear_len = otc_test_get_u64 (v, "clear_len");
    gsize flen, sklen, bklen, klen, slen, plen;
    guint8 *frame = otc_test_get_hex (v, "frame", &flen);
    guint8 *exp_sk = otc_test_get_hex (v, "secret_key", &sklen);
    guint8 *exp_base = otc_test_get_hex (v, "sender_base_key", &bklen);
    guint8 *exp_key = otc_test_get_hex (v, "sframe_key", &klen);
    guint8 *exp_salt = otc_test_get_hex (v, "sframe_salt", &slen);
    guint8 *exp_prot = otc_test_get_hex (v, "protected", &plen);
    guint8 base[OTC_MAX_HASH_SIZE], key[OTC_MAX_KEY_SIZE], salt[OTC_NONCE_SIZE];
    guint8 *out = g_malloc0 (flen + OTC_FRAME_MAX_OVERHEAD);
    guint8 *plain = g_malloc0 (plen);
    OtcSecretKey *sk = otc_test_secret_key (secret, sid);
    OtcFrameKey *fk;
    OtcFrameInfo fi;
    OtcFrameDecryptor *dec;
    OtcUnprotectResult res;
    gssize len;

    fail_unless (info != NULL);
    suites_seen |= 1 << suite;
    fail_unless_equals_uint64 (sklen, OTC_SECRET_KEY_SIZE);
    fail_unless (memcmp (otc_secret_key_peek_bytes (sk), exp_sk, sklen) == 0,
        "vector %u: secret key", i);
    fail_unless (otc_derive_sender_base_key (sk, suite, kid, base, NULL));
    fail_unless_equals_uint64 (bklen, info->hash_size);
    fail_unless (memcmp (base, exp_base, bklen) == 0, "vector %u: base", i);
    fail_unless (otc_derive_sframe_key_salt (suite, kid, base, bklen, key,
            salt, NULL));
    fail_unless (memcmp (key, exp_key, klen) == 0, "vector %u: key", i);
    fail_unless (memcmp (salt, exp_salt, slen) == 0, "vector %u: salt", i);

    fk = otc_frame_key_new_for_kid (sk, suite, kid, NULL);
    fail_unless (fk != NULL);
    len = otc_frame_protect (fk, ctr, frame, flen, clear_len, out,
        flen + OTC_FRAME_MAX_OVERHEAD, NULL);
    fail_unless_equals_int64 (len, plen);
    fail_unless_equals_uint64 (len, otc_frame_protected_size (suite, kid, ctr,
            flen));
    fail_unless (memcmp (out, exp_prot, plen) == 0, "vector %u: protected", i);

    fail_unless (otc_frame_parse (suite, exp_prot, plen, &fi));
    fail_unless_equals_uint64 (fi.kid, kid);
    fail_unless_equals_uint64 (fi.ctr, ctr);
    fail_unless_equals_int (fi.clear_len, MIN (clear_len, flen));
    fail_unless_equals_int (otc_frame_unprotect (fk, exp_prot, &fi, plain),
        OTC_FRAME_OK);
    fail_unless (memcmp (plain, frame, flen) == 0);

    /* the receiver object as the elements use it */
    dec = otc_frame_decryptor_new (suite, 0, 0);
    otc_frame_decryptor_set_secret_key (dec, sk, 0);
    otc_frame_decryptor_unprotect (dec, exp_prot, plen, plain, plen, 0, &res);
    fail_unless_equals_int (res.status, OTC_FRAME_OK);
    fail_unless_equals_uint64 (res.out_len, flen);
    fail_unless (memcmp (plain, frame, flen) == 0);
    otc_frame_decryptor_unprotect (dec, exp_prot, plen, plain, plen, 0, &res);
    fail_unless_equals_int (res.status, OTC_FRAME_REPLAYED);
    otc_frame_decryptor_free (dec);

    otc_frame_key_free (fk);
    otc_secret_key_unref (sk);
    g_free (frame);
    g_free (exp_sk);
    g_free (exp_base);
    g_free (exp_key);
    g_free (exp_salt);
    g_free (exp_prot);
    g_free (out);
    g_free (plain);
  }
  fail_unless_equals_int (suites_seen, 0x1fe);  /* all eight suites */
  json_node_unref (root);
}

GST_END_TEST;

GST_START_TEST (test_otc_negative)
{
  JsonNode *root = otc_test_load_vectors ("otc-e2ee-v1.json");
  JsonArray *a = section (root, "negative");
  guint i, n = json_array_get_length (a);

  fail_unless (n >= 9);
  for (i = 0; i < n; i++) {
    JsonObject *v = json_array_get_object_element (a, i);
    const gchar *name = json_object_get_string_member (v, "name");
    const gchar *expect = json_object_get_string_member (v, "expect");
    OtcCipherSuite suite = otc_test_get_u64 (v, "cipher_suite");
    OtcSecretKey *sk = otc_test_secret_key (json_object_get_string_member (v,
            "secret"), json_object_get_string_member (v, "session_id"));
    gsize plen;
    guint8 *prot = otc_test_get_hex (v, "protected", &plen);
    guint8 *out = g_malloc0 (plen + 1);
    OtcFrameDecryptor *dec = otc_frame_decryptor_new (suite, 0, 0);
    OtcUnprotectResult res;

    otc_frame_decryptor_set_secret_key (dec, sk, 0);
    otc_frame_decryptor_unprotect (dec, prot, plen, out, plen, 0, &res);
    GST_INFO ("%s: %s", name, otc_frame_status_name (res.status));
    if (g_str_equal (expect, "auth")) {
      fail_unless_equals_int (res.status, OTC_FRAME_AUTH_FAILED);
    } else if (g_str_equal (expect, "malformed")) {
      fail_unless_equals_int (res.status, OTC_FRAME_MALFORMED);
    } else if (g_str_equal (expect, "auth_or_malformed")) {
      fail_unless (res.status == OTC_FRAME_AUTH_FAILED
          || res.status == OTC_FRAME_MALFORMED, "%s", name);
    } else {
      fail ("unknown expectation %s", expect);
    }
    fail_unless_equals_uint64 (res.out_len, 0);
    otc_frame_decryptor_free (dec);
    otc_secret_key_unref (sk);
    g_free (prot);
    g_free (out);
  }
  json_node_unref (root);
}

GST_END_TEST;

static Suite *
vectors_suite (void)
{
  Suite *s = suite_create ("otc-e2ee-vectors");
  TCase *tc = tcase_create ("vectors");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_sframe_header);
  tcase_add_test (tc, test_aead_ctr_hmac);
  tcase_add_test (tc, test_sframe_suites);
  tcase_add_test (tc, test_otc_positive);
  tcase_add_test (tc, test_otc_negative);
  return s;
}

GST_CHECK_MAIN (vectors);
