/* The E2EE behaviour of the session elements through a real otc-router:
 * missing and invalid secrets, mismatch and match (either side changing
 * its secret), and secret rotation without loss. Runs in a loopback-only
 * network namespace. */
#include <gst/check/gstcheck.h>

#include "session-common.h"

typedef struct
{
  Participant *p;
  const gchar *name;
  guint n;
} CountWait;

static gboolean
has_count (gpointer data)
{
  CountWait *w = data;

  return participant_count (w->p, w->name, NULL, NULL) >= w->n;
}

static void
wait_count (Participant * p, const gchar * name, guint n, guint timeout_ms)
{
  CountWait w = { p, name, n };

  fail_unless (participants_wait (has_count, &w, timeout_ms),
      "%s: %u of %u %s", p->name, participant_count (p, name, NULL, NULL), n,
      name);
}

static gboolean
has_id (gpointer data)
{
  gchar *id = participant_published_id (data);

  g_free (id);
  return id != NULL;
}

static gchar *
wait_published (Participant * p)
{
  fail_unless (participants_wait (has_id, p, 20000));
  return participant_published_id (p);
}

typedef struct
{
  Participant *p;
  const gchar *id;
  guint n;
} FramesWait;

static gboolean
has_frames (gpointer data)
{
  FramesWait *w = data;

  return participant_n_received (w->p, w->id) >= w->n;
}

static void
wait_frames (Participant * p, const gchar * id, guint n, guint timeout_ms)
{
  FramesWait w = { p, id, n };

  fail_unless (participants_wait (has_frames, &w, timeout_ms),
      "%s: %u of %u frames", p->name, participant_n_received (p, id), n);
}

static guint
n_sent (Participant * p)
{
  guint n;

  g_mutex_lock (&p->lock);
  n = p->sent->len;
  g_mutex_unlock (&p->lock);
  return n;
}

static gboolean
has_sent (gpointer data)
{
  FramesWait *w = data;

  return n_sent (w->p) >= w->n;
}

/* Lets @p's encoder produce @n more frames (time passing, measured by the
 * media itself). */
static void
wait_sent_more (Participant * p, guint n)
{
  FramesWait w = { p, NULL, n_sent (p) + n };

  fail_unless (participants_wait (has_sent, &w, 10000));
}

static gboolean
has_webrtcbin (Participant * p)
{
  GstIterator *it = gst_bin_iterate_recurse (GST_BIN (p->session));
  GValue v = G_VALUE_INIT;
  gboolean found = FALSE;

  while (gst_iterator_next (it, &v) == GST_ITERATOR_OK) {
    GstElementFactory *f = gst_element_get_factory (g_value_get_object (&v));

    found |= f && g_str_equal (GST_OBJECT_NAME (f), "webrtcbin");
    g_value_reset (&v);
  }
  g_value_unset (&v);
  gst_iterator_free (it);
  return found;
}

static gint
code_of_last (Participant * p, const gchar * name)
{
  GstStructure *s = participant_last (p, name);
  gint code = -1;

  fail_unless (s != NULL, "%s: no %s", p->name, name);
  gst_structure_get_int (s, "code", &code);
  gst_structure_free (s);
  return code;
}

/* Joining an E2EE session without a secret, or with an invalid one, fails
 * at once with 6000 / 6004, and nothing is published or subscribed. */
