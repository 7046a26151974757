#include <string.h>

#include "otc/frame-decryptor.h"

typedef enum
{
  STREAM_NEW,                   /* nothing decided yet */
  STREAM_DECRYPTING,
  STREAM_MISMATCHED,
} StreamState;

typedef struct
{
  gboolean in_use;
  gboolean authenticated;       /* at least one frame ever verified */
  guint64 kid;
  guint64 last_use;
  StreamState state;
  gboolean report_pending;      /* mismatched, its report deferred */
  OtcReplayWindow window;
} Stream;

struct _OtcFrameDecryptor
{
  OtcCipherSuite suite;
  OtcSecretKey *current;
  OtcSecretKey *previous;
  gint64 previous_until;
  gint64 grace_us;
  OtcKeyCache *keys;
  Stream *streams;
  guint max_streams;
  guint n_streams;
  guint64 clock;
  /* KIDs reported mismatched while the table had no slot for them (full of
   * streams that authenticated): remembered here so that they are
   * reported once, and matched when they come good. */
  guint64 unslotted[16];
  gboolean unslotted_pending[16];       /* report deferred */
  guint n_unslotted;
  guint next_unslotted;
};

static gint
unslotted_index (OtcFrameDecryptor * dec, guint64 kid)
{
  guint i;

  for (i = 0; i < dec->n_unslotted; i++) {
    if (dec->unslotted[i] == kid)
      return i;
  }
  return -1;
}

/* With @remove, *@pending (when not NULL) receives whether its report was
 * deferred. */
static gboolean
unslotted_find_full (OtcFrameDecryptor * dec, guint64 kid, gboolean remove,
    gboolean * pending)
{
  gint i = unslotted_index (dec, kid);

  if (i < 0)
    return FALSE;
  if (pending)
    *pending = dec->unslotted_pending[i];
  if (remove) {
    dec->n_unslotted--;
    dec->unslotted[i] = dec->unslotted[dec->n_unslotted];
    dec->unslotted_pending[i] = dec->unslotted_pending[dec->n_unslotted];
  }
  return TRUE;
}

static gboolean
unslotted_find (OtcFrameDecryptor * dec, guint64 kid, gboolean remove)
{
  return unslotted_find_full (dec, kid, remove, NULL);
}

/* MISMATCH the first time @kid is reported without a slot, NONE after
 * (the oldest is forgotten when the list is full). */
static OtcStreamEvent
unslotted_mismatch (OtcFrameDecryptor * dec, guint64 kid)
{
  guint i;

  if (unslotted_find (dec, kid, FALSE))
    return OTC_STREAM_EVENT_NONE;
  if (dec->n_unslotted < G_N_ELEMENTS (dec->unslotted))
    i = dec->n_unslotted++;
  else
    i = dec->next_unslotted++ % G_N_ELEMENTS (dec->unslotted);
  dec->unslotted[i] = kid;
  dec->unslotted_pending[i] = FALSE;
  return OTC_STREAM_EVENT_MISMATCH;
}

OtcFrameDecryptor *
otc_frame_decryptor_new (OtcCipherSuite suite, guint max_streams,
    guint key_cache_capacity)
{
  OtcFrameDecryptor *dec;

  g_return_val_if_fail (otc_cipher_suite_get_info (suite) != NULL, NULL);
  dec = g_new0 (OtcFrameDecryptor, 1);
  dec->suite = suite;
  dec->grace_us = OTC_DECRYPTOR_DEFAULT_GRACE_US;
  dec->max_streams = max_streams ? max_streams :
      OTC_DECRYPTOR_DEFAULT_MAX_STREAMS;
  dec->streams = g_new0 (Stream, dec->max_streams);
  dec->keys = otc_key_cache_new (suite, key_cache_capacity ?
      key_cache_capacity : OTC_KEY_CACHE_DEFAULT_CAPACITY);
  return dec;
}

void
otc_frame_decryptor_free (OtcFrameDecryptor * dec)
{
  if (dec == NULL)
    return;
  otc_key_cache_free (dec->keys);
  otc_secret_key_unref (dec->current);
  otc_secret_key_unref (dec->previous);
  g_free (dec->streams);
  g_free (dec);
}

static void
drop_previous (OtcFrameDecryptor * dec)
{
  if (dec->previous == NULL)
    return;
  otc_key_cache_forget_secret (dec->keys,
      otc_secret_key_get_id (dec->previous));
  otc_secret_key_unref (dec->previous);
  dec->previous = NULL;
}

