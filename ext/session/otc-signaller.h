/* OtcSignaller: how the session elements reach a session server. The
 * elements (otcsession, otcsink, otcsrc) only call this interface and
 * listen to its signals, so another backend (an SFU's own protocol, WHIP/
 * WHEP) can be added by implementing it, without touching them.
 * OtcRouterSignaller implements it for otc-router (docs/signalling.md).
 *
 * The model: one connection to a session; each published stream and each
 * subscription is a WebRTC peer connection of its own. Publishing, the
 * client offers and the server answers; subscribing, the server offers and
 * the client answers. Methods may be called from any thread and do not
 * block; the results arrive as signals, which an implementation may emit
 * from a thread of its own. */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define OTC_TYPE_SIGNALLER (otc_signaller_get_type ())
G_DECLARE_INTERFACE (OtcSignaller, otc_signaller, OTC, SIGNALLER, GObject)

struct _OtcSignallerInterface
{
  GTypeInterface parent_iface;

  /* Connects; emits "connected" or "error" + "disconnected". */
  void (*start) (OtcSignaller * self, const gchar * url,
      const gchar * session_id, const gchar * token);
  /* Leaves the session; emits "disconnected" ("clientDisconnected"). */
  void (*stop) (OtcSignaller * self);
  /* @info: otc/publish (name, has-audio, has-video, video-type). The
   * answer comes as "publish-answer" with the same @tag. */
  void (*publish) (OtcSignaller * self, const gchar * tag,
      const gchar * sdp_offer, const GstStructure * info);
  void (*unpublish) (OtcSignaller * self, const gchar * stream_id);
  /* The offer comes as "subscribe-offer" with the same @tag. */
  void (*subscribe) (OtcSignaller * self, const gchar * tag,
      const gchar * stream_id);
  void (*answer) (OtcSignaller * self, const gchar * subscription_id,
      const gchar * sdp_answer);
  void (*unsubscribe) (OtcSignaller * self, const gchar * subscription_id);
  /* @leg_id: a stream id (publishing) or a subscription id. */
  void (*add_candidate) (OtcSignaller * self, const gchar * leg_id,
      guint mline, const gchar * candidate);
  /* @to: a connection id, NULL for everyone. */
  void (*send_signal) (OtcSignaller * self, const gchar * to,
      const gchar * type, const gchar * data);
};

/* Signals (see otc-signaller.c for their arguments):
 *  connected (GstStructure otc/connected: session-id, connection-id, role,
 *      data, e2ee (boolean), and when e2ee: e2ee-format, e2ee-format-version
 *      (uint), cipher-suite (string), key-id-base (uint64, 0: none given))
 *  disconnected (reason)
 *  connection-created (GstStructure otc/connection: connection-id, data)
 *  connection-destroyed (connection-id, reason)
 *  stream-created (GstStructure otc/stream: stream-id, connection-id, name,
 *      has-audio, has-video, video-type)
 *  stream-destroyed (stream-id, reason)
 *  publish-answer (tag, stream-id, sdp)
 *  subscribe-offer (tag, stream-id, subscription-id, sdp)
 *  candidate (leg-id, mline, candidate)
 *  unsubscribed (subscription-id, stream-id, reason)
 *  signal-received (from, type, data)
 *  error (code, message, tag-or-NULL) */

void otc_signaller_start (OtcSignaller * self, const gchar * url,
    const gchar * session_id, const gchar * token);
void otc_signaller_stop (OtcSignaller * self);
void otc_signaller_publish (OtcSignaller * self, const gchar * tag,
    const gchar * sdp_offer, const GstStructure * info);
void otc_signaller_unpublish (OtcSignaller * self, const gchar * stream_id);
void otc_signaller_subscribe (OtcSignaller * self, const gchar * tag,
    const gchar * stream_id);
void otc_signaller_answer (OtcSignaller * self,
    const gchar * subscription_id, const gchar * sdp_answer);
void otc_signaller_unsubscribe (OtcSignaller * self,
    const gchar * subscription_id);
void otc_signaller_add_candidate (OtcSignaller * self, const gchar * leg_id,
    guint mline, const gchar * candidate);
void otc_signaller_send_signal (OtcSignaller * self, const gchar * to,
    const gchar * type, const gchar * data);

G_END_DECLS
