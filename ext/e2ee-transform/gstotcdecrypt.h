#pragma once

#include <gst/base/gstbasetransform.h>

G_BEGIN_DECLS

#define GST_TYPE_OTC_DECRYPT (gst_otc_decrypt_get_type ())
G_DECLARE_FINAL_TYPE (GstOtcDecrypt, gst_otc_decrypt, GST, OTC_DECRYPT,
    GstBaseTransform);

G_END_DECLS
