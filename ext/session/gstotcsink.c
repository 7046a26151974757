/**
 * SECTION:element-otcsink
 * @title: otcsink
 *
 * Publishes to an otc session: otcsession without subscribing. Video and
 * audio, raw or already VP8/Opus; with both, request video_0 and audio_0
 * (one stream).
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 videotestsrc is-live=true ! otcsink url=http://127.0.0.1:8080 \
 *     token=eyJ... encryption-secret-file=secret.txt
 * gst-launch-1.0 otcsink name=s url=... token=... encryption-secret-file=... \
 *     videotestsrc is-live=true ! s. audiotestsrc is-live=true ! s.
 * ]|
 */
#include "gstotcsessionelements.h"

struct _GstOtcSink
{
  GstOtcSession parent;
};

G_DEFINE_TYPE (GstOtcSink, gst_otc_sink, GST_TYPE_OTC_SESSION);
GST_ELEMENT_REGISTER_DEFINE (otcsink, "otcsink", GST_RANK_NONE,
    GST_TYPE_OTC_SINK);

static void
gst_otc_sink_init (GstOtcSink * self)
{
  /* a sink: the pipeline's EOS must not wait for it to be told */
  GST_OBJECT_FLAG_SET (self, GST_ELEMENT_FLAG_SINK);
}

static void
gst_otc_sink_class_init (GstOtcSinkClass * klass)
{
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  GST_OTC_SESSION_CLASS (klass)->can_publish = TRUE;
  GST_OTC_SESSION_CLASS (klass)->can_subscribe = FALSE;
  gst_element_class_add_static_pad_template (element_class,
      &gst_otc_video_sink_template);
  gst_element_class_add_static_pad_template (element_class,
      &gst_otc_audio_sink_template);
  gst_element_class_set_static_metadata (element_class,
      "otc publisher", "Sink/Network/WebRTC",
      "Publishes video and audio to an otc session over WebRTC, end-to-end "
      "encrypted when the session is", "otc developers");
}
