/* otc-session-client: joins an otc session with otcsession, publishes a
 * test stream (videotestsrc, and audiotestsrc unless --no-audio), subscribes
 * to every other stream, and prints what happens as a readable log. While
 * it runs:
 *
 *   r   changes the encryption secret (set-encryption-secret)
 *   s   sends a signal to everyone (send-signal)
 *   q   quits (so do Ctrl-C and SIGTERM)
 *
 * The same can be done on a timer (--rotate-after, --signal-after).
 *
 *   otc-session-client [OPTION...] URL TOKEN
 *
 * The secret never goes on the command line: it comes from --secret-file
 * or from the environment variable OTC_SECRET. The secret it changes to
 * comes from --next-secret-file, else OTC_NEXT_SECRET, else the secret file
 * read again (edit it, then press r). TOKEN may be @FILE to read the token
 * from a file. See docs/session-elements.md. */
#include <errno.h>
#include <glib-unix.h>
#include <gst/gst.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

typedef struct
{
  /* options */
  gchar *secret_file;
  gchar *next_secret_file;
  gint rotate_after;
  gint signal_after;
  gint quit_after;
  gchar *signal_type;
  gchar *signal_data;
  gboolean no_publish;
  gboolean no_audio;
  gboolean display;

  GMainLoop *loop;
  GstElement *pipeline;
  GstElement *session;
  gint64 start;
  guint signals_sent;
  gboolean tty_changed;
  gboolean failed;              /* an error was posted */
  struct termios tty;
  GMutex lock;
  GHashTable *branches;         /* src pad name -> Branch */
  GPtrArray *ended;             /* "stream/media: N frames" lines */
} Client;

/* What plays one src pad of the session: a bin ending in a sink. */
typedef struct
{
  Client *client;
  gchar *pad_name;
  GstElement *bin;
  guint64 frames;               /* buffers that reached the sink */
} Branch;

static void
say (Client * c, const gchar * format, ...)
{
  va_list args;
  gchar *text;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  g_print ("[%6.2f s] %s\n", (g_get_monotonic_time () - c->start) / 1e6, text);
  g_free (text);
}

/* --- the secret --------------------------------------------------------- */

static void
wipe_and_free (gchar * secret)
{
  if (secret) {
    volatile gchar *p = secret;

    while (*p)
      *p++ = '\0';
    g_free (secret);
  }
}

/* A copy of the secret in @path (one trailing newline dropped, as the
 * elements' encryption-secret-file does), or of the environment variable
 * @env. NULL and @error when neither gives one. */
static gchar *
load_secret (const gchar * path, const gchar * env, GError ** error)
{
  gchar *text = NULL;
  gsize len = 0;

  if (path == NULL) {
    const gchar *value = env ? g_getenv (env) : NULL;

    if (value == NULL || *value == '\0') {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
          "no secret: give --secret-file or set %s", env ? env : "it");
      return NULL;
    }
    return g_strdup (value);
  }
  if (!g_file_get_contents (path, &text, &len, error))
    return NULL;
  if (len > 0 && text[len - 1] == '\n')
    text[--len] = '\0';
  if (len > 0 && text[len - 1] == '\r')
    text[--len] = '\0';
  return text;
}

static gboolean
set_secret (Client * c, const gchar * secret)
{
  gboolean ok = FALSE;

  g_signal_emit_by_name (c->session, "set-encryption-secret", secret, &ok);
  return ok;
}

static void
rotate_secret (Client * c)
{
  GError *error = NULL;
  gchar *secret;

  if (c->next_secret_file)
    secret = load_secret (c->next_secret_file, NULL, &error);
  else if (g_getenv ("OTC_NEXT_SECRET"))
    secret = load_secret (NULL, "OTC_NEXT_SECRET", &error);
  else
    secret = load_secret (c->secret_file, "OTC_SECRET", &error);
  if (secret == NULL) {
    say (c, "cannot change the secret: %s", error->message);
    g_error_free (error);
    return;
  }
  /* an invalid one is refused and reported on the bus; the old one stays */
  if (set_secret (c, secret))
    say (c, "encryption secret changed");
  else
    say (c, "new encryption secret refused: the previous one stays");
  wipe_and_free (secret);
}

/* --- signals ------------------------------------------------------------ */

