/* otc-session-demo: an end-to-end encrypted session through otc-router, on
 * 127.0.0.1, with three participants in one process:
 *
 *   alice  videotestsrc + audiotestsrc ! otcsink      publishes one stream
 *   bob    otcsrc ! webmmux ! filesink                right secret: records
 *                                                     the decrypted VP8/Opus
 *                                                     frames, no re-encoding
 *   carol  otcsrc ! fakesink                          wrong secret: mismatch;
 *                                                     given the right one
 *                                                     3 s later: match, and
 *                                                     the picture is back
 *
 * The demo starts otc-router itself (generated API key and secret, the
 * secret through a 0600 file), creates an E2EE session through the REST
 * API, gets a token per participant with `otc-router token`, prints a
 * timeline of what the elements report, reads the recording back, and
 * stops the router with SIGTERM. Secrets and tokens go to the elements as
 * properties and are never printed. Exit status 0 when everything happened
 * as it should.
 *
 * otc-router: $OTC_ROUTER, else the one built next to this program. The
 * plugins: GST_PLUGIN_PATH=build/ext (scripts/demo.sh sets it). */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <gst/pbutils/pbutils.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#ifndef OTC_ROUTER_PATH
#define OTC_ROUTER_PATH "otc-router"
#endif

#define FIX_AFTER_MISMATCH_MS 3000      /* carol gets the right secret */
#define CAROL_MISMATCH_DELAY_MS 1000    /* her otcdecrypt reports sooner */
#define PUBLISH_TIMEOUT_S 10
#define SUBSCRIBE_TIMEOUT_S 5   /* after alice published */
#define MISMATCH_TIMEOUT_S 10
#define MATCH_TIMEOUT_S 10
#define RECORD_AFTER_MATCH_MS 2000
#define EOS_TIMEOUT_S 5
#define ROUTER_STOP_TIMEOUT_S 5
#define DEADLINE_S 40           /* the demo as a whole (orderly failure) */
#define HARD_LIMIT_S 60         /* SIGALRM: never hangs, whatever happens */

typedef enum
{
  ALICE, BOB, CAROL, N_PARTICIPANTS
} Who;

static const gchar *names[N_PARTICIPANTS] = { "alice", "bob", "carol" };

typedef struct _Demo Demo;

typedef struct
{
  Demo *demo;
  Who who;
  GstElement *pipeline;
  GstElement *session;          /* otcsink / otcsrc */
  gchar *token;
  gchar *connection_id;
  gchar *subscribed;            /* stream id */
  /* bob */
  GstPad *mux_pad[2];           /* video, audio: requested up front */
  gboolean eos;
  /* carol */
  guint mismatches, matches;
  gboolean match_video, match_audio;

  /* streaming threads (lock) */
  guint64 frames[2];            /* video, audio: decoded, or recorded */
  guint64 frames_before_fix;
  gint64 first_frame_after_fix;
} Participant;

struct _Demo
{
  GMainLoop *loop;
  gint64 start;
  GMutex lock;
  gchar *dir;
  gchar *output;
  gboolean keep_router_log;
  const gchar *router_path;
  gchar *api_key;
  gchar *api_secret_file;
  gchar *router_log;
  GSubprocess *router;
  gchar *url;
  gchar *session_id;
  gchar *right_secret, *wrong_secret;
  Participant p[N_PARTICIPANTS];

  gchar *alice_stream;
  gboolean carol_fixed;
  gint64 fix_time;
  gboolean carol_done;
  gboolean stopping;
  gboolean failed;
  guint deadline_id;
};

/* --- output -------------------------------------------------------------- */

/* *INDENT-OFF* */
static void say (Demo * d, const gchar * who, const gchar * fmt, ...)
    G_GNUC_PRINTF (3, 4);
/* *INDENT-ON* */

static void
say (Demo * d, const gchar * who, const gchar * fmt, ...)
{
  va_list args;
  gchar *text;

  va_start (args, fmt);
  text = g_strdup_vprintf (fmt, args);
  va_end (args);
  g_print ("[%5.2f s] %-6s %s\n", (g_get_monotonic_time () - d->start) / 1e6,
      who, text);
  g_free (text);
}

static void finish (Demo * d);

/* *INDENT-OFF* */
static void fail (Demo * d, const gchar * fmt, ...)
    G_GNUC_PRINTF (2, 3);
/* *INDENT-ON* */

static void
fail (Demo * d, const gchar * fmt, ...)
{
  va_list args;
  gchar *text;

  va_start (args, fmt);
  text = g_strdup_vprintf (fmt, args);
  va_end (args);
  say (d, "FAILED", "%s", text);
  g_free (text);
  d->failed = TRUE;
  finish (d);
}

/* --- secrets ------------------------------------------------------------- */

static gchar *
random_string (gsize n_bytes)
{
  guint8 bytes[64];
  gchar *s;
  gsize i;

  g_assert (n_bytes <= sizeof (bytes));
  for (i = 0; i < n_bytes;) {
    gssize n = getrandom (bytes + i, n_bytes - i, 0);

    if (n < 0 && errno != EINTR)
      g_error ("getrandom: %s", g_strerror (errno));
    if (n > 0)
      i += n;
  }
  s = g_base64_encode (bytes, n_bytes);
  explicit_bzero (bytes, sizeof (bytes));
  /* letters and digits only: usable as an API key too */
  for (i = 0; s[i]; i++)
    if (!g_ascii_isalnum (s[i]))
      s[i] = 'x';
  return s;
}

static void
wipe (gchar ** s)
{
  if (*s) {
    explicit_bzero (*s, strlen (*s));
    g_clear_pointer (s, g_free);
  }
}

