/* Private to the otc-router media module: the objects its files share.
 *
 * One GstPipeline holds every leg's webrtcbin. A publisher leg's received
 * streams (one per m-line) each go through a tee; an OtcOutput is a branch
 * from such a tee to a subscriber leg's sink pad or to a recording's input.
 *
 * Threads: the public functions run on the media's GMainContext (the
 * "context thread"); webrtcbin signals, pad probes and bus messages come
 * from other threads and are marshalled to it with
 * otc_router_media_dispatch(). media->lock guards what those threads read;
 * no state change, link or promise wait happens with it held. */
#pragma once

#include <pthread.h>

#define GST_USE_UNSTABLE_API
#include <gst/gst.h>
#include <gst/sdp/sdp.h>
#include <gst/webrtc/webrtc.h>

#include "otc-router-media.h"
#include "otc-srtp-transport.h"

G_BEGIN_DECLS

GST_DEBUG_CATEGORY_EXTERN (otc_router_media_debug);

/* Jitterbuffer latency of the receiving legs: the router only restores
 * packet order; clients buffer for playout themselves. */
#define OTC_ROUTER_MEDIA_LATENCY_MS 20
/* How long stop_recording waits for the muxer to finish the file. */
#define OTC_RECORDING_FINALISE_TIMEOUT_S 10

typedef struct _OtcPublisherStream OtcPublisherStream;
typedef struct _OtcOutput OtcOutput;
typedef struct _OtcRecording OtcRecording;

struct _OtcRouterMedia
{
  gint refcount;
  GMainContext *context;
  gchar **ice_addresses;
  GList *ice_inet_addresses;    /* GInetAddress */
  GstElement *pipeline;
  guint leg_serial;
  guint recording_serial;

  GMutex lock;
  gboolean shut_down;
  GHashTable *publishers;       /* stream id -> OtcMediaLeg (publisher) */
  GList *legs;                  /* every live leg (media holds a ref) */
  GHashTable *recordings;       /* id -> OtcRecording */

  /* subscriber legs without webrtcbin (otc-media-direct.c) */
  OtcRouterMediaSubscriberTransport subscriber_transport;
  OtcDtlsIdentity *dtls_identity;       /* made with the first such leg */
  guint connect_timeout_s;      /* 0: the transport's default */
};

/* One m-line of a publisher leg. */
struct _OtcPublisherStream
{
  OtcMediaLeg *leg;             /* not a ref: the leg owns the stream */
  guint mline;
  gboolean is_video;
  guint pt;
  gboolean use_fir;             /* publisher accepts FIR but not PLI */

  /* under media->lock */
  guint32 ssrc;
  gboolean ssrc_known;
  GstCaps *caps;                /* what subscriber legs are offered and fed */
  GstPad *src_pad;              /* the publisher webrtcbin's src pad */
  GstElement *tee;
  gint64 last_keyframe_request; /* monotonic µs, 0: never */
  GSource *trailing_request;
  guint64 kf_requests;
  guint64 kf_sent;
  guint64 kf_throttled;

  /* direct subscriber legs (otc-media-direct.c): fed from the tee's sink
   * pad by the streaming thread (and helpers), which hold the reader lock
   * meanwhile; writers (the context thread) are preferred, so that a
   * steady flow of packets cannot keep a joining subscriber waiting */
  pthread_rwlock_t direct_lock;
  GPtrArray *direct_outputs;    /* OtcOutput (ref) */
  /* with many outputs, helper threads send to some of them (the context
   * thread starts them; they run until the stream is freed) */
  GPtrArray *fan_out_helpers;   /* OtcFanOutHelper */
  guint fan_out_load[4];        /* outputs per worker (0: streaming thread) */
};

/* A forwarding branch from a publisher stream's tee: to a subscriber leg's
 * sink pad or to a recording's queue. */
struct _OtcOutput
{
  gint refcount;                /* the owner's and the tee pad probe's */
  OtcMediaLeg *leg;             /* ref: the subscriber leg, or NULL for a
                                 * recording input */
  OtcMediaLeg *publisher;       /* ref */
  guint stream_index;
  GstPad *sink_pad;             /* ref: where buffers go */
  GstPad *tee_pad;              /* ref, once linked (context thread) */
  gint linked;                  /* atomic: sticky events can reach sink_pad */
  gint started;                 /* atomic: first buffer went through */
  gint failed;                  /* atomic: stop forwarding */
  gboolean eos_sent;            /* recording inputs */

  /* a direct subscriber leg's output (sink_pad NULL): what its sender
   * reports say, under the leg's direct_lock */
  guint32 ssrc;
  guint clock_rate;
  guint32 packets;
  guint32 octets;
  guint32 last_rtp_time;
  gint64 last_send;             /* monotonic µs, 0: nothing sent */
  guint worker;                 /* who sends to it: 0 the stream's streaming
                                 * thread, i > 0 the stream's helper i */
};

typedef enum
{
  LEG_PUBLISHER,
  LEG_SUBSCRIBER,
} OtcLegRole;

struct _OtcMediaLeg
{
  gint refcount;
  OtcRouterMedia *media;        /* ref */
  OtcLegRole role;
  gchar *stream_id;
  gchar *name;
  GstElement *webrtc;
  OtcMediaLegCallbacks callbacks;
  gpointer user_data;

