/* A bounded cache of frame keys per (secret, KID) (format page, section
 * 6.2). Entries are preallocated; when full, the least recently used goes
 * (and is wiped). */
#pragma once

#include <otc/frame.h>

G_BEGIN_DECLS

#define OTC_KEY_CACHE_DEFAULT_CAPACITY 32

typedef struct _OtcKeyCache OtcKeyCache;

OtcKeyCache *otc_key_cache_new (OtcCipherSuite suite, guint capacity);
void otc_key_cache_free (OtcKeyCache * cache);

/* The key for (sk, kid), derived and inserted on a miss (HKDF, cheap).
 * The cache owns the result; it stays valid until the next lookup. */
OtcFrameKey *otc_key_cache_lookup (OtcKeyCache * cache,
    const OtcSecretKey * sk, guint64 kid, GError ** error);
/* Drops (and wipes) every key of the secret with this id. */
void otc_key_cache_forget_secret (OtcKeyCache * cache, guint64 secret_id);
guint otc_key_cache_get_size (const OtcKeyCache * cache);
guint otc_key_cache_get_capacity (const OtcKeyCache * cache);

G_END_DECLS