static void
send_signal (Client * c)
{
  gchar *id = NULL, *data;
  gboolean ok = FALSE;

  g_object_get (c->session, "connection-id", &id, NULL);
  c->signals_sent++;
  data = c->signal_data ? g_strdup (c->signal_data) :
      g_strdup_printf ("hello #%u from %s", c->signals_sent, id ? id : "?");
  g_signal_emit_by_name (c->session, "send-signal", c->signal_type, data,
      NULL, &ok);
  if (ok)
    say (c, "signal sent to everyone: type \"%s\", data \"%s\"",
        c->signal_type, data);
  else
    say (c, "signal not sent (not connected, or data too long)");
  g_free (data);
  g_free (id);
}

/* --- subscribed streams ------------------------------------------------- */

static GstPadProbeReturn
count_frame (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  Branch *b = user_data;

  if (b->frames++ == 0)
    say (b->client, "first %s frame received on %s",
        g_str_has_prefix (b->pad_name, "video") ? "decoded video" :
        "decoded audio", b->pad_name);
  return GST_PAD_PROBE_OK;
}

static void
branch_free (Branch * b)
{
  g_free (b->pad_name);
  gst_object_unref (b->bin);
  g_free (b);
}

/* A subscribed stream's src pad: play it (or count it). Runs on a
 * streaming thread, and links before returning: otcsession then decodes,
 * since what the pad is linked to takes raw media. */
static void
on_pad_added (GstElement * session, GstPad * pad, Client * c)
{
  gboolean video;
  const gchar *description;
  GstElement *bin, *sink;
  GstPad *sinkpad;
  GError *error = NULL;
  Branch *b;

  if (GST_PAD_DIRECTION (pad) != GST_PAD_SRC)
    return;                     /* our own request pads */
  video = g_str_has_prefix (GST_PAD_NAME (pad), "video_");
  if (video)
    description = c->display ?
        "queue ! videoconvert ! autovideosink name=sink" :
        "queue ! videoconvert ! fakesink name=sink";
  else
    description = c->display ?
        "queue ! audioconvert ! audioresample ! autoaudiosink name=sink" :
        "queue ! audioconvert ! fakesink name=sink";
  bin = gst_parse_bin_from_description (description, TRUE, &error);
  if (bin == NULL) {
    say (c, "cannot play %s: %s", GST_PAD_NAME (pad), error->message);
    g_error_free (error);
    return;
  }
  b = g_new0 (Branch, 1);
  b->client = c;
  b->pad_name = g_strdup (GST_PAD_NAME (pad));
  b->bin = gst_object_ref (bin);
  sink = gst_bin_get_by_name (GST_BIN (bin), "sink");
  sinkpad = gst_element_get_static_pad (sink, "sink");
  gst_pad_add_probe (sinkpad, GST_PAD_PROBE_TYPE_BUFFER, count_frame, b, NULL);
  gst_object_unref (sinkpad);
  gst_object_unref (sink);

  g_mutex_lock (&c->lock);
  g_hash_table_insert (c->branches, g_strdup (b->pad_name), b);
  g_mutex_unlock (&c->lock);

  gst_bin_add (GST_BIN (c->pipeline), bin);
  gst_element_sync_state_with_parent (bin);
  sinkpad = gst_element_get_static_pad (bin, "sink");
  if (gst_pad_link (pad, sinkpad) != GST_PAD_LINK_OK)
    say (c, "cannot link %s", GST_PAD_NAME (pad));
  gst_object_unref (sinkpad);
  say (c, "new pad %s: %s", GST_PAD_NAME (pad), c->display ? "playing it" :
      "counting its frames");
}

static gboolean
remove_branch (gpointer data)
{
  Branch *b = data;
  Client *c = b->client;

  gst_element_set_state (b->bin, GST_STATE_NULL);
  gst_bin_remove (GST_BIN (c->pipeline), b->bin);
  say (c, "pad %s removed after %" G_GUINT64_FORMAT " frames", b->pad_name,
      b->frames);
  g_ptr_array_add (c->ended, g_strdup_printf ("%s: %" G_GUINT64_FORMAT
          " frames", b->pad_name, b->frames));
  branch_free (b);
  return G_SOURCE_REMOVE;
}

