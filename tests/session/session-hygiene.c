/* A whole E2EE session run as gst-launch-1.0 -v -m participants with
 * GST_DEBUG=*:9 and dot dumps: a publisher, a subscriber with the secret
 * and one with another. Neither secret, nor the secret key, sender base
 * keys or SFrame keys of the key ids used, appears in anything written:
 * stdout, stderr, debug logs, dot files. Secrets are passed by file. Runs
 * in a loopback-only network namespace. */
#include <gst/check/gstcheck.h>
#include <string.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <sys/wait.h>

#include "otc-test-util.h"
#include "session-common.h"

typedef struct
{
  const gchar *name;
  GPid pid;
  gchar *out_path, *err_path, *log_path;
} Launch;

static Launch *
launch (const gchar * name, const gchar * pipeline, const gchar * dot_dir)
{
  Launch *l = g_new0 (Launch, 1);
  gchar *line = g_strdup_printf ("%s -v -m %s", g_getenv ("OTC_GST_LAUNCH"),
      pipeline);
  gchar **argv = NULL, **envp = g_get_environ ();

  gint out_fd, err_fd;

  l->name = name;
  l->log_path = g_strdup_printf ("%s/%s.log", dot_dir, name);
  /* files, not pipes: nothing blocks on a child that does not end */
  l->out_path = g_strdup_printf ("%s/%s.out", dot_dir, name);
  l->err_path = g_strdup_printf ("%s/%s.err", dot_dir, name);
  out_fd = g_open (l->out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  err_fd = g_open (l->err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  fail_unless (out_fd >= 0 && err_fd >= 0);
  envp = g_environ_setenv (envp, "GST_DEBUG", "*:9", TRUE);
  envp = g_environ_setenv (envp, "GST_DEBUG_NO_COLOR", "1", TRUE);
  envp = g_environ_setenv (envp, "GST_DEBUG_FILE", l->log_path, TRUE);
  envp = g_environ_setenv (envp, "GST_DEBUG_DUMP_DOT_DIR", dot_dir, TRUE);
  if (g_getenv ("OTC_CHILD_LD_PRELOAD"))        /* sanitizer builds */
    envp = g_environ_setenv (envp, "LD_PRELOAD",
        g_getenv ("OTC_CHILD_LD_PRELOAD"), TRUE);
  fail_unless (g_shell_parse_argv (line, NULL, &argv, NULL));
  fail_unless (g_spawn_async_with_fds (NULL, argv, envp,
          G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &l->pid, -1, out_fd, err_fd,
          NULL));
  close (out_fd);
  close (err_fd);
  g_strfreev (argv);
  g_strfreev (envp);
  g_free (line);
  return l;
}

typedef struct
{
  gchar *out, *err, *log;
  gint status;
} Result;

static gchar *
take_file (gchar * path)
{
  gchar *text = NULL;

  fail_unless (g_file_get_contents (path, &text, NULL, NULL));
  g_unlink (path);
  g_free (path);
  return text;
}

/* Waits for @l to end by itself within @seconds (polling its exit, with a
 * bound); if it does not, interrupts it (SIGINT: gst-launch-1.0 stops its
 * pipeline and exits), then collects its output and debug log. */
static Result
finish (Launch * l, gint seconds)
{
  Result r = { 0 };
  gint64 end = g_get_monotonic_time () + seconds * G_USEC_PER_SEC;
  gboolean interrupted = FALSE;
  pid_t done;

  while ((done = waitpid (l->pid, &r.status, WNOHANG)) == 0) {
    if (g_get_monotonic_time () > end) {
      fail_if (interrupted, "%s did not stop", l->name);
      kill (l->pid, SIGINT);
      interrupted = TRUE;
      end = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
    }
    g_usleep (50 * 1000);       /* polling the child's exit, bounded */
  }
  fail_unless_equals_int (done, l->pid);
  if (interrupted)
    g_printerr ("%s: interrupted after %d s\n", l->name, seconds);
  r.out = take_file (l->out_path);
  r.err = take_file (l->err_path);
  if (g_getenv ("OTC_KEEP_LOGS"))
    r.log = g_strdup (""), g_printerr ("%s: log kept in %s\n", l->name, l->log_path);
  else
    r.log = take_file (l->log_path);
  g_printerr ("%s: %" G_GSIZE_FORMAT " bytes of debug log\n", l->name,
      strlen (r.log));
  g_spawn_close_pid (l->pid);
  g_free (l);
  return r;
}

static void
result_clear (Result * r)
{
  g_free (r->out);
  g_free (r->err);
  g_free (r->log);
}

static gchar *
read_dots (const gchar * dir)
{
  GString *all = g_string_new (NULL);
  GDir *d = g_dir_open (dir, 0, NULL);
  const gchar *name;
  guint files = 0;

  while ((name = g_dir_read_name (d))) {
    gchar *path = g_build_filename (dir, name, NULL), *text = NULL;

    if (g_str_has_suffix (name, ".dot")
        && g_file_get_contents (path, &text, NULL, NULL)) {
      g_string_append (all, text);
      files++;
    }
    g_free (text);
    g_unlink (path);
    g_free (path);
  }
  g_dir_close (d);
  fail_unless (files >= 6, "only %u dot files", files);
  return g_string_free (all, FALSE);
}

GST_START_TEST (test_session_hygiene)
{
  TestSession *t = test_session_new (TRUE);
  gchar *secret_file = otc_test_write_secret_file (SECRET);
  gchar *wrong_file = otc_test_write_secret_file (WRONG);
  gchar *dot_dir = g_dir_make_tmp ("otc-session-dot-XXXXXX", NULL);
  gchar *tokens[3], *desc, *dots;
  const gchar *secrets[] = { SECRET, WRONG, NULL };
  /* the first connections' key-id blocks: 256, 512, 768 (+ stream) */
  const guint64 kids[] = { 256, 257, 512, 513, 768, 769 };
  GPtrArray *needles;
  Launch *pub, *sub, *wrong;
  Result rp, rs, rw;
  guint i;

  for (i = 0; i < 3; i++)
    tokens[i] = test_session_token (t);
  needles = otc_test_secret_needles (secrets, t->session_id, kids,
      G_N_ELEMENTS (kids));

  desc = g_strdup_printf ("otcsrc url=%s token=%s encryption-secret-file=%s "
      "! fakesink silent=false", t->router->url, tokens[1], secret_file);
  sub = launch ("subscriber", desc, dot_dir);
  g_free (desc);
  desc = g_strdup_printf ("otcsrc url=%s token=%s encryption-secret-file=%s "
      "mismatch-delay=200 ! fakesink", t->router->url, tokens[2], wrong_file);
  wrong = launch ("wrong", desc, dot_dir);
  g_free (desc);
  /* eight seconds of media (level 9 logging slows every participant
   * down: the subscribers need a few seconds to get going), then EOS: the
   * publisher leaves, the subscribers' streams end */
  desc = g_strdup_printf ("otcsink name=s url=%s token=%s "
      "encryption-secret-file=%s videotestsrc is-live=true num-buffers=240 "
      "! video/x-raw,width=160,height=120,framerate=30/1 ! s.video_0",
      t->router->url, tokens[0], secret_file);
  pub = launch ("publisher", desc, dot_dir);
  g_free (desc);

  /* the publisher ends by itself (num-buffers); the subscribers when its
   * stream ends, or they are interrupted (a subscriber whose stream went
   * before any media reached it has no pad to end) */
  rp = finish (pub, 60);
  rs = finish (sub, 30);
  rw = finish (wrong, 30);
  fail_unless (g_spawn_check_wait_status (rp.status, NULL), "%s", rp.err);
  fail_unless (WIFEXITED (rs.status) || WIFSIGNALED (rs.status));

  /* it ran: published, received and decrypted, a mismatch reported */
  fail_unless (strstr (rp.out, "otc-stream-published") != NULL, "%s",
      rp.out);
  fail_unless (strstr (rs.out, "otc-stream-subscribed") != NULL);
  fail_unless (strstr (rs.out, "chain") != NULL, "no frame reached the "
      "subscriber's sink: %.3000s", rs.out);
  fail_unless (strstr (rw.out, "otc-encryption-secret-mismatch") != NULL);
  fail_unless (strstr (rp.log, "otcencrypt") != NULL);

  otc_test_assert_clean ("publisher's -v -m output", rp.out, needles);
  otc_test_assert_clean ("publisher's stderr", rp.err, needles);
  otc_test_assert_clean ("publisher's debug log", rp.log, needles);
  otc_test_assert_clean ("subscriber's -v -m output", rs.out, needles);
  otc_test_assert_clean ("subscriber's stderr", rs.err, needles);
  otc_test_assert_clean ("subscriber's debug log", rs.log, needles);
  otc_test_assert_clean ("wrong subscriber's -v -m output", rw.out, needles);
  otc_test_assert_clean ("wrong subscriber's debug log", rw.log, needles);
  dots = read_dots (dot_dir);
  otc_test_assert_clean ("dot files", dots, needles);

  g_free (dots);
  result_clear (&rp);
  result_clear (&rs);
  result_clear (&rw);
  g_rmdir (dot_dir);
  g_unlink (secret_file);
  g_unlink (wrong_file);
  g_free (secret_file);
  g_free (wrong_file);
  g_free (dot_dir);
  for (i = 0; i < 3; i++)
    g_free (tokens[i]);
  g_ptr_array_unref (needles);
  test_session_free (t);
}

GST_END_TEST;

static Suite *
session_hygiene_suite (void)
{
  Suite *s = suite_create ("session_hygiene");
  TCase *tc = tcase_create ("hygiene");

  tcase_set_timeout (tc, 180);
  tcase_add_checked_fixture (tc, NULL, session_teardown);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_session_hygiene);
  return s;
}

GST_CHECK_MAIN (session_hygiene);