GST_START_TEST (test_join_without_valid_secret)
{
  TestSession *t = test_session_new (TRUE);
  Participant *pub = JOIN (t, participant_new_publisher, "pub", "otcsink",
      NULL);
  Participant *sub = JOIN (t, participant_new_subscriber, "sub", NULL, TRUE);
  Participant *bad = JOIN (t, participant_new_subscriber, "bad", "7chars!",
      TRUE);

  fail_unless_equals_int (participant_start (pub), GST_STATE_CHANGE_FAILURE);
  fail_unless_equals_int (code_of_last (pub, "otc-encryption-secret-missing"),
      6000);
  fail_unless_equals_int (participant_count (pub, "error", NULL, NULL), 1);
  fail_unless (participant_published_id (pub) == NULL);
  fail_if (has_webrtcbin (pub));

  fail_unless_equals_int (participant_start (sub), GST_STATE_CHANGE_FAILURE);
  fail_unless_equals_int (code_of_last (sub, "otc-encryption-secret-missing"),
      6000);
  fail_if (has_webrtcbin (sub));

  fail_unless_equals_int (participant_start (bad), GST_STATE_CHANGE_FAILURE);
  fail_unless_equals_int (code_of_last (bad, "otc-invalid-encryption-secret"),
      6004);
  fail_unless_equals_int (participant_count (bad,
          "otc-encryption-secret-missing", NULL, NULL), 0);
  fail_if (has_webrtcbin (bad));

  participant_free (bad);
  participant_free (sub);
  participant_free (pub);
  test_session_free (t);
}

GST_END_TEST;

/* With the secret removed while connected: a new remote stream is not
 * subscribed and a new publisher is refused, each with 6000 naming it. */
GST_START_TEST (test_publish_subscribe_without_secret)
{
  TestSession *t = test_session_new (TRUE);
  gchar *tok = test_session_token (t);
  Participant *carol = participant_new_both ("carol", t->router->url, tok,
      SECRET);
  Participant *alice = JOIN (t, participant_new_publisher, "alice", "otcsink",
      SECRET);
  GstElement *src;
  GstPad *pad, *srcpad;
  gchar *a_id, *a_conn;
  GstStructure *s;

  g_free (tok);
  fail_unless (participant_start (carol) != GST_STATE_CHANGE_FAILURE);
  g_free (wait_published (carol));
  g_object_set (carol->session, "encryption-secret", NULL, NULL);
  /* a stream that appears now: not subscribed */
  fail_unless (participant_start (alice) != GST_STATE_CHANGE_FAILURE);
  a_id = wait_published (alice);
  a_conn = connection_id_of (alice);
  wait_count (carol, "otc-encryption-secret-missing", 1, 10000);
  s = participant_last (carol, "otc-encryption-secret-missing");
  fail_unless_equals_string (gst_structure_get_string (s, "stream-id"), a_id);
  fail_unless_equals_string (gst_structure_get_string (s, "connection-id"),
      a_conn);
  gst_structure_free (s);
  fail_unless_equals_int (participant_count (carol, "otc-stream-subscribed",
          NULL, NULL), 0);

  /* a stream carol starts publishing now: refused */
  src = gst_element_factory_make ("videotestsrc", NULL);
  g_object_set (src, "is-live", TRUE, NULL);
  gst_bin_add (GST_BIN (GST_OBJECT_PARENT (carol->session)), src);
  pad = gst_element_request_pad_simple (carol->session, "video_%u");
  fail_unless (pad != NULL);
  srcpad = gst_element_get_static_pad (src, "src");
  fail_unless_equals_int (gst_pad_link (srcpad, pad), GST_PAD_LINK_OK);
  gst_object_unref (srcpad);
  gst_element_sync_state_with_parent (src);
  wait_count (carol, "otc-encryption-secret-missing", 2, 10000);
  fail_unless_equals_int (participant_count (carol, "otc-stream-published",
          NULL, NULL), 1);      /* only the first, from before */
  fail_unless_equals_int (participant_count (carol, "error", NULL, NULL), 0);
  gst_object_unref (pad);
  g_free (a_id);
  g_free (a_conn);
  participant_free (alice);
  participant_free (carol);
  test_session_free (t);
}

GST_END_TEST;

static gboolean
has_frame_after (gpointer data)
{
  FramesWait *w = data;
  gboolean after;

  g_mutex_lock (&w->p->lock);
  after = w->p->last_frame_us > (gint64) w->n;
  g_mutex_unlock (&w->p->lock);
  return after;
}

