/* Protect and unprotect one frame (format page, sections 4 and 6). */
#include <gio/gio.h>
#include <openssl/crypto.h>
#include <string.h>

#include "otc/e2ee-error.h"
#include "otc/frame.h"
#include "frame-key-private.h"

#define MAX_AAD_PARTS 3

const gchar *
otc_frame_status_name (OtcFrameStatus status)
{
  static const gchar *names[] = { "ok", "malformed", "auth-failed",
    "replayed", "no-secret", "internal-error"
  };

  return status < G_N_ELEMENTS (names) ? names[status] : "unknown";
}

static void
make_nonce (const OtcFrameKey * key, guint64 ctr, guint8 nonce[OTC_NONCE_SIZE])
{
  guint i;

  memcpy (nonce, key->salt, OTC_NONCE_SIZE);
  for (i = 0; i < 8; i++)
    nonce[OTC_NONCE_SIZE - 1 - i] ^= (guint8) (ctr >> (8 * i));
}

/* RFC 9605 section 4.5.1 compute_tag, untruncated. */
static void
ctr_hmac_tag (const OtcFrameKey * key, const guint8 nonce[OTC_NONCE_SIZE],
    const OtcBytes * aad, guint n_aad, const guint8 * ct, gsize ct_len,
    guint8 mac[OTC_MAX_HASH_SIZE])
{
  guint8 prefix[24 + OTC_NONCE_SIZE];
  OtcBytes parts[2 + MAX_AAD_PARTS];
  gsize aad_len = 0;
  guint i;

  for (i = 0; i < n_aad; i++) {
    aad_len += aad[i].len;
    parts[1 + i] = aad[i];
  }
  otc_write_be64 (prefix, aad_len);
  otc_write_be64 (prefix + 8, ct_len);
  otc_write_be64 (prefix + 16, key->info->tag_size);
  memcpy (prefix + 24, nonce, OTC_NONCE_SIZE);
  parts[0].data = prefix;
  parts[0].len = sizeof (prefix);
  parts[1 + n_aad].data = ct;
  parts[1 + n_aad].len = ct_len;
  otc_hmac_state_compute (key->hmac, parts, n_aad + 2, mac);
}

static gboolean
ctr_crypt (OtcFrameKey * key, const guint8 nonce[OTC_NONCE_SIZE],
    const guint8 * in, gsize len, guint8 * out)
{
  guint8 iv[16] = { 0 };
  int out_len;

  memcpy (iv, nonce, OTC_NONCE_SIZE);
  if (EVP_EncryptInit_ex2 (key->cipher, NULL, NULL, iv, NULL) != 1)
    return FALSE;
  if (len == 0)
    return TRUE;
  return EVP_EncryptUpdate (key->cipher, out, &out_len, in, (int) len) == 1
      && (gsize) out_len == len;
}

static gboolean
gcm_add_aad (EVP_CIPHER_CTX * ctx, const OtcBytes * aad, guint n_aad,
    gboolean encrypt)
{
  guint i;
  int n;

  for (i = 0; i < n_aad; i++) {
    if (aad[i].len == 0)
      continue;
    if ((encrypt ? EVP_EncryptUpdate (ctx, NULL, &n, aad[i].data,
                (int) aad[i].len) : EVP_DecryptUpdate (ctx, NULL, &n,
                aad[i].data, (int) aad[i].len)) != 1)
      return FALSE;
  }
  return TRUE;
}

/* Writes the ciphertext to @ct and the Nt-byte tag to @tag. */
static gboolean
aead_seal (OtcFrameKey * key, const guint8 nonce[OTC_NONCE_SIZE],
    const OtcBytes * aad, guint n_aad, const guint8 * pt, gsize len,
    guint8 * ct, guint8 * tag)
{
  if (len > G_MAXINT)
    return FALSE;

  if (key->info->is_gcm) {
    EVP_CIPHER_CTX *ctx = key->cipher;
    int n;

    if (EVP_EncryptInit_ex2 (ctx, NULL, NULL, nonce, NULL) != 1
        || !gcm_add_aad (ctx, aad, n_aad, TRUE))
      return FALSE;
    if (len > 0 && EVP_EncryptUpdate (ctx, ct, &n, pt, (int) len) != 1)
      return FALSE;
    return EVP_EncryptFinal_ex (ctx, ct + len, &n) == 1
        && EVP_CIPHER_CTX_ctrl (ctx, EVP_CTRL_AEAD_GET_TAG,
        key->info->tag_size, tag) == 1;
  } else {
    guint8 mac[OTC_MAX_HASH_SIZE];

    if (!ctr_crypt (key, nonce, pt, len, ct))
      return FALSE;
    ctr_hmac_tag (key, nonce, aad, n_aad, ct, len, mac);
    memcpy (tag, mac, key->info->tag_size);
    OPENSSL_cleanse (mac, sizeof (mac));
    return TRUE;
  }
}

