#include "otc/cipher-suite.h"

/* Sizes from RFC 9605 section 4.5 and draft-barnes-sframe-iana-256. */
static const OtcCipherSuiteInfo suites[] = {
  {OTC_CIPHER_SUITE_AES_128_CTR_HMAC_SHA256_80, "AES_128_CTR_HMAC_SHA256_80",
      "aes-128-ctr-hmac-sha256-80", FALSE, 32, 48, 16, 10},
  {OTC_CIPHER_SUITE_AES_128_CTR_HMAC_SHA256_64, "AES_128_CTR_HMAC_SHA256_64",
      "aes-128-ctr-hmac-sha256-64", FALSE, 32, 48, 16, 8},
  {OTC_CIPHER_SUITE_AES_128_CTR_HMAC_SHA256_32, "AES_128_CTR_HMAC_SHA256_32",
      "aes-128-ctr-hmac-sha256-32", FALSE, 32, 48, 16, 4},
  {OTC_CIPHER_SUITE_AES_128_GCM_SHA256_128, "AES_128_GCM_SHA256_128",
      "aes-128-gcm-sha256-128", TRUE, 32, 16, 16, 16},
  {OTC_CIPHER_SUITE_AES_256_GCM_SHA512_128, "AES_256_GCM_SHA512_128",
      "aes-256-gcm-sha512-128", TRUE, 64, 32, 32, 16},
  {OTC_CIPHER_SUITE_AES_256_CTR_HMAC_SHA512_80, "AES_256_CTR_HMAC_SHA512_80",
      "aes-256-ctr-hmac-sha512-80", FALSE, 64, 96, 32, 10},
  {OTC_CIPHER_SUITE_AES_256_CTR_HMAC_SHA512_64, "AES_256_CTR_HMAC_SHA512_64",
      "aes-256-ctr-hmac-sha512-64", FALSE, 64, 96, 32, 8},
  {OTC_CIPHER_SUITE_AES_256_CTR_HMAC_SHA512_32, "AES_256_CTR_HMAC_SHA512_32",
      "aes-256-ctr-hmac-sha512-32", FALSE, 64, 96, 32, 4},
};

const OtcCipherSuiteInfo *
otc_cipher_suite_get_info (OtcCipherSuite suite)
{
  if (suite < 1 || suite > G_N_ELEMENTS (suites))
    return NULL;
  return &suites[suite - 1];
}

const OtcCipherSuiteInfo *
otc_cipher_suite_from_string (const gchar * s)
{
  guint i;

  if (s == NULL)
    return NULL;
  for (i = 0; i < G_N_ELEMENTS (suites); i++) {
    if (g_ascii_strcasecmp (s, suites[i].nick) == 0
        || g_ascii_strcasecmp (s, suites[i].name) == 0)
      return &suites[i];
  }
  return NULL;
}
