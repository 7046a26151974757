/* ICE (libnice) + DTLS (OpenSSL) + SRTP (libsrtp2) for one peer, without
 * webrtcbin. See otc-srtp-transport.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include <gst/gst.h>
#include <nice/agent.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <srtp2/srtp.h>

#include "otc-srtp-send.h"
#include "otc-srtp-transport.h"

GST_DEBUG_CATEGORY_STATIC (otc_srtp_transport_debug);
#define GST_CAT_DEFAULT otc_srtp_transport_debug

#define DTLS_MTU 1200
/* remote candidates per transport, and SSRCs whose SRTCP is taken (each
 * makes state in libnice or libsrtp2: a peer cannot grow it beyond) */
#define MAX_REMOTE_CANDIDATES 64
#define MAX_RTCP_SSRCS 4
/* RFC 5764 4.2: 2 x (16-byte key) + 2 x (14-byte salt), this order */
#define SRTP_KEY_LEN 16
#define SRTP_SALT_LEN 14
#define SRTP_MASTER_LEN (SRTP_KEY_LEN + SRTP_SALT_LEN)

struct _OtcDtlsIdentity
{
  gint refcount;
  EVP_PKEY *key;
  X509 *cert;
  SSL_CTX *ssl_ctx;
  gchar *fingerprint;
};

struct _OtcSrtpTransport
{
  GMainContext *context;
  OtcSrtpTransportCallbacks callbacks;
  gpointer user_data;
  OtcDtlsIdentity *identity;

  /* context thread */
  NiceAgent *agent;
  guint stream_id;
  gchar *ufrag;
  gchar *pwd;
  GSource *gather_source;
  gboolean remote_set;
  GPtrArray *pending_candidates;        /* gchar*, until set_remote() */
  gchar *remote_fingerprint;    /* "SHA256 AB:CD:..." normalised */
  gboolean dtls_client;
  SSL *ssl;
  BIO *rbio;                    /* what the peer sent (owned by ssl) */
  gboolean handshake_started;
  gboolean handshake_done;
  GSource *dtls_timer;
  GSource *connect_timer;
  guint connect_timeout_s;
  guint remote_candidates;
  guint32 rtcp_ssrcs[MAX_RTCP_SSRCS];
  guint n_rtcp_ssrcs;
  gboolean failed;

  /* rtp_out (RTP) and srtp_out (RTCP) are used from any thread: under
   * lock */
  GMutex lock;
  OtcSrtpSend *rtp_out;
  srtp_t srtp_out;
  srtp_t srtp_in;               /* context thread */
  gint connected;               /* atomic */
};

static void
init_once (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done)) {
    srtp_err_status_t st;

    GST_DEBUG_CATEGORY_INIT (otc_srtp_transport_debug, "otcsrtptransport", 0,
        "otc-router ICE/DTLS/SRTP transport");
    /* a second srtp_init() (GStreamer's srtp plugin makes one too) says
     * bad_param; a real failure shows when a session is made */
    st = srtp_init ();

    GST_DEBUG ("srtp_init: %d", st);
    g_once_init_leave (&done, 1);
  }
}

static gchar *
openssl_error (const gchar * what)
{
  unsigned long e = ERR_get_error ();
  gchar buf[256];

  ERR_clear_error ();
  if (e == 0)
    return g_strdup (what);
  ERR_error_string_n (e, buf, sizeof buf);
  return g_strdup_printf ("%s: %s", what, buf);
}

/* ------------------------------------------------------------------------ */
/* identity */

/* "SHA256 AB:CD:..." of @cert with @md */
static gchar *
cert_fingerprint (X509 * cert, const EVP_MD * md)
{
  guint8 digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0, i;
  GString *s;

  if (!X509_digest (cert, md, digest, &n))
    return NULL;
  s = g_string_new (NULL);
  for (i = 0; i < n; i++)
    g_string_append_printf (s, "%s%02X", i ? ":" : "", digest[i]);
  return g_string_free (s, FALSE);
}

