#include "otc/e2ee-error.h"

G_DEFINE_QUARK (otc-e2ee-error-quark, otc_e2ee_error);

const gchar *
otc_e2ee_error_name (gint code)
{
  switch (code) {
    case OTC_E2EE_ERROR_ENCRYPTION_SECRET_MISSING:
      return "EncryptionSecretMissing";
    case OTC_E2EE_ERROR_ENCRYPTION_INTERNAL:
      return "EncryptionInternalError";
    case OTC_E2EE_ERROR_DECRYPTION_INTERNAL:
      return "DecryptionInternalError";
    case OTC_E2EE_ERROR_ENCRYPTION_SECRET_MISMATCH:
      return "EncryptionSecretMismatch";
    case OTC_E2EE_ERROR_INVALID_ENCRYPTION_SECRET:
      return "InvalidEncryptionSecret";
    case OTC_E2EE_ERROR_ENCRYPTION_UNSUPPORTED_CODEC:
      return "EncryptionUnsupportedCodec";
    case OTC_E2EE_ERROR_DECRYPTION_UNSUPPORTED_CODEC:
      return "DecryptionUnsupportedCodec";
    default:
      return NULL;
  }
}