/* The stream ended (or we left): the pad had EOS; take its branch out
 * from the main loop, not from this thread. */
static void
on_pad_removed (GstElement * session, GstPad * pad, Client * c)
{
  Branch *b = NULL;
  gchar *key = NULL;

  if (GST_PAD_DIRECTION (pad) != GST_PAD_SRC)
    return;
  g_mutex_lock (&c->lock);
  if (g_hash_table_steal_extended (c->branches, GST_PAD_NAME (pad),
          (gpointer *) & key, (gpointer *) & b))
    g_free (key);
  g_mutex_unlock (&c->lock);
  if (b)
    g_idle_add (remove_branch, b);
}

/* --- the log ------------------------------------------------------------ */

static const gchar *
str (const GstStructure * s, const gchar * field)
{
  const gchar *v = gst_structure_get_string (s, field);

  return v ? v : "?";
}

/* " (stream S, video)" for messages about one stream, else "". */
static gchar *
about_stream (const GstStructure * s)
{
  const gchar *stream = gst_structure_get_string (s, "stream-id");
  const gchar *media = gst_structure_get_string (s, "media");

  if (stream && media)
    return g_strdup_printf (" (stream %s, %s)", stream, media);
  if (stream)
    return g_strdup_printf (" (stream %s)", stream);
  if (media)
    return g_strdup_printf (" (%s)", media);
  return g_strdup ("");
}

static void
log_otc_message (Client * c, const GstStructure * s)
{
  const gchar *name = gst_structure_get_name (s);
  gboolean b1 = FALSE, b2 = FALSE;
  guint number = 0;
  gint code = 0;
  guint64 kid = 0;
  gchar *where;

  if (gst_structure_has_name (s, "otc-session-connected")) {
    gst_structure_get_boolean (s, "e2ee", &b1);
    say (c, "joined session %s as %s (role %s): %s%s", str (s, "session-id"),
        str (s, "connection-id"), str (s, "role"),
        b1 ? "end-to-end encrypted, " : "not end-to-end encrypted",
        b1 ? str (s, "cipher-suite") : "");
  } else if (gst_structure_has_name (s, "otc-session-error")) {
    gst_structure_get_int (s, "code", &code);
    where = about_stream (s);
    say (c, "session error %d%s: %s", code, where, str (s, "message"));
    g_free (where);
  } else if (gst_structure_has_name (s, "otc-session-disconnected")) {
    say (c, "disconnected from the session: %s", str (s, "reason"));
  } else if (gst_structure_has_name (s, "otc-connection-created")) {
    say (c, "connection %s joined", str (s, "connection-id"));
  } else if (gst_structure_has_name (s, "otc-connection-destroyed")) {
    say (c, "connection %s left (%s)", str (s, "connection-id"),
        str (s, "reason"));
  } else if (gst_structure_has_name (s, "otc-stream-created")) {
    gst_structure_get_boolean (s, "has-video", &b1);
    gst_structure_get_boolean (s, "has-audio", &b2);
    say (c, "stream %s \"%s\" of connection %s: %s%s%s", str (s, "stream-id"),
        str (s, "name"), str (s, "connection-id"), b1 ? "video" : "",
        b1 && b2 ? " + " : "", b2 ? "audio" : "");
  } else if (gst_structure_has_name (s, "otc-stream-destroyed")) {
    say (c, "stream %s ended (%s)", str (s, "stream-id"), str (s, "reason"));
  } else if (gst_structure_has_name (s, "otc-stream-published")) {
    gst_structure_get_uint (s, "index", &number);
    say (c, "published our stream %u as %s", number, str (s, "stream-id"));
  } else if (gst_structure_has_name (s, "otc-stream-subscribed")) {
    say (c, "subscribed to stream %s (%s)", str (s, "stream-id"),
        str (s, "subscription-id"));
  } else if (gst_structure_has_name (s, "otc-stream-unsubscribed")) {
    say (c, "the router ended our subscription %s to stream %s (%s)",
        str (s, "subscription-id"), str (s, "stream-id"), str (s, "reason"));
  } else if (gst_structure_has_name (s, "otc-signal-received")) {
    say (c, "signal from %s, type \"%s\": %s", str (s, "from"),
        str (s, "type"), str (s, "data"));
  } else if (gst_structure_has_name (s, "otc-encryption-secret-mismatch")) {
    gst_structure_get_uint64 (s, "key-id", &kid);
    where = about_stream (s);
    say (c, "SECRET MISMATCH%s: the sender (key id %" G_GUINT64_FORMAT
        ") uses another secret", where, kid);
    g_free (where);
  } else if (gst_structure_has_name (s, "otc-encryption-secret-match")) {
    where = about_stream (s);
    say (c, "secret matches again%s", where);
    g_free (where);
  } else {
    /* errors and the transforms' other messages: code and text */
    gst_structure_get_int (s, "code", &code);
    where = about_stream (s);
    say (c, "%s%s: %d %s", name, where, code, str (s, "message"));
    g_free (where);
  }
}

