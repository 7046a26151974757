/* A send-side WebRTC transport without webrtcbin: ICE (libnice), DTLS
 * (OpenSSL) and SRTP (RTP: otc-srtp-send.c on OpenSSL; RTCP: libsrtp2) on
 * one bundled, rtcp-muxed component.
 * otc-router's subscriber legs use it to send a publisher's RTP packets on
 * as they are (already end-to-end encrypted by the publisher): one
 * srtp_protect() and one send per packet, no GStreamer element per leg.
 *
 * The router makes the offer (ICE controlling, a=setup:actpass); the peer
 * answers active (the router is the DTLS server, the usual case) or passive.
 * Only SRTP_AES128_CM_SHA1_80 is offered, like every WebRTC stack accepts.
 *
 * Threading: callbacks run on the GMainContext given to
 * otc_srtp_transport_new(); the send functions may be called from any
 * thread (they serialise on the transport's own lock), as long as the
 * caller ensures that none is running when it frees the transport. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _OtcSrtpTransport OtcSrtpTransport;
typedef struct _OtcDtlsIdentity OtcDtlsIdentity;

/* A self-signed ECDSA P-256 certificate and its key, made once per router
 * and shared by its transports (as a browser shares one per page). */
OtcDtlsIdentity *otc_dtls_identity_new (GError ** error);
OtcDtlsIdentity *otc_dtls_identity_ref (OtcDtlsIdentity * id);
void otc_dtls_identity_unref (OtcDtlsIdentity * id);
/* "sha-256 AB:CD:...", for a=fingerprint. */
const gchar *otc_dtls_identity_get_fingerprint (OtcDtlsIdentity * id);

typedef struct
{
  /* A local host candidate, "candidate:..." (no "a="). */
  void (*local_candidate) (OtcSrtpTransport * t, const gchar * candidate,
      gpointer user_data);
  /* ICE and DTLS are up, the keys are in place: packets go out now. */
  void (*connected) (OtcSrtpTransport * t, gpointer user_data);
  /* ICE or DTLS failed, the peer's certificate did not match, or the peer
   * closed DTLS. Called at most once; nothing is sent afterwards. */
  void (*failed) (OtcSrtpTransport * t, const gchar * reason,
      gpointer user_data);
  /* A compound RTCP packet from the peer, decrypted and authenticated. */
  void (*rtcp) (OtcSrtpTransport * t, const guint8 * data, gsize len,
      gpointer user_data);
} OtcSrtpTransportCallbacks;

/* @addresses: the only local addresses ICE gathers on (host candidates,
 * UDP). Gathering starts at once; candidates come through the callback. */
OtcSrtpTransport *otc_srtp_transport_new (GMainContext * context,
    const gchar * const *addresses, OtcDtlsIdentity * identity,
    const OtcSrtpTransportCallbacks * callbacks, gpointer user_data,
    GError ** error);
void otc_srtp_transport_free (OtcSrtpTransport * t);

/* From the answer to a working DTLS-SRTP connection at most this long
 * (a peer that answered and never connected), then failed. Once
 * connected, a peer that stops answering ICE consent checks (RFC 7675,
 * about 30 s) fails it too. */
#define OTC_SRTP_TRANSPORT_CONNECT_TIMEOUT_S 30
void otc_srtp_transport_set_connect_timeout (OtcSrtpTransport * t,
    guint seconds);

/* For the offer: a=ice-ufrag, a=ice-pwd. */
const gchar *otc_srtp_transport_get_ice_ufrag (OtcSrtpTransport * t);
const gchar *otc_srtp_transport_get_ice_pwd (OtcSrtpTransport * t);

/* From the answer. @fingerprint is "sha-256 AB:CD:..." (a=fingerprint);
 * @peer_setup is the answer's a=setup: "active" (the peer is the DTLS
 * client) or "passive". Context thread. */
gboolean otc_srtp_transport_set_remote (OtcSrtpTransport * t,
    const gchar * ufrag, const gchar * pwd, const gchar * fingerprint,
    const gchar * peer_setup, GError ** error);
/* "candidate:..." or "a=candidate:..."; kept until set_remote() when it
 * comes first. Returns FALSE (and logs) for a candidate it cannot use, and
 * for any after the 64th. */
gboolean otc_srtp_transport_add_remote_candidate (OtcSrtpTransport * t,
    const gchar * candidate);

/* Any thread. An RTP (or RTCP) packet in the clear: protected and sent.
 * FALSE when it was not sent: not connected yet, failed, too large, or the
 * socket would block. */
gboolean otc_srtp_transport_send_rtp (OtcSrtpTransport * t,
    const guint8 * data, gsize len);
gboolean otc_srtp_transport_send_rtcp (OtcSrtpTransport * t,
    const guint8 * data, gsize len);
gboolean otc_srtp_transport_is_connected (OtcSrtpTransport * t);

/* The largest packet send_rtp() takes. */
#define OTC_SRTP_TRANSPORT_MAX_PACKET 1500

G_END_DECLS
