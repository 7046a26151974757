/* Key schedule steps 2-3 and the per-key AEAD state. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

#include "otc/e2ee-error.h"
#include "otc/frame.h"
#include "frame-key-private.h"

static void
set_internal_error (GError ** error, const gchar * what)
{
  g_set_error (error, OTC_E2EE_ERROR, OTC_E2EE_ERROR_ENCRYPTION_INTERNAL,
      "The crypto library failed: %s", what);
}

gboolean
otc_derive_sender_base_key (const OtcSecretKey * sk, OtcCipherSuite suite,
    guint64 kid, guint8 base_key[OTC_MAX_HASH_SIZE], GError ** error)
{
  const OtcCipherSuiteInfo *info = otc_cipher_suite_get_info (suite);
  static const gchar info_label[] = OTC_LABEL " sender key";
  guint8 prk[OTC_MAX_HASH_SIZE];
  guint8 hkdf_info[sizeof (info_label) - 1 + 8];
  gboolean ok;

  g_return_val_if_fail (info != NULL, FALSE);

  ok = otc_hkdf_extract (otc_suite_md_name (info), (const guint8 *) OTC_LABEL,
      strlen (OTC_LABEL), otc_secret_key_peek_bytes (sk), OTC_SECRET_KEY_SIZE,
      prk, info->hash_size);
  memcpy (hkdf_info, info_label, sizeof (info_label) - 1);
  otc_write_be64 (hkdf_info + sizeof (info_label) - 1, kid);
  ok = ok && otc_hkdf_expand (otc_suite_md_name (info), prk, info->hash_size,
      hkdf_info, sizeof (hkdf_info), base_key, info->hash_size);
  OPENSSL_cleanse (prk, sizeof (prk));
  if (!ok)
    set_internal_error (error, "HKDF (sender base key)");
  return ok;
}

gboolean
otc_derive_sframe_key_salt (OtcCipherSuite suite, guint64 kid,
    const guint8 * base_key, gsize base_key_len,
    guint8 sframe_key[OTC_MAX_KEY_SIZE], guint8 sframe_salt[OTC_NONCE_SIZE],
    GError ** error)
{
  const OtcCipherSuiteInfo *info = otc_cipher_suite_get_info (suite);
  static const gchar key_label[] = "SFrame 1.0 Secret key ";
  static const gchar salt_label[] = "SFrame 1.0 Secret salt ";
  guint8 secret[OTC_MAX_HASH_SIZE];
  guint8 label[sizeof (salt_label) - 1 + 8 + 2];
  gsize n;
  gboolean ok;

  g_return_val_if_fail (info != NULL, FALSE);

  ok = otc_hkdf_extract (otc_suite_md_name (info), NULL, 0, base_key,
      base_key_len, secret, info->hash_size);

  n = sizeof (key_label) - 1;
  memcpy (label, key_label, n);
  otc_write_be64 (label + n, kid);
  label[n + 8] = (guint8) (suite >> 8);
  label[n + 9] = (guint8) suite;
  ok = ok && otc_hkdf_expand (otc_suite_md_name (info), secret,
      info->hash_size, label, n + 10, sframe_key, info->key_size);

  n = sizeof (salt_label) - 1;
  memcpy (label, salt_label, n);
  otc_write_be64 (label + n, kid);
  label[n + 8] = (guint8) (suite >> 8);
  label[n + 9] = (guint8) suite;
  ok = ok && otc_hkdf_expand (otc_suite_md_name (info), secret,
      info->hash_size, label, n + 10, sframe_salt, OTC_NONCE_SIZE);

  OPENSSL_cleanse (secret, sizeof (secret));
  if (!ok)
    set_internal_error (error, "HKDF (SFrame key)");
  return ok;
}

OtcFrameKey *
otc_frame_key_new_raw (OtcCipherSuite suite, guint64 kid, const guint8 * key,
    const guint8 * salt, GError ** error)
{
  const OtcCipherSuiteInfo *info = otc_cipher_suite_get_info (suite);
  OtcFrameKey *fk;
  const gchar *cipher_name;
  EVP_CIPHER *cipher;

  if (info == NULL) {
    g_set_error (error, OTC_E2EE_ERROR, OTC_E2EE_ERROR_ENCRYPTION_INTERNAL,
        "Unknown cipher suite 0x%04x", suite);
    return NULL;
  }

  fk = g_new0 (OtcFrameKey, 1);
  fk->info = info;
  fk->kid = kid;
  if (salt != NULL)
    memcpy (fk->salt, salt, OTC_NONCE_SIZE);

  if (info->is_gcm)
    cipher_name = info->enc_key_size == 32 ? "AES-256-GCM" : "AES-128-GCM";
  else
    cipher_name = info->enc_key_size == 32 ? "AES-256-CTR" : "AES-128-CTR";

  cipher = EVP_CIPHER_fetch (NULL, cipher_name, NULL);
  fk->cipher = EVP_CIPHER_CTX_new ();
  if (cipher == NULL || fk->cipher == NULL
      || EVP_EncryptInit_ex2 (fk->cipher, cipher, key, NULL, NULL) != 1) {
    EVP_CIPHER_free (cipher);
    otc_frame_key_free (fk);
    set_internal_error (error, cipher_name);
    return NULL;
  }
  EVP_CIPHER_free (cipher);

  if (!info->is_gcm) {
    /* sframe_key = enc_key || auth_key (RFC 9605 section 4.5.1) */
    fk->hmac = otc_hmac_state_new (info->hash_size == 64,
        key + info->enc_key_size, info->hash_size);
  }
  return fk;
}