static int
verify_accept (int preverify_ok, X509_STORE_CTX * ctx)
{
  /* self-signed, as in every WebRTC peer: checked against the answer's
   * a=fingerprint once the handshake is done */
  return 1;
}

OtcDtlsIdentity *
otc_dtls_identity_new (GError ** error)
{
  OtcDtlsIdentity *id = g_new0 (OtcDtlsIdentity, 1);
  X509_NAME *name;
  guint32 serial;
  gchar *hex;

  init_once ();
  id->refcount = 1;
  id->key = EVP_EC_gen ("P-256");
  id->cert = X509_new ();
  if (id->key == NULL || id->cert == NULL)
    goto fail;
  if (RAND_bytes ((guint8 *) & serial, sizeof serial) != 1)
    goto fail;
  X509_set_version (id->cert, 2);
  ASN1_INTEGER_set (X509_get_serialNumber (id->cert), serial & 0x7fffffff);
  X509_gmtime_adj (X509_getm_notBefore (id->cert), -24 * 3600);
  X509_gmtime_adj (X509_getm_notAfter (id->cert), 365L * 24 * 3600);
  X509_set_pubkey (id->cert, id->key);
  name = X509_get_subject_name (id->cert);
  X509_NAME_add_entry_by_txt (name, "CN", MBSTRING_ASC,
      (const guint8 *) "otc-router", -1, -1, 0);
  X509_set_issuer_name (id->cert, name);
  if (!X509_sign (id->cert, id->key, EVP_sha256 ()))
    goto fail;

  id->ssl_ctx = SSL_CTX_new (DTLS_method ());
  if (id->ssl_ctx == NULL)
    goto fail;
  SSL_CTX_set_min_proto_version (id->ssl_ctx, DTLS1_2_VERSION);
  if (SSL_CTX_use_certificate (id->ssl_ctx, id->cert) != 1
      || SSL_CTX_use_PrivateKey (id->ssl_ctx, id->key) != 1
      || SSL_CTX_check_private_key (id->ssl_ctx) != 1)
    goto fail;
  /* (returns 0 on success) */
  if (SSL_CTX_set_tlsext_use_srtp (id->ssl_ctx, "SRTP_AES128_CM_SHA1_80"))
    goto fail;
  SSL_CTX_set_verify (id->ssl_ctx,
      SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_accept);
  SSL_CTX_set_read_ahead (id->ssl_ctx, 1);
  SSL_CTX_set_options (id->ssl_ctx, SSL_OP_NO_QUERY_MTU);

  hex = cert_fingerprint (id->cert, EVP_sha256 ());
  if (hex == NULL)
    goto fail;
  id->fingerprint = g_strconcat ("sha-256 ", hex, NULL);
  g_free (hex);
  return id;

fail:
  {
    gchar *msg = openssl_error ("could not make the DTLS certificate");

    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, msg);
    g_free (msg);
    otc_dtls_identity_unref (id);
    return NULL;
  }
}

OtcDtlsIdentity *
otc_dtls_identity_ref (OtcDtlsIdentity * id)
{
  g_atomic_int_inc (&id->refcount);
  return id;
}

void
otc_dtls_identity_unref (OtcDtlsIdentity * id)
{
  if (id == NULL || !g_atomic_int_dec_and_test (&id->refcount))
    return;
  SSL_CTX_free (id->ssl_ctx);
  X509_free (id->cert);
  EVP_PKEY_free (id->key);
  g_free (id->fingerprint);
  g_free (id);
}

const gchar *
otc_dtls_identity_get_fingerprint (OtcDtlsIdentity * id)
{
  return id->fingerprint;
}

/* ------------------------------------------------------------------------ */
/* a BIO that sends each DTLS datagram through ICE */

static int
ice_bio_write (BIO * bio, const char *data, int len)
{
  OtcSrtpTransport *t = BIO_get_data (bio);

  if (t && t->agent && len > 0)
    nice_agent_send (t->agent, t->stream_id, 1, len, data);
  /* a lost flight is sent again on the DTLS timer */
  return len;
}

