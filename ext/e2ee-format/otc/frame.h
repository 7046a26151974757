/* Frame protection (format page, sections 3.2-4 and 6): per-KID keys with
 * their OpenSSL contexts set up once, and protect/unprotect of one encoded
 * frame:  protected = F[0:L] || H || C || T || byte(L). */
#pragma once

#include <glib.h>
#include <otc/cipher-suite.h>
#include <otc/secret.h>
#include <otc/sframe-header.h>

G_BEGIN_DECLS

#define OTC_FRAME_MAX_CLEAR_LENGTH 255
/* Header + largest tag + footer: a protected frame is at most this much
 * longer than the frame. */
#define OTC_FRAME_MAX_OVERHEAD (OTC_SFRAME_HEADER_MAX_SIZE + OTC_MAX_TAG_SIZE + 1)

typedef enum
{
  OTC_FRAME_OK = 0,
  OTC_FRAME_MALFORMED,          /* too short, bad footer, truncated header */
  OTC_FRAME_AUTH_FAILED,        /* tag did not verify with any held secret */
  OTC_FRAME_REPLAYED,           /* (KID, CTR) seen before or too old */
  OTC_FRAME_NO_SECRET,          /* no secret to try */
  OTC_FRAME_INTERNAL_ERROR,     /* the crypto library failed */
} OtcFrameStatus;

const gchar *otc_frame_status_name (OtcFrameStatus status);

/* base_key(KID) = HKDF-Expand(HKDF-Extract("OTC-E2EE-v1", SK),
 *                 "OTC-E2EE-v1 sender key" || BE64(KID), Nh) */
gboolean otc_derive_sender_base_key (const OtcSecretKey * sk,
    OtcCipherSuite suite, guint64 kid, guint8 base_key[OTC_MAX_HASH_SIZE],
    GError ** error);

/* RFC 9605 section 4.4.2. @base_key is Nh bytes for the suite's hash, or
 * any length for the RFC's own vectors. */
gboolean otc_derive_sframe_key_salt (OtcCipherSuite suite, guint64 kid,
    const guint8 * base_key, gsize base_key_len,
    guint8 sframe_key[OTC_MAX_KEY_SIZE], guint8 sframe_salt[OTC_NONCE_SIZE],
    GError ** error);

/* The key material of one (secret, KID): sframe_key, sframe_salt and the
 * cipher/MAC state built from them. Not thread-safe: one user at a time. */
typedef struct _OtcFrameKey OtcFrameKey;

OtcFrameKey *otc_frame_key_new_for_kid (const OtcSecretKey * sk,
    OtcCipherSuite suite, guint64 kid, GError ** error);
OtcFrameKey *otc_frame_key_new_from_base_key (OtcCipherSuite suite,
    guint64 kid, const guint8 * base_key, gsize base_key_len,
    GError ** error);
/* From a raw AEAD key (Nk bytes) and salt; @salt may be NULL (zeros). */
OtcFrameKey *otc_frame_key_new_raw (OtcCipherSuite suite, guint64 kid,
    const guint8 * key, const guint8 * salt, GError ** error);
void otc_frame_key_free (OtcFrameKey * key);      /* wipes */

OtcCipherSuite otc_frame_key_get_suite (const OtcFrameKey * key);
guint64 otc_frame_key_get_kid (const OtcFrameKey * key);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (OtcFrameKey, otc_frame_key_free)

/* Raw AEAD of RFC 9605 section 4.5 (CTR+HMAC or GCM), for vectors:
 * @ct receives pt_len + Nt bytes (ciphertext then tag). */
gboolean otc_frame_key_aead_encrypt (OtcFrameKey * key,
    const guint8 nonce[OTC_NONCE_SIZE], const guint8 * aad, gsize aad_len,
    const guint8 * pt, gsize pt_len, guint8 * ct, GError ** error);
/* @ct_len includes the tag; @pt receives ct_len - Nt bytes on success. */
OtcFrameStatus otc_frame_key_aead_decrypt (OtcFrameKey * key,
    const guint8 nonce[OTC_NONCE_SIZE], const guint8 * aad, gsize aad_len,
    const guint8 * ct, gsize ct_len, guint8 * pt);

/* Size of the protected form of a @frame_len byte frame. */
gsize otc_frame_protected_size (OtcCipherSuite suite, guint64 kid,
    guint64 ctr, gsize frame_len);

/* Protects @frame with (key's KID, @ctr), leaving @clear_len bytes in the
 * clear (clamped to the frame length and 255). Returns the protected
 * length, or -1 with an error (output too small: G_IO_ERROR_NO_SPACE;
 * crypto failure: OTC_E2EE_ERROR_ENCRYPTION_INTERNAL). @out must not
 * overlap @frame. No heap allocation. */
gssize otc_frame_protect (OtcFrameKey * key, guint64 ctr,
    const guint8 * frame, gsize frame_len, guint clear_len,
    guint8 * out, gsize out_size, GError ** error);

/* Where the parts of a protected frame are. */
typedef struct
{
  guint clear_len;              /* L, from the footer */
  guint64 kid;
  guint64 ctr;
  gsize header_len;             /* H starts at offset clear_len */
  gsize ciphertext_offset;
  gsize ciphertext_len;         /* also the plaintext length after L */
  gsize tag_len;
} OtcFrameInfo;

/* Reads the footer and the header. FALSE when the frame is malformed
 * for @suite (format page, section 6.1). */
gboolean otc_frame_parse (OtcCipherSuite suite, const guint8 * data,
    gsize len, OtcFrameInfo * info);

/* Plain frame length for a parsed frame: L + ciphertext length. */
#define OTC_FRAME_INFO_PLAIN_SIZE(info) \
  ((gsize) (info)->clear_len + (info)->ciphertext_len)

/* Verifies the tag (constant time) and only then decrypts into @out
 * (OTC_FRAME_INFO_PLAIN_SIZE bytes). @key must be for info->kid. */
OtcFrameStatus otc_frame_unprotect (OtcFrameKey * key, const guint8 * data,
    const OtcFrameInfo * info, guint8 * out);

/* The same on the protected frame itself: on success @data begins with the
 * plain frame (OTC_FRAME_INFO_PLAIN_SIZE bytes); on failure it is left as
 * it was, so another key can be tried. */
OtcFrameStatus otc_frame_unprotect_in_place (OtcFrameKey * key,
    guint8 * data, const OtcFrameInfo * info);

G_END_DECLS
