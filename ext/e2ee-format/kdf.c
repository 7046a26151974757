/* HKDF-Extract and HKDF-Expand, each as its own EVP_KDF call so that the
 * intermediate values (the test vectors list them) can be checked. */
#include <openssl/core_names.h>
#include <openssl/kdf.h>

#include "otc-private.h"

static gboolean
hkdf (int mode, const gchar * md_name, const guint8 * key, gsize key_len,
    const guint8 * salt, gsize salt_len, const guint8 * info, gsize info_len,
    guint8 * out, gsize out_len)
{
  EVP_KDF *kdf;
  EVP_KDF_CTX *ctx;
  OSSL_PARAM params[6], *p = params;
  gboolean ok;

  kdf = EVP_KDF_fetch (NULL, "HKDF", NULL);
  if (kdf == NULL)
    return FALSE;
  ctx = EVP_KDF_CTX_new (kdf);
  EVP_KDF_free (kdf);
  if (ctx == NULL)
    return FALSE;

  *p++ = OSSL_PARAM_construct_int (OSSL_KDF_PARAM_MODE, &mode);
  *p++ = OSSL_PARAM_construct_utf8_string (OSSL_KDF_PARAM_DIGEST,
      (char *) md_name, 0);
  *p++ = OSSL_PARAM_construct_octet_string (OSSL_KDF_PARAM_KEY,
      (void *) key, key_len);
  if (salt != NULL)
    *p++ = OSSL_PARAM_construct_octet_string (OSSL_KDF_PARAM_SALT,
        (void *) salt, salt_len);
  if (info != NULL)
    *p++ = OSSL_PARAM_construct_octet_string (OSSL_KDF_PARAM_INFO,
        (void *) info, info_len);
  *p = OSSL_PARAM_construct_end ();

  ok = EVP_KDF_derive (ctx, out, out_len, params) == 1;
  EVP_KDF_CTX_free (ctx);
  return ok;
}

gboolean
otc_hkdf_extract (const gchar * md_name, const guint8 * salt, gsize salt_len,
    const guint8 * ikm, gsize ikm_len, guint8 * prk, gsize prk_len)
{
  /* An empty salt is HashLen zeros (RFC 5869 section 2.2): the same HMAC
   * key, so passing it as empty is exact. */
  return hkdf (EVP_KDF_HKDF_MODE_EXTRACT_ONLY, md_name, ikm, ikm_len,
      salt != NULL ? salt : (const guint8 *) "", salt_len, NULL, 0,
      prk, prk_len);
}

gboolean
otc_hkdf_expand (const gchar * md_name, const guint8 * prk, gsize prk_len,
    const guint8 * info, gsize info_len, guint8 * okm, gsize okm_len)
{
  return hkdf (EVP_KDF_HKDF_MODE_EXPAND_ONLY, md_name, prk, prk_len,
      NULL, 0, info, info_len, okm, okm_len);
}