static long
ice_bio_ctrl (BIO * bio, int cmd, long num, void *ptr)
{
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;
    case BIO_CTRL_DGRAM_QUERY_MTU:
    case BIO_CTRL_DGRAM_GET_FALLBACK_MTU:
      return DTLS_MTU;
    default:
      return 0;
  }
}

static int
ice_bio_create (BIO * bio)
{
  BIO_set_init (bio, 1);
  return 1;
}

static BIO_METHOD *
ice_bio_method (void)
{
  static gsize method = 0;

  if (g_once_init_enter (&method)) {
    BIO_METHOD *m = BIO_meth_new (BIO_get_new_index () | BIO_TYPE_SOURCE_SINK,
        "otc-ice");

    BIO_meth_set_write (m, ice_bio_write);
    BIO_meth_set_ctrl (m, ice_bio_ctrl);
    BIO_meth_set_create (m, ice_bio_create);
    g_once_init_leave (&method, (gsize) m);
  }
  return (BIO_METHOD *) method;
}

/* ------------------------------------------------------------------------ */
/* DTLS */

static void
transport_fail (OtcSrtpTransport * t, const gchar * reason)
{
  if (t->failed)
    return;
  t->failed = TRUE;
  g_atomic_int_set (&t->connected, 0);
  GST_INFO ("transport %p failed: %s", t, reason);
  if (t->callbacks.failed)
    t->callbacks.failed (t, reason, t->user_data);
}

static gboolean dtls_timeout_cb (gpointer data);

static void
dtls_schedule_timer (OtcSrtpTransport * t)
{
  struct timeval tv;

  if (t->dtls_timer) {
    g_source_destroy (t->dtls_timer);
    g_source_unref (t->dtls_timer);
    t->dtls_timer = NULL;
  }
  if (t->failed || t->handshake_done || !DTLSv1_get_timeout (t->ssl, &tv))
    return;
  t->dtls_timer = g_timeout_source_new (tv.tv_sec * 1000 + tv.tv_usec / 1000
      + 1);
  g_source_set_callback (t->dtls_timer, dtls_timeout_cb, t, NULL);
  g_source_attach (t->dtls_timer, t->context);
}

static srtp_t
srtp_session_new (const guint8 * key, gboolean outbound)
{
  srtp_policy_t policy;
  srtp_t session = NULL;

  memset (&policy, 0, sizeof policy);
  srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80 (&policy.rtp);
  srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80 (&policy.rtcp);
  policy.ssrc.type = outbound ? ssrc_any_outbound : ssrc_any_inbound;
  policy.key = (guint8 *) key;
  policy.window_size = 1024;
  policy.allow_repeat_tx = 1;
  if (srtp_create (&session, &policy) != srtp_err_status_ok)
    return NULL;
  return session;
}

/* The handshake is done: check the peer's certificate against the answer,
 * derive the SRTP keys (RFC 5764) and start sending. */
