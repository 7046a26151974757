/* SRTP protection of RTP on OpenSSL: see otc-srtp-send.h.
 *
 * SHA-1 through its low-level functions, as ext/e2ee-format/hmac-state.c
 * does for SHA-2: the pad states are plain structs copied per packet, while
 * EVP contexts allocate on every re-init in OpenSSL 3.0. */
#define OPENSSL_API_COMPAT 10101
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "otc-srtp-send.h"

#define MAX_STREAMS 16
#define SESSION_AUTH_KEY_LEN 20

enum
{
  LABEL_RTP_ENCRYPTION = 0,
  LABEL_RTP_AUTH = 1,
  LABEL_RTP_SALT = 2,
};

typedef struct
{
  guint32 ssrc;
  guint32 roc;                  /* rollover counter */
  guint16 s_l;                  /* highest sequence number sent */
} Stream;

struct _OtcSrtpSend
{
  EVP_CIPHER_CTX *aes;          /* AES-128-CTR with the session key */
  guint8 salt[OTC_SRTP_MASTER_SALT_LEN];
  SHA_CTX inner, outer;         /* HMAC-SHA1 with the session auth key */
  Stream streams[MAX_STREAMS];
  guint n_streams;
};

gboolean
otc_srtp_derive (const guint8 * master, guint8 label, guint8 * out,
    gsize out_len)
{
  const guint8 *key = master, *salt = master + OTC_SRTP_MASTER_KEY_LEN;
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new ();
  guint8 iv[16] = { 0 };
  guint8 zeros[64] = { 0 };
  int n;
  gboolean ok;

  g_return_val_if_fail (out_len <= sizeof zeros, FALSE);
  /* x = (label || r) XOR salt, r = 0 (kdr 0); IV = x * 2^16 */
  memcpy (iv, salt, OTC_SRTP_MASTER_SALT_LEN);
  iv[7] ^= label;
  ok = ctx != NULL
      && EVP_EncryptInit_ex2 (ctx, EVP_aes_128_ctr (), key, iv, NULL) == 1
      && EVP_EncryptUpdate (ctx, out, &n, zeros, (int) out_len) == 1;
  EVP_CIPHER_CTX_free (ctx);
  return ok;
}

OtcSrtpSend *
otc_srtp_send_new (const guint8 * master)
{
  OtcSrtpSend *s = g_new0 (OtcSrtpSend, 1);
  guint8 key[OTC_SRTP_MASTER_KEY_LEN];
  guint8 auth[SESSION_AUTH_KEY_LEN];
  guint8 pad[SHA_CBLOCK];
  guint i;
  gboolean ok;

  ok = otc_srtp_derive (master, LABEL_RTP_ENCRYPTION, key, sizeof key)
      && otc_srtp_derive (master, LABEL_RTP_AUTH, auth, sizeof auth)
      && otc_srtp_derive (master, LABEL_RTP_SALT, s->salt, sizeof s->salt);
  s->aes = EVP_CIPHER_CTX_new ();
  ok = ok && s->aes != NULL
      && EVP_EncryptInit_ex2 (s->aes, EVP_aes_128_ctr (), key, NULL, NULL);
  memset (pad, 0x36, sizeof pad);
  for (i = 0; i < sizeof auth; i++)
    pad[i] ^= auth[i];
  SHA1_Init (&s->inner);
  SHA1_Update (&s->inner, pad, sizeof pad);
  memset (pad, 0x5c, sizeof pad);
  for (i = 0; i < sizeof auth; i++)
    pad[i] ^= auth[i];
  SHA1_Init (&s->outer);
  SHA1_Update (&s->outer, pad, sizeof pad);
  OPENSSL_cleanse (key, sizeof key);
  OPENSSL_cleanse (auth, sizeof auth);
  OPENSSL_cleanse (pad, sizeof pad);
  if (!ok) {
    otc_srtp_send_free (s);
    return NULL;
  }
  return s;
}

