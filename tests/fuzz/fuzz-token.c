/* libFuzzer target: the router's token verifier (ext/router/otc-router-auth.c):
 * client tokens (WebSocket connect) and project JWTs (REST calls).
 *
 * Input: byte 0 picks the mode (value % 4), the rest is
 *   0  a token as it arrives (text up to the first NUL);
 *   1  HEADER NUL PAYLOAD: two JSON texts that the target base64url-encodes
 *      and signs with the router's secret (HS256, or HS384/HS512 when the
 *      header says so), so that the checks behind the signature are reached
 *      with any header and claims;
 *   2  PAYLOAD alone, signed under the usual header {"alg":"HS256","typ":"JWT"};
 *   3  role(1) expire_in(2) SESSION NUL DATA: a client token made by the
 *      router itself, which must verify to the same claims.
 * The clock is fixed (fuzz-clock.c), so that a token's fate does not
 * depend on when it runs.
 *
 * Properties checked besides memory safety: a refusal sets an error of
 * OTC_ROUTER_AUTH_ERROR and leaves the claims empty; an accepted client
 * token has a session id, a known role, connection data of at most 1,000
 * characters and an expiry in the future; a token whose header alg is not
 * HS256 is never accepted; the router's own tokens round-trip. */
#include <json-glib/json-glib.h>
#include <otc-router-auth.h>

#include "fuzz-common.h"

#define API_KEY "fuzzkey"
#define API_SECRET "fuzz-api-secret-0123456789abcdef"

static OtcRouterAuth *auth;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_make_criticals_fatal ();
  auth = otc_router_auth_new (API_KEY, API_SECRET);
  return 0;
}

static gchar *
b64url (const guint8 * data, gsize len)
{
  gchar *s = g_base64_encode (data, len);
  gsize n = strlen (s);

  while (n > 0 && s[n - 1] == '=')
    s[--n] = '\0';
  g_strdelimit (s, "+", '-');
  g_strdelimit (s, "/", '_');
  return s;
}

/* The token header.payload.signature, signed with the router's secret
 * under @hash (HS256, or HS384/HS512 when the header names them, so that a
 * well-signed token of another algorithm reaches the verifier's own
 * algorithm check). */
static gchar *
sign (GChecksumType hash, const guint8 * header, gsize header_len,
    const guint8 * payload, gsize payload_len)
{
  gchar *h = b64url (header, header_len), *p = b64url (payload, payload_len);
  gchar *signing_input = g_strconcat (h, ".", p, NULL);
  GHmac *hmac = g_hmac_new (hash, (const guchar *) API_SECRET,
      strlen (API_SECRET));
  guint8 mac[64];
  gsize mac_len = sizeof (mac);
  gchar *sig, *token;

  g_hmac_update (hmac, (const guchar *) signing_input, -1);
  g_hmac_get_digest (hmac, mac, &mac_len);
  g_hmac_unref (hmac);
  sig = b64url (mac, mac_len);
  token = g_strconcat (signing_input, ".", sig, NULL);
  g_free (h);
  g_free (p);
  g_free (sig);
  g_free (signing_input);
  return token;
}

/* The "alg" of a JSON header, or NULL. */
static gchar *
header_alg (const guint8 * header, gsize len)
{
  JsonParser *parser = json_parser_new ();
  gchar *alg = NULL;

  if (json_parser_load_from_data (parser, (const gchar *) header, len, NULL)
      && json_parser_get_root (parser) != NULL
      && JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
    JsonObject *o = json_node_get_object (json_parser_get_root (parser));
    JsonNode *n = json_object_get_member (o, "alg");

    if (n && JSON_NODE_HOLDS_VALUE (n)
        && json_node_get_value_type (n) == G_TYPE_STRING)
      alg = g_strdup (json_node_get_string (n));
  }
  g_object_unref (parser);
  return alg;
}

