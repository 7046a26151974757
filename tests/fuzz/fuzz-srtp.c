/* libFuzzer target: the router's SRTP protection of RTP on OpenSSL
 * (ext/router/transport/otc-srtp-send.c), differentially against libsrtp2.
 *
 * The input is a 30-byte master key and salt, then packets (a 2-byte
 * length and that many bytes, RTP headers or not). Each packet goes
 * through both; whenever libsrtp2 protects it, otc must give the same
 * bytes; when otc refuses it, libsrtp2 must refuse it too, unless otc's
 * reason is one libsrtp2 does not have (the RTP version, a 17th SSRC);
 * otc never writes past the tag. */
#include <srtp2/srtp.h>

#include "otc-srtp-send.h"

#include "fuzz-common.h"

#define MAX_PACKET 1500

static guint32
read_u32 (const guint8 * p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) | (p[2] << 8) | p[3];
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_make_criticals_fatal ();
  srtp_init ();
  return 0;
}

static srtp_t
libsrtp_session (const guint8 * master)
{
  srtp_policy_t policy;
  srtp_t session = NULL;

  memset (&policy, 0, sizeof policy);
  srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80 (&policy.rtp);
  srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80 (&policy.rtcp);
  policy.ssrc.type = ssrc_any_outbound;
  policy.key = (guint8 *) master;
  policy.window_size = 1024;
  policy.allow_repeat_tx = 1;
  FUZZ_CHECK (srtp_create (&session, &policy) == srtp_err_status_ok);
  return session;
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  FuzzInput in;
  guint8 master[30];
  OtcSrtpSend *ours;
  srtp_t theirs;
  GHashTable *ssrcs = g_hash_table_new (NULL, NULL);
  guint i;

  fuzz_input_init (&in, data, size);
  for (i = 0; i < sizeof master; i++)
    master[i] = fuzz_u8 (&in);
  ours = otc_srtp_send_new (master);
  FUZZ_CHECK (ours != NULL);
  theirs = libsrtp_session (master);

  while (fuzz_input_left (&in) > 0) {
    gsize len;
    const guint8 *p = fuzz_bytes (&in, fuzz_u16 (&in) % (MAX_PACKET + 1),
        &len);
    /* on the heap at exactly what may be written, so an overrun shows */
    guint8 *a = g_malloc (len + OTC_SRTP_TAG_LEN);
    guint8 b[MAX_PACKET + SRTP_MAX_TRAILER_LEN];
    int b_len = len;
    gsize a_len;
    srtp_err_status_t st;
    gboolean new_ssrc = FALSE;

    memcpy (a, p, len);
    memcpy (b, p, len);
    if (len >= 12)
      new_ssrc = !g_hash_table_contains (ssrcs,
          GUINT_TO_POINTER (read_u32 (p + 8)));
    a_len = otc_srtp_send_protect (ours, a, len);
    if (len >= 1 && (p[0] >> 6) != 2) {
      /* not RTP version 2: otc refuses it; libsrtp2 does not look at the
       * version (and would start a stream state that otc has not) */
      FUZZ_CHECK (a_len == 0);
      g_free (a);
      continue;
    }
    st = srtp_protect (theirs, b, &b_len);
    if (a_len > 0) {
      FUZZ_CHECK (a_len == len + OTC_SRTP_TAG_LEN);
      g_hash_table_add (ssrcs, GUINT_TO_POINTER (read_u32 (p + 8)));
      /* libsrtp2 refuses a packet older than its window; otc sends it */
      FUZZ_CHECK (st == srtp_err_status_ok || st ==
          srtp_err_status_replay_old);
      if (st == srtp_err_status_ok)
        FUZZ_CHECK ((gsize) b_len == a_len && memcmp (a, b, a_len) == 0);
    } else {
      /* refused as not RTP, or as a 17th stream */
      FUZZ_CHECK (st != srtp_err_status_ok
          || (new_ssrc && g_hash_table_size (ssrcs) >= 16));
    }
    g_free (a);
  }
  otc_srtp_send_free (ours);
  srtp_dealloc (theirs);
  g_hash_table_unref (ssrcs);
  return 0;
}
