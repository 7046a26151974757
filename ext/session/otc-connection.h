/* OtcConnection: one connection to a session, shared by every element of a
 * process that joins the same session with the same URL and token. It owns
 * the signaller, waits for "connected" and keeps what later elements need
 * (the connected information and the streams being published).
 *
 * Elements find each other's connections through a GstContext of type
 * OTC_CONNECTION_POOL_CONTEXT holding an OtcConnectionPool ("pool"): the
 * first element of a pipeline creates it and posts it; GstBin hands it to
 * the others. An application shares connections across pipelines by
 * setting that context on them. */
#pragma once

#include <gst/gst.h>

#include "otc-signaller.h"

G_BEGIN_DECLS

#define OTC_CONNECTION_POOL_CONTEXT "otc.connection-pool"

#define OTC_TYPE_CONNECTION_POOL (otc_connection_pool_get_type ())
G_DECLARE_FINAL_TYPE (OtcConnectionPool, otc_connection_pool, OTC,
    CONNECTION_POOL, GObject)

typedef struct _OtcConnection OtcConnection;

/* The pool from @context, or NULL. */
OtcConnectionPool *otc_connection_pool_from_context (GstContext * context);
/* A new pool in a new (persistent) context. */
GstContext *otc_connection_pool_new_context (void);

/* The connection for (@url, @session_id, @token): a shared one, or a new
 * one (connecting) when there is none. With @signaller (a custom backend),
 * always a new one, not shared. Release with otc_connection_release. */
OtcConnection *otc_connection_pool_acquire (OtcConnectionPool * pool,
    const gchar * url, const gchar * session_id, const gchar * token,
    OtcSignaller * signaller);
/* Drops a user; the last one disconnects. */
void otc_connection_release (OtcConnection * conn);

/* Waits until connected, failed, or @timeout_ms. TRUE with a copy of the
 * otc/connected structure; FALSE with the error code and message. */
gboolean otc_connection_wait_connected (OtcConnection * conn,
    guint timeout_ms, GstStructure ** info, gint * code, gchar ** message);
/* FALSE once disconnected (and sets @reason). */
gboolean otc_connection_is_connected (OtcConnection * conn, gchar ** reason);

OtcSignaller *otc_connection_get_signaller (OtcConnection * conn);
/* Copies of the otc/stream structures of the streams known now. */
GList *otc_connection_list_streams (OtcConnection * conn);
/* Copies of the otc/connection structures of the other connections. */
GList *otc_connection_list_connections (OtcConnection * conn);
/* The key id for this connection's next published stream: the router's
 * key-id block when it gave one, else a random one. */
guint64 otc_connection_next_key_id (OtcConnection * conn);
/* A tag unique in this connection, for requests. */
gchar *otc_connection_new_tag (OtcConnection * conn, const gchar * prefix);

G_END_DECLS
