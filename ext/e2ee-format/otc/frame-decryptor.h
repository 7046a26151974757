/* The receiver side (format page, section 6): the current secret and,
 * during a change, the previous one for a grace period; a bounded key cache
 * and a bounded table of streams (per KID: replay window and whether the
 * stream is decrypting or mismatched). Not thread-safe. */
#pragma once

#include <otc/key-cache.h>
#include <otc/replay-window.h>

G_BEGIN_DECLS

#define OTC_DECRYPTOR_DEFAULT_MAX_STREAMS 64
/* How long the previous secret is still tried after a change. */
#define OTC_DECRYPTOR_DEFAULT_GRACE_US (10 * G_USEC_PER_SEC)

typedef struct _OtcFrameDecryptor OtcFrameDecryptor;

typedef enum
{
  OTC_STREAM_EVENT_NONE = 0,
  OTC_STREAM_EVENT_MISMATCH,    /* the stream turned to failing */
  OTC_STREAM_EVENT_MATCH,       /* it decrypts again after a mismatch */
} OtcStreamEvent;

typedef struct
{
  OtcFrameStatus status;
  gboolean kid_known;           /* FALSE when the header was unreadable */
  guint64 kid;
  guint64 ctr;
  gsize out_len;                /* plain frame length when status is OK */
  OtcStreamEvent event;         /* a state change of stream @kid */
  gboolean first_for_kid;       /* no frame of this KID authenticated
                                 * before: a new, unvouched stream */
  gboolean was_mismatched;      /* the stream was mismatched before */
  gboolean report_retry;        /* event MISMATCH again: its report was
                                 * deferred (otc_frame_decryptor_defer_report) */
  gboolean match_unreported;    /* event MATCH of a stream whose mismatch
                                 * report was deferred and never made */
} OtcUnprotectResult;

typedef enum
{
  /* An authentication failure does not turn the stream to mismatched: the
   * caller holds the frame and decides later (a secret change may be on
   * its way) with otc_frame_decryptor_declare_mismatch(). */
  OTC_UNPROTECT_DEFER_MISMATCH = 1 << 0,
} OtcUnprotectFlags;

OtcFrameDecryptor *otc_frame_decryptor_new (OtcCipherSuite suite,
    guint max_streams, guint key_cache_capacity);
void otc_frame_decryptor_free (OtcFrameDecryptor * dec);

/* Makes @sk current (NULL: no secret). The key it replaces stays usable
 * until @now_us + grace. */
void otc_frame_decryptor_set_secret_key (OtcFrameDecryptor * dec,
    OtcSecretKey * sk, gint64 now_us);
void otc_frame_decryptor_set_grace_period (OtcFrameDecryptor * dec,
    gint64 grace_us);
gboolean otc_frame_decryptor_has_secret (const OtcFrameDecryptor * dec);
OtcCipherSuite otc_frame_decryptor_get_suite (const OtcFrameDecryptor * dec);
guint otc_frame_decryptor_get_n_streams (const OtcFrameDecryptor * dec);

/* Unprotects one frame into @out (at least @len bytes suffice; @out may be
 * @data itself, which then holds the plain frame on success and is
 * unchanged otherwise). Never
 * outputs anything unless status is OTC_FRAME_OK. No heap allocation in
 * steady state (a new KID derives and caches a key). */
void otc_frame_decryptor_unprotect (OtcFrameDecryptor * dec,
    const guint8 * data, gsize len, guint8 * out, gsize out_size,
    gint64 now_us, OtcUnprotectResult * result);

void otc_frame_decryptor_unprotect_full (OtcFrameDecryptor * dec,
    const guint8 * data, gsize len, guint8 * out, gsize out_size,
    gint64 now_us, OtcUnprotectFlags flags, OtcUnprotectResult * result);

/* Turns stream @kid to mismatched; OTC_STREAM_EVENT_MISMATCH when that is a
 * change (report it), NONE when it already was or is unknown. */
OtcStreamEvent otc_frame_decryptor_declare_mismatch (OtcFrameDecryptor * dec,
    guint64 kid);

/* The MISMATCH event of stream @kid could not be reported (the caller's
 * report limit): the stream stays mismatched, and its next frame that
 * fails to authenticate gives the event again, with report_retry set
 * (whatever the flags), until it is reported; a MATCH before that has
 * match_unreported set. Nothing when the stream is not mismatched. */
void otc_frame_decryptor_defer_report (OtcFrameDecryptor * dec, guint64 kid);

G_END_DECLS
