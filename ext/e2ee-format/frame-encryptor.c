#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

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
  GBytes *claim;                /* our entry in the registry */
};

guint64
otc_random_key_id (void)
{
  guint32 r = 0;

  while (r == 0) {
    if (RAND_bytes ((unsigned char *) &r, sizeof (r)) != 1)
      g_error ("otc: the crypto library has no random bytes");
  }
  return r;
}

/* The (secret key, KID) pairs this process has protected frames with, and
 * the next counter of each: an encryptor restarted with a fixed key id goes
 * on where the last one stopped instead of reusing counters, and two live
 * encryptors cannot share a pair. Entries are found by an HMAC of the key
 * and KID under a random per-process key; they hold no key material. */
typedef struct
{
  guint64 next_ctr;
  gboolean spent;
  const OtcFrameEncryptor *owner;
} KidUse;

static GMutex registry_lock;
static GHashTable *registry;
static guint8 registry_key[32];

static GBytes *
registry_entry_key (const OtcSecretKey * sk, guint64 kid)
{
  static gsize init = 0;
  guint8 data[OTC_SECRET_KEY_SIZE + 8], digest[32];
  size_t len = 0;
  guint i;

  if (g_once_init_enter (&init)) {
    if (RAND_bytes (registry_key, sizeof (registry_key)) != 1)
      g_error ("otc: the crypto library has no random bytes");
    registry = g_hash_table_new_full (g_bytes_hash, g_bytes_equal,
        (GDestroyNotify) g_bytes_unref, g_free);
    g_once_init_leave (&init, 1);
  }
  memcpy (data, otc_secret_key_peek_bytes (sk), OTC_SECRET_KEY_SIZE);
  for (i = 0; i < 8; i++)
    data[OTC_SECRET_KEY_SIZE + i] = (guint8) (kid >> (56 - 8 * i));
  if (EVP_Q_mac (NULL, "HMAC", NULL, "SHA256", NULL, registry_key,
          sizeof (registry_key), data, sizeof (data), digest, sizeof (digest),
          &len) == NULL)
    g_error ("otc: HMAC failed");
  OPENSSL_cleanse (data, sizeof (data));
  return g_bytes_new (digest, sizeof (digest));
}

static gboolean
registry_claim (OtcFrameEncryptor * enc, const OtcSecretKey * sk,
    GError ** error)
{
  GBytes *k = registry_entry_key (sk, enc->kid);
  KidUse *use;

  g_mutex_lock (&registry_lock);
  use = g_hash_table_lookup (registry, k);
  if (use != NULL && use->owner != NULL && use->owner != enc) {
    g_mutex_unlock (&registry_lock);
    g_bytes_unref (k);
    g_set_error (error, OTC_E2EE_ERROR, OTC_E2EE_ERROR_ENCRYPTION_INTERNAL,
        "Key id %" G_GUINT64_FORMAT " is already in use with this secret "
        "by another encryptor of this process", enc->kid);
    return FALSE;
  }
  if (use == NULL) {
    use = g_new0 (KidUse, 1);
    g_hash_table_insert (registry, g_bytes_ref (k), use);
  }
  use->owner = enc;
  if (use->spent)
    enc->ctr_spent = TRUE;
  else
    enc->ctr = MAX (enc->ctr, use->next_ctr);
  g_mutex_unlock (&registry_lock);
  enc->claim = k;
  return TRUE;
}

static void
registry_release (OtcFrameEncryptor * enc)
{
  KidUse *use;

  if (enc->claim == NULL)
    return;
  g_mutex_lock (&registry_lock);
  use = g_hash_table_lookup (registry, enc->claim);
  if (use != NULL && use->owner == enc) {
    use->owner = NULL;
    use->next_ctr = MAX (use->next_ctr, enc->ctr);
    use->spent |= enc->ctr_spent;
  }
  g_mutex_unlock (&registry_lock);
  g_clear_pointer (&enc->claim, g_bytes_unref);
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
  registry_release (enc);
  otc_frame_key_free (enc->key);
  otc_secret_key_unref (enc->sk);
  g_free (enc);
}

gboolean
otc_frame_encryptor_set_secret_key (OtcFrameEncryptor * enc,
    OtcSecretKey * sk, GError ** error)
{
  OtcFrameKey *key = NULL;
  GBytes *old_claim;

  if (sk != NULL) {
    key = otc_frame_key_new_for_kid (sk, enc->suite, enc->kid, error);
    if (key == NULL)
      return FALSE;
    /* the counter of this (secret, KID) may have been used before */
    old_claim = enc->claim ? g_bytes_ref (enc->claim) : NULL;
    registry_release (enc);
    if (!registry_claim (enc, sk, error)) {
      otc_frame_key_free (key);
      if (old_claim != NULL && enc->sk != NULL)
        registry_claim (enc, enc->sk, NULL);
      g_clear_pointer (&old_claim, g_bytes_unref);
      return FALSE;
    }
    g_clear_pointer (&old_claim, g_bytes_unref);
    otc_secret_key_ref (sk);
  } else {
    registry_release (enc);
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

  registry_release (enc);
  do {
    enc->kid = otc_random_key_id ();
  } while (enc->kid == old);
  enc->ctr = 0;
  enc->ctr_spent = FALSE;
  key = otc_frame_key_new_for_kid (enc->sk, enc->suite, enc->kid, error);
  if (key == NULL || !registry_claim (enc, enc->sk, error)) {
    otc_frame_key_free (key);
    return FALSE;
  }
  otc_frame_key_free (enc->key);
  enc->key = key;
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
