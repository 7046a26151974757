/* SFrame cipher suites 0x0001-0x0008 (RFC 9605 section 4.5 and the IANA
 * AES-256-CTR registrations) with the sizes the key schedule needs. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  OTC_CIPHER_SUITE_AES_128_CTR_HMAC_SHA256_80 = 0x0001,
  OTC_CIPHER_SUITE_AES_128_CTR_HMAC_SHA256_64 = 0x0002,
  OTC_CIPHER_SUITE_AES_128_CTR_HMAC_SHA256_32 = 0x0003,
  OTC_CIPHER_SUITE_AES_128_GCM_SHA256_128 = 0x0004,
  OTC_CIPHER_SUITE_AES_256_GCM_SHA512_128 = 0x0005,
  OTC_CIPHER_SUITE_AES_256_CTR_HMAC_SHA512_80 = 0x0006,
  OTC_CIPHER_SUITE_AES_256_CTR_HMAC_SHA512_64 = 0x0007,
  OTC_CIPHER_SUITE_AES_256_CTR_HMAC_SHA512_32 = 0x0008,
} OtcCipherSuite;

#define OTC_CIPHER_SUITE_DEFAULT OTC_CIPHER_SUITE_AES_256_CTR_HMAC_SHA512_80

/* Largest sizes over all suites, for stack buffers. */
#define OTC_MAX_HASH_SIZE 64    /* Nh */
#define OTC_MAX_KEY_SIZE 96     /* Nk */
#define OTC_NONCE_SIZE 12       /* Nn, the same for every suite */
#define OTC_MAX_TAG_SIZE 16     /* Nt */

typedef struct
{
  OtcCipherSuite suite;
  const gchar *name;            /* "AES_256_CTR_HMAC_SHA512_80" */
  const gchar *nick;            /* "aes-256-ctr-hmac-sha512-80" */
  gboolean is_gcm;
  guint hash_size;              /* Nh: 32 (SHA-256) or 64 (SHA-512) */
  guint key_size;               /* Nk: enc key (+ auth key for CTR suites) */
  guint enc_key_size;           /* AES key: 16 or 32 */
  guint tag_size;               /* Nt */
} OtcCipherSuiteInfo;

/* NULL for an unknown suite. */
const OtcCipherSuiteInfo *otc_cipher_suite_get_info (OtcCipherSuite suite);

/* Looks up a suite by its nick or name (case-insensitive); NULL if unknown. */
const OtcCipherSuiteInfo *otc_cipher_suite_from_string (const gchar * s);

G_END_DECLS
