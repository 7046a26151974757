/* The web client's static files (web/ in the source tree), served at the
 * router's root URL. Not installed. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _OtcRouterServer OtcRouterServer;

/* The directory to serve (otc-router --web-dir). NULL: the default, the
 * source tree's web/ when running from the build tree, else the installed
 * copy (${datadir}/otc/web). Call before otc_router_server_new(). */
void otc_router_static_set_web_dir (const gchar * dir);
/* The directory in use. */
const gchar *otc_router_static_get_web_dir (void);
/* Adds the handler for GET / (index.html) and every other path that no
 * other handler takes: /NAME and /web/NAME are web/NAME. */
void otc_router_static_register (OtcRouterServer * server);

G_END_DECLS
