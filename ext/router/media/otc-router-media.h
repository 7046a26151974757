/* The media side of otc-router: one webrtcbin per leg. A publisher's leg
 * receives a stream (the client offers); each subscriber leg sends it on
 * (the router offers). RTP is forwarded from the publisher leg to every
 * subscriber leg without depayloading to plaintext: E2EE frames stay
 * encrypted, and the router never holds a secret.
 *
 * Threading: every callback is invoked on the GMainContext that was the
 * thread-default one when otc_router_media_new() was called. */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

typedef struct _OtcRouterMedia OtcRouterMedia;
typedef struct _OtcMediaLeg OtcMediaLeg;

typedef struct
{
  /* The router's SDP for this leg: "answer" for a publisher leg, "offer"
   * for a subscriber leg. */
  void (*local_description) (OtcMediaLeg * leg, const gchar * type,
      const gchar * sdp, gpointer user_data);
  /* A local ICE candidate ("candidate:..." line) for m-line @mline. */
  void (*local_candidate) (OtcMediaLeg * leg, guint mline,
      const gchar * candidate, gpointer user_data);
  /* The leg is gone (negotiation failed, ICE failed, its publisher left,
   * or it was closed); @reason is for people. Called at most once. */
  void (*closed) (OtcMediaLeg * leg, const gchar * reason,
      gpointer user_data);
} OtcMediaLegCallbacks;

/* @ice_addresses: the only local addresses ICE may gather candidates on
 * (NULL or empty: loopback, 127.0.0.1). */
OtcRouterMedia *otc_router_media_new (const gchar * const *ice_addresses,
    GError ** error);
void otc_router_media_free (OtcRouterMedia * media);

/* A publisher leg for stream @stream_id from the client's SDP offer
 * (sendonly audio and/or video, VP8/Opus). */
OtcMediaLeg *otc_router_media_publish (OtcRouterMedia * media,
    const gchar * stream_id, const gchar * offer_sdp,
    const OtcMediaLegCallbacks * callbacks, gpointer user_data,
    GError ** error);

/* A subscriber leg for an existing publisher's stream; the router makes the
 * offer (delivered through local_description). A new subscriber triggers a
 * key frame request to the publisher. */
OtcMediaLeg *otc_router_media_subscribe (OtcRouterMedia * media,
    const gchar * stream_id, const OtcMediaLegCallbacks * callbacks,
    gpointer user_data, GError ** error);

/* The client's answer to a subscriber leg's offer. */
gboolean otc_media_leg_set_remote_answer (OtcMediaLeg * leg,
    const gchar * sdp, GError ** error);
/* A remote ICE candidate; an empty @candidate ends the candidates. */
void otc_media_leg_add_remote_candidate (OtcMediaLeg * leg, guint mline,
    const gchar * candidate);
/* Tears the leg down; closing a publisher leg closes its subscribers
 * (their closed callbacks run). The leg is invalid afterwards. */
void otc_media_leg_close (OtcMediaLeg * leg);

const gchar *otc_media_leg_get_stream_id (OtcMediaLeg * leg);

/* Non-E2EE sessions only (the caller checks): records the streams of the
 * given publisher legs to a WebM file (VP8 + Opus, no re-encoding) until
 * otc_router_media_stop_recording(). The streams need not have media yet:
 * the recording begins once every m-line of them has media. */
gboolean otc_router_media_start_recording (OtcRouterMedia * media,
    const gchar * recording_id, const gchar * const *stream_ids,
    const gchar * path, GError ** error);
/* Finalises the file; a recording stopped before it began writes none. */
gboolean otc_router_media_stop_recording (OtcRouterMedia * media,
    const gchar * recording_id, GError ** error);
/* TRUE when every stream the recording was given has left (it records
 * nothing more, or never will); FALSE for an unknown recording. */
gboolean otc_router_media_recording_has_ended (OtcRouterMedia * media,
    const gchar * recording_id);

