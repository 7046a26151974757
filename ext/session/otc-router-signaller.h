/* OtcRouterSignaller: OtcSignaller for otc-router's signalling protocol
 * (docs/signalling.md), a WebSocket at URL/signal. It runs libsoup on a
 * thread of its own and emits its signals from there. */
#pragma once

#include "otc-signaller.h"

G_BEGIN_DECLS

#define OTC_TYPE_ROUTER_SIGNALLER (otc_router_signaller_get_type ())
G_DECLARE_FINAL_TYPE (OtcRouterSignaller, otc_router_signaller, OTC,
    ROUTER_SIGNALLER, GObject)

OtcSignaller *otc_router_signaller_new (void);

G_END_DECLS
