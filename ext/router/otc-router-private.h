/* What the router's objects share; not installed. */
#pragma once

#include <libsoup/soup.h>

#include "otc-router-auth.h"
#include "otc-router-server.h"
#include "otc-router-session.h"
#include "otc-signalling.h"

G_BEGIN_DECLS

GST_DEBUG_CATEGORY_EXTERN (otc_router_debug);

/* The hard limit on one incoming signalling message, however fragmented:
 * past it the socket is closed (1009). Between the protocol's limit
 * (OTC_SIGNALLING_MAX_MESSAGE) and this one, an error reply (413). */
#define OTC_ROUTER_MAX_WS_MESSAGE (4 * OTC_SIGNALLING_MAX_MESSAGE)

struct _OtcRouterServer
{
  SoupServer *soup;
  gchar *url;
  OtcRouterAuth *auth;
  OtcRouterMedia *media;
  gboolean e2ee_enabled;
  gchar *archive_dir;
  GHashTable *sessions;         /* id -> OtcRouterSession (owned) */
  GHashTable *clients;          /* OtcRouterClient set (owned) */
  GHashTable *archives;         /* id -> OtcRouterArchive (owned) */
  GHashTable *per_address;      /* remote host -> signalling connections */
  guint max_per_address;
};

/* One signalling connection (otc-router-client.c). */
struct _OtcRouterClient
{
  OtcRouterServer *server;
  SoupWebsocketConnection *ws;
  gchar *id;                    /* connection id once connected */
  OtcRouterSession *session;    /* NULL until connected */
  OtcRole role;
  gchar *data;
  gint64 created;
  GHashTable *subscriptions;    /* subscription id -> OtcMediaLeg */
  guint connect_timeout;
  guint signals_this_second;
  gint64 signal_window;
  gsize backlog;                /* sent while its socket buffer was full */
  guint drop_source;            /* dropping it: it does not read */
  gchar *remote_host;           /* counted in server->per_address */
};

OtcRouterClient *otc_router_client_new (OtcRouterServer * server,
    SoupWebsocketConnection * ws);
/* Leaves the session (telling the others) and closes the socket. */
void otc_router_client_close (OtcRouterClient * client, gushort code,
    const gchar * reason);
void otc_router_client_free (OtcRouterClient * client);
/* A connection from @host has gone (otc-router-server.c). */
void otc_router_server_release_address (OtcRouterServer * server,
    const gchar * host);
void otc_router_client_send (OtcRouterClient * client, JsonObject * msg);

/* Sends @msg (not taken) to every connection of @session but @except. */
void otc_router_session_broadcast (OtcRouterSession * session,
    JsonObject * msg, OtcRouterClient * except);

/* REST (otc-router-rest.c) and archives (otc-router-archive.c). */
void otc_router_rest_register (OtcRouterServer * server);
typedef struct _OtcRouterArchive OtcRouterArchive;
void otc_router_archive_free (OtcRouterArchive * archive);
void otc_router_archive_handle (OtcRouterServer * server, SoupServerMessage
    * msg, const gchar * method, gchar ** path, JsonObject * body);
void otc_router_archive_stop_all (OtcRouterServer * server);
/* A stream of @session was announced. archiveMode=always: an archive of
 * the session starts unless one is running (one whose streams have all
 * left is stopped first); it begins writing once their media arrives. */
void otc_router_archive_auto_start (OtcRouterServer * server,
    OtcRouterSession * session);

/* The 409 message for features E2EE sessions refuse. */
const gchar *otc_router_e2ee_refusal (void);

/* JSON replies. */
void otc_router_reply_json (SoupServerMessage * msg, guint status,
    JsonNode * body);
void otc_router_reply_error (SoupServerMessage * msg, guint status,
    const gchar * message);

G_END_DECLS
