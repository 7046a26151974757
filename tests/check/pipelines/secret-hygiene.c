/* The secret and every key derived from it stay out of everything a
 * pipeline writes: debug logs at level 9, dot files, caps, bus messages,
 * and gst-launch-1.0 -v -m output. Invalid secrets (likely typos of the
 * real one) too. */
#include <string.h>

#include "otc-test-util.h"

#define SECRET "Hygiene-Secret-\xc3\xa9\xc3\xa9-4711"
#define WRONG "Wrong-Hygiene-Secret-0815"
#define INVALID "Shorty7"
#define SESSION "hygiene-session"
#define KID 4242

static GString *debug_log;
static GRecMutex log_lock;     /* formatting a message may log again */

static void
log_to_string (GstDebugCategory * category, GstDebugLevel level,
    const gchar * file, const gchar * function, gint line, GObject * object,
    GstDebugMessage * message, gpointer user_data)
{
  g_rec_mutex_lock (&log_lock);
  g_string_append_printf (debug_log, "%s %s:%d %s\n",
      gst_debug_category_get_name (category), file, line,
      gst_debug_message_get (message));
  g_rec_mutex_unlock (&log_lock);
}

/* Every way the secret or a key could be written down. */
static GPtrArray *
needles (void)
{
  const gchar *secrets[] = { SECRET, WRONG, INVALID, "Hygiene-Secret", NULL };
  const guint64 kids[] = { KID };

  return otc_test_secret_needles (secrets, SESSION, kids, 1);
}

/* In process: properties set with g_object_set, every log line of every
 * category at level 9, the dot dump, caps and messages. */
GST_START_TEST (test_in_process)
{
  GPtrArray *n = needles ();
  GstElement *pipeline = gst_parse_launch ("videotestsrc num-buffers=30 "
      "! video/x-raw,width=160,height=120 ! vp8enc ! otcencrypt name=enc "
      "! tee name=t ! queue ! rtpvp8pay ! rtpvp8depay ! otcdecrypt name=dec "
      "! fakesink t. ! queue ! otcdecrypt name=wrong ! fakesink", NULL);
  GstElement *enc = gst_bin_get_by_name (GST_BIN (pipeline), "enc");
  GstElement *dec = gst_bin_get_by_name (GST_BIN (pipeline), "dec");
  GstElement *wrong = gst_bin_get_by_name (GST_BIN (pipeline), "wrong");
  GString *messages = g_string_new (NULL);
  GstBus *bus = gst_element_get_bus (pipeline);
  gboolean done = FALSE, mismatch = FALSE;
  gchar *dot;

  debug_log = g_string_new (NULL);
  gst_debug_remove_log_function (gst_debug_log_default);
  gst_debug_add_log_function (log_to_string, NULL, NULL);
  gst_debug_set_active (TRUE);
  gst_debug_set_default_threshold (GST_LEVEL_MEMDUMP);

  g_object_set (enc, "encryption-secret", SECRET, "session-id", SESSION,
      "key-id", (guint64) KID, NULL);
  g_object_set (dec, "encryption-secret", SECRET, "session-id", SESSION,
      NULL);
  g_object_set (wrong, "encryption-secret", WRONG, "session-id", SESSION,
      NULL);
  g_object_set (wrong, "encryption-secret", INVALID, NULL);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  while (!done) {
    GstMessage *msg = gst_bus_timed_pop (bus, 60 * GST_SECOND);
    gchar *s;

    fail_unless (msg != NULL);
    s = gst_structure_to_string (gst_message_get_structure (msg) ?
        gst_message_get_structure (msg) : gst_structure_new_empty ("none"));
    g_string_append_printf (messages, "%s\n", s);
    if (strstr (s, "otc-encryption-secret-mismatch"))
      mismatch = TRUE;
    g_free (s);
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR)
      fail ("pipeline error");
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS)
      done = TRUE;
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_STATE_CHANGED
        && GST_MESSAGE_SRC (msg) == GST_OBJECT (pipeline)) {
      dot = gst_debug_bin_to_dot_data (GST_BIN (pipeline),
          GST_DEBUG_GRAPH_SHOW_ALL);
      otc_test_assert_clean ("dot dump", dot, n);
      g_free (dot);
    }
    gst_message_unref (msg);
  }
  fail_unless (mismatch, "the wrong secret should have been reported");
  fail_unless (strstr (messages->str, "otc-invalid-encryption-secret"));
  dot = gst_debug_bin_to_dot_data (GST_BIN (pipeline),
      GST_DEBUG_GRAPH_SHOW_ALL | GST_DEBUG_GRAPH_SHOW_FULL_PARAMS);
  otc_test_assert_clean ("dot dump", dot, n);
  g_free (dot);
  gst_element_set_state (pipeline, GST_STATE_NULL);

  gst_debug_set_default_threshold (GST_LEVEL_NONE);
  gst_debug_remove_log_function (log_to_string);
  gst_debug_add_log_function (gst_debug_log_default, NULL, NULL);
  /* the log is real: it saw the elements at work */
  fail_unless (strstr (debug_log->str, "otcencrypt") != NULL);
  fail_unless (strstr (debug_log->str, "Secret changed") != NULL);
  fail_unless (debug_log->len > 100000);
  otc_test_assert_clean ("debug log", debug_log->str, n);
  otc_test_assert_clean ("bus messages", messages->str, n);

  g_string_free (debug_log, TRUE);
  g_string_free (messages, TRUE);
  gst_object_unref (bus);
  gst_object_unref (enc);
  gst_object_unref (dec);
  gst_object_unref (wrong);
  gst_object_unref (pipeline);
  g_ptr_array_unref (n);
}

