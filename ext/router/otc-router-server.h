/* otc-router's server object: the HTTP listener (REST API and the
 * signalling WebSocket), the sessions, the authentication and the media
 * router. Everything runs on the thread-default main context it was made
 * on. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  const gchar *bind_address;    /* default 127.0.0.1 */
  guint port;                   /* 0: any free port */
  const gchar *api_key;
  const gchar *api_secret;
  const gchar *const *ice_addresses;    /* NULL: loopback when bound to it */
  gboolean e2ee_enabled;        /* the project's E2EE add-on */
  const gchar *archive_dir;     /* NULL: ./archives */
  /* signalling connections open at once from one address; 0: the default,
   * OTC_ROUTER_DEFAULT_CONNECTIONS_PER_ADDRESS */
  guint max_connections_per_address;
  /* how subscriber legs send: TRUE, each on its own webrtcbin; FALSE
   * (the default), direct (ICE + DTLS-SRTP driven by the router) */
  gboolean webrtcbin_subscribers;
} OtcRouterConfig;

#define OTC_ROUTER_DEFAULT_CONNECTIONS_PER_ADDRESS 256

typedef struct _OtcRouterServer OtcRouterServer;

OtcRouterServer *otc_router_server_new (const OtcRouterConfig * config,
    GError ** error);
/* "http://127.0.0.1:PORT" */
const gchar *otc_router_server_get_url (OtcRouterServer * server);
/* Closes every client (WebSocket close 1001), finalises archives. */
void otc_router_server_shutdown (OtcRouterServer * server);
void otc_router_server_free (OtcRouterServer * server);

G_END_DECLS
