/* Tokens and REST authentication of otc-router, as HS256 JWTs signed with
 * the project's API secret (verified with libjwt):
 * - project JWTs (X-OPENTOK-AUTH header of REST calls): iss = API key,
 *   ist = "project", iat, exp at most 5 minutes ahead, jti;
 * - client tokens (WebSocket connect): scope = "session.connect",
 *   session_id, role, iat, exp, nonce, optional connection_data. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define OTC_ROUTER_AUTH_ERROR (otc_router_auth_error_quark ())
GQuark otc_router_auth_error_quark (void);

typedef enum
{
  OTC_ROUTER_AUTH_ERROR_MISSING,        /* no token at all */
  OTC_ROUTER_AUTH_ERROR_MALFORMED,      /* not a JWT */
  OTC_ROUTER_AUTH_ERROR_SIGNATURE,      /* forged, or alg other than HS256 */
  OTC_ROUTER_AUTH_ERROR_EXPIRED,
  OTC_ROUTER_AUTH_ERROR_NOT_YET_VALID,
  OTC_ROUTER_AUTH_ERROR_CLAIMS,         /* wrong issuer, scope, role... */
} OtcRouterAuthError;

typedef enum
{
  OTC_ROLE_SUBSCRIBER,
  OTC_ROLE_PUBLISHER,
  OTC_ROLE_MODERATOR,
} OtcRole;

const gchar *otc_role_to_string (OtcRole role);
gboolean otc_role_from_string (const gchar * s, OtcRole * role);

#define OTC_MAX_CONNECTION_DATA 1000
#define OTC_MAX_PROJECT_JWT_LIFETIME 300

typedef struct _OtcRouterAuth OtcRouterAuth;

OtcRouterAuth *otc_router_auth_new (const gchar * api_key,
    const gchar * api_secret);
void otc_router_auth_free (OtcRouterAuth * auth);   /* wipes the secret */
const gchar *otc_router_auth_get_api_key (OtcRouterAuth * auth);

/* A client token; NULL with an error for bad input (connection_data over
 * 1,000 characters, expire_in not positive). */
gchar *otc_router_auth_make_client_token (OtcRouterAuth * auth,
    const gchar * session_id, OtcRole role, gint64 expire_in,
    const gchar * connection_data, GError ** error);

typedef struct
{
  gchar *session_id;
  OtcRole role;
  gint64 expires;
  gchar *connection_data;       /* may be NULL */
} OtcClientClaims;

void otc_client_claims_clear (OtcClientClaims * claims);

gboolean otc_router_auth_verify_client_token (OtcRouterAuth * auth,
    const gchar * token, OtcClientClaims * claims, GError ** error);

/* A project JWT, for REST calls (and for tests and tools). */
gchar *otc_router_auth_make_project_jwt (OtcRouterAuth * auth,
    gint64 expire_in);
gboolean otc_router_auth_verify_project_jwt (OtcRouterAuth * auth,
    const gchar * jwt, GError ** error);

G_END_DECLS
