#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

#include "otc/e2ee-error.h"
#include "otc/secret.h"
#include "otc-private.h"

struct _OtcSecretKey
{
  gint ref_count;
  guint64 id;
  guint8 bytes[OTC_SECRET_KEY_SIZE];
};

static guint64 next_key_id = 1;

gboolean
otc_secret_validate (const gchar * secret, GError ** error)
{
  glong n_chars;

  if (secret == NULL) {
    g_set_error_literal (error, OTC_E2EE_ERROR,
        OTC_E2EE_ERROR_INVALID_ENCRYPTION_SECRET,
        "No encryption secret given");
    return FALSE;
  }
  if (!g_utf8_validate (secret, -1, NULL)) {
    g_set_error_literal (error, OTC_E2EE_ERROR,
        OTC_E2EE_ERROR_INVALID_ENCRYPTION_SECRET,
        "The encryption secret is not valid UTF-8");
    return FALSE;
  }
  n_chars = g_utf8_strlen (secret, -1);
  if (n_chars < OTC_SECRET_MIN_CHARS || n_chars > OTC_SECRET_MAX_CHARS) {
    g_set_error (error, OTC_E2EE_ERROR,
        OTC_E2EE_ERROR_INVALID_ENCRYPTION_SECRET,
        "The encryption secret must have %d to %d characters",
        OTC_SECRET_MIN_CHARS, OTC_SECRET_MAX_CHARS);
    return FALSE;
  }
  return TRUE;
}

static OtcSecretKey *
secret_key_alloc (void)
{
  OtcSecretKey *key = g_new0 (OtcSecretKey, 1);

  key->ref_count = 1;
  key->id = __atomic_fetch_add (&next_key_id, 1, __ATOMIC_RELAXED);
  return key;
}

OtcSecretKey *
otc_secret_key_derive (const gchar * secret, const gchar * session_id,
    GError ** error)
{
  OtcSecretKey *key;
  gsize sid_len, label_len = strlen (OTC_LABEL);
  guint8 *salt;
  gboolean ok;

  if (!otc_secret_validate (secret, error))
    return NULL;

  if (session_id == NULL)
    session_id = "";
  sid_len = strlen (session_id);
  salt = g_malloc (label_len + 1 + sid_len);
  memcpy (salt, OTC_LABEL, label_len);
  salt[label_len] = 0;
  memcpy (salt + label_len + 1, session_id, sid_len);

  key = secret_key_alloc ();
  ok = PKCS5_PBKDF2_HMAC (secret, strlen (secret), salt,
      label_len + 1 + sid_len, OTC_PBKDF2_ITERATIONS, EVP_sha256 (),
      OTC_SECRET_KEY_SIZE, key->bytes) == 1;
  g_free (salt);
  if (!ok) {
    otc_secret_key_unref (key);
    g_set_error_literal (error, OTC_E2EE_ERROR,
        OTC_E2EE_ERROR_ENCRYPTION_INTERNAL,
        "PBKDF2 failed in the crypto library");
    return NULL;
  }
  return key;
}

OtcSecretKey *
otc_secret_key_new_from_bytes (const guint8 sk[OTC_SECRET_KEY_SIZE])
{
  OtcSecretKey *key = secret_key_alloc ();

  memcpy (key->bytes, sk, OTC_SECRET_KEY_SIZE);
  return key;
}

OtcSecretKey *
otc_secret_key_ref (OtcSecretKey * key)
{
  g_atomic_int_inc (&key->ref_count);
  return key;
}

void
otc_secret_key_unref (OtcSecretKey * key)
{
  if (key == NULL || !g_atomic_int_dec_and_test (&key->ref_count))
    return;
  OPENSSL_cleanse (key->bytes, sizeof (key->bytes));
  g_free (key);
}

const guint8 *
otc_secret_key_peek_bytes (const OtcSecretKey * key)
{
  return key->bytes;
}

guint64
otc_secret_key_get_id (const OtcSecretKey * key)
{
  return key->id;
}
