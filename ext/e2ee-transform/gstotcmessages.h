/* Element messages of otcencrypt/otcdecrypt (documented in
 * docs/messages.md): GST_MESSAGE_ELEMENT with these structure names. They
 * never carry the secret or key material. */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_OTC_MSG_SECRET_MISSING "otc-encryption-secret-missing"
#define GST_OTC_MSG_SECRET_MISMATCH "otc-encryption-secret-mismatch"
#define GST_OTC_MSG_SECRET_MATCH "otc-encryption-secret-match"
#define GST_OTC_MSG_INVALID_SECRET "otc-invalid-encryption-secret"
#define GST_OTC_MSG_ENCRYPTION_INTERNAL "otc-encryption-internal-error"
#define GST_OTC_MSG_DECRYPTION_INTERNAL "otc-decryption-internal-error"
#define GST_OTC_MSG_ENCRYPTION_UNSUPPORTED_CODEC "otc-encryption-unsupported-codec"
#define GST_OTC_MSG_DECRYPTION_UNSUPPORTED_CODEC "otc-decryption-unsupported-codec"

/* A structure with "code" (int) and "message" (string). */
GstStructure *gst_otc_message_new (const gchar * name, gint code,
    const gchar * text);
void gst_otc_message_set_key_id (GstStructure * s, guint64 kid);
/* Posts @s (taking it); FALSE when the element has no bus yet. */
gboolean gst_otc_message_post (GstElement * element, GstStructure * s);

/* At most one report per interval; the rest are counted and handed to the
 * next report. */
typedef struct
{
  gint64 last_us;
  guint64 suppressed;
} GstOtcRateLimit;

#define GST_OTC_REPORT_INTERVAL_US G_USEC_PER_SEC

gboolean gst_otc_rate_limit_allow (GstOtcRateLimit * limit, gint64 now_us,
    guint64 * count);

/* An invalid secret given before the element had a bus is posted when it
 * gets one (gst-launch sets properties before the pipeline exists). */
typedef struct
{
  GstStructure *pending;
} GstOtcPendingMessage;

void gst_otc_report_invalid_secret (GstElement * element,
    GstOtcPendingMessage * pending, const GError * error);
void gst_otc_flush_pending (GstElement * element,
    GstOtcPendingMessage * pending);

/* The GType of the cipher-suite property (nicks as in the format page). */
#define GST_TYPE_OTC_CIPHER_SUITE (gst_otc_cipher_suite_get_type ())
GType gst_otc_cipher_suite_get_type (void);

/* Shared property blurbs. */
#define GST_OTC_SECRET_BLURB "The shared end-to-end encryption secret: " \
  "8 to 256 characters (UTF-8), the same for every participant. " \
  "Write-only; may change while PLAYING"
#define GST_OTC_SECRET_FILE_BLURB "Read encryption-secret from this file " \
  "(one trailing newline ignored), keeping it off command lines"
#define GST_OTC_SESSION_ID_BLURB "The session id, mixed into the key " \
  "derivation; every participant must use the same"

G_END_DECLS
