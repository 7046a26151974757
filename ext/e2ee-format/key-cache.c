#include "otc/key-cache.h"

typedef struct
{
  guint64 secret_id;            /* 0: empty slot */
  guint64 kid;
  guint64 last_use;
  OtcFrameKey *key;
} Entry;

struct _OtcKeyCache
{
  OtcCipherSuite suite;
  guint capacity;
  guint size;
  guint64 clock;
  Entry *entries;
};

OtcKeyCache *
otc_key_cache_new (OtcCipherSuite suite, guint capacity)
{
  OtcKeyCache *cache = g_new0 (OtcKeyCache, 1);

  cache->suite = suite;
  cache->capacity = MAX (capacity, 1);
  cache->entries = g_new0 (Entry, cache->capacity);
  return cache;
}

static void
entry_clear (OtcKeyCache * cache, Entry * e)
{
  if (e->secret_id == 0)
    return;
  otc_frame_key_free (e->key);
  e->key = NULL;
  e->secret_id = 0;
  cache->size--;
}

void
otc_key_cache_free (OtcKeyCache * cache)
{
  guint i;

  if (cache == NULL)
    return;
  for (i = 0; i < cache->capacity; i++)
    entry_clear (cache, &cache->entries[i]);
  g_free (cache->entries);
  g_free (cache);
}

OtcFrameKey *
otc_key_cache_lookup (OtcKeyCache * cache, const OtcSecretKey * sk,
    guint64 kid, GError ** error)
{
  guint64 sid = otc_secret_key_get_id (sk);
  Entry *victim = NULL;
  OtcFrameKey *key;
  guint i;

  /* Linear: the capacity is small, and a hit is the common case. */
  for (i = 0; i < cache->capacity; i++) {
    Entry *e = &cache->entries[i];

    if (e->secret_id == sid && e->kid == kid) {
      e->last_use = ++cache->clock;
      return e->key;
    }
    if (victim == NULL || e->secret_id == 0
        || (victim->secret_id != 0 && e->last_use < victim->last_use))
      victim = e;
  }

  key = otc_frame_key_new_for_kid (sk, cache->suite, kid, error);
  if (key == NULL)
    return NULL;
  entry_clear (cache, victim);
  victim->secret_id = sid;
  victim->kid = kid;
  victim->key = key;
  victim->last_use = ++cache->clock;
  cache->size++;
  return key;
}

void
otc_key_cache_forget_secret (OtcKeyCache * cache, guint64 secret_id)
{
  guint i;

  for (i = 0; i < cache->capacity; i++) {
    if (cache->entries[i].secret_id == secret_id)
      entry_clear (cache, &cache->entries[i]);
  }
}

guint
otc_key_cache_get_size (const OtcKeyCache * cache)
{
  return cache->size;
}

guint
otc_key_cache_get_capacity (const OtcKeyCache * cache)
{
  return cache->capacity;
}
