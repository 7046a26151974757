/* libotc-e2ee: OTC-E2EE v1, the frame format of otc's end-to-end encrypted
 * sessions, usable without GStreamer elements.
 *
 *   #include <otc/e2ee.h>     pkg-config: otc-e2ee-1.0
 */
#pragma once

#include <otc/e2ee-error.h>
#include <otc/cipher-suite.h>
#include <otc/secret.h>
#include <otc/sframe-header.h>
#include <otc/frame.h>
#include <otc/replay-window.h>
#include <otc/key-cache.h>
#include <otc/frame-encryptor.h>
#include <otc/frame-decryptor.h>
#include <otc/codec-policy.h>

G_BEGIN_DECLS

#define OTC_E2EE_FORMAT_VERSION 1

/* TRUE when the crypto library offers every algorithm the format needs
 * (AES-CTR, AES-GCM, HMAC-SHA-256/512, PBKDF2, HKDF); the analogue of the
 * Vonage SDKs' hasEndToEndEncryptionSupport(). */
gboolean otc_has_end_to_end_encryption_support (void);

G_END_DECLS