/* --- the router ---------------------------------------------------------- */

static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

/* Runs `otc-router ARGS...` with the demo's credentials; its output,
 * stripped (a token: never printed). */
static gchar *
router_command (Demo * d, const gchar * first, ...)
{
  GPtrArray *argv = g_ptr_array_new ();
  GSubprocess *proc;
  GError *error = NULL;
  gchar *out = NULL;
  const gchar *arg;
  va_list args;

  g_ptr_array_add (argv, (gpointer) d->router_path);
  va_start (args, first);
  arg = first;
  while (arg) {
    g_ptr_array_add (argv, (gpointer) arg);
    arg = va_arg (args, const gchar *);
  }
  va_end (args);
  g_ptr_array_add (argv, (gpointer) "--api-key");
  g_ptr_array_add (argv, d->api_key);
  g_ptr_array_add (argv, (gpointer) "--api-secret-file");
  g_ptr_array_add (argv, d->api_secret_file);
  g_ptr_array_add (argv, NULL);

  proc = g_subprocess_newv ((const gchar * const *) argv->pdata,
      G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error);
  g_ptr_array_unref (argv);
  if (proc && g_subprocess_communicate_utf8 (proc, NULL, NULL, &out, NULL,
          &error) && !g_subprocess_get_successful (proc)) {
    g_set_error (&error, G_IO_ERROR, G_IO_ERROR_FAILED,
        "otc-router %s failed", first);
    wipe (&out);
  }
  g_clear_object (&proc);
  if (error) {
    say (d, "demo", "%s", error->message);
    g_error_free (error);
    wipe (&out);
    return NULL;
  }
  return g_strstrip (out);
}

static gboolean
start_router (Demo * d)
{
  GSubprocessLauncher *launcher;
  GDataInputStream *lines;
  GFileOutputStream *devnull;
  GFile *null_file;
  GError *error = NULL;
  gchar *api_secret, *archives, *suffix;

  /* a generated project: key and secret; the secret only through a file */
  suffix = random_string (6);
  d->api_key = g_strconcat ("demo", suffix, NULL);
  g_free (suffix);
  api_secret = random_string (32);
  d->api_secret_file = g_build_filename (d->dir, "api-secret", NULL);
  if (!g_file_set_contents_full (d->api_secret_file, api_secret, -1,
          G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error)) {
    say (d, "demo", "%s", error->message);
    g_error_free (error);
    wipe (&api_secret);
    return FALSE;
  }
  wipe (&api_secret);
  archives = g_build_filename (d->dir, "archives", NULL);
  d->router_log = g_build_filename (d->dir, "router.log", NULL);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_subprocess_launcher_set_stderr_file_path (launcher, d->router_log);
  g_subprocess_launcher_setenv (launcher, "OTC_ROUTER_STATE_DIR", d->dir, TRUE);
  /* the router goes when the demo goes, whatever ends it */
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  d->router = g_subprocess_launcher_spawn (launcher, &error, d->router_path,
      "--bind", "127.0.0.1", "--port", "0", "--api-key", d->api_key,
      "--api-secret-file", d->api_secret_file, "--archive-dir", archives, NULL);
  g_object_unref (launcher);
  g_free (archives);
  if (d->router == NULL) {
    say (d, "demo", "cannot start %s: %s", d->router_path, error->message);
    g_error_free (error);
    return FALSE;
  }

  /* its first line is the URL */
  lines = g_data_input_stream_new (g_subprocess_get_stdout_pipe (d->router));
  d->url = g_data_input_stream_read_line_utf8 (lines, NULL, NULL, NULL);
  /* the rest of its standard output is not needed, but must not block it */
  null_file = g_file_new_for_path ("/dev/null");
  devnull = g_file_append_to (null_file, G_FILE_CREATE_NONE, NULL, NULL);
  if (devnull) {
    g_output_stream_splice_async (G_OUTPUT_STREAM (devnull),
        G_INPUT_STREAM (lines), G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET,
        G_PRIORITY_DEFAULT, NULL, NULL, NULL);
    g_object_unref (devnull);
  }
  g_object_unref (null_file);
  g_object_unref (lines);
  if (d->url == NULL || !g_str_has_prefix (d->url, "http://127.0.0.1:")) {
    say (d, "router", "did not start (see %s)", d->router_log);
    d->keep_router_log = TRUE;
    return FALSE;
  }
  say (d, "router", "up at %s (otc-router, pid %s)", d->url,
      g_subprocess_get_identifier (d->router));
  return TRUE;
}

static gboolean
stop_router (Demo * d)
{
  gint64 until = g_get_monotonic_time () + ROUTER_STOP_TIMEOUT_S *
      G_USEC_PER_SEC;
  gint status;

  if (d->router == NULL || g_subprocess_get_identifier (d->router) == NULL)
    return d->router != NULL;
  g_subprocess_send_signal (d->router, SIGTERM);
  /* GLib reaps the child on its worker thread */
  while (g_subprocess_get_identifier (d->router) != NULL
      && g_get_monotonic_time () < until)
    g_usleep (10000);
  if (g_subprocess_get_identifier (d->router) != NULL) {
    g_subprocess_force_exit (d->router);
    say (d, "router", "did not stop on SIGTERM within %d s: killed",
        ROUTER_STOP_TIMEOUT_S);
    return FALSE;
  }
  g_subprocess_wait (d->router, NULL, NULL);
  if (g_subprocess_get_if_exited (d->router)) {
    status = g_subprocess_get_exit_status (d->router);
    say (d, "router", "stopped (SIGTERM; exit status %d)", status);
    return status == 0;
  }
  say (d, "router", "ended by signal %d", g_subprocess_get_term_sig
      (d->router));
  return FALSE;
}

