/* A session of otc-router: its settings (E2EE, media mode, archive mode),
 * the connections in it and their published streams. Owned by the server;
 * connections are owned by their client objects. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "media/otc-router-media.h"

G_BEGIN_DECLS

typedef struct _OtcRouterClient OtcRouterClient;

typedef struct
{
  gchar *id;
  gchar *connection_id;         /* the publisher */
  gchar *name;
  gboolean has_audio;
  gboolean has_video;
  gchar *video_type;            /* "camera", "screen", "custom" */
  gint64 created;               /* ms since the epoch */
  OtcMediaLeg *leg;
  gboolean announced;           /* streamCreated sent */
} OtcRouterStream;

typedef struct
{
  gchar *id;
  gchar *project_id;
  gboolean e2ee;
  gboolean relayed;             /* p2p.preference=enabled */
  gboolean archive_always;
  gint64 created;               /* ms since the epoch */
  GHashTable *connections;      /* id -> OtcRouterClient (not owned) */
  GHashTable *streams;          /* id -> OtcRouterStream (owned) */
  guint64 next_key_id_base;     /* E2EE: the next connection's KID block */
} OtcRouterSession;

OtcRouterSession *otc_router_session_new (const gchar * project_id,
    gboolean e2ee, gboolean relayed, gboolean archive_always);
void otc_router_session_free (OtcRouterSession * session);

/* Random URL-safe ids: "prefix_" + 24 characters. */
gchar *otc_router_new_id (const gchar * prefix);

void otc_router_stream_free (OtcRouterStream * stream);

/* Closes a leg that the client code opened, with its bookkeeping
 * (otc-router-client.c). */
void otc_router_leg_close (OtcMediaLeg * leg);
JsonObject *otc_router_stream_to_json (OtcRouterStream * stream);

/* Each connection of an E2EE session gets a block of 256 SFrame key ids
 * that no other connection of the session gets (docs/signalling.md). */
#define OTC_ROUTER_KEY_IDS_PER_CONNECTION 256

/* The session's E2EE parameters as the "e2ee" member of "connected"; in an
 * E2EE session this takes the next key-id block for the new connection. */
JsonObject *otc_router_session_e2ee_json (OtcRouterSession * session);

G_END_DECLS
