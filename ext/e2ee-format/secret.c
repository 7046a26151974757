#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

#include "otc/e2ee-error.h"
#include "otc/secret.h"
#include "otc-private.h"

#define DIGEST_SIZE 32

struct _OtcSecretKey
{
  gint ref_count;
  guint64 id;
  guint8 bytes[OTC_SECRET_KEY_SIZE];
  gboolean shared;              /* listed in the shared table */
  guint8 digest[DIGEST_SIZE];
};

/* The shared table: digest -> SharedEntry. */
typedef struct
{
  OtcSecretKey *key;            /* not a reference; NULL while deriving */
  gboolean deriving;
} SharedEntry;

static GMutex shared_lock;
static GCond shared_cond;
static GHashTable *shared_keys;
static guint8 process_key[DIGEST_SIZE];

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
  if (key->shared) {
    GBytes *k = g_bytes_new_static (key->digest, DIGEST_SIZE);
    SharedEntry *e;

    g_mutex_lock (&shared_lock);
    e = g_hash_table_lookup (shared_keys, k);
    if (e != NULL && e->key == key)
      g_hash_table_remove (shared_keys, k);
    g_mutex_unlock (&shared_lock);
    g_bytes_unref (k);
  }
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

/* A new reference unless the key is already on its way out. */
static gboolean
try_ref (OtcSecretKey * key)
{
  gint old;

  do {
    old = g_atomic_int_get (&key->ref_count);
    if (old == 0)
      return FALSE;
  } while (!g_atomic_int_compare_and_exchange (&key->ref_count, old, old + 1));
  return TRUE;
}

static void
shared_entry_free (SharedEntry * e)
{
  g_free (e);
}

static gboolean
shared_digest (const gchar * secret, const gchar * session_id,
    guint8 digest[DIGEST_SIZE])
{
  gsize secret_len = strlen (secret), sid_len = strlen (session_id);
  guint8 *data = g_malloc (4 + secret_len + sid_len);
  size_t out_len = 0;
  gboolean ok;

  /* length-prefixed, so that no two (secret, session) pairs collide */
  data[0] = (guint8) (secret_len >> 24);
  data[1] = (guint8) (secret_len >> 16);
  data[2] = (guint8) (secret_len >> 8);
  data[3] = (guint8) secret_len;
  memcpy (data + 4, secret, secret_len);
  memcpy (data + 4 + secret_len, session_id, sid_len);
  ok = EVP_Q_mac (NULL, "HMAC", NULL, "SHA256", NULL, process_key,
      DIGEST_SIZE, data, 4 + secret_len + sid_len, digest, DIGEST_SIZE,
      &out_len) != NULL && out_len == DIGEST_SIZE;
  OPENSSL_cleanse (data, 4 + secret_len + sid_len);
  g_free (data);
  return ok;
}

OtcSecretKey *
otc_secret_key_derive_shared (const gchar * secret, const gchar * session_id,
    GError ** error)
{
  static gsize init = 0;
  guint8 digest[DIGEST_SIZE];
  OtcSecretKey *key = NULL;
  SharedEntry *e;
  GBytes *k;

  if (!otc_secret_validate (secret, error))
    return NULL;
  if (session_id == NULL)
    session_id = "";
  if (g_once_init_enter (&init)) {
    if (RAND_bytes (process_key, sizeof (process_key)) != 1)
      g_error ("otc: no random bytes for the shared key table");
    shared_keys = g_hash_table_new_full (g_bytes_hash, g_bytes_equal,
        (GDestroyNotify) g_bytes_unref, (GDestroyNotify) shared_entry_free);
    g_once_init_leave (&init, 1);
  }
  if (!shared_digest (secret, session_id, digest))
    return otc_secret_key_derive (secret, session_id, error);
  k = g_bytes_new (digest, DIGEST_SIZE);

  g_mutex_lock (&shared_lock);
  for (;;) {
    e = g_hash_table_lookup (shared_keys, k);
    if (e == NULL) {
      e = g_new0 (SharedEntry, 1);
      e->deriving = TRUE;
      g_hash_table_insert (shared_keys, g_bytes_ref (k), e);
      g_mutex_unlock (&shared_lock);

      key = otc_secret_key_derive (secret, session_id, error);

      g_mutex_lock (&shared_lock);
      if (key != NULL) {
        key->shared = TRUE;
        memcpy (key->digest, digest, DIGEST_SIZE);
        e->key = key;
        e->deriving = FALSE;
      } else {
        g_hash_table_remove (shared_keys, k);
      }
      g_cond_broadcast (&shared_cond);
      break;
    }
    if (e->deriving) {
      g_cond_wait (&shared_cond, &shared_lock);
      continue;
    }
    if (try_ref (e->key)) {
      key = e->key;
      break;
    }
    /* its last reference is going right now: derive anew */
    g_hash_table_remove (shared_keys, k);
  }
  g_mutex_unlock (&shared_lock);
  g_bytes_unref (k);
  OPENSSL_cleanse (digest, sizeof (digest));
  return key;
}
