/* HMAC-SHA-256/512 over OpenSSL's SHA contexts: precomputed pad states are
 * plain structs, copied per frame by value. These SHA functions are marked
 * deprecated in OpenSSL 3.0 in favour of EVP, whose contexts allocate on
 * every re-init (measured: 2 mallocs per frame for EVP_MAC_init); they use
 * the same assembly as EVP. */
#define OPENSSL_API_COMPAT 10101
#include <openssl/sha.h>
#include <openssl/crypto.h>
#include <string.h>

#include "otc-private.h"

struct _OtcHmacState
{
  gboolean sha512;
  union
  {
    SHA256_CTX s256;
    SHA512_CTX s512;
  } inner, outer;
};

OtcHmacState *
otc_hmac_state_new (gboolean sha512, const guint8 * key, gsize key_len)
{
  OtcHmacState *state = g_new0 (OtcHmacState, 1);
  guint block = sha512 ? SHA512_CBLOCK : SHA256_CBLOCK;
  guint8 k[SHA512_CBLOCK];
  guint8 pad[SHA512_CBLOCK];
  guint i;

  state->sha512 = sha512;
  memset (k, 0, sizeof (k));
  if (key_len > block) {
    if (sha512)
      SHA512 (key, key_len, k);
    else
      SHA256 (key, key_len, k);
  } else {
    memcpy (k, key, key_len);
  }

  for (i = 0; i < block; i++)
    pad[i] = k[i] ^ 0x36;
  if (sha512) {
    SHA512_Init (&state->inner.s512);
    SHA512_Update (&state->inner.s512, pad, block);
  } else {
    SHA256_Init (&state->inner.s256);
    SHA256_Update (&state->inner.s256, pad, block);
  }
  for (i = 0; i < block; i++)
    pad[i] = k[i] ^ 0x5c;
  if (sha512) {
    SHA512_Init (&state->outer.s512);
    SHA512_Update (&state->outer.s512, pad, block);
  } else {
    SHA256_Init (&state->outer.s256);
    SHA256_Update (&state->outer.s256, pad, block);
  }
  OPENSSL_cleanse (k, sizeof (k));
  OPENSSL_cleanse (pad, sizeof (pad));
  return state;
}

void
otc_hmac_state_free (OtcHmacState * state)
{
  if (state == NULL)
    return;
  OPENSSL_cleanse (state, sizeof (*state));
  g_free (state);
}

void
otc_hmac_state_compute (const OtcHmacState * state, const OtcBytes * parts,
    guint n_parts, guint8 * mac)
{
  guint i;

  if (state->sha512) {
    SHA512_CTX c = state->inner.s512;

    for (i = 0; i < n_parts; i++)
      SHA512_Update (&c, parts[i].data, parts[i].len);
    SHA512_Final (mac, &c);
    c = state->outer.s512;
    SHA512_Update (&c, mac, SHA512_DIGEST_LENGTH);
    SHA512_Final (mac, &c);
    OPENSSL_cleanse (&c, sizeof (c));
  } else {
    SHA256_CTX c = state->inner.s256;

    for (i = 0; i < n_parts; i++)
      SHA256_Update (&c, parts[i].data, parts[i].len);
    SHA256_Final (mac, &c);
    c = state->outer.s256;
    SHA256_Update (&c, mac, SHA256_DIGEST_LENGTH);
    SHA256_Final (mac, &c);
    OPENSSL_cleanse (&c, sizeof (c));
  }
}