static void
dtls_handshake_done (OtcSrtpTransport * t)
{
  const SRTP_PROTECTION_PROFILE *profile;
  guint8 material[2 * SRTP_MASTER_LEN];
  guint8 local[SRTP_MASTER_LEN], remote[SRTP_MASTER_LEN];
  const guint8 *client_key = material, *server_key = material + SRTP_KEY_LEN;
  const guint8 *client_salt = material + 2 * SRTP_KEY_LEN;
  const guint8 *server_salt = client_salt + SRTP_SALT_LEN;
  X509 *peer = SSL_get1_peer_certificate (t->ssl);
  gchar **fp = g_strsplit (t->remote_fingerprint, " ", 2);
  const EVP_MD *md = EVP_get_digestbyname (fp[0]);
  gchar *got = peer && md ? cert_fingerprint (peer, md) : NULL;
  srtp_t out, in;
  OtcSrtpSend *rtp_out;

  t->handshake_done = TRUE;
  X509_free (peer);
  if (got == NULL || g_strcmp0 (got, fp[1]) != 0) {
    g_free (got);
    g_strfreev (fp);
    transport_fail (t, "the peer's DTLS certificate does not match the "
        "answer's fingerprint");
    return;
  }
  g_free (got);
  g_strfreev (fp);
  profile = SSL_get_selected_srtp_profile (t->ssl);
  if (profile == NULL || profile->id != SRTP_AES128_CM_SHA1_80) {
    transport_fail (t, "the peer did not agree to SRTP_AES128_CM_SHA1_80");
    return;
  }
  if (SSL_export_keying_material (t->ssl, material, sizeof material,
          "EXTRACTOR-dtls_srtp", 19, NULL, 0, 0) != 1) {
    transport_fail (t, "DTLS-SRTP key export failed");
    return;
  }
  memcpy (local, t->dtls_client ? client_key : server_key, SRTP_KEY_LEN);
  memcpy (local + SRTP_KEY_LEN, t->dtls_client ? client_salt : server_salt,
      SRTP_SALT_LEN);
  memcpy (remote, t->dtls_client ? server_key : client_key, SRTP_KEY_LEN);
  memcpy (remote + SRTP_KEY_LEN, t->dtls_client ? server_salt : client_salt,
      SRTP_SALT_LEN);
  rtp_out = otc_srtp_send_new (local);
  out = srtp_session_new (local, TRUE);
  in = srtp_session_new (remote, FALSE);
  OPENSSL_cleanse (material, sizeof material);
  OPENSSL_cleanse (local, sizeof local);
  OPENSSL_cleanse (remote, sizeof remote);
  if (out == NULL || in == NULL || rtp_out == NULL) {
    if (out)
      srtp_dealloc (out);
    if (in)
      srtp_dealloc (in);
    otc_srtp_send_free (rtp_out);
    transport_fail (t, "could not set up SRTP with the keys");
    return;
  }
  g_mutex_lock (&t->lock);
  t->rtp_out = rtp_out;
  t->srtp_out = out;
  t->srtp_in = in;
  g_mutex_unlock (&t->lock);
  g_atomic_int_set (&t->connected, 1);
  if (t->connect_timer) {
    g_source_destroy (t->connect_timer);
    g_clear_pointer (&t->connect_timer, g_source_unref);
  }
  GST_INFO ("transport %p connected (DTLS %s)", t,
      t->dtls_client ? "client" : "server");
  if (t->callbacks.connected)
    t->callbacks.connected (t, t->user_data);
}

/* Context thread: run the handshake (or read after it) on what arrived. */
static void
dtls_drive (OtcSrtpTransport * t)
{
  int r, e;

  if (t->failed)
    return;
  if (!t->handshake_done) {
    t->handshake_started = TRUE;
    r = SSL_do_handshake (t->ssl);
    if (r == 1) {
      dtls_handshake_done (t);
    } else {
      e = SSL_get_error (t->ssl, r);
      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
        gchar *msg = openssl_error ("DTLS handshake failed");

        transport_fail (t, msg);
        g_free (msg);
      }
    }
    dtls_schedule_timer (t);
  } else {
    guint8 buf[2048];

    /* no application data is expected: alerts, retransmitted flights */
    while ((r = SSL_read (t->ssl, buf, sizeof buf)) > 0);
    e = SSL_get_error (t->ssl, r);
    if (e == SSL_ERROR_ZERO_RETURN)
      transport_fail (t, "the peer closed DTLS");
    else if (e == SSL_ERROR_SSL) {
      gchar *msg = openssl_error ("DTLS error");

      transport_fail (t, msg);
      g_free (msg);
    }
  }
  ERR_clear_error ();
}

static gboolean
dtls_timeout_cb (gpointer data)
{
  OtcSrtpTransport *t = data;

  g_source_unref (t->dtls_timer);
  t->dtls_timer = NULL;
  if (t->failed || t->handshake_done)
    return G_SOURCE_REMOVE;
  if (DTLSv1_handle_timeout (t->ssl) < 0) {
    transport_fail (t, "DTLS handshake timed out");
    return G_SOURCE_REMOVE;
  }
  ERR_clear_error ();
  dtls_schedule_timer (t);
  return G_SOURCE_REMOVE;
}

/* ------------------------------------------------------------------------ */
/* ICE */