/* ms from @since (monotonic µs) until @p receives a frame. */
static gint64
wait_first_frame (Participant * p, gint64 since)
{
  FramesWait w = { p, NULL, 0 };       /* any frame after the reset */

  g_mutex_lock (&p->lock);
  p->last_frame_us = 0;
  g_mutex_unlock (&p->lock);
  fail_unless (participants_wait (has_frame_after, &w, 10000),
      "%s: no frame", p->name);
  return (p->last_frame_us - since) / 1000;
}

/* A subscriber with another secret: one mismatch naming the stream, no
 * output; its secret fixed: one match, frames again; then the publisher
 * changes its secret: mismatch, and back: match. */
GST_START_TEST (test_mismatch_then_match)
{
  TestSession *t = test_session_new (TRUE);
  Participant *alice = JOIN (t, participant_new_publisher, "alice", "otcsink",
      SECRET);
  Participant *bob = JOIN (t, participant_new_subscriber, "bob", WRONG, TRUE);
  gchar *a_id, *a_conn;
  GstStructure *s;
  gboolean ok = FALSE;
  gint64 t0, ms;
  guint gaps, n;

  fail_unless (participant_start (alice) != GST_STATE_CHANGE_FAILURE);
  fail_unless (participant_start (bob) != GST_STATE_CHANGE_FAILURE);
  a_id = wait_published (alice);
  a_conn = connection_id_of (alice);
  wait_count (bob, "otc-encryption-secret-mismatch", 1, 15000);
  s = participant_last (bob, "otc-encryption-secret-mismatch");
  fail_unless_equals_string (gst_structure_get_string (s, "stream-id"), a_id);
  fail_unless_equals_string (gst_structure_get_string (s, "connection-id"),
      a_conn);
  fail_unless_equals_string (gst_structure_get_string (s, "media"), "video");
  fail_unless (gst_structure_has_field (s, "key-id"));
  gst_structure_free (s);
  /* frames keep failing for a while: still one report, nothing out */
  wait_sent_more (alice, 30);
  fail_unless_equals_int (participant_count (bob,
          "otc-encryption-secret-mismatch", NULL, NULL), 1);
  fail_unless_equals_int (participant_n_received (bob, a_id), 0);

  /* an invalid secret is refused and changes nothing */
  g_signal_emit_by_name (bob->session, "set-encryption-secret", "short", &ok);
  fail_if (ok);
  fail_unless_equals_int (code_of_last (bob, "otc-invalid-encryption-secret"),
      6004);

  t0 = g_get_monotonic_time ();
  g_signal_emit_by_name (bob->session, "set-encryption-secret", SECRET, &ok);
  fail_unless (ok);
  ms = wait_first_frame (bob, t0);
  GST_INFO ("picture back %" G_GINT64_FORMAT " ms after the secret was fixed",
      ms);
  g_printerr ("subscriber fixed its secret: first frame after %"
      G_GINT64_FORMAT " ms\n", ms);
  wait_count (bob, "otc-encryption-secret-match", 1, 5000);
  wait_frames (bob, a_id, 30, 10000);
  fail_unless_equals_int (participant_count (bob,
          "otc-encryption-secret-match", NULL, NULL), 1);
  fail_unless_equals_int (participant_count (bob,
          "otc-encryption-secret-mismatch", NULL, NULL), 1);
  /* the first frame out is a key frame, then every frame */
  n = participant_check_frames (alice, bob, a_id, &gaps);
  fail_unless (n >= 30);
  fail_unless_equals_int (gaps, 0);
  {
    GPtrArray *got;
    guint8 tag = 1;

    g_mutex_lock (&bob->lock);
    got = g_hash_table_lookup (bob->received, a_id);
    gst_buffer_extract (g_ptr_array_index (got, 0), 0, &tag, 1);
    g_mutex_unlock (&bob->lock);
    fail_unless_equals_int (tag & 1, 0);
  }

  /* now the publisher changes: bob mismatches, then matches again */
  g_signal_emit_by_name (alice->session, "set-encryption-secret", SECRET2,
      &ok);
  fail_unless (ok);
  wait_count (bob, "otc-encryption-secret-mismatch", 2, 15000);
  n = participant_n_received (bob, a_id);
  wait_sent_more (alice, 15);
  fail_unless_equals_int (participant_n_received (bob, a_id), n);
  t0 = g_get_monotonic_time ();
  g_signal_emit_by_name (alice->session, "set-encryption-secret", SECRET,
      &ok);
  fail_unless (ok);
  ms = wait_first_frame (bob, t0);
  g_printerr ("publisher fixed its secret: first frame after %"
      G_GINT64_FORMAT " ms\n", ms);
  wait_count (bob, "otc-encryption-secret-match", 2, 5000);
  fail_unless_equals_int (participant_count (bob,
          "otc-encryption-secret-match", NULL, NULL), 2);
  fail_unless_equals_int (participant_count (bob,
          "otc-encryption-secret-mismatch", NULL, NULL), 2);
  fail_unless_equals_int (participant_count (bob, "error", NULL, NULL), 0);
  g_free (a_id);
  g_free (a_conn);
  participant_free (bob);
  participant_free (alice);
  test_session_free (t);
}

