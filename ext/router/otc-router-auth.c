#include <errno.h>
#include <jwt.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <string.h>

#include "otc-router-auth.h"

G_DEFINE_QUARK (otc-router-auth-error-quark, otc_router_auth_error);

struct _OtcRouterAuth
{
  gchar *api_key;
  gchar *api_secret;
};

static const gchar *role_names[] = { "subscriber", "publisher", "moderator" };

const gchar *
otc_role_to_string (OtcRole role)
{
  return role < G_N_ELEMENTS (role_names) ? role_names[role] : "unknown";
}

gboolean
otc_role_from_string (const gchar * s, OtcRole * role)
{
  guint i;

  for (i = 0; s && i < G_N_ELEMENTS (role_names); i++) {
    if (g_str_equal (s, role_names[i])) {
      *role = i;
      return TRUE;
    }
  }
  return FALSE;
}

OtcRouterAuth *
otc_router_auth_new (const gchar * api_key, const gchar * api_secret)
{
  OtcRouterAuth *auth = g_new0 (OtcRouterAuth, 1);

  auth->api_key = g_strdup (api_key);
  auth->api_secret = g_strdup (api_secret);
  return auth;
}

void
otc_router_auth_free (OtcRouterAuth * auth)
{
  if (auth == NULL)
    return;
  OPENSSL_cleanse (auth->api_secret, strlen (auth->api_secret));
  g_free (auth->api_secret);
  g_free (auth->api_key);
  g_free (auth);
}

const gchar *
otc_router_auth_get_api_key (OtcRouterAuth * auth)
{
  return auth->api_key;
}

static gchar *
random_hex (guint n_bytes)
{
  guint8 buf[32];
  GString *s = g_string_new (NULL);
  guint i;

  g_assert (n_bytes <= sizeof (buf));
  if (RAND_bytes (buf, n_bytes) != 1)
    g_error ("no random bytes");
  for (i = 0; i < n_bytes; i++)
    g_string_append_printf (s, "%02x", buf[i]);
  return g_string_free (s, FALSE);
}

static gchar *
sign (OtcRouterAuth * auth, jwt_t * jwt)
{
  gchar *out = NULL;

  if (jwt_set_alg (jwt, JWT_ALG_HS256, (const unsigned char *) auth->api_secret,
          strlen (auth->api_secret)) == 0) {
    char *s = jwt_encode_str (jwt);
    out = g_strdup (s);
    free (s);
  }
  jwt_free (jwt);
  return out;
}

gchar *
otc_router_auth_make_client_token (OtcRouterAuth * auth,
    const gchar * session_id, OtcRole role, gint64 expire_in,
    const gchar * connection_data, GError ** error)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  jwt_t *jwt = NULL;
  gchar *nonce;

  if (session_id == NULL || *session_id == '\0') {
    g_set_error (error, OTC_ROUTER_AUTH_ERROR, OTC_ROUTER_AUTH_ERROR_CLAIMS,
        "A session id is required");
    return NULL;
  }
  if (expire_in <= 0) {
    g_set_error (error, OTC_ROUTER_AUTH_ERROR, OTC_ROUTER_AUTH_ERROR_CLAIMS,
        "The expiry must be in the future");
    return NULL;
  }
  if (connection_data != NULL && (!g_utf8_validate (connection_data, -1, NULL)
          || g_utf8_strlen (connection_data, -1) > OTC_MAX_CONNECTION_DATA)) {
    g_set_error (error, OTC_ROUTER_AUTH_ERROR, OTC_ROUTER_AUTH_ERROR_CLAIMS,
        "Connection data must be UTF-8 of at most %d characters",
        OTC_MAX_CONNECTION_DATA);
    return NULL;
  }

  nonce = random_hex (16);
  jwt_new (&jwt);
  jwt_add_grant (jwt, "iss", auth->api_key);
  jwt_add_grant (jwt, "scope", "session.connect");
  jwt_add_grant (jwt, "session_id", session_id);
  jwt_add_grant (jwt, "role", otc_role_to_string (role));
  jwt_add_grant (jwt, "nonce", nonce);
  jwt_add_grant_int (jwt, "iat", now);
  jwt_add_grant_int (jwt, "exp", now + expire_in);
  if (connection_data != NULL)
    jwt_add_grant (jwt, "connection_data", connection_data);
  g_free (nonce);
  return sign (auth, jwt);
}

gchar *
otc_router_auth_make_project_jwt (OtcRouterAuth * auth, gint64 expire_in)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  jwt_t *jwt = NULL;
  gchar *jti = random_hex (16);

  jwt_new (&jwt);
  jwt_add_grant (jwt, "iss", auth->api_key);
  jwt_add_grant (jwt, "ist", "project");
  jwt_add_grant (jwt, "jti", jti);
  jwt_add_grant_int (jwt, "iat", now);
  jwt_add_grant_int (jwt, "exp", now + expire_in);
  g_free (jti);
  return sign (auth, jwt);
}

/* Signature (HS256 only: "none" and every other algorithm are refused),
 * then exp and iat. */
