#include <otc/e2ee.h>

#include "gstotcmessages.h"

GstStructure *
gst_otc_message_new (const gchar * name, gint code, const gchar * text)
{
  return gst_structure_new (name, "code", G_TYPE_INT, code,
      "message", G_TYPE_STRING, text, NULL);
}

void
gst_otc_message_set_key_id (GstStructure * s, guint64 kid)
{
  gst_structure_set (s, "key-id", G_TYPE_UINT64, kid, NULL);
}

gboolean
gst_otc_message_post (GstElement * element, GstStructure * s)
{
  return gst_element_post_message (element,
      gst_message_new_element (GST_OBJECT (element), s));
}

gboolean
gst_otc_rate_limit_allow (GstOtcRateLimit * limit, gint64 now_us,
    guint64 * count)
{
  if (limit->last_us != 0
      && now_us - limit->last_us < GST_OTC_REPORT_INTERVAL_US) {
    limit->suppressed++;
    return FALSE;
  }
  *count = limit->suppressed + 1;
  limit->suppressed = 0;
  limit->last_us = now_us;
  return TRUE;
}

void
gst_otc_report_invalid_secret (GstElement * element,
    GstOtcPendingMessage * pending, const GError * error)
{
  GstStructure *s = gst_otc_message_new (GST_OTC_MSG_INVALID_SECRET,
      OTC_E2EE_ERROR_INVALID_ENCRYPTION_SECRET, error->message);

  GST_WARNING_OBJECT (element, "Invalid encryption secret ignored: %s",
      error->message);
  if (!gst_otc_message_post (element, gst_structure_copy (s))) {
    if (pending->pending)
      gst_structure_free (pending->pending);
    pending->pending = s;
    return;
  }
  GST_ELEMENT_WARNING (element, LIBRARY, SETTINGS,
      ("Invalid encryption secret: %s", error->message), (NULL));
  gst_structure_free (s);
}

void
gst_otc_flush_pending (GstElement * element, GstOtcPendingMessage * pending)
{
  GstStructure *s = pending->pending;

  if (s == NULL)
    return;
  pending->pending = NULL;
  if (!gst_otc_message_post (element, gst_structure_copy (s))) {
    pending->pending = s;
    return;
  }
  GST_ELEMENT_WARNING (element, LIBRARY, SETTINGS,
      ("Invalid encryption secret: %s",
          gst_structure_get_string (s, "message")), (NULL));
  gst_structure_free (s);
}

GType
gst_otc_cipher_suite_get_type (void)
{
  static GType type = 0;
  static GEnumValue values[9];

  if (g_once_init_enter (&type)) {
    GType t;
    guint i;

    /* both plugins carry this code: whichever loads second finds it */
    t = g_type_from_name ("GstOtcCipherSuite");
    if (t != 0) {
      g_once_init_leave (&type, t);
      return type;
    }
    for (i = 0; i < 8; i++) {
      const OtcCipherSuiteInfo *info = otc_cipher_suite_get_info (i + 1);
      values[i].value = info->suite;
      values[i].value_name = info->name;
      values[i].value_nick = info->nick;
    }
    t = g_enum_register_static ("GstOtcCipherSuite", values);
    g_once_init_leave (&type, t);
  }
  return type;
}
