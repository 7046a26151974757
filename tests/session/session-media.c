/* otcsession/otcsink/otcsrc through a real otc-router: media, end-to-end
 * encrypted or not, byte-exact at the frame level. Runs in a loopback-only
 * network namespace (tests/netns-run.sh). */
#include <gst/check/gstcheck.h>
#include <gst/webrtc/webrtc.h>

#include "session-common.h"

typedef struct
{
  Participant *p;
  const gchar *stream_id;
  guint n;
} FramesWait;

static gboolean
has_frames (gpointer data)
{
  FramesWait *w = data;

  for (; w->p; w++)
    if (participant_n_received (w->p, w->stream_id) < w->n
        && participant_n_decoded (w->p, w->stream_id) < w->n)
      return FALSE;
  return TRUE;
}

static gboolean
published (gpointer data)
{
  Participant **p = data;

  for (; *p; p++) {
    gchar *id = participant_published_id (*p);

    if (id == NULL)
      return FALSE;
    g_free (id);
  }
  return TRUE;
}

/* The otcencrypt / otcdecrypt elements inside @p's session element. */
static GList *
transforms_in (Participant * p, const gchar * factory)
{
  GstIterator *it = gst_bin_iterate_recurse (GST_BIN (p->session));
  GValue v = G_VALUE_INIT;
  GList *found = NULL;

  while (gst_iterator_next (it, &v) == GST_ITERATOR_OK) {
    GstElement *e = g_value_get_object (&v);
    GstElementFactory *f = gst_element_get_factory (e);

    if (f && g_str_equal (GST_OBJECT_NAME (f), factory))
      found = g_list_prepend (found, gst_object_ref (e));
    g_value_reset (&v);
  }
  g_value_unset (&v);
  gst_iterator_free (it);
  return found;
}

static gboolean
has_two_decryptors (gpointer data)
{
  GList *l = transforms_in (data, "otcdecrypt");
  guint n = g_list_length (l);

  g_list_free_full (l, gst_object_unref);
  return n >= 2;
}

static guint64
key_id_of (Participant * p)
{
  GList *l = transforms_in (p, "otcencrypt");
  guint64 kid = 0;

  fail_unless_equals_int (g_list_length (l), 1);
  g_object_get (l->data, "key-id", &kid, NULL);
  g_list_free_full (l, gst_object_unref);
  return kid;
}

static gboolean
count_local_candidate (GQuark field, const GValue * value, gpointer data)
{
  GPtrArray *addresses = data;
  const GstStructure *s;
  GstWebRTCStatsType type;

  if (!GST_VALUE_HOLDS_STRUCTURE (value))
    return TRUE;
  s = gst_value_get_structure (value);
  if (gst_structure_get (s, "type", GST_TYPE_WEBRTC_STATS_TYPE, &type, NULL)
      && type == GST_WEBRTC_STATS_LOCAL_CANDIDATE)
    g_ptr_array_add (addresses, g_strdup (gst_structure_get_string (s,
                "address")));
  return TRUE;
}

/* Every local ICE candidate of @p's webrtcbins is on 127.0.0.1, even with
 * another address on an interface (OTC_NETNS_EXTRA_ADDRESS). */
static void
check_ice_on_loopback (Participant * p)
{
  GstIterator *it = gst_bin_iterate_recurse (GST_BIN (p->session));
  GValue v = G_VALUE_INIT;
  GPtrArray *addresses = g_ptr_array_new_with_free_func (g_free);
  guint i;

  while (gst_iterator_next (it, &v) == GST_ITERATOR_OK) {
    GstElement *e = g_value_get_object (&v);
    GstElementFactory *f = gst_element_get_factory (e);

    if (f && g_str_equal (GST_OBJECT_NAME (f), "webrtcbin")) {
      GstPromise *promise = gst_promise_new ();

      g_signal_emit_by_name (e, "get-stats", NULL, promise);
      fail_unless_equals_int (gst_promise_wait (promise),
          GST_PROMISE_RESULT_REPLIED);
      gst_structure_foreach (gst_promise_get_reply (promise),
          count_local_candidate, addresses);
      gst_promise_unref (promise);
    }
    g_value_reset (&v);
  }
  g_value_unset (&v);
  gst_iterator_free (it);
  fail_unless (addresses->len > 0, "%s: no local candidate", p->name);
  for (i = 0; i < addresses->len; i++)
    fail_unless_equals_string (g_ptr_array_index (addresses, i), "127.0.0.1");
  g_printerr ("%s: %u local candidates, all on 127.0.0.1 (extra address: %s)\n",
      p->name, addresses->len, g_getenv ("OTC_NETNS_EXTRA_ADDRESS"));
  g_ptr_array_unref (addresses);
}