void
otc_frame_decryptor_set_secret_key (OtcFrameDecryptor * dec,
    OtcSecretKey * sk, gint64 now_us)
{
  if (sk == dec->current)
    return;
  drop_previous (dec);
  dec->previous = dec->current;
  dec->previous_until = now_us + dec->grace_us;
  dec->current = sk ? otc_secret_key_ref (sk) : NULL;
}

void
otc_frame_decryptor_set_grace_period (OtcFrameDecryptor * dec,
    gint64 grace_us)
{
  dec->grace_us = grace_us;
}

gboolean
otc_frame_decryptor_has_secret (const OtcFrameDecryptor * dec)
{
  return dec->current != NULL;
}

OtcCipherSuite
otc_frame_decryptor_get_suite (const OtcFrameDecryptor * dec)
{
  return dec->suite;
}

guint
otc_frame_decryptor_get_n_streams (const OtcFrameDecryptor * dec)
{
  return dec->n_streams;
}

/* Is @a a better slot to reuse than @b? Free slots first, then KIDs that
 * never authenticated (so that a flood of forged KIDs cannot push out the
 * replay windows of real streams), then the least recently used. */
static gboolean
better_victim (const Stream * a, const Stream * b)
{
  if (b == NULL)
    return TRUE;
  if (!b->in_use)
    return FALSE;
  if (!a->in_use)
    return TRUE;
  if (a->authenticated != b->authenticated)
    return !a->authenticated;
  return a->last_use < b->last_use;
}

static Stream *
pick_victim (OtcFrameDecryptor * dec)
{
  Stream *victim = NULL;
  guint i;

  for (i = 0; i < dec->max_streams; i++) {
    if (better_victim (&dec->streams[i], victim))
      victim = &dec->streams[i];
  }
  return victim;
}

static void
init_stream (OtcFrameDecryptor * dec, Stream * s, guint64 kid)
{
  if (!s->in_use)
    dec->n_streams++;
  memset (s, 0, sizeof (*s));
  s->in_use = TRUE;
  s->kid = kid;
  s->state = STREAM_NEW;
  s->last_use = ++dec->clock;
  otc_replay_window_init (&s->window);
}

static Stream *
find_stream (OtcFrameDecryptor * dec, guint64 kid)
{
  guint i;

  for (i = 0; i < dec->max_streams; i++) {
    if (dec->streams[i].in_use && dec->streams[i].kid == kid)
      return &dec->streams[i];
  }
  return NULL;
}

/* The stream for @kid, made on first sight. When every slot holds a stream
 * that authenticated, none is given up for a KID nobody has vouched for:
 * NULL, and the caller works on a scratch entry (make_room() later, once
 * the frame authenticated). */
static Stream *
get_stream (OtcFrameDecryptor * dec, guint64 kid, gboolean * created)
{
  Stream *s = find_stream (dec, kid);

  *created = FALSE;
  if (s != NULL) {
    s->last_use = ++dec->clock;
    return s;
  }
  s = pick_victim (dec);
  if (s->in_use && s->authenticated)
    return NULL;
  init_stream (dec, s, kid);
  *created = TRUE;
  return s;
}

static OtcFrameStatus
try_secret (OtcFrameDecryptor * dec, OtcSecretKey * sk, const guint8 * data,
    const OtcFrameInfo * info, guint8 * out)
{
  OtcFrameKey *key = otc_key_cache_lookup (dec->keys, sk, info->kid, NULL);

  if (key == NULL)
    return OTC_FRAME_INTERNAL_ERROR;
  if (out == data)
    return otc_frame_unprotect_in_place (key, out, info);
  return otc_frame_unprotect (key, data, info, out);
}

void
otc_frame_decryptor_unprotect (OtcFrameDecryptor * dec, const guint8 * data,
    gsize len, guint8 * out, gsize out_size, gint64 now_us,
    OtcUnprotectResult * res)
{
  otc_frame_decryptor_unprotect_full (dec, data, len, out, out_size, now_us,
      0, res);
}

OtcStreamEvent
otc_frame_decryptor_declare_mismatch (OtcFrameDecryptor * dec, guint64 kid)
{
  Stream *stream = find_stream (dec, kid);

  if (stream == NULL)
    return unslotted_mismatch (dec, kid);
  if (stream->state == STREAM_MISMATCHED)
    return OTC_STREAM_EVENT_NONE;
  stream->state = STREAM_MISMATCHED;
  return OTC_STREAM_EVENT_MISMATCH;
}

