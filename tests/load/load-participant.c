/* One participant of the load test, in a process of its own so that the
 * test can kill it with SIGKILL: a publisher of low-resolution test video
 * (otcsink) or a subscriber (otcsrc) that counts the decrypted frames of
 * each stream it receives.
 *
 *   otc-load-participant --role=publisher|subscriber --url=URL
 *       [--token-file=FILE] [--secret-file=FILE] [--frames-per-line=N]
 *       [--width=160 --height=120 --fps=15] [--decode]
 *
 * The token comes from --token-file or OTC_TOKEN, the secret from
 * --secret-file or OTC_SECRET: neither is ever on the command line.
 *
 * It prints one line per event on stdout, flushed at once, for the test to
 * read (fields separated by one space):
 *   connected CONNECTION-ID            joined (NULL->READY done)
 *   published STREAM-ID                publisher: the router took the stream
 *   subscribed STREAM-ID               subscriber: the router offered it
 *   frames STREAM-ID N                 subscriber: N decrypted frames so far
 *                                      (at the first, then every N-th)
 *   stream-destroyed STREAM-ID REASON
 *   connection-destroyed CONNECTION-ID REASON
 *   disconnected REASON                the server connection dropped
 *   session-error CODE MESSAGE
 *   e2ee MESSAGE-NAME STREAM-ID        a transform's message (mismatch...)
 *   error MESSAGE                      a GStreamer error (not after
 *                                      disconnected, where one is expected)
 *   exit CODE
 * Exit codes: 0 after "disconnected serverShutdown" or SIGTERM/SIGINT (a
 * clean leave), 1 a GStreamer error, 2 could not join, 3 disconnected for
 * another reason, 4 the pipeline did not stop within 10 s. */
#include <gst/gst.h>
#include <glib-unix.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static GMainLoop *loop;
static GstElement *pipeline;
static gint exit_code;
static gboolean disconnected;
static guint frames_per_line = 15;
static G_LOCK_DEFINE (out);

static void
say (const gchar * format, ...) G_GNUC_PRINTF (1, 2);

static void
say (const gchar * format, ...)
{
  va_list args;

  G_LOCK (out);
  va_start (args, format);
  vfprintf (stdout, format, args);
  va_end (args);
  fputc ('\n', stdout);
  fflush (stdout);
  G_UNLOCK (out);
}

/* one word: spaces would split the line's fields */
static gchar *
word (const gchar * s)
{
  gchar *w = g_strdup (s && *s ? s : "-");

  g_strdelimit (w, " \t\r\n", '_');
  return w;
}

static void
finish (gint code)
{
  if (g_main_loop_is_running (loop)) {
    exit_code = code;
    g_main_loop_quit (loop);
  }
}

typedef struct
{
  gchar *stream_id;
  gint frames;
} Counter;

static void
counter_free (gpointer data)
{
  Counter *c = data;

  g_free (c->stream_id);
  g_free (c);
}

static GstPadProbeReturn
count_frame (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  Counter *c = user_data;
  gint n = g_atomic_int_add (&c->frames, 1) + 1;

  if (n == 1 || n % frames_per_line == 0)
    say ("frames %s %d", c->stream_id, n);
  return GST_PAD_PROBE_OK;
}

/* video_<stream id>: the decrypted VP8 frames (or decoded pictures with
 * --decode) to a fakesink, counted; audio_<stream id> to a fakesink. */
static void
on_pad_added (GstElement * element, GstPad * pad, gpointer user_data)
{
  gboolean decode = GPOINTER_TO_INT (user_data);
  const gchar *name = GST_PAD_NAME (pad);
  gboolean video = g_str_has_prefix (name, "video_");
  gchar *desc;
  GstElement *bin, *sink;
  GstPad *sinkpad;

  if (GST_PAD_DIRECTION (pad) != GST_PAD_SRC)
    return;
  if (!video)
    desc = g_strdup ("fakesink sync=false async=false");
  else if (decode)
    desc = g_strdup ("videoconvert ! fakesink name=sink sync=false "
        "async=false");
  else
    desc = g_strdup ("capsfilter caps=video/x-vp8 ! fakesink name=sink "
        "sync=false async=false");
  bin = gst_parse_bin_from_description (desc, TRUE, NULL);
  g_free (desc);
  gst_bin_add (GST_BIN (pipeline), bin);
  sinkpad = gst_element_get_static_pad (bin, "sink");
  if (gst_pad_link (pad, sinkpad) != GST_PAD_LINK_OK)
    say ("error cannot_link_%s", name);
  gst_object_unref (sinkpad);
  if (video) {
    Counter *c = g_new0 (Counter, 1);

    c->stream_id = g_strdup (strchr (name, '_') + 1);
    sink = gst_bin_get_by_name (GST_BIN (bin), "sink");
    sinkpad = gst_element_get_static_pad (sink, "sink");
    gst_pad_add_probe (sinkpad, GST_PAD_PROBE_TYPE_BUFFER, count_frame, c,
        counter_free);
    gst_object_unref (sinkpad);
    gst_object_unref (sink);
  }
  gst_element_sync_state_with_parent (bin);
}