/* alice (otcsink) and carol (otcsession) publish; bob (otcsrc) and carol
 * receive the decrypted VP8 frames, dave (otcsrc) decodes. */
GST_START_TEST (test_e2ee_four_participants)
{
  TestSession *t = test_session_new (TRUE);
  Participant *alice = JOIN (t, participant_new_publisher, "alice", "otcsink",
      SECRET);
  Participant *carol = JOIN (t, participant_new_both, "carol", SECRET);
  Participant *bob = JOIN (t, participant_new_subscriber, "bob", SECRET,
      TRUE);
  Participant *dave = JOIN (t, participant_new_subscriber, "dave", SECRET,
      FALSE);
  Participant *pubs[] = { alice, carol, NULL };
  Participant *all[] = { alice, carol, bob, dave };
  gchar *a_id, *c_id, *a_conn;
  guint gaps, i, n;

  for (i = 0; i < G_N_ELEMENTS (all); i++)
    fail_unless (participant_start (all[i]) != GST_STATE_CHANGE_FAILURE);
  fail_unless (participants_wait (published, pubs, 20000));
  a_id = participant_published_id (alice);
  c_id = participant_published_id (carol);
  {
    FramesWait w[] = { {bob, a_id, 60}, {bob, c_id, 60}, {carol, a_id, 60},
    {dave, a_id, 30}, {NULL}
    };

    fail_unless (participants_wait (has_frames, w, 30000),
        "bob %u/%u, carol %u, dave %u frames", participant_n_received (bob,
            a_id), participant_n_received (bob, c_id),
        participant_n_received (carol, a_id), participant_n_decoded (dave,
            a_id));
  }
  /* byte-identical to what the publisher's encoder produced, none lost */
  n = participant_check_frames (alice, bob, a_id, &gaps);
  fail_unless (n >= 60);
  fail_unless_equals_int (gaps, 0);
  n = participant_check_frames (carol, bob, c_id, &gaps);
  fail_unless (n >= 60);
  fail_unless_equals_int (gaps, 0);
  n = participant_check_frames (alice, carol, a_id, &gaps);
  fail_unless (n >= 60);
  fail_unless_equals_int (gaps, 0);
  check_ice_on_loopback (alice);
  check_ice_on_loopback (bob);
  /* carol does not subscribe to herself */
  fail_unless_equals_int (participant_n_received (carol, c_id), 0);

  /* E2EE was on, with a key id per publisher unique in the session */
  fail_unless (key_id_of (alice) != 0);
  fail_unless (key_id_of (alice) != key_id_of (carol));
  fail_unless (transforms_in (bob, "otcencrypt") == NULL);
  a_conn = connection_id_of (alice);
  fail_unless_equals_int (participant_count (bob, "otc-stream-created",
          "stream-id", a_id), 1);
  fail_unless_equals_int (participant_count (bob, "otc-stream-created",
          "connection-id", a_conn), 1);
  for (i = 0; i < G_N_ELEMENTS (all); i++) {
    fail_unless_equals_int (participant_count (all[i],
            "otc-encryption-secret-mismatch", NULL, NULL), 0);
    fail_unless_equals_int (participant_count (all[i], "error", NULL, NULL),
        0);
    fail_unless_equals_int (participant_count (all[i],
            "otc-session-connected", "cipher-suite",
            "aes-256-ctr-hmac-sha512-80"), 1);
  }
  GST_INFO ("bob got %u frames from alice", participant_n_received (bob,
          a_id));
  g_free (a_conn);
  g_free (a_id);
  g_free (c_id);
  for (i = 0; i < G_N_ELEMENTS (all); i++)
    participant_free (all[i]);
  test_session_free (t);
}

GST_END_TEST;

