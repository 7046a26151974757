/* The router's SRTP protection of RTP on OpenSSL (ext/router/transport/
 * otc-srtp-send.c): RFC 3711's key derivation vectors, and every packet
 * byte for byte what libsrtp2 makes with the same key, across sequence
 * number wraps (the rollover counter past 100), reordering, CSRCs and
 * header extensions; libsrtp2 takes them back to the same plaintext. */
#include <string.h>

#include <gst/check/gstcheck.h>
#include <srtp2/srtp.h>

#include "otc-srtp-send.h"
#include "otc-srtp-transport.h"

static void
hex_to_bytes (const gchar * hex, guint8 * out, gsize len)
{
  gsize i;

  fail_unless_equals_int (strlen (hex), len * 2);
  for (i = 0; i < len; i++)
    out[i] = (g_ascii_xdigit_value (hex[2 * i]) << 4) |
        g_ascii_xdigit_value (hex[2 * i + 1]);
}

static void
assert_bytes (const guint8 * got, const gchar * hex, gsize len)
{
  guint8 want[64];

  hex_to_bytes (hex, want, len);
  fail_unless (memcmp (got, want, len) == 0, "derived bytes differ from %s",
      hex);
}

/* RFC 3711 appendix B.3 */
GST_START_TEST (test_key_derivation_vectors)
{
  guint8 master[30], out[64];

  hex_to_bytes ("E1F97A0D3E018BE0D64FA32C06DE4139", master, 16);
  hex_to_bytes ("0EC675AD498AFEEBB6960B3AABE6", master + 16, 14);
  fail_unless (otc_srtp_derive (master, 0x00, out, 16));
  assert_bytes (out, "C61E7A93744F39EE10734AFE3FF7A087", 16);
  fail_unless (otc_srtp_derive (master, 0x02, out, 14));
  assert_bytes (out, "30CBBC08863D8C85D49DB34A9AE1", 14);
  fail_unless (otc_srtp_derive (master, 0x01, out, 64));
  assert_bytes (out, "CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4"
      "8F0A0ACF3C34E2359E6CDBCEE049646C43D9327AD175578EF7227098"
      "6371C10C9A369AC2F94A8C5FBCDDDC25", 64);
}

GST_END_TEST;

static srtp_t
libsrtp_session (const guint8 * master, gboolean outbound)
{
  srtp_policy_t policy;
  srtp_t session = NULL;

  memset (&policy, 0, sizeof policy);
  srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80 (&policy.rtp);
  srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80 (&policy.rtcp);
  policy.ssrc.type = outbound ? ssrc_any_outbound : ssrc_any_inbound;
  policy.key = (guint8 *) master;
  policy.window_size = 1024;
  policy.allow_repeat_tx = 1;
  fail_unless (srtp_create (&session, &policy) == srtp_err_status_ok);
  return session;
}

/* An RTP packet of stream @ssrc with @seq; every fourth has 2 CSRCs, every
 * seventh a header extension; payload from @rand. */
static gsize
make_packet (guint8 * p, guint32 ssrc, guint16 seq, GRand * rand)
{
  gsize len = 0, payload, i;
  guint cc = seq % 4 == 0 ? 2 : 0;
  gboolean ext = seq % 7 == 0;

  p[len++] = 0x80 | (ext ? 0x10 : 0) | cc;
  p[len++] = 96 | (seq % 30 == 0 ? 0x80 : 0);
  p[len++] = seq >> 8;
  p[len++] = seq & 0xff;
  for (i = 0; i < 4; i++)
    p[len++] = (guint8) ((seq * 3000u) >> (24 - 8 * i));
  for (i = 0; i < 4; i++)
    p[len++] = (guint8) (ssrc >> (24 - 8 * i));
  for (i = 0; i < 4 * cc; i++)
    p[len++] = (guint8) g_rand_int (rand);
  if (ext) {
    p[len++] = 0xbe;
    p[len++] = 0xde;
    p[len++] = 0;
    p[len++] = 1;
    for (i = 0; i < 4; i++)
      p[len++] = (guint8) g_rand_int (rand);
  }
  payload = g_rand_int_range (rand, 0, 1200);
  for (i = 0; i < payload; i++)
    p[len++] = (guint8) g_rand_int (rand);
  return len;
}

GST_START_TEST (test_same_as_libsrtp)
{
  guint8 master[30];
  OtcSrtpSend *ours;
  srtp_t theirs, receiver;
  GRand *rand = g_rand_new_with_seed (3711);
  const guint32 ssrcs[3] = { 0x12345678, 0xcafef00d, 0x0badcafe };
  /* near the end of the sequence space, and a stream that moves 30,000 a
   * packet (a forward step to any receiver, under 2^15): its rollover
   * counter passes 100 */
  const guint16 start[3] = { 65000, 60000, 0 };
  const guint16 step[3] = { 1, 1, 30000 };
  guint i, s, wraps = 0;

  for (i = 0; i < sizeof master; i++)
    master[i] = (guint8) g_rand_int (rand);
  ours = otc_srtp_send_new (master);
  fail_unless (ours != NULL);
  theirs = libsrtp_session (master, TRUE);
  receiver = libsrtp_session (master, FALSE);

  for (i = 0; i < 30000; i++) {
    guint8 plain[1300], a[1400], b[1400];
    gsize len, ours_len;
    int theirs_len, back_len;
    guint16 seq;

    s = i % 3;
    seq = (guint16) (start[s] + (i / 3) * step[s]);
    /* now and then two packets swap places on the way */
    if (s == 0 && i % 60 == 12)
      seq += 1;
    else if (s == 0 && i % 60 == 15)
      seq -= 1;
    if (seq < step[s] && i >= 3)
      wraps++;
    len = make_packet (plain, ssrcs[s], seq, rand);
    memcpy (a, plain, len);
    memcpy (b, plain, len);
    ours_len = otc_srtp_send_protect (ours, a, len);
    theirs_len = len;
    fail_unless (srtp_protect (theirs, b, &theirs_len) == srtp_err_status_ok);
    fail_unless_equals_int (ours_len, theirs_len);
    fail_unless (memcmp (a, b, ours_len) == 0,
        "packet %u (SSRC %08x, seq %u) differs from libsrtp2's", i,
        ssrcs[s], seq);
    back_len = ours_len;
    fail_unless (srtp_unprotect (receiver, a, &back_len) ==
        srtp_err_status_ok, "libsrtp2 refused packet %u", i);
    fail_unless_equals_int (back_len, len);
    fail_unless (memcmp (a, plain, len) == 0);
  }
  fail_unless (wraps >= 100, "%u wraps", wraps);

  otc_srtp_send_free (ours);
  srtp_dealloc (theirs);
  srtp_dealloc (receiver);
  g_rand_free (rand);
}