/* Both verifiers on @token; TRUE when either accepted it. */
static gboolean
verify_both (const gchar * token, OtcClientClaims * out_claims)
{
  OtcClientClaims claims;
  GError *error = NULL;
  gboolean client_ok, project_ok;

  memset (&claims, 0x5a, sizeof (claims));
  client_ok = otc_router_auth_verify_client_token (auth, token, &claims,
      &error);
  if (client_ok) {
    OtcRole role;

    FUZZ_CHECK (error == NULL);
    FUZZ_CHECK (claims.session_id != NULL);
    FUZZ_CHECK (claims.role <= OTC_ROLE_MODERATOR);
    FUZZ_CHECK (otc_role_from_string (otc_role_to_string (claims.role),
            &role) && role == claims.role);
    FUZZ_CHECK (claims.expires > FUZZ_NOW);
    if (claims.connection_data)
      FUZZ_CHECK (g_utf8_strlen (claims.connection_data, -1) <=
          OTC_MAX_CONNECTION_DATA);
  } else {
    FUZZ_CHECK (error != NULL && error->domain == OTC_ROUTER_AUTH_ERROR);
    FUZZ_CHECK (claims.session_id == NULL && claims.connection_data == NULL);
    g_clear_error (&error);
  }
  if (out_claims != NULL)
    *out_claims = claims;
  else
    otc_client_claims_clear (&claims);

  project_ok = otc_router_auth_verify_project_jwt (auth, token, &error);
  FUZZ_SAY ("client token: %s, project JWT: %s\n",
      client_ok ? "accepted" : "refused",
      project_ok ? "accepted" : error->message);
  if (project_ok) {
    FUZZ_CHECK (error == NULL);
  } else {
    FUZZ_CHECK (error != NULL && error->domain == OTC_ROUTER_AUTH_ERROR);
    g_clear_error (&error);
  }
  return client_ok || project_ok;
}

static void
signed_token (const guint8 * header, gsize header_len,
    const guint8 * payload, gsize payload_len)
{
  gchar *alg = header_alg (header, header_len);
  GChecksumType hash = g_strcmp0 (alg, "HS384") == 0 ? G_CHECKSUM_SHA384 :
      g_strcmp0 (alg, "HS512") == 0 ? G_CHECKSUM_SHA512 : G_CHECKSUM_SHA256;
  gchar *token = sign (hash, header, header_len, payload, payload_len);

  if (verify_both (token, NULL))
    FUZZ_CHECK (g_strcmp0 (alg, "HS256") == 0);
  g_free (alg);
  g_free (token);
}

static void
own_token (FuzzInput * in)
{
  OtcRole role = (OtcRole) (fuzz_u8 (in) % 4);
  gint64 expire_in = (gint16) fuzz_u16 (in);
  gsize len;
  const guint8 *rest = fuzz_bytes (in, G_MAXSIZE, &len);
  const guint8 *nul = memchr (rest, '\0', len);
  gchar *session_id = g_strndup ((const gchar *) rest, nul ? nul - rest : len);
  gchar *data = nul ? g_strndup ((const gchar *) nul + 1,
      len - (nul - rest) - 1) : NULL;
  GError *error = NULL;
  gchar *token;
  OtcClientClaims claims;

  token = otc_router_auth_make_client_token (auth, session_id, role,
      expire_in, data, &error);
  if (token == NULL) {
    FUZZ_CHECK (error != NULL);
    g_clear_error (&error);
  } else {
    FUZZ_CHECK (error == NULL);
    /* role 3 is no role: the token says "unknown" and is refused */
    if (verify_both (token, &claims) && role <= OTC_ROLE_MODERATOR
        && strlen (token) <= 8192) {
      FUZZ_CHECK (g_strcmp0 (claims.session_id, session_id) == 0);
      FUZZ_CHECK (claims.role == role);
      FUZZ_CHECK (g_strcmp0 (claims.connection_data, data) == 0);
      FUZZ_CHECK (claims.expires == FUZZ_NOW + expire_in);
    }
    otc_client_claims_clear (&claims);
    g_free (token);
  }
  g_free (session_id);
  g_free (data);
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  static const gchar std_header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
  FuzzInput in;
  gsize len;
  const guint8 *rest;

  fuzz_input_init (&in, data, size);
  switch (fuzz_u8 (&in) % 4) {
    case 0:{
      gchar *token;

      rest = fuzz_bytes (&in, G_MAXSIZE, &len);
      token = g_strndup ((const gchar *) rest, len);
      verify_both (token, NULL);
      g_free (token);
      break;
    }
    case 1:{
      const guint8 *nul;

      rest = fuzz_bytes (&in, G_MAXSIZE, &len);
      nul = memchr (rest, '\0', len);
      if (nul)
        signed_token (rest, nul - rest, nul + 1, len - (nul - rest) - 1);
      else
        signed_token (rest, len, (const guint8 *) "", 0);
      break;
    }
    case 2:
      rest = fuzz_bytes (&in, G_MAXSIZE, &len);
      signed_token ((const guint8 *) std_header, strlen (std_header), rest,
          len);
      break;
    case 3:
      own_token (&in);
      break;
  }
  return 0;
}
