/* Running a real otc-router on a free loopback port, and talking to it as
 * clients do: REST over HTTP, signalling over WebSocket. */
#pragma once

#include <gst/check/gstcheck.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

#define TEST_API_KEY "testkey1"
#define TEST_API_SECRET "test api secret 0123456789"

typedef struct
{
  GPid pid;
  gint out_fd;
  gchar *url;
  gchar *state_dir;
  gchar *archive_dir;
} TestRouter;

/* Starts otc-router with the test credentials and @extra_args (NULL
 * terminated, may be NULL); waits for its URL line. */
TestRouter *test_router_start (const gchar * const *extra_args);
/* SIGTERM, then waits for the exit (bounded); returns the exit status. */
gint test_router_stop (TestRouter * r);
/* The exit code of a test program whose suite had @failed failures and
 * whose shared router stopped with @status (test_router_stop(), called
 * from an unchecked teardown, where check would drop a failed check): 1,
 * with a message, unless the router exited with 0. */
gint test_router_suite_result (gint failed, gint status);

/* An HS256 JWT over @claims_json with @secret (or alg "none" when @secret
 * is NULL). */
gchar *test_jwt (const gchar * claims_json, const gchar * secret);
gchar *test_project_jwt (void);
gchar *test_client_token (const gchar * session_id, const gchar * role,
    gint64 expire_in);

/* HTTP: returns the status; *body the response text. */
guint test_http (TestRouter * r, const gchar * method, const gchar * path,
    const gchar * auth, const gchar * content_type, const gchar * body,
    gchar ** response);
/* POST /session/create with a valid JWT; the new session id. */
gchar *test_create_session (TestRouter * r, const gchar * form);

/* A signalling client. */
typedef struct
{
  SoupSession *session;
  SoupWebsocketConnection *ws;
  GQueue messages;              /* JsonObject, received, oldest first */
  gboolean closed;
  gushort close_code;
} TestClient;

/* NULL when the router refuses the handshake; *@status: its HTTP status
 * (101 when it was accepted). */
TestClient *test_client_try_open (TestRouter * r, guint * status);
TestClient *test_client_open (TestRouter * r);
void test_client_send (TestClient * c, const gchar * json);
void test_client_send_object (TestClient * c, JsonObject * msg);
/* Waits (bounded) for the next message of @type (others before it are
 * dropped); NULL on timeout. */
JsonObject *test_client_wait (TestClient * c, const gchar * type,
    guint timeout_ms);
/* Connects with @token; returns the "connected" message or NULL. */
JsonObject *test_client_connect (TestClient * c, const gchar * token);
gboolean test_client_wait_closed (TestClient * c, guint timeout_ms);
void test_client_free (TestClient * c);

/* Runs the default main context until @done or the timeout. */
gboolean test_iterate_until (gboolean (*done) (gpointer), gpointer data,
    guint timeout_ms);

/* A JWT built by hand: @header_json and @claims_json base64url-encoded,
 * signed with HMAC-@hash over @secret (no signature when @secret is NULL;
 * @signature when given instead). */
gchar *test_handmade_jwt (const gchar * header_json, const gchar * claims_json,
    GChecksumType hash, const gchar * secret, const gchar * signature);

G_END_DECLS