GST_END_TEST;

GST_START_TEST (test_not_rtp)
{
  guint8 master[30] = { 1, 2, 3 };
  OtcSrtpSend *s = otc_srtp_send_new (master);
  guint8 p[64 + OTC_SRTP_TAG_LEN];
  guint i;

  memset (p, 0, sizeof p);
  p[0] = 0x80;
  /* too short for a header */
  for (i = 0; i < 12; i++)
    fail_unless_equals_int (otc_srtp_send_protect (s, p, i), 0);
  /* a bare header is RTP (empty payload) */
  fail_unless_equals_int (otc_srtp_send_protect (s, p, 12),
      12 + OTC_SRTP_TAG_LEN);
  /* version 1 */
  p[0] = 0x40;
  fail_unless_equals_int (otc_srtp_send_protect (s, p, 40), 0);
  /* 15 CSRCs in 40 bytes */
  p[0] = 0x8f;
  fail_unless_equals_int (otc_srtp_send_protect (s, p, 40), 0);
  /* an extension header cut short, then one longer than the packet */
  p[0] = 0x90;
  fail_unless_equals_int (otc_srtp_send_protect (s, p, 14), 0);
  p[14] = 0;
  p[15] = 20;
  fail_unless_equals_int (otc_srtp_send_protect (s, p, 40), 0);
  /* 16 streams at most */
  p[0] = 0x80;
  for (i = 0; i < 20; i++) {
    p[8] = i;
    fail_unless_equals_int (otc_srtp_send_protect (s, p, 20),
        i < 16 ? 20 + OTC_SRTP_TAG_LEN : 0);
  }
  otc_srtp_send_free (s);
}

GST_END_TEST;

/* A peer cannot grow a transport's candidate list without bound, nor
 * connect with an answer lacking what the transport needs. */
GST_START_TEST (test_transport_limits)
{
  const gchar *addresses[] = { "127.0.0.1", NULL };
  GMainContext *ctx = g_main_context_new ();
  OtcDtlsIdentity *id = otc_dtls_identity_new (NULL);
  OtcSrtpTransport *t;
  GError *err = NULL;
  guint i, taken = 0;

  fail_unless (id != NULL);
  fail_unless (g_str_has_prefix (otc_dtls_identity_get_fingerprint (id),
          "sha-256 "));
  t = otc_srtp_transport_new (ctx, addresses, id, NULL, NULL, &err);
  fail_unless (t != NULL, "%s", err ? err->message : "");
  fail_if (otc_srtp_transport_is_connected (t));
  /* nothing protected before the handshake */
  fail_if (otc_srtp_transport_send_rtp (t, (const guint8 *)
          "\x80\x60\x00\x01\x00\x00\x00\x01\x00\x00\x00\x02", 12));
  fail_if (otc_srtp_transport_add_remote_candidate (t, "not a candidate"));
  for (i = 0; i < 100; i++) {
    gchar *c = g_strdup_printf ("candidate:%u 1 UDP 2015363327 127.0.0.1 %u "
        "typ host", i, 10000 + i);

    taken += otc_srtp_transport_add_remote_candidate (t, c);
    g_free (c);
  }
  fail_unless_equals_int (taken, 64);
  fail_if (otc_srtp_transport_set_remote (t, "ufrag", "pwd", NULL, "active",
          &err));
  g_clear_error (&err);
  fail_if (otc_srtp_transport_set_remote (t, "ufrag", "pwd",
          "sha-256 AB:CD", "actpass", &err));
  g_clear_error (&err);
  fail_unless (otc_srtp_transport_set_remote (t, "ufragufrag",
          "pwdpwdpwdpwdpwdpwdpwdpwd", "sha-256 AB:CD", "active", &err), "%s",
      err ? err->message : "");
  fail_if (otc_srtp_transport_set_remote (t, "u", "p", "sha-256 AB",
          "active", &err));
  g_clear_error (&err);
  otc_srtp_transport_free (t);
  otc_dtls_identity_unref (id);
  while (g_main_context_iteration (ctx, FALSE));
  g_main_context_unref (ctx);
}

GST_END_TEST;

static Suite *
router_srtp_suite (void)
{
  Suite *s = suite_create ("router-srtp");
  TCase *tc = tcase_create ("srtp");

  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_key_derivation_vectors);
  tcase_add_test (tc, test_same_as_libsrtp);
  tcase_add_test (tc, test_not_rtp);
  tcase_add_test (tc, test_transport_limits);
  return s;
}

int
main (int argc, char **argv)
{
  gst_check_init (&argc, &argv);
  srtp_init ();
  return gst_check_run_suite (router_srtp_suite (), "router_srtp", __FILE__);
}
