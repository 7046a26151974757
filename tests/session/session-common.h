/* What the session test files share: a router with one session, and the
 * participants' tokens. */
#pragma once

#include "participant.h"
#include "router-test-util.h"

#define SECRET "correct horse battery staple"
#define SECRET2 "rotated secret number two"
#define WRONG "not the secret at all"

typedef struct
{
  TestRouter *router;
  gchar *session_id;
} TestSession;

static TestSession *live_session;

static inline TestSession *
test_session_new (gboolean e2ee)
{
  TestSession *t = g_new0 (TestSession, 1);

  live_session = t;
  t->router = test_router_start (NULL);
  t->session_id = test_create_session (t->router, e2ee ? "e2ee=true" :
      "e2ee=false");
  return t;
}

static inline gchar *
test_session_token (TestSession * t)
{
  return test_client_token (t->session_id, "publisher", 600);
}

static inline void
test_session_free (TestSession * t)
{
  live_session = NULL;
  fail_unless_equals_int (test_router_stop (t->router), 0);
  g_free (t->session_id);
  g_free (t);
}

/* A participant of @t; the token is made here. */
#define JOIN(t, ctor, name, ...) ({ \
  gchar *_tok = test_session_token (t); \
  Participant *_p = ctor (name, (t)->router->url, _tok, ##__VA_ARGS__); \
  g_free (_tok); _p; })

static inline gchar *
connection_id_of (Participant * p)
{
  gchar *id = NULL;

  g_object_get (p->session, "connection-id", &id, NULL);
  return id;
}

/* The tcase teardown: after a failed check, what the test left running. */
static inline void
session_teardown (void)
{
  participants_teardown ();
  if (live_session) {
    test_router_stop (live_session->router);
    live_session = NULL;
  }
}
