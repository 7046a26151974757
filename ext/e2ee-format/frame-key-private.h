#pragma once

#include <openssl/evp.h>
#include "otc/frame.h"
#include "otc-private.h"

struct _OtcFrameKey
{
  const OtcCipherSuiteInfo *info;
  guint64 kid;
  guint8 salt[OTC_NONCE_SIZE];
  EVP_CIPHER_CTX *cipher;       /* keyed once; the IV is set per frame */
  OtcHmacState *hmac;           /* CTR suites only */
};