/* POST URL/session/create e2ee=true with a project JWT. */
static gboolean
create_session (Demo * d)
{
  SoupSession *http;
  SoupMessage *msg;
  GBytes *reply;
  JsonParser *parser;
  JsonNode *root;
  JsonObject *o = NULL;
  GError *error = NULL;
  GBytes *body;
  gchar *jwt, *uri;
  guint status;
  gboolean ok = FALSE;

  jwt = router_command (d, "project-token", NULL);
  if (jwt == NULL)
    return FALSE;
  /* no proxy: the router is on 127.0.0.1 */
  http = soup_session_new_with_options ("timeout", 10, "proxy-resolver", NULL,
      NULL);
  uri = g_strconcat (d->url, "/session/create", NULL);
  msg = soup_message_new ("POST", uri);
  soup_message_headers_append (soup_message_get_request_headers (msg),
      "X-OPENTOK-AUTH", jwt);
  body = g_bytes_new_static ("e2ee=true", 9);
  soup_message_set_request_body_from_bytes (msg,
      "application/x-www-form-urlencoded", body);
  g_bytes_unref (body);
  reply = soup_session_send_and_read (http, msg, NULL, &error);
  status = soup_message_get_status (msg);
  wipe (&jwt);
  g_free (uri);

  parser = json_parser_new ();
  if (reply && status == 200 && json_parser_load_from_data (parser,
          g_bytes_get_data (reply, NULL), g_bytes_get_size (reply), NULL)) {
    root = json_parser_get_root (parser);
    if (JSON_NODE_HOLDS_ARRAY (root)
        && json_array_get_length (json_node_get_array (root)) > 0)
      o = json_array_get_object_element (json_node_get_array (root), 0);
  }
  if (o && json_object_has_member (o, "session_id")) {
    d->session_id = g_strdup (json_object_get_string_member (o, "session_id"));
    ok = json_object_get_boolean_member_with_default (o, "e2ee", FALSE);
    say (d, "router", "session %s created via REST (POST /session/create): "
        "%s", d->session_id, ok ? "end-to-end encrypted (E2EE)" :
        "NOT end-to-end encrypted");
  } else {
    say (d, "router", "POST /session/create failed: %s",
        error ? error->message : soup_status_get_phrase (status));
  }
  g_clear_error (&error);
  g_object_unref (parser);
  if (reply)
    g_bytes_unref (reply);
  g_object_unref (msg);
  g_object_unref (http);
  return ok;
}

static gboolean
make_tokens (Demo * d)
{
  Who w;

  for (w = 0; w < N_PARTICIPANTS; w++) {
    d->p[w].token = router_command (d, "token", "--session-id",
        d->session_id, "--role", w == ALICE ? "publisher" : "subscriber", NULL);
    if (d->p[w].token == NULL)
      return FALSE;
  }
  say (d, "router", "client tokens made (otc-router token): alice "
      "publisher, bob and carol subscribers");
  return TRUE;
}

/* --- media: counting, recording ------------------------------------------ */

static gint
media_of_pad (GstPad * pad)
{
  return g_str_has_prefix (GST_PAD_NAME (pad), "video") ? 0 : 1;
}

static gboolean first_frame_in_main (gpointer user_data);

/* carol's decoded frames */
static GstPadProbeReturn
count_decoded (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  Participant *p = user_data;
  Demo *d = p->demo;
  gint m = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (pad), "media"));
  gboolean first = FALSE;

  g_mutex_lock (&d->lock);
  p->frames[m]++;
  if (m == 0) {
    if (d->fix_time == 0)
      p->frames_before_fix++;
    else if (p->first_frame_after_fix == 0) {
      p->first_frame_after_fix = g_get_monotonic_time ();
      first = TRUE;
    }
  }
  g_mutex_unlock (&d->lock);
  if (first)
    g_main_context_invoke (NULL, first_frame_in_main, d);
  return GST_PAD_PROBE_OK;
}

typedef struct
{
  Demo *demo;
  gchar *what;
} FirstRecorded;

/* "video/x-vp8 640x360": what webmmux gets */
static FirstRecorded *
first_recorded_new (Demo * d, GstPad * pad)
{
  FirstRecorded *f = g_new0 (FirstRecorded, 1);
  GstCaps *caps = gst_pad_get_current_caps (pad);
  GstStructure *s = caps ? gst_caps_get_structure (caps, 0) : NULL;
  gint a = 0, b = 0;

  f->demo = d;
  if (s && gst_structure_get_int (s, "width", &a)
      && gst_structure_get_int (s, "height", &b))
    f->what = g_strdup_printf ("%s %dx%d", gst_structure_get_name (s), a, b);
  else if (s && gst_structure_get_int (s, "rate", &a))
    f->what = g_strdup_printf ("%s %d Hz", gst_structure_get_name (s), a);
  else
    f->what = g_strdup (s ? gst_structure_get_name (s) : "?");
  gst_clear_caps (&caps);
  return f;
}

static gboolean
first_recorded (gpointer user_data)
{
  FirstRecorded *f = user_data;

  if (!f->demo->stopping)
    say (f->demo, "bob", "recording: first %s frame reaches webmmux, "
        "decrypted and still encoded (no decoder, no re-encoding)", f->what);
  g_free (f->what);
  return G_SOURCE_REMOVE;
}