GST_END_TEST;

static gchar *
read_dir (const gchar * dir)
{
  GString *all = g_string_new (NULL);
  GDir *d = g_dir_open (dir, 0, NULL);
  const gchar *name;
  guint files = 0;

  while ((name = g_dir_read_name (d))) {
    gchar *path = g_build_filename (dir, name, NULL), *text = NULL;

    if (g_file_get_contents (path, &text, NULL, NULL)) {
      g_string_append (all, text);
      files++;
    }
    g_free (text);
    g_unlink (path);
    g_free (path);
  }
  g_dir_close (d);
  fail_unless (files > 0, "no dot files were written");
  return g_string_free (all, FALSE);
}

/* gst-launch-1.0 -v -m with GST_DEBUG=*:9 and dot dumps. With the secret
 * in a file, nothing may show it. With the secret on the command line,
 * GStreamer's own parser logs the launch line (and the process list shows
 * it; docs/security.md says so), but otc's categories, -v/-m output and the
 * dot files must not. */
static void
run_gst_launch (gboolean secret_on_command_line)
{
  GPtrArray *n = needles ();
  gchar *secret_file = otc_test_write_secret_file (SECRET);
  gchar *wrong_file = otc_test_write_secret_file (WRONG);
  gchar *invalid_file = otc_test_write_secret_file (INVALID);
  gchar *dot_dir = g_dir_make_tmp ("otc-dot-XXXXXX", NULL);
  gchar *log_path = g_build_filename (dot_dir, "debug.log", NULL);
  gchar *enc_secret = secret_on_command_line ?
      g_strdup_printf ("encryption-secret=\"%s\"", SECRET) :
      g_strdup_printf ("encryption-secret-file=%s", secret_file);
  gchar *launch = g_strdup_printf ("%s -v -m videotestsrc num-buffers=30 "
      "! video/x-raw,width=160,height=120 ! vp8enc "
      "! otcencrypt key-id=%d session-id=%s %s ! tee name=t "
      "! queue ! rtpvp8pay ! rtpvp8depay "
      "! otcdecrypt session-id=%s encryption-secret-file=%s ! fakesink "
      "t. ! queue ! otcdecrypt session-id=%s encryption-secret-file=%s "
      "encryption-secret-file=%s ! fakesink",
      g_getenv ("OTC_GST_LAUNCH"), KID, SESSION, enc_secret, SESSION,
      secret_file, SESSION, wrong_file, invalid_file);
  gchar **argv = NULL, **envp = g_get_environ ();
  gchar *out = NULL, *err = NULL, *log = NULL, *dots, *otc_lines;
  gint status = -1;
  GString *otc_only = g_string_new (NULL);
  gchar **lines;
  guint i;

  envp = g_environ_setenv (envp, "GST_DEBUG", "*:9", TRUE);
  envp = g_environ_setenv (envp, "GST_DEBUG_NO_COLOR", "1", TRUE);
  envp = g_environ_setenv (envp, "GST_DEBUG_FILE", log_path, TRUE);
  envp = g_environ_setenv (envp, "GST_DEBUG_DUMP_DOT_DIR", dot_dir, TRUE);
  if (g_getenv ("OTC_CHILD_LD_PRELOAD"))      /* sanitizer builds */
    envp = g_environ_setenv (envp, "LD_PRELOAD",
        g_getenv ("OTC_CHILD_LD_PRELOAD"), TRUE);
  fail_unless (g_shell_parse_argv (launch, NULL, &argv, NULL));
  fail_unless (g_spawn_sync (NULL, argv, envp, G_SPAWN_DEFAULT, NULL, NULL,
          &out, &err, &status, NULL));
  fail_unless (g_spawn_check_wait_status (status, NULL), "gst-launch: %s",
      err);
  /* it ran: the wrong secret was reported, the invalid one too */
  fail_unless (strstr (out, "otc-encryption-secret-mismatch") != NULL);
  fail_unless (strstr (out, "otc-invalid-encryption-secret") != NULL);
  fail_unless (strstr (out, "Got EOS") != NULL, "%s", out);
  otc_test_assert_clean ("gst-launch -v -m output", out, n);
  otc_test_assert_clean ("gst-launch stderr", err, n);

  fail_unless (g_file_get_contents (log_path, &log, NULL, NULL));
  g_unlink (log_path);
  fail_unless (strlen (log) > 100000);
  lines = g_strsplit (log, "\n", -1);
  /* time pid thread level category file:line:function:<object> text */
  for (i = 0; lines[i]; i++) {
    gchar **f = g_strsplit_set (lines[i], " ", -1);
    guint k, field = 0;

    for (k = 0; f[k]; k++) {
      if (*f[k] == '\0')
        continue;
      if (field++ == 4) {
        if (g_str_equal (f[k], "otcencrypt") || g_str_equal (f[k],
                "otcdecrypt") || g_str_equal (f[k], "otcsecret"))
          g_string_append_printf (otc_only, "%s\n", lines[i]);
        break;
      }
    }
    g_strfreev (f);
  }
  g_strfreev (lines);
  otc_lines = g_string_free (otc_only, FALSE);
  fail_unless (strstr (otc_lines, "Secret changed") != NULL);
  otc_test_assert_clean ("otc debug log lines", otc_lines, n);
  if (!secret_on_command_line)
    otc_test_assert_clean ("whole debug log", log, n);

  dots = read_dir (dot_dir);
  otc_test_assert_clean ("dot files", dots, n);

  g_rmdir (dot_dir);
  g_unlink (secret_file);
  g_unlink (wrong_file);
  g_unlink (invalid_file);
  g_free (dots);
  g_free (otc_lines);
  g_free (log);
  g_free (out);
  g_free (err);
  g_strfreev (argv);
  g_strfreev (envp);
  g_free (launch);
  g_free (enc_secret);
  g_free (log_path);
  g_free (dot_dir);
  g_free (secret_file);
  g_free (wrong_file);
  g_free (invalid_file);
  g_ptr_array_unref (n);
}

GST_START_TEST (test_gst_launch_secret_file)
{
  run_gst_launch (FALSE);
}

GST_END_TEST;

GST_START_TEST (test_gst_launch_secret_on_command_line)
{
  run_gst_launch (TRUE);
}

GST_END_TEST;

static Suite *
hygiene_suite (void)
{
  Suite *s = suite_create ("secret-hygiene");
  TCase *tc = tcase_create ("hygiene");

  tcase_set_timeout (tc, 240);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_in_process);
  tcase_add_test (tc, test_gst_launch_secret_file);
  tcase_add_test (tc, test_gst_launch_secret_on_command_line);
  return s;
}

GST_CHECK_MAIN (hygiene);