GST_END_TEST;

/* Everyone moves to a new secret, a subscriber first and another 1.5 s
 * after the publisher: no mismatch, no frame lost. */
GST_START_TEST (test_secret_rotation)
{
  TestSession *t = test_session_new (TRUE);
  Participant *alice = JOIN (t, participant_new_publisher, "alice", "otcsink",
      SECRET);
  Participant *bob = JOIN (t, participant_new_subscriber, "bob", SECRET,
      TRUE);
  Participant *carol = JOIN (t, participant_new_subscriber, "carol", SECRET,
      TRUE);
  Participant *subs[] = { bob, carol };
  gchar *a_id;
  gboolean ok;
  guint i, before[2], gaps, n;

  fail_unless (participant_start (alice) != GST_STATE_CHANGE_FAILURE);
  fail_unless (participant_start (bob) != GST_STATE_CHANGE_FAILURE);
  fail_unless (participant_start (carol) != GST_STATE_CHANGE_FAILURE);
  a_id = wait_published (alice);
  wait_frames (bob, a_id, 30, 20000);
  wait_frames (carol, a_id, 30, 20000);
  for (i = 0; i < 2; i++)
    before[i] = participant_n_received (subs[i], a_id);

  g_signal_emit_by_name (bob->session, "set-encryption-secret", SECRET2, &ok);
  wait_sent_more (alice, 15);   /* 0.5 s */
  g_signal_emit_by_name (alice->session, "set-encryption-secret", SECRET2,
      &ok);
  wait_sent_more (alice, 45);   /* 1.5 s */
  g_signal_emit_by_name (carol->session, "set-encryption-secret", SECRET2,
      &ok);
  wait_sent_more (alice, 30);
  for (i = 0; i < 2; i++) {
    wait_frames (subs[i], a_id, before[i] + 90, 10000);
    n = participant_check_frames (alice, subs[i], a_id, &gaps);
    fail_unless_equals_int (gaps, 0);
    fail_unless (n >= before[i] + 90);
    fail_unless_equals_int (participant_count (subs[i],
            "otc-encryption-secret-mismatch", NULL, NULL), 0);
    fail_unless_equals_int (participant_count (subs[i], "error", NULL, NULL),
        0);
  }
  g_free (a_id);
  participant_free (carol);
  participant_free (bob);
  participant_free (alice);
  test_session_free (t);
}

GST_END_TEST;

static Suite *
session_secrets_suite (void)
{
  Suite *s = suite_create ("session_secrets");
  TCase *tc = tcase_create ("secrets");

  tcase_set_timeout (tc, 120);
  tcase_add_checked_fixture (tc, NULL, session_teardown);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_join_without_valid_secret);
  tcase_add_test (tc, test_publish_subscribe_without_secret);
  tcase_add_test (tc, test_mismatch_then_match);
  tcase_add_test (tc, test_secret_rotation);
  return s;
}

GST_CHECK_MAIN (session_secrets);
