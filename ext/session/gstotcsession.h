/* otcsession: a bin holding one connection to an otc session. Request sink
 * pads publish streams; each subscribed remote stream appears as a
 * sometimes src pad. otcsink and otcsrc are its publish-only and
 * subscribe-only subclasses. */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_OTC_SESSION (gst_otc_session_get_type ())
G_DECLARE_DERIVABLE_TYPE (GstOtcSession, gst_otc_session, GST, OTC_SESSION,
    GstBin)

struct _GstOtcSessionClass
{
  GstBinClass parent_class;

  /* what the subclass does: otcsink publishes, otcsrc subscribes */
  gboolean can_publish;
  gboolean can_subscribe;

  /* action signals */
  gboolean (*set_encryption_secret) (GstOtcSession * self,
      const gchar * secret);
  gboolean (*send_signal) (GstOtcSession * self, const gchar * type,
      const gchar * data, const gchar * to);
};

G_END_DECLS
