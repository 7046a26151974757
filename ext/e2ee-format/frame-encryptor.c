#include <openssl/rand.h>

#include "otc/e2ee-error.h"
#include "otc/frame-encryptor.h"

struct _OtcFrameEncryptor
{
  OtcCipherSuite suite;
  guint64 kid;
  guint64 ctr;
  gboolean ctr_spent;           /* G_MAXUINT64 was used: take a new KID */
  OtcSecretKey *sk;
  OtcFrameKey *key;
};

guint64
otc_random_key_id (void)
{
  guint32 r = 0;

  while (r == 0) {
    if (RAND_bytes ((unsigned char *) &r, sizeof (r)) != 1)
      r = g_random_int ();
  }
  return r;
}

OtcFrameEncryptor *
otc_frame_encryptor_new (OtcCipherSuite suite, guint64 kid, guint64 first_ctr)
{
  OtcFrameEncryptor *enc;

  g_return_val_if_fail (otc_cipher_suite_get_info (suite) != NULL, NULL);
  enc = g_new0 (OtcFrameEncryptor, 1);
  enc->suite = suite;
  enc->kid = kid != 0 ? kid : otc_random_key_id ();
  enc->ctr = first_ctr;
  return enc;
}

void
otc_frame_encryptor_free (OtcFrameEncryptor * enc)
{
  if (enc == NULL)
    return;
  otc_frame_key_free (enc->key);
  otc_secret_key_unref (enc->sk);
  g_free (enc);
}

gboolean
otc_frame_encryptor_set_secret_key (OtcFrameEncryptor * enc,
    OtcSecretKey * sk, GError ** error)
{
  OtcFrameKey *key = NULL;

  if (sk != NULL) {
    key = otc_frame_key_new_for_kid (sk, enc->suite, enc->kid, error);
    if (key == NULL)
      return FALSE;
    otc_secret_key_ref (sk);
  }
  otc_frame_key_free (enc->key);
  otc_secret_key_unref (enc->sk);
  enc->key = key;
  enc->sk = sk;
  return TRUE;
}

gboolean
otc_frame_encryptor_has_secret (const OtcFrameEncryptor * enc)
{
  return enc->key != NULL;
}

guint64
otc_frame_encryptor_get_key_id (const OtcFrameEncryptor * enc)
{
  return enc->kid;
}

guint64
otc_frame_encryptor_get_counter (const OtcFrameEncryptor * enc)
{
  return enc->ctr;
}

OtcCipherSuite
otc_frame_encryptor_get_suite (const OtcFrameEncryptor * enc)
{
  return enc->suite;
}

gsize
otc_frame_encryptor_max_protected_size (const OtcFrameEncryptor * enc,
    gsize frame_len)
{
  return frame_len + OTC_FRAME_MAX_OVERHEAD;
}

/* Never reuse a (KID, CTR) pair: past the last counter, a new KID. */
static gboolean
rotate_key_id (OtcFrameEncryptor * enc, GError ** error)
{
  guint64 old = enc->kid;
  OtcFrameKey *key;

  do {
    enc->kid = otc_random_key_id ();
  } while (enc->kid == old);
  key = otc_frame_key_new_for_kid (enc->sk, enc->suite, enc->kid, error);
  if (key == NULL)
    return FALSE;
  otc_frame_key_free (enc->key);
  enc->key = key;
  enc->ctr = 0;
  enc->ctr_spent = FALSE;
  return TRUE;
}

gssize
otc_frame_encryptor_protect (OtcFrameEncryptor * enc, const guint8 * frame,
    gsize frame_len, guint clear_len, guint8 * out, gsize out_size,
    GError ** error)
{
  gssize n;

  if (enc->key == NULL) {
    g_set_error_literal (error, OTC_E2EE_ERROR,
        OTC_E2EE_ERROR_ENCRYPTION_SECRET_MISSING,
        "No encryption secret is set");
    return -1;
  }
  if (enc->ctr_spent && !rotate_key_id (enc, error))
    return -1;

  n = otc_frame_protect (enc->key, enc->ctr, frame, frame_len, clear_len,
      out, out_size, error);
  if (n < 0)
    return -1;
  if (enc->ctr == G_MAXUINT64)
    enc->ctr_spent = TRUE;
  else
    enc->ctr++;
  return n;
}
