/* Internal helpers of libotc-e2ee; not installed. */
#pragma once

#include <glib.h>
#include <openssl/evp.h>
#include "otc/cipher-suite.h"

G_BEGIN_DECLS

#define OTC_LABEL "OTC-E2EE-v1"

/* HKDF (RFC 5869) through OpenSSL's EVP_KDF. */
gboolean otc_hkdf_extract (const gchar * md_name, const guint8 * salt,
    gsize salt_len, const guint8 * ikm, gsize ikm_len, guint8 * prk,
    gsize prk_len);
gboolean otc_hkdf_expand (const gchar * md_name, const guint8 * prk,
    gsize prk_len, const guint8 * info, gsize info_len, guint8 * okm,
    gsize okm_len);

static inline const gchar *
otc_suite_md_name (const OtcCipherSuiteInfo * info)
{
  return info->hash_size == 64 ? "SHA512" : "SHA256";
}

static inline void
otc_write_be64 (guint8 out[8], guint64 v)
{
  guint i;

  for (i = 0; i < 8; i++)
    out[i] = (guint8) (v >> (56 - 8 * i));
}

/* HMAC with the inner and outer pad states computed once per key, so that
 * a frame costs no allocation (OpenSSL 3.0's EVP_MAC and EVP_MD_CTX
 * allocate a provider context on every re-init or copy). */
typedef struct _OtcHmacState OtcHmacState;

OtcHmacState *otc_hmac_state_new (gboolean sha512, const guint8 * key,
    gsize key_len);
void otc_hmac_state_free (OtcHmacState * state);  /* wipes */

typedef struct
{
  const guint8 *data;
  gsize len;
} OtcBytes;

/* HMAC over the concatenation of @parts; writes the full Nh-byte MAC. */
void otc_hmac_state_compute (const OtcHmacState * state,
    const OtcBytes * parts, guint n_parts, guint8 * mac);

G_END_DECLS