static gboolean
on_bus_message (GstBus * bus, GstMessage * msg, gpointer user_data)
{
  Client *c = user_data;
  GError *error = NULL;
  gchar *debug = NULL;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ELEMENT:{
      const GstStructure *s = gst_message_get_structure (msg);

      if (s && g_str_has_prefix (gst_structure_get_name (s), "otc-"))
        log_otc_message (c, s);
      break;
    }
    case GST_MESSAGE_WARNING:
      gst_message_parse_warning (msg, &error, &debug);
      say (c, "warning from %s: %s", GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)),
          error->message);
      break;
    case GST_MESSAGE_ERROR:
      gst_message_parse_error (msg, &error, &debug);
      say (c, "ERROR from %s: %s", GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)),
          error->message);
      c->failed = TRUE;
      if (c->loop)
        g_main_loop_quit (c->loop);
      break;
    case GST_MESSAGE_EOS:
      /* every sink had EOS: the streams we subscribed to ended. Others
       * may still come, so go on. */
      say (c, "every subscribed stream has ended");
      break;
    default:
      break;
  }
  g_clear_error (&error);
  g_free (debug);
  return G_SOURCE_CONTINUE;
}

/* --- keys, timers, signals ---------------------------------------------- */

static gboolean
on_key (gint fd, GIOCondition condition, gpointer user_data)
{
  Client *c = user_data;
  gchar key;
  gssize n = read (fd, &key, 1);

  if (n <= 0) {
    if (n < 0 && errno == EINTR)
      return G_SOURCE_CONTINUE;
    return G_SOURCE_REMOVE;     /* stdin closed: keys are off */
  }
  if (key == 'r')
    rotate_secret (c);
  else if (key == 's')
    send_signal (c);
  else if (key == 'q')
    g_main_loop_quit (c->loop);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_rotate_timer (gpointer user_data)
{
  rotate_secret (user_data);
  return G_SOURCE_REMOVE;
}

static gboolean
on_signal_timer (gpointer user_data)
{
  send_signal (user_data);
  return G_SOURCE_REMOVE;
}

static gboolean
on_quit (gpointer user_data)
{
  Client *c = user_data;

  g_main_loop_quit (c->loop);
  return G_SOURCE_REMOVE;
}

/* One key at a time, without echo, when stdin is a terminal. */
static void
keys_on (Client * c)
{
  struct termios raw;

  if (!isatty (STDIN_FILENO) || tcgetattr (STDIN_FILENO, &c->tty) != 0)
    return;
  raw = c->tty;
  raw.c_lflag &= ~(ICANON | ECHO);
  raw.c_cc[VMIN] = 1;
  raw.c_cc[VTIME] = 0;
  if (tcsetattr (STDIN_FILENO, TCSANOW, &raw) == 0)
    c->tty_changed = TRUE;
}

static void
keys_off (Client * c)
{
  if (c->tty_changed)
    tcsetattr (STDIN_FILENO, TCSANOW, &c->tty);
  c->tty_changed = FALSE;
}

/* --- the pipeline ------------------------------------------------------- */

static gboolean
add_source (Client * c, const gchar * description, const gchar * pad_name)
{
  GError *error = NULL;
  GstElement *bin;
  GstPad *src, *sink;
  gboolean ok;

  bin = gst_parse_bin_from_description (description, TRUE, &error);
  if (bin == NULL) {
    g_printerr ("%s\n", error->message);
    g_error_free (error);
    return FALSE;
  }
  gst_bin_add (GST_BIN (c->pipeline), bin);
  /* before the start: the pads of one number form one published stream */
  sink = gst_element_request_pad_simple (c->session, pad_name);
  src = gst_element_get_static_pad (bin, "src");
  ok = sink && gst_pad_link (src, sink) == GST_PAD_LINK_OK;
  gst_object_unref (src);
  if (sink)
    gst_object_unref (sink);
  if (!ok)
    g_printerr ("cannot link the test source to %s\n", pad_name);
  return ok;
}

static gchar *
read_token (const gchar * arg)
{
  gchar *text = NULL;
  GError *error = NULL;

  if (arg[0] != '@')
    return g_strdup (arg);
  if (!g_file_get_contents (arg + 1, &text, NULL, &error)) {
    g_printerr ("%s\n", error->message);
    g_error_free (error);
    return NULL;
  }
  return g_strstrip (text);
}

/* Messages posted while the state change failed (joining happens in
 * NULL->READY): print them, they say why. */
static void
print_pending_messages (Client * c)
{
  GstBus *bus = gst_element_get_bus (c->pipeline);
  GstMessage *msg;

  while ((msg = gst_bus_pop (bus))) {
    on_bus_message (bus, msg, c);
    gst_message_unref (msg);
  }
  gst_object_unref (bus);
}

int
main (int argc, char **argv)
{
  Client c = { 0, };
  gchar *secret, *token;
  GError *error = NULL;
  GOptionContext *ctx;
  GstBus *bus;
  guint i;
  GOptionEntry entries[] = {
    {"secret-file", 'f', 0, G_OPTION_ARG_FILENAME, &c.secret_file,
        "Read the encryption secret from FILE (default: $OTC_SECRET)", "FILE"},
    {"next-secret-file", 'n', 0, G_OPTION_ARG_FILENAME, &c.next_secret_file,
        "The secret to change to (default: $OTC_NEXT_SECRET, else the "
          "secret file read again)", "FILE"},
    {"rotate-after", 'r', 0, G_OPTION_ARG_INT, &c.rotate_after,
        "Change the secret after SECONDS (and on the r key)", "SECONDS"},
    {"signal-after", 's', 0, G_OPTION_ARG_INT, &c.signal_after,
        "Send a signal after SECONDS (and on the s key)", "SECONDS"},
    {"signal-type", 't', 0, G_OPTION_ARG_STRING, &c.signal_type,
        "The type of the signals sent (default: chat)", "TYPE"},
    {"signal-data", 'd', 0, G_OPTION_ARG_STRING, &c.signal_data,
        "The data of the signals sent (default: a greeting)", "TEXT"},
    {"quit-after", 'q', 0, G_OPTION_ARG_INT, &c.quit_after,
        "Leave after SECONDS (default: on q, Ctrl-C or SIGTERM)", "SECONDS"},
    {"no-publish", 0, 0, G_OPTION_ARG_NONE, &c.no_publish,
        "Only subscribe", NULL},
    {"no-audio", 0, 0, G_OPTION_ARG_NONE, &c.no_audio,
        "Publish video only", NULL},
    {"display", 0, 0, G_OPTION_ARG_NONE, &c.display,
        "Show and play what is received (default: count the frames)", NULL},
    {NULL}
  };

  ctx = g_option_context_new ("URL TOKEN - join an otc session");
  g_option_context_set_summary (ctx,
      "Publishes a test stream, subscribes to every other stream and logs "
      "the session's events.\nKeys: r changes the secret, s sends a signal, "
      "q quits.\nTOKEN may be @FILE. The secret comes from --secret-file "
      "or $OTC_SECRET, never from the command line.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    g_printerr ("%s\n", error->message);
    return 2;
  }
  g_option_context_free (ctx);
  if (argc != 3) {
    g_printerr ("usage: %s [OPTION...] URL TOKEN (see --help)\n", argv[0]);
    return 2;
  }
  if (c.signal_type == NULL)
    c.signal_type = g_strdup ("chat");

  secret = load_secret (c.secret_file, "OTC_SECRET", &error);
  if (secret == NULL) {
    g_printerr ("%s\n", error->message);
    return 2;
  }
  token = read_token (argv[2]);
  if (token == NULL)
    return 2;

  c.start = g_get_monotonic_time ();
  g_mutex_init (&c.lock);
  c.branches = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) branch_free);
  c.ended = g_ptr_array_new_with_free_func (g_free);
  c.pipeline = gst_pipeline_new ("client");
  c.session = gst_element_factory_make ("otcsession", "session");
  if (c.session == NULL) {
    g_printerr ("otcsession not found: set GST_PLUGIN_PATH to the build's "
        "ext/ folder, or install otc\n");
    return 1;
  }
  /* the token through a property, not a launch line: launch lines end up
   * in GStreamer's debug log */
  g_object_set (c.session, "url", argv[1], "token", token, NULL);
  wipe_and_free (token);
  if (!set_secret (&c, secret)) {
    g_printerr ("the encryption secret is invalid (8 to 256 characters)\n");
    return 2;
  }
  wipe_and_free (secret);
  gst_bin_add (GST_BIN (c.pipeline), c.session);
  g_signal_connect (c.session, "pad-added", G_CALLBACK (on_pad_added), &c);
  g_signal_connect (c.session, "pad-removed", G_CALLBACK (on_pad_removed), &c);

  if (!c.no_publish) {
    if (!add_source (&c, "videotestsrc is-live=true pattern=ball ! capsfilter "
            "caps=video/x-raw,width=320,height=240,framerate=30/1", "video_0"))
      return 1;
    if (!c.no_audio && !add_source (&c, "audiotestsrc is-live=true "
            "wave=ticks", "audio_0"))
      return 1;
  }

  say (&c, "joining %s", argv[1]);
  /* NULL->READY joins the session, and fails if joining fails */
  if (gst_element_set_state (c.pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE) {
    print_pending_messages (&c);
    say (&c, "could not join");
    gst_element_set_state (c.pipeline, GST_STATE_NULL);
    gst_object_unref (c.pipeline);
    return 1;
  }

  c.loop = g_main_loop_new (NULL, FALSE);
  bus = gst_element_get_bus (c.pipeline);
  gst_bus_add_watch (bus, on_bus_message, &c);
  gst_object_unref (bus);
  g_unix_signal_add (SIGINT, on_quit, &c);
  g_unix_signal_add (SIGTERM, on_quit, &c);
  g_unix_fd_add (STDIN_FILENO, G_IO_IN | G_IO_HUP, on_key, &c);
  if (c.rotate_after > 0)
    g_timeout_add_seconds (c.rotate_after, on_rotate_timer, &c);
  if (c.signal_after > 0)
    g_timeout_add_seconds (c.signal_after, on_signal_timer, &c);
  if (c.quit_after > 0)
    g_timeout_add_seconds (c.quit_after, on_quit, &c);
  keys_on (&c);
  if (isatty (STDIN_FILENO))
    say (&c, "keys: r = change the secret, s = send a signal, q = quit");

  g_main_loop_run (c.loop);

  keys_off (&c);
  say (&c, "leaving");
  gst_element_set_state (c.pipeline, GST_STATE_NULL);
  /* what was still playing when we left */
  g_mutex_lock (&c.lock);
  {
    GHashTableIter it;
    gpointer value;

    g_hash_table_iter_init (&it, c.branches);
    while (g_hash_table_iter_next (&it, NULL, &value)) {
      Branch *b = value;

      g_ptr_array_add (c.ended, g_strdup_printf ("%s: %" G_GUINT64_FORMAT
              " frames", b->pad_name, b->frames));
    }
  }
  g_mutex_unlock (&c.lock);
  /* removals still queued */
  while (g_main_context_iteration (NULL, FALSE));
  g_print ("received:%s\n", c.ended->len ? "" : " nothing");
  for (i = 0; i < c.ended->len; i++)
    g_print ("  %s\n", (gchar *) g_ptr_array_index (c.ended, i));

  gst_object_unref (c.pipeline);
  g_hash_table_unref (c.branches);
  g_ptr_array_unref (c.ended);
  g_main_loop_unref (c.loop);
  g_mutex_clear (&c.lock);
  g_free (c.secret_file);
  g_free (c.next_secret_file);
  g_free (c.signal_type);
  g_free (c.signal_data);
  return c.failed ? 1 : 0;
}
