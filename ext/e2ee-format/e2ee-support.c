#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>

#include "otc/e2ee.h"

gboolean
otc_has_end_to_end_encryption_support (void)
{
  static const gchar *ciphers[] = { "AES-128-CTR", "AES-256-CTR",
    "AES-128-GCM", "AES-256-GCM"
  };
  static const gchar *digests[] = { "SHA256", "SHA512" };
  static const gchar *kdfs[] = { "HKDF", "PBKDF2" };
  gboolean ok = TRUE;
  guint i;

  for (i = 0; ok && i < G_N_ELEMENTS (ciphers); i++) {
    EVP_CIPHER *c = EVP_CIPHER_fetch (NULL, ciphers[i], NULL);
    ok = c != NULL;
    EVP_CIPHER_free (c);
  }
  for (i = 0; ok && i < G_N_ELEMENTS (digests); i++) {
    EVP_MD *m = EVP_MD_fetch (NULL, digests[i], NULL);
    ok = m != NULL;
    EVP_MD_free (m);
  }
  for (i = 0; ok && i < G_N_ELEMENTS (kdfs); i++) {
    EVP_KDF *k = EVP_KDF_fetch (NULL, kdfs[i], NULL);
    ok = k != NULL;
    EVP_KDF_free (k);
  }
  return ok;
}

/* OpenSSL's cleanup at exit must not run: it frees the library's state
 * while threads the application has not joined (GStreamer's task pool
 * threads wind down at exit too) still run OpenSSL's per-thread cleanup,
 * which then crashes (seen in the test suite: a SIGSEGV in libcrypto from
 * a "queue0:src" thread's thread-local destructor while exit() ran
 * OPENSSL_cleanup). The first initialisation decides, so it is done when
 * this library is loaded, before any other use. The memory stays
 * reachable until the process ends. */
__attribute__((constructor))
static void
otc_e2ee_openssl_init (void)
{
  OPENSSL_init_crypto (OPENSSL_INIT_NO_ATEXIT, NULL);
}
