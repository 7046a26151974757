/* The sender side of a stream (format page, section 5): one KID, a counter
 * that never repeats under a secret, and the frame key for the current
 * secret. Not thread-safe; the elements serialise access. */
#pragma once

#include <otc/frame.h>

G_BEGIN_DECLS

typedef struct _OtcFrameEncryptor OtcFrameEncryptor;

/* A KID with 32 random bits, never 0. */
guint64 otc_random_key_id (void);

/* @kid 0 takes a random KID. @first_ctr is normally 0. */
OtcFrameEncryptor *otc_frame_encryptor_new (OtcCipherSuite suite,
    guint64 kid, guint64 first_ctr);
void otc_frame_encryptor_free (OtcFrameEncryptor * enc);

/* Switches to @sk for the next frame, keeping KID and counter. NULL
 * forgets the secret (frames are refused until a new one is set).
 * (secret, KID) pairs are tracked process-wide: if this pair protected
 * frames before (an encryptor restarted with a fixed KID), the counter
 * continues after the last one used; if another live encryptor uses it,
 * this fails with OTC_E2EE_ERROR_ENCRYPTION_INTERNAL. A fixed KID must not
 * be used by another process under the same secret. */
gboolean otc_frame_encryptor_set_secret_key (OtcFrameEncryptor * enc,
    OtcSecretKey * sk, GError ** error);
gboolean otc_frame_encryptor_has_secret (const OtcFrameEncryptor * enc);

guint64 otc_frame_encryptor_get_key_id (const OtcFrameEncryptor * enc);
/* The counter the next frame will use. */
guint64 otc_frame_encryptor_get_counter (const OtcFrameEncryptor * enc);
OtcCipherSuite otc_frame_encryptor_get_suite (const OtcFrameEncryptor * enc);

/* Upper bound of the protected size of a @frame_len byte frame. */
gsize otc_frame_encryptor_max_protected_size (const OtcFrameEncryptor * enc,
    gsize frame_len);

/* Protects one frame with the next counter. When the counter is spent the
 * encryptor moves to a new random KID first. Errors:
 * OTC_E2EE_ERROR_ENCRYPTION_SECRET_MISSING, _ENCRYPTION_INTERNAL,
 * G_IO_ERROR_NO_SPACE. No heap allocation in steady state. */
gssize otc_frame_encryptor_protect (OtcFrameEncryptor * enc,
    const guint8 * frame, gsize frame_len, guint clear_len,
    guint8 * out, gsize out_size, GError ** error);

G_END_DECLS