void
otc_srtp_send_free (OtcSrtpSend * s)
{
  if (s == NULL)
    return;
  EVP_CIPHER_CTX_free (s->aes);
  OPENSSL_cleanse (s, sizeof *s);
  g_free (s);
}

/* The packet index of @seq (RFC 3711 3.3.1, as a receiver guesses it), and
 * the stream's state moved on when it is the newest. */
static guint64
stream_index (Stream * st, guint16 seq)
{
  guint32 v = st->roc;

  if (st->s_l < 32768) {
    if (seq - st->s_l > 32768 && st->roc > 0)
      v = st->roc - 1;
  } else if (st->s_l - 32768 > seq) {
    v = st->roc + 1;
  }
  if (v == st->roc + 1 || (v == st->roc && seq > st->s_l)) {
    st->roc = v;
    st->s_l = seq;
  }
  return ((guint64) v << 16) | seq;
}

static Stream *
find_stream (OtcSrtpSend * s, guint32 ssrc, guint16 seq)
{
  guint i;

  for (i = 0; i < s->n_streams; i++)
    if (s->streams[i].ssrc == ssrc)
      return &s->streams[i];
  if (s->n_streams == MAX_STREAMS)
    return NULL;
  s->streams[s->n_streams].ssrc = ssrc;
  s->streams[s->n_streams].roc = 0;
  s->streams[s->n_streams].s_l = seq;
  return &s->streams[s->n_streams++];
}

gsize
otc_srtp_send_protect (OtcSrtpSend * s, guint8 * p, gsize len)
{
  gsize header;
  guint32 ssrc, roc_be;
  guint16 seq;
  guint64 index;
  Stream *st;
  guint8 iv[16];
  guint8 mac[SHA_DIGEST_LENGTH];
  SHA_CTX c;
  int n, i;

  if (len < 12 || (p[0] >> 6) != 2)
    return 0;
  header = 12 + 4 * (p[0] & 0x0f);
  if (p[0] & 0x10) {
    if (len < header + 4)
      return 0;
    header += 4 + 4 * (gsize) ((p[header + 2] << 8) | p[header + 3]);
  }
  if (len < header || len > G_MAXINT - OTC_SRTP_TAG_LEN)
    return 0;
  seq = (p[2] << 8) | p[3];
  ssrc = ((guint32) p[8] << 24) | (p[9] << 16) | (p[10] << 8) | p[11];
  st = find_stream (s, ssrc, seq);
  if (st == NULL)
    return 0;
  index = stream_index (st, seq);

  /* IV = (salt * 2^16) XOR (SSRC * 2^64) XOR (index * 2^16) */
  memcpy (iv, s->salt, OTC_SRTP_MASTER_SALT_LEN);
  iv[14] = iv[15] = 0;
  for (i = 0; i < 4; i++)
    iv[4 + i] ^= p[8 + i];
  for (i = 0; i < 6; i++)
    iv[8 + i] ^= (guint8) (index >> (8 * (5 - i)));
  if (len > header
      && (EVP_EncryptInit_ex2 (s->aes, NULL, NULL, iv, NULL) != 1
          || EVP_EncryptUpdate (s->aes, p + header, &n, p + header,
              (int) (len - header)) != 1))
    return 0;

  /* tag = HMAC-SHA1 (header || payload || ROC), 80 bits */
  roc_be = GUINT32_TO_BE ((guint32) (index >> 16));
  c = s->inner;
  SHA1_Update (&c, p, len);
  SHA1_Update (&c, &roc_be, 4);
  SHA1_Final (mac, &c);
  c = s->outer;
  SHA1_Update (&c, mac, SHA_DIGEST_LENGTH);
  SHA1_Final (mac, &c);
  memcpy (p + len, mac, OTC_SRTP_TAG_LEN);
  OPENSSL_cleanse (&c, sizeof c);
  return len + OTC_SRTP_TAG_LEN;
}
