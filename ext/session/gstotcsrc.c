/**
 * SECTION:element-otcsrc
 * @title: otcsrc
 *
 * Subscribes to the streams of an otc session: otcsession without
 * publishing. Each remote stream's video and audio appear as sometimes
 * pads, decoded unless downstream takes only VP8/Opus.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 otcsrc url=http://127.0.0.1:8080 token=eyJ... \
 *     encryption-secret-file=secret.txt ! videoconvert ! autovideosink
 * gst-launch-1.0 -e otcsrc name=s url=... token=... encryption-secret-file=... \
 *     s. ! video/x-vp8 ! webmmux ! filesink location=out.webm
 * ]|
 */
#include "gstotcsessionelements.h"

struct _GstOtcSrc
{
  GstOtcSession parent;
};

G_DEFINE_TYPE (GstOtcSrc, gst_otc_src, GST_TYPE_OTC_SESSION);
GST_ELEMENT_REGISTER_DEFINE (otcsrc, "otcsrc", GST_RANK_NONE,
    GST_TYPE_OTC_SRC);

static void
gst_otc_src_init (GstOtcSrc * self)
{
  GST_OBJECT_FLAG_SET (self, GST_ELEMENT_FLAG_SOURCE);
}

static void
gst_otc_src_class_init (GstOtcSrcClass * klass)
{
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  GST_OTC_SESSION_CLASS (klass)->can_publish = FALSE;
  GST_OTC_SESSION_CLASS (klass)->can_subscribe = TRUE;
  gst_element_class_add_static_pad_template (element_class,
      &gst_otc_video_src_template);
  gst_element_class_add_static_pad_template (element_class,
      &gst_otc_audio_src_template);
  gst_element_class_set_static_metadata (element_class,
      "otc subscriber", "Source/Network/WebRTC",
      "Receives the streams of an otc session over WebRTC, decrypting "
      "end-to-end encrypted media", "otc developers");
}
