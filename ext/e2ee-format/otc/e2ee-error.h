/* OTC-E2EE v1: error codes an application sees (format page, section 7).
 * The numbers match the Vonage Video SDKs' E2EE error codes. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define OTC_E2EE_ERROR (otc_e2ee_error_quark ())

typedef enum
{
  OTC_E2EE_ERROR_ENCRYPTION_SECRET_MISSING = 6000,
  OTC_E2EE_ERROR_ENCRYPTION_INTERNAL = 6001,
  OTC_E2EE_ERROR_DECRYPTION_INTERNAL = 6002,
  OTC_E2EE_ERROR_ENCRYPTION_SECRET_MISMATCH = 6003,
  OTC_E2EE_ERROR_INVALID_ENCRYPTION_SECRET = 6004,
  OTC_E2EE_ERROR_ENCRYPTION_UNSUPPORTED_CODEC = 6005,
  OTC_E2EE_ERROR_DECRYPTION_UNSUPPORTED_CODEC = 6006,
} OtcE2eeError;

GQuark otc_e2ee_error_quark (void);

/* "EncryptionSecretMissing", ... or NULL for a code outside 6000-6006 */
const gchar *otc_e2ee_error_name (gint code);

G_END_DECLS