/* Additions (the media module's own): lifetimes, errors, statistics.
 *
 * Lifetime: a leg handle is valid until otc_media_leg_close() or until its
 * closed callback returns, whichever comes first. closed never runs for a
 * leg the caller closed itself, and never from inside one of these
 * functions (always from the context); otc_media_leg_close() is allowed
 * inside the closed callback. A leg's own description is delivered before
 * any of its candidates. otc_router_media_free() closes every leg and
 * recording without callbacks; publish/subscribe/set_remote_answer and
 * stop_recording wait for webrtcbin (a few ms; stop_recording until the
 * file is complete).
 *
 * Media: every m-line of a publisher's offer must be audio with Opus or
 * video with VP8, and send; the answer keeps only that payload type (no
 * RTX/RED/FEC, no simulcast). Subscriber legs are offered the publisher's
 * payload types and SSRCs, so packets are forwarded unchanged; if the
 * publisher's offer had no a=ssrc, a subscriber's offer waits for its
 * first RTP packets. ICE: host candidates on the given addresses, UDP
 * only, no STUN/TURN. Recording: it waits until every m-line of its
 * streams has media, then records them all (webmmux takes no track once
 * it has begun); a stream that leaves while it waits is left out, and
 * streams published later are not added. */

#define OTC_ROUTER_MEDIA_ERROR (otc_router_media_error_quark ())
GQuark otc_router_media_error_quark (void);

typedef enum
{
  OTC_ROUTER_MEDIA_ERROR_FAILED,        /* webrtcbin or a pipeline refused */
  OTC_ROUTER_MEDIA_ERROR_INVALID_ARGUMENT,
  OTC_ROUTER_MEDIA_ERROR_INVALID_SDP,   /* unparseable or incomplete SDP */
  OTC_ROUTER_MEDIA_ERROR_UNSUPPORTED_MEDIA,     /* no VP8/Opus, not sending */
  OTC_ROUTER_MEDIA_ERROR_UNKNOWN_STREAM,
  OTC_ROUTER_MEDIA_ERROR_STREAM_EXISTS,
  OTC_ROUTER_MEDIA_ERROR_INVALID_STATE, /* e.g. an answer on a publisher leg */
  OTC_ROUTER_MEDIA_ERROR_UNKNOWN_RECORDING,
  OTC_ROUTER_MEDIA_ERROR_RECORDING_EXISTS,
  OTC_ROUTER_MEDIA_ERROR_NO_MEDIA,      /* unused: recordings wait for it */
} OtcRouterMediaError;

/* Key frame requests are forwarded to a publisher at most once per this
 * interval per video stream; requests in between are merged into one sent
 * when the interval ends. */
#define OTC_ROUTER_MEDIA_KEYFRAME_INTERVAL_MS 300

/* Statistics of a publisher's stream (a new structure "otc-router-stream",
 * free with gst_structure_free()), or NULL with @error:
 *   "subscribers"                  guint   subscriber legs
 *   "media-flowing"                gboolean  RTP has arrived on every m-line
 *   "keyframe-requests"            guint64 requests from subscribers, new
 *                                          subscribers and recordings
 *   "keyframe-requests-sent"       guint64 PLI/FIR sent to the publisher
 *   "keyframe-requests-throttled"  guint64 requests merged by the interval */
GstStructure *otc_router_media_get_stream_stats (OtcRouterMedia * media,
    const gchar * stream_id, GError ** error);

/* How subscriber legs send: each on its own webrtcbin, or "direct": ICE,
 * DTLS and SRTP driven by the router itself (ext/router/transport/), one
 * protect and one send per packet. Publisher legs are webrtcbins in both.
 * Set before the first subscribe. */
typedef enum
{
  OTC_ROUTER_MEDIA_SUBSCRIBER_TRANSPORT_WEBRTCBIN,
  OTC_ROUTER_MEDIA_SUBSCRIBER_TRANSPORT_DIRECT,
} OtcRouterMediaSubscriberTransport;

void otc_router_media_set_subscriber_transport (OtcRouterMedia * media,
    OtcRouterMediaSubscriberTransport transport);
/* Direct subscriber legs: seconds from the answer to a working connection
 * before the leg is closed (default 30). */
void otc_router_media_set_connect_timeout (OtcRouterMedia * media,
    guint seconds);

/* TRUE for a publisher leg, FALSE for a subscriber leg. */
gboolean otc_media_leg_is_publisher (OtcMediaLeg * leg);

/* The user_data given to publish/subscribe (for instance to free it before
 * otc_media_leg_close(): closed does not run then). */
gpointer otc_media_leg_get_user_data (OtcMediaLeg * leg);

G_END_DECLS