/* bob's recorded frames */
static GstPadProbeReturn
record_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  Participant *p = user_data;
  Demo *d = p->demo;
  gint m = media_of_pad (pad);
  gboolean first;

  g_mutex_lock (&d->lock);
  first = p->frames[m]++ == 0;
  g_mutex_unlock (&d->lock);
  if (first)
    g_main_context_invoke_full (NULL, G_PRIORITY_DEFAULT, first_recorded,
        first_recorded_new (d, pad), g_free);
  return GST_PAD_PROBE_OK;
}

/* bob's pipeline posts EOS once the filesink has it: webmmux sends it on
 * after it has rewritten the header with the duration. */
static void
recording_done (Demo * d)
{
  Participant *p = &d->p[BOB];
  guint64 video, audio;

  if (p->eos || d->stopping)
    return;
  p->eos = TRUE;
  g_mutex_lock (&d->lock);
  video = p->frames[0];
  audio = p->frames[1];
  g_mutex_unlock (&d->lock);
  say (d, "bob", "recording finalised (EOS reached the filesink): %"
      G_GUINT64_FORMAT " video and %" G_GUINT64_FORMAT " audio frames "
      "recorded", video, audio);
  finish (d);
}

static void
on_pad_added (GstElement * element, GstPad * pad, gpointer user_data)
{
  Participant *p = user_data;
  gint m = media_of_pad (pad);
  GstPadLinkReturn ret;

  if (GST_PAD_DIRECTION (pad) != GST_PAD_SRC)
    return;
  if (p->who == BOB) {
    /* webmmux takes only VP8/Opus: otcsrc then gives the decrypted encoded
     * frames, no decoder */
    if (gst_pad_is_linked (p->mux_pad[m]))
      return;
    ret = gst_pad_link (pad, p->mux_pad[m]);
    if (ret != GST_PAD_LINK_OK)
      g_printerr ("bob: cannot link %s to webmmux: %s\n", GST_PAD_NAME (pad),
          gst_pad_link_get_name (ret));
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, record_probe, p, NULL);
  } else {
    GstElement *sink = gst_element_factory_make ("fakesink", NULL);
    GstPad *sinkpad = gst_element_get_static_pad (sink, "sink");

    g_object_set (sink, "sync", FALSE, "async", FALSE, NULL);
    g_object_set_data (G_OBJECT (sinkpad), "media", GINT_TO_POINTER (m));
    gst_pad_add_probe (sinkpad, GST_PAD_PROBE_TYPE_BUFFER, count_decoded, p,
        NULL);
    gst_bin_add (GST_BIN (p->pipeline), sink);
    gst_element_sync_state_with_parent (sink);
    ret = gst_pad_link (pad, sinkpad);
    if (ret != GST_PAD_LINK_OK)
      g_printerr ("carol: cannot link %s: %s\n", GST_PAD_NAME (pad),
          gst_pad_link_get_name (ret));
    gst_object_unref (sinkpad);
  }
}

/* --- the story ----------------------------------------------------------- */

static gboolean
deadline (gpointer user_data)
{
  Demo *d = user_data;

  d->deadline_id = 0;
  fail (d, "the demo did not complete within %d s", DEADLINE_S);
  return G_SOURCE_REMOVE;
}

static const gchar *
name_of_connection (Demo * d, const gchar * connection_id)
{
  Who w;

  for (w = 0; w < N_PARTICIPANTS; w++)
    if (connection_id && g_strcmp0 (d->p[w].connection_id, connection_id) == 0)
      return names[w];
  return "someone";
}

static gboolean
published_check (gpointer user_data)
{
  Demo *d = user_data;

  if (!d->stopping && d->alice_stream == NULL)
    fail (d, "alice did not publish within %d s", PUBLISH_TIMEOUT_S);
  return G_SOURCE_REMOVE;
}

/* On a thread of GStreamer's: joining blocks until connected, and the
 * timeline goes on meanwhile. A failure to join posts an error. */
static void
start_pipeline (GstElement * pipeline, gpointer user_data)
{
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
}

static void
start_participants (Demo * d)
{
  Who w;

  for (w = 0; w < N_PARTICIPANTS; w++)
    gst_element_call_async (d->p[w].pipeline, start_pipeline, NULL, NULL);
  g_timeout_add_seconds (PUBLISH_TIMEOUT_S, published_check, d);
}

/* The router must have offered alice's stream to both by now. */
static gboolean
subscribe_check (gpointer user_data)
{
  Demo *d = user_data;

  if (d->stopping)
    return G_SOURCE_REMOVE;
  if (g_strcmp0 (d->p[BOB].subscribed, d->alice_stream) != 0)
    fail (d, "bob was not subscribed to alice's stream within %d s",
        SUBSCRIBE_TIMEOUT_S);
  else if (g_strcmp0 (d->p[CAROL].subscribed, d->alice_stream) != 0)
    fail (d, "carol was not subscribed to alice's stream within %d s",
        SUBSCRIBE_TIMEOUT_S);
  return G_SOURCE_REMOVE;
}

static gboolean
mismatch_check (gpointer user_data)
{
  Demo *d = user_data;

  if (!d->stopping && d->p[CAROL].mismatches == 0)
    fail (d, "carol reported no secret mismatch within %d s of subscribing",
        MISMATCH_TIMEOUT_S);
  return G_SOURCE_REMOVE;
}

static gboolean
match_check (gpointer user_data)
{
  Demo *d = user_data;

  if (!d->stopping && !d->carol_done)
    fail (d, "carol: no match and decoded picture within %d s of the new "
        "secret", MATCH_TIMEOUT_S);
  return G_SOURCE_REMOVE;
}