static void
on_recv (NiceAgent * agent, guint stream_id, guint component_id, guint len,
    gchar * buf, gpointer data)
{
  OtcSrtpTransport *t = data;
  guint8 b0, pt;

  if (len < 1 || t->failed)
    return;
  b0 = (guint8) buf[0];
  /* RFC 7983: 20-63 DTLS, 128-191 RTP/RTCP (STUN stays in libnice) */
  if (b0 >= 20 && b0 <= 63) {
    if (!t->remote_set)
      return;
    BIO_write (t->rbio, buf, len);
    dtls_drive (t);
    return;
  }
  if (b0 < 128 || b0 > 191 || len < 8 || len > OTC_SRTP_TRANSPORT_MAX_PACKET
      || t->srtp_in == NULL)
    return;
  pt = (guint8) buf[1];
  if (pt >= 192 && pt <= 223) {
    guint8 copy[OTC_SRTP_TRANSPORT_MAX_PACKET];
    int n = len;
    srtp_err_status_t st;
    guint32 ssrc = GST_READ_UINT32_BE (buf + 4);
    guint i;

    for (i = 0; i < t->n_rtcp_ssrcs && t->rtcp_ssrcs[i] != ssrc; i++);
    if (i == MAX_RTCP_SSRCS) {
      GST_LOG ("transport %p: RTCP from a further SSRC %u ignored", t, ssrc);
      return;
    }
    memcpy (copy, buf, len);
    st = srtp_unprotect_rtcp (t->srtp_in, copy, &n);
    if (st != srtp_err_status_ok) {
      GST_LOG ("transport %p: RTCP packet refused by SRTP (%d)", t, st);
      return;
    }
    if (i == t->n_rtcp_ssrcs)
      t->rtcp_ssrcs[t->n_rtcp_ssrcs++] = ssrc;
    if (t->callbacks.rtcp)
      t->callbacks.rtcp (t, copy, n, t->user_data);
  }
  /* RTP from a receive-only peer: ignored */
}

static void
on_new_candidate (NiceAgent * agent, NiceCandidate * candidate, gpointer data)
{
  OtcSrtpTransport *t = data;
  gchar *sdp;
  const gchar *c;

  if (candidate->stream_id != t->stream_id || candidate->component_id != 1)
    return;
  sdp = nice_agent_generate_local_candidate_sdp (agent, candidate);
  if (sdp == NULL)
    return;
  c = g_str_has_prefix (sdp, "a=") ? sdp + 2 : sdp;
  GST_LOG ("transport %p: local candidate %s", t, c);
  if (t->callbacks.local_candidate)
    t->callbacks.local_candidate (t, c, t->user_data);
  g_free (sdp);
}

static void
on_component_state (NiceAgent * agent, guint stream_id, guint component_id,
    guint state, gpointer data)
{
  OtcSrtpTransport *t = data;

  if (stream_id != t->stream_id)
    return;
  GST_DEBUG ("transport %p: ICE %s", t, nice_component_state_to_string (state));
  switch (state) {
    case NICE_COMPONENT_STATE_CONNECTED:
    case NICE_COMPONENT_STATE_READY:
      if (t->dtls_client && !t->handshake_started)
        dtls_drive (t);
      break;
    case NICE_COMPONENT_STATE_FAILED:
      transport_fail (t, "ICE failed");
      break;
    default:
      break;
  }
}

static gboolean
gather_cb (gpointer data)
{
  OtcSrtpTransport *t = data;

  g_source_unref (t->gather_source);
  t->gather_source = NULL;
  if (!nice_agent_gather_candidates (t->agent, t->stream_id))
    transport_fail (t, "ICE found no local address to gather on");
  return G_SOURCE_REMOVE;
}

