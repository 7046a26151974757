#include "otc-signaller.h"

G_DEFINE_INTERFACE (OtcSignaller, otc_signaller, G_TYPE_OBJECT);

static void
otc_signaller_default_init (OtcSignallerInterface * iface)
{
  g_signal_new ("connected", G_TYPE_FROM_INTERFACE (iface), G_SIGNAL_RUN_LAST,
      0, NULL, NULL, NULL, G_TYPE_NONE, 1, GST_TYPE_STRUCTURE);
  g_signal_new ("disconnected", G_TYPE_FROM_INTERFACE (iface),
      G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  g_signal_new ("connection-created", G_TYPE_FROM_INTERFACE (iface),
      G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 1,
      GST_TYPE_STRUCTURE);
  g_signal_new ("connection-destroyed", G_TYPE_FROM_INTERFACE (iface),
      G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING,
      G_TYPE_STRING);
  g_signal_new ("stream-created", G_TYPE_FROM_INTERFACE (iface),
      G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 1,
      GST_TYPE_STRUCTURE);
  g_signal_new ("stream-destroyed", G_TYPE_FROM_INTERFACE (iface),
      G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING,
      G_TYPE_STRING);
  g_signal_new ("publish-answer", G_TYPE_FROM_INTERFACE (iface),
      G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 3, G_TYPE_STRING,
      G_TYPE_STRING, G_TYPE_STRING);
  g_signal_new ("subscribe-offer", G_TYPE_FROM_INTERFACE (iface),
      G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 4, G_TYPE_STRING,
      G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);
  g_signal_new ("candidate", G_TYPE_FROM_INTERFACE (iface),
      G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 3, G_TYPE_STRING,
      G_TYPE_UINT, G_TYPE_STRING);
  g_signal_new ("unsubscribed", G_TYPE_FROM_INTERFACE (iface),
      G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 3, G_TYPE_STRING,
      G_TYPE_STRING, G_TYPE_STRING);
  g_signal_new ("signal-received", G_TYPE_FROM_INTERFACE (iface),
      G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 3, G_TYPE_STRING,
      G_TYPE_STRING, G_TYPE_STRING);
  g_signal_new ("error", G_TYPE_FROM_INTERFACE (iface), G_SIGNAL_RUN_LAST,
      0, NULL, NULL, NULL, G_TYPE_NONE, 3, G_TYPE_INT, G_TYPE_STRING,
      G_TYPE_STRING);
}

#define CALL(method, ...) G_STMT_START { \
  OtcSignallerInterface *iface; \
  g_return_if_fail (OTC_IS_SIGNALLER (self)); \
  iface = OTC_SIGNALLER_GET_IFACE (self); \
  g_return_if_fail (iface->method != NULL); \
  iface->method (self, ##__VA_ARGS__); \
} G_STMT_END

void
otc_signaller_start (OtcSignaller * self, const gchar * url,
    const gchar * session_id, const gchar * token)
{
  CALL (start, url, session_id, token);
}

void
otc_signaller_stop (OtcSignaller * self)
{
  CALL (stop);
}

void
otc_signaller_publish (OtcSignaller * self, const gchar * tag,
    const gchar * sdp_offer, const GstStructure * info)
{
  CALL (publish, tag, sdp_offer, info);
}

void
otc_signaller_unpublish (OtcSignaller * self, const gchar * stream_id)
{
  CALL (unpublish, stream_id);
}

void
otc_signaller_subscribe (OtcSignaller * self, const gchar * tag,
    const gchar * stream_id)
{
  CALL (subscribe, tag, stream_id);
}

void
otc_signaller_answer (OtcSignaller * self, const gchar * subscription_id,
    const gchar * sdp_answer)
{
  CALL (answer, subscription_id, sdp_answer);
}

void
otc_signaller_unsubscribe (OtcSignaller * self,
    const gchar * subscription_id)
{
  CALL (unsubscribe, subscription_id);
}

void
otc_signaller_add_candidate (OtcSignaller * self, const gchar * leg_id,
    guint mline, const gchar * candidate)
{
  CALL (add_candidate, leg_id, mline, candidate);
}

void
otc_signaller_send_signal (OtcSignaller * self, const gchar * to,
    const gchar * type, const gchar * data)
{
  CALL (send_signal, to, type, data);
}
