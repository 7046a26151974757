/* A GIOStream between libsoup's WebSocket connection and the socket that
 * counts the frames a client sends and refuses a message, however
 * fragmented, once its payload passes a limit. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define OTC_TYPE_WS_LIMIT_STREAM (otc_ws_limit_stream_get_type ())
G_DECLARE_FINAL_TYPE (OtcWsLimitStream, otc_ws_limit_stream, OTC,
    WS_LIMIT_STREAM, GIOStream)

GIOStream *otc_ws_limit_stream_new (GIOStream * base, guint64 max_message);

/* Control frames a client may send at once, and a second after that. */
#define OTC_WS_LIMIT_CONTROL_BURST 20
#define OTC_WS_LIMIT_CONTROL_PER_SECOND 5
/* Data messages a client may send at once, and a second after that. */
#define OTC_WS_LIMIT_MESSAGE_BURST 1000
#define OTC_WS_LIMIT_MESSAGES_PER_SECOND 200

/* Called once, from within a read, when a frame may not pass: a message
 * over the limit (1009), a frame a client may not send (1002), too many
 * control frames or messages (1008). The owner closes the connection with @code. */
typedef void (*OtcWsLimitRefusedFunc) (gpointer user_data, gushort code,
    const gchar * reason);

void otc_ws_limit_stream_set_refused_func (OtcWsLimitStream * stream,
    OtcWsLimitRefusedFunc func, gpointer user_data);

/* From now on the input is dropped, up to the client's close frame (then
 * the end of the stream) or the limit's worth of bytes (the same): for a
 * connection that is closing. */
void otc_ws_limit_stream_stop_input (OtcWsLimitStream * stream);

G_END_DECLS