static gboolean
fix_carol (gpointer user_data)
{
  Demo *d = user_data;
  gboolean ok = FALSE;

  if (d->stopping)
    return G_SOURCE_REMOVE;
  g_mutex_lock (&d->lock);
  d->fix_time = g_get_monotonic_time ();
  g_mutex_unlock (&d->lock);
  g_signal_emit_by_name (d->p[CAROL].session, "set-encryption-secret",
      d->right_secret, &ok);
  d->carol_fixed = TRUE;
  say (d, "carol", "secret changed to the right one (action signal "
      "set-encryption-secret: %s)", ok ? "accepted" : "REFUSED");
  if (!ok)
    fail (d, "set-encryption-secret refused the secret");
  else
    g_timeout_add_seconds (MATCH_TIMEOUT_S, match_check, d);
  return G_SOURCE_REMOVE;
}

static gboolean
recording_eos_check (gpointer user_data)
{
  Demo *d = user_data;

  if (!d->p[BOB].eos && !d->failed)
    fail (d, "bob's recording got no EOS within %d s", EOS_TIMEOUT_S);
  return G_SOURCE_REMOVE;
}

static gboolean
stop_recording (gpointer user_data)
{
  Demo *d = user_data;

  if (d->failed)
    return G_SOURCE_REMOVE;
  say (d, "bob", "stops recording: EOS sent to otcsrc, which ends its "
      "streams; webmmux finalises the file");
  gst_element_send_event (d->p[BOB].session, gst_event_new_eos ());
  g_timeout_add_seconds (EOS_TIMEOUT_S, recording_eos_check, d);
  return G_SOURCE_REMOVE;
}

static void
maybe_carol_done (Demo * d)
{
  Participant *c = &d->p[CAROL];
  gint64 first;

  g_mutex_lock (&d->lock);
  first = c->first_frame_after_fix;
  g_mutex_unlock (&d->lock);
  if (d->carol_done || !c->match_video || !c->match_audio || first == 0)
    return;
  d->carol_done = TRUE;
  g_timeout_add (RECORD_AFTER_MATCH_MS, stop_recording, d);
}

static gboolean
first_frame_in_main (gpointer user_data)
{
  Demo *d = user_data;
  gint64 first;

  g_mutex_lock (&d->lock);
  first = d->p[CAROL].first_frame_after_fix;
  g_mutex_unlock (&d->lock);
  if (!d->stopping) {
    say (d, "carol", "first decoded video frame, %.0f ms after the secret "
        "change: the picture is back", (first - d->fix_time) / 1000.0);
    maybe_carol_done (d);
  }
  return G_SOURCE_REMOVE;
}

static void
on_element_message (Demo * d, Participant * p, const GstStructure * s)
{
  const gchar *name = gst_structure_get_name (s);
  const gchar *who = names[p->who];
  const gchar *media = gst_structure_get_string (s, "media");
  const gchar *conn = gst_structure_get_string (s, "connection-id");
  const gchar *stream = gst_structure_get_string (s, "stream-id");
  guint64 kid = 0;

  if (!g_str_has_prefix (name, "otc-"))
    return;
  gst_structure_get_uint64 (s, "key-id", &kid);

  if (g_str_equal (name, "otc-session-connected")) {
    gboolean e2ee = FALSE;
    guint fmt_version = 0;

    gst_structure_get_boolean (s, "e2ee", &e2ee);
    gst_structure_get_uint (s, "e2ee-format-version", &fmt_version);
    g_free (p->connection_id);
    p->connection_id = g_strdup (conn);
    if (p->who == ALICE)
      say (d, who, "connected as %s (otcsink): %s, %s %u, cipher suite %s",
          GST_STR_NULL (gst_structure_get_string (s, "role")),
          e2ee ? "E2EE session" : "session NOT E2EE",
          GST_STR_NULL (gst_structure_get_string (s, "e2ee-format")),
          fmt_version, GST_STR_NULL (gst_structure_get_string (s,
                  "cipher-suite")));
    else
      say (d, who, "connected as %s (otcsrc): %s", GST_STR_NULL
          (gst_structure_get_string (s, "role")), e2ee ? "E2EE session" :
          "session NOT E2EE");
    if (!e2ee)
      fail (d, "%s joined a session that is not end-to-end encrypted", who);
  } else if (g_str_equal (name, "otc-stream-published")) {
    g_free (d->alice_stream);
    d->alice_stream = g_strdup (stream);
    say (d, who, "published stream %s (video_0 + audio_0: VP8 + Opus, "
        "encrypted before the payloader)", stream);
    g_timeout_add_seconds (SUBSCRIBE_TIMEOUT_S, subscribe_check, d);
  } else if (g_str_equal (name, "otc-stream-created")) {
    gboolean v = FALSE, a = FALSE;

    if (p->who == ALICE || d->stopping)
      return;
    gst_structure_get_boolean (s, "has-video", &v);
    gst_structure_get_boolean (s, "has-audio", &a);
    say (d, who, "sees %s's stream %s (%s%s%s)", name_of_connection (d, conn),
        stream, v ? "video" : "", v && a ? " + " : "", a ? "audio" : "");
  } else if (g_str_equal (name, "otc-stream-subscribed")) {
    g_free (p->subscribed);
    p->subscribed = g_strdup (stream);
    say (d, who, "subscribed to %s's stream", name_of_connection (d, conn));
    if (p->who == CAROL)
      g_timeout_add_seconds (MISMATCH_TIMEOUT_S, mismatch_check, d);
  } else if (g_str_equal (name, "otc-stream-destroyed")) {
    if (!d->stopping && p->who != ALICE)
      say (d, who, "stream %s ended (%s)", stream,
          GST_STR_NULL (gst_structure_get_string (s, "reason")));
  } else if (g_str_equal (name, "otc-encryption-secret-mismatch")) {
    p->mismatches++;
    say (d, who, "%s from %s: otc-encryption-secret-mismatch (key id %"
        G_GUINT64_FORMAT "): frames do not decrypt with her secret",
        GST_STR_NULL (media), name_of_connection (d, conn), kid);
    if (p->who != CAROL)
      fail (d, "%s, who has the right secret, reported a mismatch", who);
    else if (p->mismatches == 1)
      g_timeout_add (FIX_AFTER_MISMATCH_MS, fix_carol, d);
  } else if (g_str_equal (name, "otc-encryption-secret-match")) {
    p->matches++;
    say (d, who, "%s from %s: otc-encryption-secret-match (key id %"
        G_GUINT64_FORMAT ")", GST_STR_NULL (media),
        name_of_connection (d, conn), kid);
    if (p->who != CAROL || !d->carol_fixed) {
      fail (d, "%s reported an unexpected match", who);
      return;
    }
    if (g_strcmp0 (media, "video") == 0)
      p->match_video = TRUE;
    else
      p->match_audio = TRUE;
    maybe_carol_done (d);
  } else if (g_str_equal (name, "otc-session-disconnected")) {
    if (!d->stopping)
      fail (d, "%s was disconnected (%s)", who,
          GST_STR_NULL (gst_structure_get_string (s, "reason")));
  } else if (g_str_equal (name, "otc-connection-created")
      || g_str_equal (name, "otc-connection-destroyed")
      || g_str_equal (name, "otc-signal-received")) {
    /* not part of this story */
  } else {
    const gchar *message = gst_structure_get_string (s, "message");
    gint code = 0;

    /* errors, missing or invalid secrets, internal errors */
    gst_structure_get_int (s, "code", &code);
    say (d, who, "%s (code %d): %s", name, code, GST_STR_NULL (message));
    if (!d->stopping)
      fail (d, "%s reported %s", who, name);
  }
}