static jwt_t *
decode (OtcRouterAuth * auth, const gchar * token, GError ** error)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  jwt_t *jwt = NULL;
  long exp, iat;

  if (token == NULL || *token == '\0') {
    g_set_error (error, OTC_ROUTER_AUTH_ERROR, OTC_ROUTER_AUTH_ERROR_MISSING,
        "No token");
    return NULL;
  }
  if (strlen (token) > 8192 || strchr (token, '.') == NULL) {
    g_set_error (error, OTC_ROUTER_AUTH_ERROR,
        OTC_ROUTER_AUTH_ERROR_MALFORMED, "Not a JWT");
    return NULL;
  }
  if (jwt_decode (&jwt, token, (const unsigned char *) auth->api_secret,
          strlen (auth->api_secret)) != 0 || jwt == NULL) {
    g_set_error (error, OTC_ROUTER_AUTH_ERROR,
        OTC_ROUTER_AUTH_ERROR_SIGNATURE,
        "The token's signature does not verify");
    return NULL;
  }
  if (jwt_get_alg (jwt) != JWT_ALG_HS256) {
    jwt_free (jwt);
    g_set_error (error, OTC_ROUTER_AUTH_ERROR,
        OTC_ROUTER_AUTH_ERROR_SIGNATURE, "Only HS256 tokens are accepted");
    return NULL;
  }
  errno = 0;
  exp = jwt_get_grant_int (jwt, "exp");
  if (errno != 0) {
    jwt_free (jwt);
    g_set_error (error, OTC_ROUTER_AUTH_ERROR, OTC_ROUTER_AUTH_ERROR_CLAIMS,
        "The token has no expiry (exp)");
    return NULL;
  }
  if (exp <= now) {
    jwt_free (jwt);
    g_set_error (error, OTC_ROUTER_AUTH_ERROR, OTC_ROUTER_AUTH_ERROR_EXPIRED,
        "The token has expired");
    return NULL;
  }
  errno = 0;
  iat = jwt_get_grant_int (jwt, "iat");
  if (errno == 0 && iat > now + 60) {
    jwt_free (jwt);
    g_set_error (error, OTC_ROUTER_AUTH_ERROR,
        OTC_ROUTER_AUTH_ERROR_NOT_YET_VALID,
        "The token was issued in the future");
    return NULL;
  }
  errno = 0;
  {
    long nbf = jwt_get_grant_int (jwt, "nbf");
    if (errno == 0 && nbf > now + 60) {
      jwt_free (jwt);
      g_set_error (error, OTC_ROUTER_AUTH_ERROR,
          OTC_ROUTER_AUTH_ERROR_NOT_YET_VALID, "The token is not yet valid");
      return NULL;
    }
  }
  return jwt;
}

void
otc_client_claims_clear (OtcClientClaims * claims)
{
  g_clear_pointer (&claims->session_id, g_free);
  g_clear_pointer (&claims->connection_data, g_free);
}

gboolean
otc_router_auth_verify_client_token (OtcRouterAuth * auth,
    const gchar * token, OtcClientClaims * claims, GError ** error)
{
  jwt_t *jwt = decode (auth, token, error);
  const gchar *scope, *sid, *role, *data;

  memset (claims, 0, sizeof (*claims));
  if (jwt == NULL)
    return FALSE;
  scope = jwt_get_grant (jwt, "scope");
  sid = jwt_get_grant (jwt, "session_id");
  role = jwt_get_grant (jwt, "role");
  data = jwt_get_grant (jwt, "connection_data");
  if (g_strcmp0 (scope, "session.connect") != 0 || sid == NULL
      || !otc_role_from_string (role, &claims->role)
      || (data && g_utf8_strlen (data, -1) > OTC_MAX_CONNECTION_DATA)) {
    jwt_free (jwt);
    g_set_error (error, OTC_ROUTER_AUTH_ERROR, OTC_ROUTER_AUTH_ERROR_CLAIMS,
        "The token is not a valid session.connect token");
    return FALSE;
  }
  claims->session_id = g_strdup (sid);
  claims->connection_data = g_strdup (data);
  claims->expires = jwt_get_grant_int (jwt, "exp");
  jwt_free (jwt);
  return TRUE;
}

gboolean
otc_router_auth_verify_project_jwt (OtcRouterAuth * auth, const gchar * token,
    GError ** error)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  jwt_t *jwt = decode (auth, token, error);
  gboolean ok;

  if (jwt == NULL)
    return FALSE;
  errno = 0;
  jwt_get_grant_int (jwt, "iat");
  ok = errno == 0
      && g_strcmp0 (jwt_get_grant (jwt, "iss"), auth->api_key) == 0
      && g_strcmp0 (jwt_get_grant (jwt, "ist"), "project") == 0
      && jwt_get_grant (jwt, "jti") != NULL;
  if (!ok) {
    g_set_error (error, OTC_ROUTER_AUTH_ERROR, OTC_ROUTER_AUTH_ERROR_CLAIMS,
        "The JWT needs iss (the API key), ist=project, iat and jti");
  } else if (jwt_get_grant_int (jwt, "exp") >
      now + OTC_MAX_PROJECT_JWT_LIFETIME + 5) {
    ok = FALSE;
    g_set_error (error, OTC_ROUTER_AUTH_ERROR, OTC_ROUTER_AUTH_ERROR_CLAIMS,
        "The JWT may expire at most %d seconds ahead",
        OTC_MAX_PROJECT_JWT_LIFETIME);
  }
  jwt_free (jwt);
  return ok;
}