static OtcFrameStatus
aead_open (OtcFrameKey * key, const guint8 nonce[OTC_NONCE_SIZE],
    const OtcBytes * aad, guint n_aad, const guint8 * ct, gsize len,
    const guint8 * tag, guint8 * pt)
{
  if (len > G_MAXINT)
    return OTC_FRAME_MALFORMED;

  if (key->info->is_gcm) {
    EVP_CIPHER_CTX *ctx = key->cipher;
    int n;

    /* The cipher context was keyed for encryption; GCM decryption differs
     * only in the direction flag, set here with the IV. */
    if (EVP_DecryptInit_ex2 (ctx, NULL, NULL, nonce, NULL) != 1
        || !gcm_add_aad (ctx, aad, n_aad, FALSE))
      return OTC_FRAME_INTERNAL_ERROR;
    if (len > 0 && EVP_DecryptUpdate (ctx, pt, &n, ct, (int) len) != 1)
      return OTC_FRAME_INTERNAL_ERROR;
    if (EVP_CIPHER_CTX_ctrl (ctx, EVP_CTRL_AEAD_SET_TAG,
            key->info->tag_size, (void *) tag) != 1)
      return OTC_FRAME_INTERNAL_ERROR;
    if (EVP_DecryptFinal_ex (ctx, pt + len, &n) != 1) {
      /* GCM decrypts while it authenticates: the output is never used.
       * In place, encrypting again restores the ciphertext (the same
       * keystream) for a later try with another key; otherwise it is
       * wiped so that no unauthenticated plaintext stays around. */
      if (pt == ct) {
        if (EVP_EncryptInit_ex2 (ctx, NULL, NULL, nonce, NULL) != 1
            || (len > 0 && EVP_EncryptUpdate (ctx, pt, &n, pt, (int) len)
                != 1)) {
          OPENSSL_cleanse (pt, len);
          return OTC_FRAME_INTERNAL_ERROR;
        }
      } else {
        OPENSSL_cleanse (pt, len);
      }
      return OTC_FRAME_AUTH_FAILED;
    }
    return OTC_FRAME_OK;
  } else {
    guint8 mac[OTC_MAX_HASH_SIZE];
    gboolean match;

    ctr_hmac_tag (key, nonce, aad, n_aad, ct, len, mac);
    match = CRYPTO_memcmp (mac, tag, key->info->tag_size) == 0;
    OPENSSL_cleanse (mac, sizeof (mac));
    if (!match)
      return OTC_FRAME_AUTH_FAILED;
    return ctr_crypt (key, nonce, ct, len, pt) ? OTC_FRAME_OK :
        OTC_FRAME_INTERNAL_ERROR;
  }
}

gboolean
otc_frame_key_aead_encrypt (OtcFrameKey * key,
    const guint8 nonce[OTC_NONCE_SIZE], const guint8 * aad, gsize aad_len,
    const guint8 * pt, gsize pt_len, guint8 * ct, GError ** error)
{
  OtcBytes a = { aad, aad_len };

  if (!aead_seal (key, nonce, &a, 1, pt, pt_len, ct, ct + pt_len)) {
    g_set_error_literal (error, OTC_E2EE_ERROR,
        OTC_E2EE_ERROR_ENCRYPTION_INTERNAL, "The crypto library failed");
    return FALSE;
  }
  return TRUE;
}

OtcFrameStatus
otc_frame_key_aead_decrypt (OtcFrameKey * key,
    const guint8 nonce[OTC_NONCE_SIZE], const guint8 * aad, gsize aad_len,
    const guint8 * ct, gsize ct_len, guint8 * pt)
{
  OtcBytes a = { aad, aad_len };
  gsize tag_len = key->info->tag_size;

  if (ct_len < tag_len)
    return OTC_FRAME_MALFORMED;
  return aead_open (key, nonce, &a, 1, ct, ct_len - tag_len,
      ct + ct_len - tag_len, pt);
}

gsize
otc_frame_protected_size (OtcCipherSuite suite, guint64 kid, guint64 ctr,
    gsize frame_len)
{
  const OtcCipherSuiteInfo *info = otc_cipher_suite_get_info (suite);

  g_return_val_if_fail (info != NULL, 0);
  return frame_len + otc_sframe_header_size (kid, ctr) + info->tag_size + 1;
}