static gboolean
on_bus (GstBus * bus, GstMessage * msg, gpointer user_data)
{
  Participant *p = user_data;
  Demo *d = p->demo;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ELEMENT:
      if (gst_message_get_structure (msg))
        on_element_message (d, p, gst_message_get_structure (msg));
      break;
    case GST_MESSAGE_ERROR:{
      GError *err = NULL;

      gst_message_parse_error (msg, &err, NULL);
      if (!d->stopping)
        fail (d, "%s: error from %s: %s", names[p->who],
            GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)), err->message);
      g_error_free (err);
      break;
    }
    case GST_MESSAGE_EOS:
      if (p->who == BOB)
        recording_done (d);
      break;
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

/* --- pipelines ----------------------------------------------------------- */

static void
watch_bus (Participant * p)
{
  GstBus *bus = gst_element_get_bus (p->pipeline);

  gst_bus_add_watch (bus, on_bus, p);
  gst_object_unref (bus);
}

static gboolean
build_pipelines (Demo * d)
{
  GError *error = NULL;
  GstElement *mux, *sink;
  Who w;

  d->p[ALICE].pipeline = gst_parse_launch ("videotestsrc is-live=true "
      "pattern=ball ! video/x-raw,width=640,height=360,framerate=30/1 "
      "! otcsink name=alice stream-name=alice alice.video_0 "
      "audiotestsrc is-live=true wave=ticks ! alice.audio_0", &error);
  if (d->p[ALICE].pipeline == NULL) {
    say (d, "demo", "alice: %s", error->message);
    g_error_free (error);
    return FALSE;
  }
  d->p[ALICE].session = gst_bin_get_by_name (GST_BIN (d->p[ALICE].pipeline),
      "alice");

  for (w = BOB; w <= CAROL; w++) {
    Participant *p = &d->p[w];

    p->pipeline = gst_pipeline_new (names[w]);
    p->session = gst_element_factory_make ("otcsrc", names[w]);
    gst_bin_add (GST_BIN (p->pipeline), gst_object_ref (p->session));
    g_signal_connect (p->session, "pad-added", G_CALLBACK (on_pad_added), p);
  }
  g_object_set (d->p[CAROL].session, "mismatch-delay",
      CAROL_MISMATCH_DELAY_MS, NULL);

  mux = gst_element_factory_make ("webmmux", NULL);
  sink = gst_element_factory_make ("filesink", NULL);
  if (mux == NULL || sink == NULL) {
    say (d, "demo", "webmmux/filesink missing (gstreamer1.0-plugins-good)");
    return FALSE;
  }
  g_object_set (sink, "location", d->output, NULL);
  gst_bin_add_many (GST_BIN (d->p[BOB].pipeline), mux, sink, NULL);
  gst_element_link (mux, sink);
  /* both pads before any data: webmmux then writes its header with both
   * tracks in it */
  d->p[BOB].mux_pad[0] = gst_element_request_pad_simple (mux, "video_%u");
  d->p[BOB].mux_pad[1] = gst_element_request_pad_simple (mux, "audio_%u");

  for (w = 0; w < N_PARTICIPANTS; w++) {
    Participant *p = &d->p[w];

    p->demo = d;
    p->who = w;
    /* secrets and tokens as properties: in no argv, string or output */
    g_object_set (p->session, "url", d->url, "token", p->token,
        "encryption-secret", w == CAROL ? d->wrong_secret : d->right_secret,
        NULL);
    wipe (&p->token);
    watch_bus (p);
  }
  return TRUE;
}

/* --- reading the recording back ------------------------------------------ */

