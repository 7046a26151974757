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

/* Called once, from within a read, when a message passes the limit; the
 * owner closes the connection (1009). */
typedef void (*OtcWsLimitRefusedFunc) (gpointer user_data);

void otc_ws_limit_stream_set_refused_func (OtcWsLimitStream * stream,
    OtcWsLimitRefusedFunc func, gpointer user_data);

G_END_DECLS
