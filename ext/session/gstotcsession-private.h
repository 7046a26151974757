/* What otcsession's files share: the element's state, its publishers (one
 * webrtcbin per published stream) and its subscribers (one webrtcbin per
 * subscribed remote stream). */
#pragma once

#include <gst/webrtc/webrtc.h>

#include "gstotcsecretholder.h"
#include "gstotcmessages.h"
#include "gstotcsession.h"
#include "otc-connection.h"

G_BEGIN_DECLS

GST_DEBUG_CATEGORY_EXTERN (gst_otc_session_debug);

/* Session event messages (docs/session-elements.md) */
#define OTC_MSG_CONNECTED "otc-session-connected"
#define OTC_MSG_DISCONNECTED "otc-session-disconnected"
#define OTC_MSG_ERROR "otc-session-error"
#define OTC_MSG_CONNECTION_CREATED "otc-connection-created"
#define OTC_MSG_CONNECTION_DESTROYED "otc-connection-destroyed"
#define OTC_MSG_STREAM_CREATED "otc-stream-created"
#define OTC_MSG_STREAM_DESTROYED "otc-stream-destroyed"
#define OTC_MSG_SIGNAL "otc-signal-received"
#define OTC_MSG_PUBLISHED "otc-stream-published"
#define OTC_MSG_SUBSCRIBED "otc-stream-subscribed"
#define OTC_MSG_UNSUBSCRIBED "otc-stream-unsubscribed"

typedef struct _OtcPublisher OtcPublisher;
typedef struct _OtcSubscriber OtcSubscriber;

/* The element's connection parameters, taken at NULL->READY. */
typedef struct
{
  gchar *url;
  gchar *session_id;
  gchar *token;
} OtcJoin;

typedef struct
{
  GstOtcSession *element;
  GMutex lock;                  /* the fields below */
  GMutex pad_lock;              /* src pads are added one at a time */

  /* properties */
  OtcJoin join;
  gchar *ice_addresses;         /* comma separated; NULL: default */
  guint connect_timeout;        /* ms */
  guint mismatch_delay;         /* ms, for otcdecrypt */
  gboolean auto_subscribe;
  gchar *stream_name;
  gchar *video_type;
  guint video_bitrate;          /* for raw video, bit/s */
  OtcSignaller *custom_signaller;
  GstOtcSecretHolder secret;    /* validated secret (never started) */
  GstOtcPendingMessage pending;
  gboolean secret_invalid;      /* the last secret given was refused */

  /* the session */
  OtcConnectionPool *pool;
  OtcConnection *conn;
  GstStructure *info;           /* otc/connected, while connected */
  gboolean e2ee;
  gint cipher_suite;            /* GST_TYPE_OTC_CIPHER_SUITE value */
  gchar *connection_id;
  gulong handlers[12];
  guint n_handlers;

  GPtrArray *publishers;        /* OtcPublisher, by index (may hold NULL) */
  GHashTable *subscribers;      /* stream id -> OtcSubscriber */
  gboolean running;             /* connected and >= READY */
  gboolean eos_posted;          /* sink side: EOS message posted */
  gint src_eos;                 /* atomic: src side: EOS sent */
} GstOtcSessionPrivate;

GstOtcSessionPrivate *gst_otc_session_get_priv (GstOtcSession * self);

/* Posts an element message (takes @s). */
void gst_otc_session_post (GstOtcSession * self, GstStructure * s);
/* Restricts webrtcbin's ICE gathering to the configured addresses. */
void gst_otc_session_setup_webrtc (GstOtcSession * self, GstElement * webrtc);
/* A copy of the secret (NULL if none); free with gst_otc_session_free_secret */
gchar *gst_otc_session_dup_secret (GstOtcSession * self);
void gst_otc_session_free_secret (gchar * secret);
/* Puts otcencrypt/otcdecrypt's settings on @element. */
void gst_otc_session_configure_transform (GstOtcSession * self,
    GstElement * element);

/* Publishers: @pad is a new request pad; built at once when running. */
OtcPublisher *otc_publisher_new (GstOtcSession * self, guint index);
void otc_publisher_add_pad (OtcPublisher * pub, GstPad * pad,
    gboolean video);
/* Builds the webrtcbin and chains, offers. Call when running. */
void otc_publisher_start (OtcPublisher * pub);
gboolean otc_publisher_is_started (OtcPublisher * pub);
gboolean otc_publisher_matches (OtcPublisher * pub, const gchar * tag,
    const gchar * leg_id);
void otc_publisher_on_answer (OtcPublisher * pub, const gchar * stream_id,
    const gchar * sdp);
void otc_publisher_on_candidate (OtcPublisher * pub, guint mline,
    const gchar * candidate);
void otc_publisher_on_error (OtcPublisher * pub, gint code,
    const gchar * message);
const gchar *otc_publisher_get_stream_id (OtcPublisher * pub);
/* Unpublishes and takes the webrtcbin and chains out of the bin. */
void otc_publisher_stop (OtcPublisher * pub);
void otc_publisher_remove_pad (OtcPublisher * pub, GstPad * pad);
gboolean otc_publisher_has_pads (OtcPublisher * pub);
/* EOS arrived on all its pads. */
gboolean otc_publisher_is_eos (OtcPublisher * pub);
/* Posts EOS (once) when every published pad has had EOS. */
void gst_otc_session_check_eos (GstOtcSession * self);
/* TRUE once the element was sent EOS: src pads take no more data. */
gboolean gst_otc_session_is_eos (GstOtcSession * self);
/* Pushes EOS on a src pad unless that was done. */
void gst_otc_session_push_eos_once (GstPad * pad);
/* Every otcencrypt in it, for a new secret. */
void otc_publisher_foreach_transform (OtcPublisher * pub, GFunc func,
    gpointer data);
/* The stream id of the publisher owning @element, or NULL. */
gboolean otc_publisher_owns (OtcPublisher * pub, GstObject * element);
void otc_publisher_free (OtcPublisher * pub);

/* Subscribers */
OtcSubscriber *otc_subscriber_new (GstOtcSession * self,
    const GstStructure * stream);
void otc_subscriber_start (OtcSubscriber * sub);
gboolean otc_subscriber_matches (OtcSubscriber * sub, const gchar * tag,
    const gchar * leg_id);
void otc_subscriber_on_offer (OtcSubscriber * sub,
    const gchar * subscription_id, const gchar * sdp);
void otc_subscriber_on_candidate (OtcSubscriber * sub, guint mline,
    const gchar * candidate);
void otc_subscriber_on_error (OtcSubscriber * sub, gint code,
    const gchar * message);
const gchar *otc_subscriber_get_stream_id (OtcSubscriber * sub);
const gchar *otc_subscriber_get_connection_id (OtcSubscriber * sub);
/* Ends the src pads (EOS), unsubscribes (@unsubscribe), takes it out. */
void otc_subscriber_stop (OtcSubscriber * sub, gboolean unsubscribe);
void otc_subscriber_foreach_transform (OtcSubscriber * sub, GFunc func,
    gpointer data);
gboolean otc_subscriber_owns (OtcSubscriber * sub, GstObject * element);
void otc_subscriber_free (OtcSubscriber * sub);

/* An otc/... element message carrying the stream's ids. */
void gst_otc_session_post_stream_error (GstOtcSession * self,
    const gchar * name, gint code, const gchar * message,
    const gchar * stream_id, const gchar * connection_id);

G_END_DECLS