typedef struct
{
  guint64 frames;
  GstClockTime first, last;
} Track;

static GstPadProbeReturn
count_track (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  Track *t = user_data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  GstClockTime ts = GST_BUFFER_PTS (buf);

  t->frames++;
  if (GST_CLOCK_TIME_IS_VALID (ts)) {
    if (!GST_CLOCK_TIME_IS_VALID (t->first) || ts < t->first)
      t->first = ts;
    if (GST_BUFFER_DURATION_IS_VALID (buf))
      ts += GST_BUFFER_DURATION (buf);
    if (!GST_CLOCK_TIME_IS_VALID (t->last) || ts > t->last)
      t->last = ts;
  }
  return GST_PAD_PROBE_OK;
}

static void
probe_sink (GstElement * pipeline, const gchar * name, Track * t)
{
  GstElement *e = gst_bin_get_by_name (GST_BIN (pipeline), name);
  GstPad *pad = gst_element_get_static_pad (e, "sink");

  t->first = t->last = GST_CLOCK_TIME_NONE;
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, count_track, t, NULL);
  gst_object_unref (pad);
  gst_object_unref (e);
}

/* The file as a player sees it: its duration (written when webmmux got
 * EOS), then every video frame through vp8dec and every Opus packet. */
static gboolean
check_recording (Demo * d)
{
  GstDiscoverer *disc;
  GstDiscovererInfo *info = NULL;
  GstClockTime duration = GST_CLOCK_TIME_NONE;
  GstElement *pipeline, *src;
  GstBus *bus;
  GstMessage *msg;
  GError *error = NULL;
  GStatBuf st;
  Track video = { 0 }, audio = { 0 };
  gchar *uri;
  gboolean ok;

  if (g_stat (d->output, &st) != 0 || st.st_size == 0) {
    say (d, "check", "%s is missing or empty", d->output);
    return FALSE;
  }
  uri = gst_filename_to_uri (d->output, NULL);
  disc = gst_discoverer_new (10 * GST_SECOND, &error);
  if (disc)
    info = gst_discoverer_discover_uri (disc, uri, &error);
  if (info && gst_discoverer_info_get_result (info) == GST_DISCOVERER_OK)
    duration = gst_discoverer_info_get_duration (info);
  g_free (uri);
  g_clear_error (&error);
  g_clear_object (&info);
  g_clear_object (&disc);

  pipeline = gst_parse_launch ("filesrc name=src ! matroskademux name=d "
      "d.video_0 ! queue ! vp8dec ! fakesink name=v sync=false "
      "d.audio_0 ! queue ! fakesink name=a sync=false", &error);
  g_assert_no_error (error);
  src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  g_object_set (src, "location", d->output, NULL);
  gst_object_unref (src);
  probe_sink (pipeline, "v", &video);
  probe_sink (pipeline, "a", &audio);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  bus = gst_element_get_bus (pipeline);
  msg = gst_bus_timed_pop_filtered (bus, 10 * GST_SECOND, GST_MESSAGE_EOS |
      GST_MESSAGE_ERROR);
  ok = msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS;
  if (msg && !ok) {
    gst_message_parse_error (msg, &error, NULL);
    say (d, "check", "reading %s back: %s", d->output, error->message);
    g_clear_error (&error);
  }
  gst_clear_message (&msg);
  gst_object_unref (bus);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);

  say (d, "check", "%s: %.1f KiB, duration %s%.2f s (%s), read back: %"
      G_GUINT64_FORMAT " VP8 frames decode (%.2f s), %" G_GUINT64_FORMAT
      " Opus packets (%.2f s)", d->output, st.st_size / 1024.0,
      GST_CLOCK_TIME_IS_VALID (duration) ? "" : "unknown, ",
      GST_CLOCK_TIME_IS_VALID (duration) ? duration / 1e9 : 0.0,
      GST_CLOCK_TIME_IS_VALID (duration) ? "written at finalisation" :
      "not finalised", video.frames, video.frames ?
      (video.last - video.first) / 1e9 : 0.0, audio.frames, audio.frames ?
      (audio.last - audio.first) / 1e9 : 0.0);
  return ok && GST_CLOCK_TIME_IS_VALID (duration) && duration > 0
      && video.frames > 0 && audio.frames > 0;
}

/* --- the end ------------------------------------------------------------- */

static void
finish (Demo * d)
{
  Participant *bob = &d->p[BOB], *carol = &d->p[CAROL];
  gint w;

  if (d->stopping)
    return;
  d->stopping = TRUE;
  if (d->deadline_id)
    g_source_remove (d->deadline_id);
  d->deadline_id = 0;

  /* subscribers first, then the publisher, then the router */
  if (d->p[ALICE].pipeline) {
    for (w = N_PARTICIPANTS - 1; w >= 0; w--)
      if (d->p[w].pipeline)
        gst_element_set_state (d->p[w].pipeline, GST_STATE_NULL);
    say (d, "demo", "participants left the session");
  }
  if (!stop_router (d))
    d->failed = TRUE;

  if (bob->eos && !check_recording (d))
    d->failed = TRUE;

  if (bob->pipeline == NULL) {
    g_print ("\notc session demo: FAILED\n");
    g_main_loop_quit (d->loop);
    return;
  }
  g_print ("\nWhat happened:\n");
  g_print ("  bob (right secret) recorded %" G_GUINT64_FORMAT " video and %"
      G_GUINT64_FORMAT " audio frames, decrypted, not re-encoded: %s\n",
      bob->frames[0], bob->frames[1], d->output);
  g_print ("  carol (wrong secret) decoded %" G_GUINT64_FORMAT " video "
      "frames before her secret was fixed; %u mismatch and %u match "
      "reports; %" G_GUINT64_FORMAT " video frames decoded after the fix\n",
      carol->frames_before_fix, carol->mismatches, carol->matches,
      carol->frames[0] - carol->frames_before_fix);
  if (!d->failed && (bob->frames[0] == 0 || bob->frames[1] == 0
          || carol->frames_before_fix != 0 || carol->mismatches == 0
          || !carol->match_video || !carol->match_audio
          || carol->frames[0] == carol->frames_before_fix)) {
    g_print ("  a check failed (see above)\n");
    d->failed = TRUE;
  }
  g_print ("\n%s\n", d->failed ? "otc session demo: FAILED" :
      "otc session demo: OK. The router forwarded the encrypted frames "
      "and never had the secret;\nbob, and carol once she had the right "
      "secret, decrypted them.");
  g_main_loop_quit (d->loop);
}