OtcFrameKey *
otc_frame_key_new_from_base_key (OtcCipherSuite suite, guint64 kid,
    const guint8 * base_key, gsize base_key_len, GError ** error)
{
  guint8 key[OTC_MAX_KEY_SIZE];
  guint8 salt[OTC_NONCE_SIZE];
  OtcFrameKey *fk = NULL;

  if (otc_cipher_suite_get_info (suite) == NULL) {
    g_set_error (error, OTC_E2EE_ERROR, OTC_E2EE_ERROR_ENCRYPTION_INTERNAL,
        "Unknown cipher suite 0x%04x", suite);
    return NULL;
  }
  if (otc_derive_sframe_key_salt (suite, kid, base_key, base_key_len, key,
          salt, error))
    fk = otc_frame_key_new_raw (suite, kid, key, salt, error);
  OPENSSL_cleanse (key, sizeof (key));
  OPENSSL_cleanse (salt, sizeof (salt));
  return fk;
}

OtcFrameKey *
otc_frame_key_new_for_kid (const OtcSecretKey * sk, OtcCipherSuite suite,
    guint64 kid, GError ** error)
{
  const OtcCipherSuiteInfo *info = otc_cipher_suite_get_info (suite);
  guint8 base_key[OTC_MAX_HASH_SIZE];
  OtcFrameKey *fk = NULL;

  if (info == NULL) {
    g_set_error (error, OTC_E2EE_ERROR, OTC_E2EE_ERROR_ENCRYPTION_INTERNAL,
        "Unknown cipher suite 0x%04x", suite);
    return NULL;
  }
  if (otc_derive_sender_base_key (sk, suite, kid, base_key, error))
    fk = otc_frame_key_new_from_base_key (suite, kid, base_key,
        info->hash_size, error);
  OPENSSL_cleanse (base_key, sizeof (base_key));
  return fk;
}

void
otc_frame_key_free (OtcFrameKey * key)
{
  if (key == NULL)
    return;
  /* EVP_CIPHER_CTX_free cleanses the expanded AES key schedule */
  EVP_CIPHER_CTX_free (key->cipher);
  otc_hmac_state_free (key->hmac);
  OPENSSL_cleanse (key, sizeof (*key));
  g_free (key);
}

OtcCipherSuite
otc_frame_key_get_suite (const OtcFrameKey * key)
{
  return key->info->suite;
}

guint64
otc_frame_key_get_kid (const OtcFrameKey * key)
{
  return key->kid;
}