  /* context thread */
  gboolean user_closed;         /* the caller's handle is gone */
  gboolean closed_notified;
  gboolean description_sent;
  GQueue pending_candidates;    /* CandidateEvent, until the description */
  gboolean torn_down;

  /* under media->lock */
  gboolean closing;

  gint connected;               /* atomic */

  /* publisher */
  GPtrArray *streams;           /* OtcPublisherStream */
  GList *subscribers;           /* OtcMediaLeg (ref), under media->lock */
  GList *extra_sinks;           /* fakesinks of unexpected streams, ditto */
  GstEvent *segment;            /* the streams' segment, ditto */

  /* subscriber */
  OtcMediaLeg *publisher;       /* ref */
  GPtrArray *outputs;           /* OtcOutput, one per publisher stream */
  gboolean offer_made;
  gboolean answered;

  /* subscriber without webrtcbin (webrtc NULL) */
  OtcSrtpTransport *transport;
  GSource *report_timer;        /* sender reports */
  GMutex direct_lock;
};

/* A recording waits until every m-line of its publishers has media (a tee):
 * webmmux takes no new track once it has started, so its inputs are made
 * all at once, then the bin goes into the pipeline. A publisher that leaves
 * in the meantime is left out. */
struct _OtcRecording
{
  OtcRouterMedia *media;
  gchar *id;
  gchar *path;
  GstElement *bin;              /* not in the pipeline until started */
  GstElement *mux;
  GPtrArray *publishers;        /* OtcMediaLeg (ref): what it records */
  gboolean started;             /* context thread: inputs made, bin added */
  GPtrArray *inputs;            /* OtcOutput */
  GMutex lock;
  GCond cond;
  gboolean eos;                 /* EOS reached the file sink */
  gchar *error;                 /* first error posted from the bin */
};

/* otc-router-media.c */
OtcRouterMedia *otc_router_media_ref (OtcRouterMedia * media);
void otc_router_media_unref (OtcRouterMedia * media);
void otc_router_media_dispatch (OtcRouterMedia * media, GSourceFunc func,
    gpointer data, GDestroyNotify notify);
OtcMediaLeg *otc_router_media_find_leg_locked (OtcRouterMedia * media,
    GstObject * object);
void otc_router_media_remove_element (OtcRouterMedia * media,
    GstElement * element);

/* otc-media-leg.c */
OtcMediaLeg *otc_media_leg_ref (OtcMediaLeg * leg);
void otc_media_leg_unref (OtcMediaLeg * leg);
gpointer otc_media_leg_copy (gconstpointer leg, gpointer unused);
void otc_media_leg_fail_async (OtcMediaLeg * leg, const gchar * reason);
void otc_media_leg_teardown (OtcMediaLeg * leg);
void otc_publisher_stream_free (OtcPublisherStream * stream);
OtcOutput *otc_media_output_new (OtcMediaLeg * publisher, guint stream_index,
    OtcMediaLeg * leg, GstPad * sink_pad);
OtcOutput *otc_media_output_ref (OtcOutput * out);
void otc_media_output_unref (OtcOutput * out);
gboolean otc_media_output_link (OtcOutput * out);
void otc_media_output_unlink (OtcOutput * out);
void otc_media_leg_add_local_candidate (OtcMediaLeg * leg, guint mline,
    const gchar * candidate);
void otc_publisher_stream_request_keyframe (OtcPublisherStream * stream,
    const gchar * why);
void otc_media_output_start (OtcOutput * out);

/* otc-media-direct.c: subscriber legs on OtcSrtpTransport */
gboolean otc_direct_leg_init (OtcMediaLeg * leg, GError ** error);
gchar *otc_direct_leg_make_offer (OtcMediaLeg * leg, GPtrArray * caps,
    GError ** error);
gboolean otc_direct_leg_set_answer (OtcMediaLeg * leg,
    const GstSDPMessage * answer, GError ** error);
void otc_direct_leg_add_remote_candidate (OtcMediaLeg * leg,
    const gchar * candidate);
void otc_direct_leg_teardown (OtcMediaLeg * leg);
void otc_direct_stream_init (OtcPublisherStream * stream);
void otc_direct_stream_clear (OtcPublisherStream * stream);
void otc_direct_stream_attach (OtcPublisherStream * stream, GstPad * tee_sink);
void otc_direct_output_link (OtcOutput * out, OtcPublisherStream * stream);
void otc_direct_output_unlink (OtcOutput * out, OtcPublisherStream * stream);

/* otc-media-sdp.c */
gboolean otc_media_sdp_parse (const gchar * text, GstSDPMessage ** msg,
    GError ** error);
GstSDPMessage *otc_media_offer_filter (const GstSDPMessage * offer,
    GPtrArray * streams, GError ** error);

/* otc-media-recording.c */
GQuark otc_recording_quark (void);
void otc_recording_free (OtcRecording * rec);
void otc_recording_input_finish (OtcOutput * input);
void otc_recording_set_error (OtcRouterMedia * media, const gchar * id,
    const gchar * message);
void otc_recording_start_ready (OtcRouterMedia * media);

G_END_DECLS
