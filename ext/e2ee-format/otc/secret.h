/* The encryption secret and the secret key SK derived from it
 * (format page, sections 2 and 3.1). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define OTC_SECRET_MIN_CHARS 8
#define OTC_SECRET_MAX_CHARS 256
#define OTC_SECRET_KEY_SIZE 32
#define OTC_PBKDF2_ITERATIONS 600000

/* TRUE for a UTF-8 string of 8-256 code points without NUL. Otherwise FALSE
 * with OTC_E2EE_ERROR_INVALID_ENCRYPTION_SECRET; the message says why and
 * never quotes the secret. NULL is invalid. */
gboolean otc_secret_validate (const gchar * secret, GError ** error);

/* SK for one (secret, session id): immutable, reference counted, wiped
 * when the last reference goes. */
typedef struct _OtcSecretKey OtcSecretKey;

/* Validates @secret and runs PBKDF2-HMAC-SHA256 (600,000 iterations, about
 * about 0.2 s here, more under load): never call it on a streaming thread. @session_id may be NULL
 * (same as ""). */
OtcSecretKey *otc_secret_key_derive (const gchar * secret,
    const gchar * session_id, GError ** error);

/* Like otc_secret_key_derive(), but one PBKDF2 run serves every caller in
 * this process that asks for the same (secret, session id) while the key
 * is alive, or while it is being derived: N elements of one session that
 * change their secret together cost one derivation, and get the key at
 * the same moment. The table keeps no secret: entries are found by an
 * HMAC-SHA-256 of secret and session id under a random per-process key,
 * and an entry goes with the last reference to its key. */
OtcSecretKey *otc_secret_key_derive_shared (const gchar * secret,
    const gchar * session_id, GError ** error);

/* From raw SK bytes, for tests and for applications that run PBKDF2
 * elsewhere. */
OtcSecretKey *otc_secret_key_new_from_bytes (const guint8 sk[OTC_SECRET_KEY_SIZE]);

OtcSecretKey *otc_secret_key_ref (OtcSecretKey * key);
void otc_secret_key_unref (OtcSecretKey * key);

/* The raw SK, for test vectors only. */
const guint8 *otc_secret_key_peek_bytes (const OtcSecretKey * key);

/* A process-unique number for this key; distinct keys never share one,
 * so it can stand for "which secret" in caches without comparing bytes. */
guint64 otc_secret_key_get_id (const OtcSecretKey * key);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (OtcSecretKey, otc_secret_key_unref)

G_END_DECLS
