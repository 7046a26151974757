/* Steady state allocates nothing: protect and unprotect of many frames,
 * every suite, through the encryptor and decryptor objects. malloc and
 * friends are interposed here to count calls on this thread. */
#include <stdlib.h>
#include <string.h>

#include "otc-test-util.h"

#if defined(__SANITIZE_ADDRESS__)
#define OTC_NO_INTERPOSE 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define OTC_NO_INTERPOSE 1
#endif
#endif

#ifndef OTC_NO_INTERPOSE
extern void *__libc_malloc (size_t);
extern void *__libc_calloc (size_t, size_t);
extern void *__libc_realloc (void *, size_t);
extern void *__libc_memalign (size_t, size_t);

static __thread int counting;
static __thread long n_allocs;

void *
malloc (size_t n)
{
  n_allocs += counting;
  return __libc_malloc (n);
}

void *
calloc (size_t a, size_t b)
{
  n_allocs += counting;
  return __libc_calloc (a, b);
}

void *
realloc (void *p, size_t n)
{
  n_allocs += counting;
  return __libc_realloc (p, n);
}

int
posix_memalign (void **p, size_t align, size_t n)
{
  n_allocs += counting;
  *p = __libc_memalign (align, n);
  return *p ? 0 : 12;
}
#endif

GST_START_TEST (test_no_allocation_per_frame)
{
#ifdef OTC_NO_INTERPOSE
  GST_INFO ("sanitizer build: allocation counting is not possible");
#else
  OtcSecretKey *sk = otc_test_secret_key ("correct horse battery", "s");
  static const gsize sizes[] = { 0, 1, 160, 1200, 10000 };
  guint8 *frame = g_malloc0 (10000), *prot, *plain;
  OtcCipherSuite suite;

  prot = g_malloc (10000 + OTC_FRAME_MAX_OVERHEAD);
  plain = g_malloc (10000 + OTC_FRAME_MAX_OVERHEAD);
  for (suite = 1; suite <= 8; suite++) {
    OtcFrameEncryptor *enc = otc_frame_encryptor_new (suite, 0, 0);
    OtcFrameDecryptor *dec = otc_frame_decryptor_new (suite, 0, 0);
    OtcUnprotectResult res;
    guint i;
    long allocs;

    fail_unless (otc_frame_encryptor_set_secret_key (enc, sk, NULL));
    otc_frame_decryptor_set_secret_key (dec, sk, 0);
    /* warm up: the first frame of a KID derives its key */
    for (i = 0; i < 2; i++) {
      gssize n = otc_frame_encryptor_protect (enc, frame, 100, 1, prot,
          100 + OTC_FRAME_MAX_OVERHEAD, NULL);
      otc_frame_decryptor_unprotect (dec, prot, n, plain, 100, 0, &res);
      fail_unless_equals_int (res.status, OTC_FRAME_OK);
    }

    n_allocs = 0;
    counting = 1;
    for (i = 0; i < 500; i++) {
      gsize len = sizes[i % G_N_ELEMENTS (sizes)];
      gssize n = otc_frame_encryptor_protect (enc, frame, len, 1, prot,
          len + OTC_FRAME_MAX_OVERHEAD, NULL);

      otc_frame_decryptor_unprotect (dec, prot, n, plain,
          len + OTC_FRAME_MAX_OVERHEAD, 0, &res);
      if (res.status != OTC_FRAME_OK)
        break;
    }
    counting = 0;
    allocs = n_allocs;
    fail_unless_equals_int (res.status, OTC_FRAME_OK);
    fail_unless_equals_int (i, 500);
    fail_unless (allocs == 0, "suite %u: %ld allocations in 500 frames",
        suite, allocs);

    /* the counter itself works: a new KID allocates its key */
    counting = 1;
    otc_frame_encryptor_free (otc_frame_encryptor_new (suite, 0, 0));
    counting = 0;
    fail_unless (n_allocs > 0);

    otc_frame_encryptor_free (enc);
    otc_frame_decryptor_free (dec);
  }
  g_free (frame);
  g_free (prot);
  g_free (plain);
  otc_secret_key_unref (sk);
#endif
}

GST_END_TEST;

static Suite *
noalloc_suite (void)
{
  Suite *s = suite_create ("otc-e2ee-noalloc");
  TCase *tc = tcase_create ("noalloc");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_no_allocation_per_frame);
  return s;
}

GST_CHECK_MAIN (noalloc);