OtcSrtpTransport *
otc_srtp_transport_new (GMainContext * context,
    const gchar * const *addresses, OtcDtlsIdentity * identity,
    const OtcSrtpTransportCallbacks * callbacks, gpointer user_data,
    GError ** error)
{
  OtcSrtpTransport *t;
  const gchar *const *a;
  BIO *wbio;

  init_once ();
  t = g_new0 (OtcSrtpTransport, 1);
  g_mutex_init (&t->lock);
  t->context = g_main_context_ref (context);
  if (callbacks)
    t->callbacks = *callbacks;
  t->user_data = user_data;
  t->connect_timeout_s = OTC_SRTP_TRANSPORT_CONNECT_TIMEOUT_S;
  t->identity = otc_dtls_identity_ref (identity);
  t->pending_candidates = g_ptr_array_new_with_free_func (g_free);

  /* consent freshness (RFC 7675): a peer that stops answering its checks
   * fails the transport, instead of being sent to for ever */
  t->agent = nice_agent_new_full (context, NICE_COMPATIBILITY_RFC5245,
      NICE_AGENT_OPTION_ICE_TRICKLE | NICE_AGENT_OPTION_CONSENT_FRESHNESS);
  /* the router offers: controlling; UDP host candidates only, no UPnP */
  g_object_set (t->agent, "controlling-mode", TRUE, "upnp", FALSE,
      "ice-tcp", FALSE, NULL);
  for (a = addresses; a && *a; a++) {
    NiceAddress addr;

    nice_address_init (&addr);
    if (!nice_address_set_from_string (&addr, *a)
        || !nice_agent_add_local_address (t->agent, &addr)) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
          "ICE address %s refused", *a);
      otc_srtp_transport_free (t);
      return NULL;
    }
  }
  t->stream_id = nice_agent_add_stream (t->agent, 1);
  if (t->stream_id == 0
      || !nice_agent_get_local_credentials (t->agent, t->stream_id, &t->ufrag,
          &t->pwd)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
        "could not make an ICE stream");
    otc_srtp_transport_free (t);
    return NULL;
  }
  g_signal_connect (t->agent, "new-candidate-full",
      G_CALLBACK (on_new_candidate), t);
  g_signal_connect (t->agent, "component-state-changed",
      G_CALLBACK (on_component_state), t);
  nice_agent_attach_recv (t->agent, t->stream_id, 1, context, on_recv, t);

  t->ssl = SSL_new (identity->ssl_ctx);
  t->rbio = BIO_new (BIO_s_mem ());
  wbio = BIO_new (ice_bio_method ());
  if (t->ssl == NULL || t->rbio == NULL || wbio == NULL) {
    gchar *msg = openssl_error ("could not make a DTLS connection");

    BIO_free (t->rbio);
    t->rbio = NULL;
    BIO_free (wbio);
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, msg);
    g_free (msg);
    otc_srtp_transport_free (t);
    return NULL;
  }
  BIO_set_mem_eof_return (t->rbio, -1);
  BIO_set_data (wbio, t);
  SSL_set_bio (t->ssl, t->rbio, wbio);
  SSL_set_mtu (t->ssl, DTLS_MTU);
  DTLS_set_link_mtu (t->ssl, DTLS_MTU);

  t->gather_source = g_idle_source_new ();
  g_source_set_callback (t->gather_source, gather_cb, t, NULL);
  g_source_attach (t->gather_source, context);
  return t;
}

void
otc_srtp_transport_free (OtcSrtpTransport * t)
{
  if (t == NULL)
    return;
  if (t->gather_source) {
    g_source_destroy (t->gather_source);
    g_source_unref (t->gather_source);
  }
  if (t->dtls_timer) {
    g_source_destroy (t->dtls_timer);
    g_source_unref (t->dtls_timer);
  }
  if (t->connect_timer) {
    g_source_destroy (t->connect_timer);
    g_source_unref (t->connect_timer);
  }
  if (t->ssl) {
    if (t->handshake_done && !t->failed) {
      SSL_shutdown (t->ssl);    /* close_notify: the peer knows at once */
      ERR_clear_error ();
    }
    SSL_free (t->ssl);
  }
  if (t->agent) {
    g_signal_handlers_disconnect_by_data (t->agent, t);
    if (t->stream_id) {
      nice_agent_attach_recv (t->agent, t->stream_id, 1, t->context, NULL,
          NULL);
      nice_agent_remove_stream (t->agent, t->stream_id);
    }
    g_object_unref (t->agent);
  }
  otc_srtp_send_free (t->rtp_out);
  if (t->srtp_out)
    srtp_dealloc (t->srtp_out);
  if (t->srtp_in)
    srtp_dealloc (t->srtp_in);
  g_free (t->ufrag);
  g_free (t->pwd);
  g_free (t->remote_fingerprint);
  g_ptr_array_unref (t->pending_candidates);
  otc_dtls_identity_unref (t->identity);
  g_main_context_unref (t->context);
  g_mutex_clear (&t->lock);
  g_free (t);
}