static void
on_element_message (const GstStructure * s)
{
  const gchar *name = gst_structure_get_name (s);
  gchar *a = NULL, *b = NULL;

  if (g_str_equal (name, "otc-session-connected")) {
    a = word (gst_structure_get_string (s, "connection-id"));
    say ("connected %s", a);
  } else if (g_str_equal (name, "otc-stream-published")) {
    a = word (gst_structure_get_string (s, "stream-id"));
    say ("published %s", a);
  } else if (g_str_equal (name, "otc-stream-subscribed")) {
    a = word (gst_structure_get_string (s, "stream-id"));
    say ("subscribed %s", a);
  } else if (g_str_equal (name, "otc-stream-destroyed")) {
    a = word (gst_structure_get_string (s, "stream-id"));
    b = word (gst_structure_get_string (s, "reason"));
    say ("stream-destroyed %s %s", a, b);
  } else if (g_str_equal (name, "otc-connection-destroyed")) {
    a = word (gst_structure_get_string (s, "connection-id"));
    b = word (gst_structure_get_string (s, "reason"));
    say ("connection-destroyed %s %s", a, b);
  } else if (g_str_equal (name, "otc-session-disconnected")) {
    a = word (gst_structure_get_string (s, "reason"));
    say ("disconnected %s", a);
    disconnected = TRUE;
    finish (g_str_equal (a, "serverShutdown") ? 0 : 3);
  } else if (g_str_equal (name, "otc-session-error")) {
    gint code = 0;

    gst_structure_get_int (s, "code", &code);
    a = word (gst_structure_get_string (s, "message"));
    say ("session-error %d %s", code, a);
  } else if (g_str_has_prefix (name, "otc-encryption-")
      || g_str_has_prefix (name, "otc-decryption-")
      || g_str_equal (name, "otc-invalid-encryption-secret")) {
    a = word (gst_structure_get_string (s, "stream-id"));
    say ("e2ee %s %s", name, a);
  }
  g_free (a);
  g_free (b);
}

