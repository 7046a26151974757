/* SRTP protection of RTP packets (RFC 3711, AES_CM_128_HMAC_SHA1_80) on
 * OpenSSL, for the router's send path: the one thing it does per packet
 * and subscriber. Debian 12's libsrtp2 is built against NSS, whose HMAC
 * creates and destroys a PKCS#11 context for every packet: about a third
 * of the router's CPU time at 20 subscribers (docs/performance.md). Here
 * the AES context and the HMAC pad states are made once per key; a packet
 * costs one CTR pass and one SHA-1 pass. libsrtp2 still does everything
 * else (SRTCP both ways); the output is byte for byte libsrtp2's
 * (tests/router/srtp.c). Not thread-safe: the caller serialises. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _OtcSrtpSend OtcSrtpSend;

#define OTC_SRTP_MASTER_KEY_LEN 16
#define OTC_SRTP_MASTER_SALT_LEN 14
#define OTC_SRTP_TAG_LEN 10

/* @master: the 16-byte master key then the 14-byte master salt. */
OtcSrtpSend *otc_srtp_send_new (const guint8 * master);
void otc_srtp_send_free (OtcSrtpSend * s);      /* wipes the keys */

/* Protects the RTP packet of @len bytes in @packet in place and appends
 * the tag; @packet has room for OTC_SRTP_TAG_LEN more bytes. Returns the
 * new length, or 0 for a packet that is not RTP (too short, version, CSRC
 * or extension lengths beyond the end) or for a 17th stream (SSRC). */
gsize otc_srtp_send_protect (OtcSrtpSend * s, guint8 * packet, gsize len);

/* The session keys derived from @master (RFC 3711 4.3.1, key derivation
 * rate 0): for the test vectors of RFC 3711 appendix B.3. */
gboolean otc_srtp_derive (const guint8 * master, guint8 label, guint8 * out,
    gsize out_len);

G_END_DECLS