/* A session without E2EE: no secret anywhere, no transform inserted. */
GST_START_TEST (test_non_e2ee_session)
{
  TestSession *t = test_session_new (FALSE);
  Participant *alice = JOIN (t, participant_new_publisher, "alice", "otcsink",
      NULL);
  Participant *bob = JOIN (t, participant_new_subscriber, "bob", NULL, TRUE);
  Participant *pubs[] = { alice, NULL };
  gchar *a_id;
  guint gaps;
  gboolean e2ee = TRUE;

  fail_unless (participant_start (alice) != GST_STATE_CHANGE_FAILURE);
  fail_unless (participant_start (bob) != GST_STATE_CHANGE_FAILURE);
  fail_unless (participants_wait (published, pubs, 20000));
  a_id = participant_published_id (alice);
  {
    FramesWait w[] = { {bob, a_id, 30}, {NULL} };

    fail_unless (participants_wait (has_frames, w, 30000));
  }
  fail_unless (participant_check_frames (alice, bob, a_id, &gaps) >= 30);
  fail_unless_equals_int (gaps, 0);
  fail_unless (transforms_in (alice, "otcencrypt") == NULL);
  fail_unless (transforms_in (bob, "otcdecrypt") == NULL);
  g_object_get (bob->session, "e2ee", &e2ee, NULL);
  fail_if (e2ee);
  fail_unless_equals_int (participant_count (bob, "otc-session-connected",
          NULL, NULL), 1);
  g_free (a_id);
  participant_free (bob);
  participant_free (alice);
  test_session_free (t);
}

GST_END_TEST;

static gboolean
decoded_both (gpointer data)
{
  Participant *bob = data;
  GstStructure *s = participant_last (bob, "otc-stream-subscribed");
  gboolean done = FALSE;

  if (s) {
    const gchar *id = gst_structure_get_string (s, "stream-id");
    gchar *audio = g_strconcat ("audio_", id, NULL);
    GstPad *pad = gst_element_get_static_pad (bob->session, audio);

    /* video counted per stream; audio flows through its own pad */
    done = participant_n_decoded (bob, id) >= 30 && pad != NULL;
    g_clear_object (&pad);
    g_free (audio);
    gst_structure_free (s);
  }
  return done;
}

/* Raw video and audio in, encoded and encrypted inside otcsink; decoded
 * video and audio out of otcsrc. */
GST_START_TEST (test_raw_in_decoded_out)
{
  TestSession *t = test_session_new (TRUE);
  Participant *alice = JOIN (t, participant_new_raw_publisher, "alice",
      SECRET);
  Participant *bob = JOIN (t, participant_new_subscriber, "bob", SECRET,
      FALSE);
  GstStructure *s;
  gboolean audio = FALSE, video = FALSE;

  fail_unless (participant_start (alice) != GST_STATE_CHANGE_FAILURE);
  fail_unless (participant_start (bob) != GST_STATE_CHANGE_FAILURE);
  fail_unless (participants_wait (decoded_both, bob, 30000));
  s = participant_last (bob, "otc-stream-created");
  fail_unless (s != NULL);
  gst_structure_get_boolean (s, "has-audio", &audio);
  gst_structure_get_boolean (s, "has-video", &video);
  fail_unless (audio && video);
  gst_structure_free (s);
  {
    GList *l = transforms_in (alice, "otcencrypt");

    fail_unless_equals_int (g_list_length (l), 2);     /* video and audio */
    g_list_free_full (l, gst_object_unref);
    /* the audio pad exists before its media: its chain (and decryptor)
     * is built when the first audio packet comes */
    fail_unless (participants_wait (has_two_decryptors, bob, 10000));
    l = transforms_in (bob, "otcdecrypt");
    fail_unless_equals_int (g_list_length (l), 2);
    g_list_free_full (l, gst_object_unref);
  }
  fail_unless_equals_int (participant_count (bob,
          "otc-encryption-secret-mismatch", NULL, NULL), 0);
  participant_free (bob);
  participant_free (alice);
  test_session_free (t);
}

GST_END_TEST;

static Suite *
session_media_suite (void)
{
  Suite *s = suite_create ("session_media");
  TCase *tc = tcase_create ("media");

  tcase_set_timeout (tc, 120);
  tcase_add_checked_fixture (tc, NULL, session_teardown);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_e2ee_four_participants);
  tcase_add_test (tc, test_non_e2ee_session);
  tcase_add_test (tc, test_raw_in_decoded_out);
  return s;
}

GST_CHECK_MAIN (session_media);