static void
cleanup (Demo * d)
{
  const gchar *files[] = { "api-secret", "router.log" };
  gchar *path;
  guint i;
  Who w;

  for (w = 0; w < N_PARTICIPANTS; w++) {
    Participant *p = &d->p[w];

    if (p->pipeline) {
      gst_element_set_state (p->pipeline, GST_STATE_NULL);
      gst_object_unref (p->pipeline);
    }
    for (i = 0; i < 2; i++)
      gst_clear_object (&p->mux_pad[i]);
    gst_clear_object (&p->session);
    wipe (&p->token);
    g_free (p->connection_id);
    g_free (p->subscribed);
  }
  if (d->router && g_subprocess_get_identifier (d->router))
    g_subprocess_force_exit (d->router);
  g_clear_object (&d->router);
  for (i = 0; i < G_N_ELEMENTS (files); i++) {
    if (d->keep_router_log && g_str_equal (files[i], "router.log"))
      continue;
    path = g_build_filename (d->dir, files[i], NULL);
    g_unlink (path);
    g_free (path);
  }
  path = g_build_filename (d->dir, "archives", NULL);
  g_rmdir (path);
  g_free (path);
  g_rmdir (d->dir);             /* kept while it holds the recording */
  wipe (&d->right_secret);
  wipe (&d->wrong_secret);
  g_free (d->dir);
  g_free (d->output);
  g_free (d->api_key);
  g_free (d->api_secret_file);
  g_free (d->router_log);
  g_free (d->url);
  g_free (d->session_id);
  g_free (d->alice_stream);
  g_mutex_clear (&d->lock);
  g_main_loop_unref (d->loop);
}

int
main (int argc, char **argv)
{
  Demo d = { 0 };
  gchar *output = NULL;
  GOptionEntry entries[] = {
    {"output", 'o', 0, G_OPTION_ARG_FILENAME, &output,
          "Where bob's WebM recording goes (default: a new directory in /tmp)",
        "FILE"},
    {NULL}
  };
  GOptionContext *ctx;
  GError *error = NULL;
  const gchar *needed[] = { "otcsink", "otcsrc", "otcdecrypt", "webmmux",
    "matroskademux", "vp8dec", "vp8enc", "opusenc", "webrtcbin", "nicesrc"
  };
  gboolean failed;
  guint i;

  ctx = g_option_context_new ("- an end-to-end encrypted otc session on "
      "127.0.0.1");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    g_printerr ("%s\n", error->message);
    return 2;
  }
  g_option_context_free (ctx);
  for (i = 0; i < G_N_ELEMENTS (needed); i++) {
    GstElementFactory *f = gst_element_factory_find (needed[i]);

    if (f == NULL) {
      g_printerr ("element %s not found: build otc, set GST_PLUGIN_PATH=%s "
          "and install the GStreamer plugins (scripts/demo.sh does all "
          "three)\n", needed[i], "build/ext");
      return 2;
    }
    gst_object_unref (f);
  }
  /* whatever happens, the demo ends; the router goes with it */
  alarm (HARD_LIMIT_S);

  g_mutex_init (&d.lock);
  d.loop = g_main_loop_new (NULL, FALSE);
  d.router_path = g_getenv ("OTC_ROUTER") ? g_getenv ("OTC_ROUTER") :
      OTC_ROUTER_PATH;
  d.dir = g_dir_make_tmp ("otc-session-demo-XXXXXX", &error);
  g_assert_no_error (error);
  d.output = output ? output : g_build_filename (d.dir, "bob.webm", NULL);
  d.right_secret = random_string (24);
  d.wrong_secret = random_string (24);

  g_print ("otc session demo: alice publishes test video + audio into an "
      "end-to-end encrypted\nsession on otc-router (127.0.0.1); bob (right "
      "secret) records it to WebM;\ncarol (wrong secret) gets the right one "
      "%.0f s after her mismatch.\n\n", FIX_AFTER_MISMATCH_MS / 1000.0);
  d.start = g_get_monotonic_time ();
  d.deadline_id = g_timeout_add_seconds (DEADLINE_S, deadline, &d);

  if (!start_router (&d) || !create_session (&d) || !make_tokens (&d)
      || !build_pipelines (&d)) {
    fail (&d, "set-up failed");
  } else {
    start_participants (&d);
    g_main_loop_run (d.loop);
  }

  failed = d.failed;
  if (failed && d.router_log
      && g_file_test (d.router_log, G_FILE_TEST_EXISTS)) {
    d.keep_router_log = TRUE;
    g_print ("router log kept: %s\n", d.router_log);
  }
  cleanup (&d);
  return failed ? 1 : 0;
}