void
otc_srtp_transport_set_connect_timeout (OtcSrtpTransport * t, guint seconds)
{
  t->connect_timeout_s = MAX (seconds, 1);
}

const gchar *
otc_srtp_transport_get_ice_ufrag (OtcSrtpTransport * t)
{
  return t->ufrag;
}

const gchar *
otc_srtp_transport_get_ice_pwd (OtcSrtpTransport * t)
{
  return t->pwd;
}

static gboolean
add_candidate_now (OtcSrtpTransport * t, const gchar * candidate)
{
  gchar *line = g_strconcat ("a=", candidate, NULL);
  NiceCandidate *c =
      nice_agent_parse_remote_candidate_sdp (t->agent, t->stream_id, line);
  GSList list = { c, NULL };
  gboolean ok = FALSE;

  g_free (line);
  if (c == NULL) {
    GST_WARNING ("transport %p: unparseable candidate \"%s\"", t, candidate);
    return FALSE;
  }
  if (c->component_id == 1 && c->transport == NICE_CANDIDATE_TRANSPORT_UDP)
    ok = nice_agent_set_remote_candidates (t->agent, t->stream_id, 1,
        &list) >= 0;
  else
    GST_DEBUG ("transport %p: candidate not for UDP component 1: %s", t,
        candidate);
  nice_candidate_free (c);
  return ok;
}

gboolean
otc_srtp_transport_add_remote_candidate (OtcSrtpTransport * t,
    const gchar * candidate)
{
  if (g_str_has_prefix (candidate, "a="))
    candidate += 2;
  if (!g_str_has_prefix (candidate, "candidate:")) {
    GST_WARNING ("transport %p: not a candidate: \"%s\"", t, candidate);
    return FALSE;
  }
  if (t->remote_candidates >= MAX_REMOTE_CANDIDATES) {
    GST_WARNING ("transport %p: more than %d remote candidates, ignored", t,
        MAX_REMOTE_CANDIDATES);
    return FALSE;
  }
  t->remote_candidates++;
  if (!t->remote_set) {
    g_ptr_array_add (t->pending_candidates, g_strdup (candidate));
    return TRUE;
  }
  return add_candidate_now (t, candidate);
}

static gboolean
connect_timeout_cb (gpointer data)
{
  OtcSrtpTransport *t = data;

  g_clear_pointer (&t->connect_timer, g_source_unref);
  if (!g_atomic_int_get (&t->connected)) {
    gchar *msg = g_strdup_printf ("no ICE and DTLS connection within %u s "
        "of the answer", t->connect_timeout_s);

    transport_fail (t, msg);
    g_free (msg);
  }
  return G_SOURCE_REMOVE;
}

/* "sha-256 ab:CD:..." -> "SHA256 AB:CD:..." (NULL if malformed) */
static gchar *
normalise_fingerprint (const gchar * fingerprint)
{
  gchar **parts = g_strsplit (fingerprint, " ", -1);
  gchar *alg, *hex, *res = NULL;
  const gchar *p;

  if (g_strv_length (parts) != 2 || *parts[1] == '\0') {
    g_strfreev (parts);
    return NULL;
  }
  alg = g_ascii_strup (parts[0], -1);
  hex = g_ascii_strup (parts[1], -1);
  for (p = hex; *p && (g_ascii_isxdigit (*p) || *p == ':'); p++);
  if (*p == '\0') {
    gchar **bits = g_strsplit (alg, "-", -1);
    gchar *joined = g_strjoinv ("", bits);

    if (EVP_get_digestbyname (joined))
      res = g_strconcat (joined, " ", hex, NULL);
    g_free (joined);
    g_strfreev (bits);
  }
  g_free (alg);
  g_free (hex);
  g_strfreev (parts);
  return res;
}

