#pragma once

#include <gst/base/gstbasetransform.h>

G_BEGIN_DECLS

#define GST_TYPE_OTC_ENCRYPT (gst_otc_encrypt_get_type ())
G_DECLARE_FINAL_TYPE (GstOtcEncrypt, gst_otc_encrypt, GST, OTC_ENCRYPT,
    GstBaseTransform);

G_END_DECLS