gssize
otc_frame_protect (OtcFrameKey * key, guint64 ctr, const guint8 * frame,
    gsize frame_len, guint clear_len, guint8 * out, gsize out_size,
    GError ** error)
{
  guint8 header[OTC_SFRAME_HEADER_MAX_SIZE];
  guint8 nonce[OTC_NONCE_SIZE];
  guint8 footer;
  OtcBytes aad[3];
  gsize hlen, total, enc_len;
  guint8 *p;

  clear_len = MIN (clear_len, OTC_FRAME_MAX_CLEAR_LENGTH);
  clear_len = MIN (clear_len, frame_len);
  hlen = otc_sframe_header_encode (key->kid, ctr, header);
  enc_len = frame_len - clear_len;
  total = frame_len + hlen + key->info->tag_size + 1;
  if (out_size < total) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
        "Output of %" G_GSIZE_FORMAT " bytes is too small for %"
        G_GSIZE_FORMAT, out_size, total);
    return -1;
  }

  footer = (guint8) clear_len;
  p = out;
  memcpy (p, frame, clear_len);
  p += clear_len;
  memcpy (p, header, hlen);
  p += hlen;

  aad[0].data = header;
  aad[0].len = hlen;
  aad[1].data = frame;
  aad[1].len = clear_len;
  aad[2].data = &footer;
  aad[2].len = 1;
  make_nonce (key, ctr, nonce);
  if (!aead_seal (key, nonce, aad, 3, frame + clear_len, enc_len, p,
          p + enc_len)) {
    OPENSSL_cleanse (out, total);
    g_set_error_literal (error, OTC_E2EE_ERROR,
        OTC_E2EE_ERROR_ENCRYPTION_INTERNAL,
        "The crypto library failed to encrypt a frame");
    return -1;
  }
  out[total - 1] = footer;
  return (gssize) total;
}

gboolean
otc_frame_parse (OtcCipherSuite suite, const guint8 * data, gsize len,
    OtcFrameInfo * info)
{
  const OtcCipherSuiteInfo *si = otc_cipher_suite_get_info (suite);
  gsize clear_len, hlen;

  if (si == NULL || len < 1)
    return FALSE;
  clear_len = data[len - 1];
  /* L + header (at least 1) + tag + footer */
  if (len < clear_len + 1 + si->tag_size + 1)
    return FALSE;
  hlen = otc_sframe_header_decode (data + clear_len,
      len - clear_len - si->tag_size - 1, &info->kid, &info->ctr);
  if (hlen == 0)
    return FALSE;

  info->clear_len = (guint) clear_len;
  info->header_len = hlen;
  info->ciphertext_offset = clear_len + hlen;
  info->tag_len = si->tag_size;
  info->ciphertext_len = len - info->ciphertext_offset - si->tag_size - 1;
  return TRUE;
}

/* aad = H || F[0:L] || byte(L), where they lie in a protected frame */
static void
frame_aad (const guint8 * data, const OtcFrameInfo * info, OtcBytes aad[3])
{
  aad[0].data = data + info->clear_len;
  aad[0].len = info->header_len;
  aad[1].data = data;
  aad[1].len = info->clear_len;
  aad[2].data = data + info->ciphertext_offset + info->ciphertext_len
      + info->tag_len;
  aad[2].len = 1;
}

OtcFrameStatus
otc_frame_unprotect (OtcFrameKey * key, const guint8 * data,
    const OtcFrameInfo * info, guint8 * out)
{
  guint8 nonce[OTC_NONCE_SIZE];
  OtcBytes aad[3];
  const guint8 *ct = data + info->ciphertext_offset;
  OtcFrameStatus status;

  g_return_val_if_fail (key->kid == info->kid, OTC_FRAME_INTERNAL_ERROR);

  frame_aad (data, info, aad);
  make_nonce (key, info->ctr, nonce);
  status = aead_open (key, nonce, aad, 3, ct, info->ciphertext_len,
      ct + info->ciphertext_len, out + info->clear_len);
  if (status == OTC_FRAME_OK)
    memcpy (out, data, info->clear_len);
  return status;
}

OtcFrameStatus
otc_frame_unprotect_in_place (OtcFrameKey * key, guint8 * data,
    const OtcFrameInfo * info)
{
  guint8 nonce[OTC_NONCE_SIZE];
  OtcBytes aad[3];
  guint8 *ct = data + info->ciphertext_offset;
  OtcFrameStatus status;

  g_return_val_if_fail (key->kid == info->kid, OTC_FRAME_INTERNAL_ERROR);

  frame_aad (data, info, aad);
  make_nonce (key, info->ctr, nonce);
  /* decrypted where it lies (exact overlap is allowed), then moved over
   * the header: the frame becomes F[0:L] || plaintext */
  status = aead_open (key, nonce, aad, 3, ct, info->ciphertext_len,
      ct + info->ciphertext_len, ct);
  if (status == OTC_FRAME_OK)
    memmove (data + info->clear_len, ct, info->ciphertext_len);
  return status;
}