static gboolean
on_bus (GstBus * bus, GstMessage * msg, gpointer user_data)
{
  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ELEMENT:
      if (gst_message_get_structure (msg))
        on_element_message (gst_message_get_structure (msg));
      break;
    case GST_MESSAGE_ERROR:{
      GError *e = NULL;
      gchar *w;

      gst_message_parse_error (msg, &e, NULL);
      w = word (e->message);
      /* "Disconnected from the session (...)" follows the message */
      if (!disconnected) {
        say ("error %s", w);
        finish (1);
      }
      g_free (w);
      g_error_free (e);
      break;
    }
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_signal (gpointer user_data)
{
  finish (0);
  return G_SOURCE_REMOVE;
}

static void
on_alarm (int sig)
{
  static const char msg[] = "exit 4\n";

  /* async-signal-safe: the pipeline did not stop */
  if (write (STDOUT_FILENO, msg, sizeof msg - 1) < 0) {
    /* nothing to do */
  }
  _exit (4);
}

static gchar *
read_secret_file (const gchar * path)
{
  gchar *text = NULL;
  gsize len;

  if (!g_file_get_contents (path, &text, &len, NULL))
    return NULL;
  if (len > 0 && text[len - 1] == '\n')
    text[len - 1] = '\0';
  return text;
}

int
main (int argc, char **argv)
{
  gchar *role = NULL, *url = NULL, *token_file = NULL, *secret_file = NULL;
  gint width = 160, height = 120, fps = 15, lines = 15;
  gboolean decode = FALSE;
  GOptionEntry entries[] = {
    {"role", 0, 0, G_OPTION_ARG_STRING, &role, "publisher or subscriber",
        "ROLE"},
    {"url", 0, 0, G_OPTION_ARG_STRING, &url, "the router's URL", "URL"},
    {"token-file", 0, 0, G_OPTION_ARG_FILENAME, &token_file,
        "a file with the token (else OTC_TOKEN)", "FILE"},
    {"secret-file", 0, 0, G_OPTION_ARG_FILENAME, &secret_file,
        "a file with the E2EE secret (else OTC_SECRET)", "FILE"},
    {"frames-per-line", 0, 0, G_OPTION_ARG_INT, &lines,
        "subscriber: print a line every N frames (15)", "N"},
    {"width", 0, 0, G_OPTION_ARG_INT, &width, "publisher: 160", "W"},
    {"height", 0, 0, G_OPTION_ARG_INT, &height, "publisher: 120", "H"},
    {"fps", 0, 0, G_OPTION_ARG_INT, &fps, "publisher: 15", "FPS"},
    {"decode", 0, 0, G_OPTION_ARG_NONE, &decode,
        "subscriber: decode the video (else count the decrypted VP8 frames)",
        NULL},
    {NULL}
  };
  GOptionContext *ctx = g_option_context_new ("- a load test participant");
  GError *error = NULL;
  gchar *token = NULL, *secret = NULL, *desc;
  GstElement *session;
  GstBus *bus;
  gboolean publisher;

  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    g_printerr ("otc-load-participant: %s\n", error->message);
    return 2;
  }
  g_option_context_free (ctx);
  if (role == NULL || url == NULL || (!g_str_equal (role, "publisher")
          && !g_str_equal (role, "subscriber")) || lines < 1 || fps < 1) {
    g_printerr ("otc-load-participant: --role=publisher|subscriber and "
        "--url are needed\n");
    return 2;
  }
  publisher = g_str_equal (role, "publisher");
  frames_per_line = lines;
  if (token_file) {
    token = read_secret_file (token_file);
  } else {
    token = g_strdup (g_getenv ("OTC_TOKEN"));
  }
  if (secret_file) {
    secret = read_secret_file (secret_file);
  } else {
    secret = g_strdup (g_getenv ("OTC_SECRET"));
  }
  /* not passed on to anything this process might start */
  g_unsetenv ("OTC_TOKEN");
  g_unsetenv ("OTC_SECRET");
  if (token == NULL) {
    g_printerr ("otc-load-participant: no token (--token-file or "
        "OTC_TOKEN)\n");
    return 2;
  }

  if (publisher)
    desc = g_strdup_printf ("videotestsrc is-live=true pattern=ball "
        "! video/x-raw,width=%d,height=%d,framerate=%d/1 "
        "! vp8enc deadline=1 cpu-used=8 end-usage=cbr target-bitrate=150000 "
        "keyframe-max-dist=%d ! otcsink name=s", width, height, fps, 2 * fps);
  else
    desc = g_strdup ("otcsrc name=s");
  /* in a pipeline even when @desc is one element */
  pipeline = gst_pipeline_new ("participant");
  {
    GstElement *bin = gst_parse_launch_full (desc, NULL,
        GST_PARSE_FLAG_PLACE_IN_BIN | GST_PARSE_FLAG_FATAL_ERRORS, &error);

    g_free (desc);
    if (bin == NULL) {
      g_printerr ("otc-load-participant: %s\n", error->message);
      return 2;
    }
    gst_bin_add (GST_BIN (pipeline), bin);
    /* (a single element comes back as it is, not in a bin) */
    session = gst_bin_get_by_name (GST_BIN (pipeline), "s");
  }
  g_object_set (session, "url", url, "token", token, NULL);
  if (secret)
    g_object_set (session, "encryption-secret", secret, NULL);
  memset (token, 0, strlen (token));
  g_free (token);
  if (secret) {
    memset (secret, 0, strlen (secret));
    g_free (secret);
  }
  if (!publisher)
    g_signal_connect (session, "pad-added", G_CALLBACK (on_pad_added),
        GINT_TO_POINTER (decode));

  loop = g_main_loop_new (NULL, FALSE);
  bus = gst_element_get_bus (pipeline);
  gst_bus_add_watch (bus, on_bus, NULL);
  g_unix_signal_add (SIGTERM, on_signal, NULL);
  g_unix_signal_add (SIGINT, on_signal, NULL);

  if (gst_element_set_state (pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE) {
    GstMessage *msg;

    /* the reasons are on the bus */
    while ((msg = gst_bus_pop (bus))) {
      on_bus (bus, msg, NULL);
      gst_message_unref (msg);
    }
    say ("join-failed");
    exit_code = 2;
  } else {
    g_main_loop_run (loop);
  }

  /* bounded: a pipeline that does not stop is reported, not waited for */
  signal (SIGALRM, on_alarm);
  alarm (10);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  alarm (0);
  say ("exit %d", exit_code);
  gst_bus_remove_watch (bus);
  gst_object_unref (bus);
  gst_object_unref (session);
  gst_object_unref (pipeline);
  g_main_loop_unref (loop);
  return exit_code;
}