gboolean
otc_srtp_transport_set_remote (OtcSrtpTransport * t, const gchar * ufrag,
    const gchar * pwd, const gchar * fingerprint, const gchar * peer_setup,
    GError ** error)
{
  guint i;

  if (t->remote_set) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
        "the remote description is set already");
    return FALSE;
  }
  if (ufrag == NULL || pwd == NULL || *ufrag == '\0' || *pwd == '\0') {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
        "the answer has no a=ice-ufrag or a=ice-pwd");
    return FALSE;
  }
  if (fingerprint == NULL
      || (t->remote_fingerprint = normalise_fingerprint (fingerprint)) == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
        "the answer has no usable a=fingerprint");
    return FALSE;
  }
  if (g_strcmp0 (peer_setup, "active") == 0)
    t->dtls_client = FALSE;
  else if (g_strcmp0 (peer_setup, "passive") == 0)
    t->dtls_client = TRUE;
  else {
    g_free (t->remote_fingerprint);
    t->remote_fingerprint = NULL;
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
        "the answer's a=setup must be active or passive, not %s",
        peer_setup ? peer_setup : "missing");
    return FALSE;
  }
  if (!nice_agent_set_remote_credentials (t->agent, t->stream_id, ufrag, pwd)) {
    g_free (t->remote_fingerprint);
    t->remote_fingerprint = NULL;
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
        "libnice refused the answer's ICE credentials");
    return FALSE;
  }
  if (t->dtls_client)
    SSL_set_connect_state (t->ssl);
  else
    SSL_set_accept_state (t->ssl);
  t->remote_set = TRUE;
  /* (not _seconds: that may fire up to a second early) */
  t->connect_timer = g_timeout_source_new (t->connect_timeout_s * 1000);
  g_source_set_callback (t->connect_timer, connect_timeout_cb, t, NULL);
  g_source_attach (t->connect_timer, t->context);
  for (i = 0; i < t->pending_candidates->len; i++)
    add_candidate_now (t, g_ptr_array_index (t->pending_candidates, i));
  g_ptr_array_set_size (t->pending_candidates, 0);
  return TRUE;
}

static gboolean
send_protected (OtcSrtpTransport * t, const guint8 * data, gsize len,
    gboolean rtcp)
{
  /* room for the auth tag (and an MKI, never used) */
  guint8 buf[OTC_SRTP_TRANSPORT_MAX_PACKET + SRTP_MAX_TRAILER_LEN + 4];
  int n = len;
  srtp_err_status_t st = srtp_err_status_fail;

  if (!g_atomic_int_get (&t->connected) || len < 8
      || len > OTC_SRTP_TRANSPORT_MAX_PACKET)
    return FALSE;
  memcpy (buf, data, len);
  g_mutex_lock (&t->lock);
  if (!rtcp && t->rtp_out) {
    n = otc_srtp_send_protect (t->rtp_out, buf, len);
    st = n > 0 ? srtp_err_status_ok : srtp_err_status_bad_param;
  } else if (rtcp && t->srtp_out) {
    st = srtp_protect_rtcp (t->srtp_out, buf, &n);
  }
  g_mutex_unlock (&t->lock);
  if (st != srtp_err_status_ok)
    return FALSE;
  return nice_agent_send (t->agent, t->stream_id, 1, n, (const gchar *) buf)
      == n;
}

gboolean
otc_srtp_transport_send_rtp (OtcSrtpTransport * t, const guint8 * data,
    gsize len)
{
  return send_protected (t, data, len, FALSE);
}

gboolean
otc_srtp_transport_send_rtcp (OtcSrtpTransport * t, const guint8 * data,
    gsize len)
{
  return send_protected (t, data, len, TRUE);
}

gboolean
otc_srtp_transport_is_connected (OtcSrtpTransport * t)
{
  return g_atomic_int_get (&t->connected);
}
