/* The otcsession plugin's elements. */
#pragma once

#include "gstotcsession.h"

G_BEGIN_DECLS

#define GST_TYPE_OTC_SESSION_BIN (gst_otc_session_bin_get_type ())
G_DECLARE_FINAL_TYPE (GstOtcSessionBin, gst_otc_session_bin, GST,
    OTC_SESSION_BIN, GstOtcSession)
#define GST_TYPE_OTC_SINK (gst_otc_sink_get_type ())
G_DECLARE_FINAL_TYPE (GstOtcSink, gst_otc_sink, GST, OTC_SINK, GstOtcSession)
#define GST_TYPE_OTC_SRC (gst_otc_src_get_type ())
G_DECLARE_FINAL_TYPE (GstOtcSrc, gst_otc_src, GST, OTC_SRC, GstOtcSession)

extern GstStaticPadTemplate gst_otc_video_sink_template;
extern GstStaticPadTemplate gst_otc_audio_sink_template;
extern GstStaticPadTemplate gst_otc_video_src_template;
extern GstStaticPadTemplate gst_otc_audio_src_template;

GST_ELEMENT_REGISTER_DECLARE (otcsession);
GST_ELEMENT_REGISTER_DECLARE (otcsink);
GST_ELEMENT_REGISTER_DECLARE (otcsrc);

G_END_DECLS