void
otc_frame_decryptor_defer_report (OtcFrameDecryptor * dec, guint64 kid)
{
  Stream *stream = find_stream (dec, kid);
  gint i;

  if (stream != NULL) {
    if (stream->state == STREAM_MISMATCHED)
      stream->report_pending = TRUE;
  } else if ((i = unslotted_index (dec, kid)) >= 0) {
    dec->unslotted_pending[i] = TRUE;
  }
}

void
otc_frame_decryptor_unprotect_full (OtcFrameDecryptor * dec,
    const guint8 * data, gsize len, guint8 * out, gsize out_size,
    gint64 now_us, OtcUnprotectFlags flags, OtcUnprotectResult * res)
{
  OtcFrameInfo info;
  Stream *stream, scratch;
  OtcFrameStatus status;

  memset (res, 0, sizeof (*res));
  if (!otc_frame_parse (dec->suite, data, len, &info)) {
    res->status = OTC_FRAME_MALFORMED;
    return;
  }
  res->kid_known = TRUE;
  res->kid = info.kid;
  res->ctr = info.ctr;

  if (out_size < OTC_FRAME_INFO_PLAIN_SIZE (&info)) {
    res->status = OTC_FRAME_INTERNAL_ERROR;
    return;
  }
  if (dec->previous != NULL && now_us >= dec->previous_until)
    drop_previous (dec);
  if (dec->current == NULL && dec->previous == NULL) {
    res->status = OTC_FRAME_NO_SECRET;
    return;
  }

  stream = get_stream (dec, info.kid, &res->first_for_kid);
  if (stream == NULL) {
    /* a new KID while the table is full of real streams */
    memset (&scratch, 0, sizeof (scratch));
    scratch.kid = info.kid;
    otc_replay_window_init (&scratch.window);
    stream = &scratch;
    res->first_for_kid = TRUE;
  }
  /* a KID nobody has vouched for counts as new however often it comes: a
   * forged KID's second frame must not escape the report limit */
  if (!stream->authenticated)
    res->first_for_kid = TRUE;
  res->was_mismatched = stream->state == STREAM_MISMATCHED;
  if (!otc_replay_window_check (&stream->window, info.ctr)) {
    res->status = OTC_FRAME_REPLAYED;
    return;
  }

  status = OTC_FRAME_AUTH_FAILED;
  if (dec->current != NULL)
    status = try_secret (dec, dec->current, data, &info, out);
  if (status == OTC_FRAME_AUTH_FAILED && dec->previous != NULL)
    status = try_secret (dec, dec->previous, data, &info, out);
  res->status = status;

  if (status == OTC_FRAME_OK && stream == &scratch) {
    /* it authenticated: now it may take the least recently used slot */
    Stream *slot = pick_victim (dec);
    gboolean pending = FALSE;

    init_stream (dec, slot, info.kid);
    if (unslotted_find_full (dec, info.kid, TRUE, &pending)) {
      slot->state = STREAM_MISMATCHED;  /* reported: a match follows */
      slot->report_pending = pending;
    }
    stream = slot;
  } else if (status == OTC_FRAME_AUTH_FAILED && stream == &scratch) {
    gint i = unslotted_index (dec, info.kid);

    if (i >= 0 && dec->unslotted_pending[i]) {
      dec->unslotted_pending[i] = FALSE;
      res->event = OTC_STREAM_EVENT_MISMATCH;
      res->report_retry = TRUE;
    } else if (!(flags & OTC_UNPROTECT_DEFER_MISMATCH)) {
      res->event = unslotted_mismatch (dec, info.kid);
    }
    res->was_mismatched = unslotted_find (dec, info.kid, FALSE);
    return;
  }
  if (status == OTC_FRAME_OK) {
    otc_replay_window_accept (&stream->window, info.ctr);
    stream->authenticated = TRUE;
    if (stream->state == STREAM_MISMATCHED) {
      res->event = OTC_STREAM_EVENT_MATCH;
      res->match_unreported = stream->report_pending;
    }
    stream->report_pending = FALSE;
    stream->state = STREAM_DECRYPTING;
    res->out_len = OTC_FRAME_INFO_PLAIN_SIZE (&info);
  } else if (status == OTC_FRAME_AUTH_FAILED
      && stream->state == STREAM_MISMATCHED && stream->report_pending) {
    stream->report_pending = FALSE;
    res->event = OTC_STREAM_EVENT_MISMATCH;
    res->report_retry = TRUE;
  } else if (status == OTC_FRAME_AUTH_FAILED
      && !(flags & OTC_UNPROTECT_DEFER_MISMATCH)) {
    if (stream->state != STREAM_MISMATCHED)
      res->event = OTC_STREAM_EVENT_MISMATCH;
    stream->state = STREAM_MISMATCHED;
  }
}
