/* A whole E2EE session run as gst-launch-1.0 -v -m participants with
 * GST_DEBUG=*:9 and dot dumps: a publisher, a subscriber with the secret
 * and one with another, through an otc-router also at GST_DEBUG=*:9.
 * Neither secret, nor the secret key, sender base keys, SFrame keys or
 * salts of the key ids used, appears in anything any of them wrote:
 * stdout, stderr, debug logs, dot files (otc_test_secret_needles() says in
 * which forms). Secrets are passed by file. Runs in a loopback-only
 * network namespace. */
#include <gst/check/gstcheck.h>
#include <string.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <sys/prctl.h>
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
  gsize out_len, err_len, log_len;
  gint status;
} Result;

/* the whole file (NULs included: *@len), removed */
static gchar *
take_file (gchar * path, gsize * len)
{
  gchar *text = NULL;

  fail_unless (g_file_get_contents (path, &text, len, NULL), "%s", path);
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
  r.out = take_file (l->out_path, &r.out_len);
  r.err = take_file (l->err_path, &r.err_len);
  if (g_getenv ("OTC_KEEP_LOGS")) {
    r.log = g_strdup ("");
    g_printerr ("%s: log kept in %s\n", l->name, l->log_path);
    g_free (l->log_path);
  } else {
    r.log = take_file (l->log_path, &r.log_len);
  }
  g_printerr ("%s: %" G_GSIZE_FORMAT " bytes of debug log\n", l->name,
      r.log_len);
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
read_dots (const gchar * dir, gsize * len)
{
  GString *all = g_string_new (NULL);
  GDir *d = g_dir_open (dir, 0, NULL);
  const gchar *name;
  guint files = 0;

  while ((name = g_dir_read_name (d))) {
    gchar *path = g_build_filename (dir, name, NULL), *text = NULL;

    gsize n = 0;

    if (g_str_has_suffix (name, ".dot")
        && g_file_get_contents (path, &text, &n, NULL)) {
      g_string_append_len (all, text, n);
      files++;
    }
    g_free (text);
    g_unlink (path);
    g_free (path);
  }
  g_dir_close (d);
  fail_unless (files >= 6, "only %u dot files", files);
  *len = all->len;
  return g_string_free (all, FALSE);
}

/* The router goes when the test process goes, whatever ends it. */
static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

/* otc-router as test_router_start() starts it, but at GST_DEBUG=*:9 like
 * the participants, its debug log and stderr in files of @dir and its
 * stdout kept (*@url_line: the first line, the URL): what it writes is
 * searched too. The E2EE secret never reaches it; nothing a participant
 * sends it may hold secret material. */
static TestRouter *
start_router (const gchar * dir, gchar ** url_line)
{
  TestRouter *r = g_new0 (TestRouter, 1);
  gchar **envp = g_get_environ ();
  gchar *secret_file, *log_path, *err_path;
  const gchar *argv[6];
  GString *line = g_string_new (NULL);
  GError *error = NULL;
  gint err_fd;

  fail_unless (g_getenv ("OTC_ROUTER") != NULL);
  r->state_dir = g_dir_make_tmp ("otc-router-state-XXXXXX", NULL);
  r->archive_dir = g_build_filename (r->state_dir, "archives", NULL);
  /* the API secret through a file: never on a command line */
  secret_file = g_build_filename (r->state_dir, "api-secret", NULL);
  fail_unless (g_file_set_contents_full (secret_file, TEST_API_SECRET, -1,
          G_FILE_SET_CONTENTS_CONSISTENT, 0600, NULL));
  argv[0] = g_getenv ("OTC_ROUTER");
  argv[1] = "--port=0";
  argv[2] = "--api-key=" TEST_API_KEY;
  argv[3] = g_strconcat ("--api-secret-file=", secret_file, NULL);
  argv[4] = g_strconcat ("--archive-dir=", r->archive_dir, NULL);
  argv[5] = NULL;
  log_path = g_build_filename (dir, "router.log", NULL);
  err_path = g_build_filename (dir, "router.err", NULL);
  envp = g_environ_setenv (envp, "OTC_ROUTER_STATE_DIR", r->state_dir, TRUE);
  envp = g_environ_setenv (envp, "GST_DEBUG", "*:9", TRUE);
  envp = g_environ_setenv (envp, "GST_DEBUG_NO_COLOR", "1", TRUE);
  envp = g_environ_setenv (envp, "GST_DEBUG_FILE", log_path, TRUE);
  envp = g_environ_setenv (envp, "GST_DEBUG_DUMP_DOT_DIR", dir, TRUE);
  err_fd = g_open (err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  fail_unless (err_fd >= 0);
  if (!g_spawn_async_with_pipes_and_fds (NULL, argv, (const gchar * const *)
          envp, G_SPAWN_DO_NOT_REAP_CHILD, die_with_parent, NULL, -1, -1,
          err_fd, NULL, NULL, 0, &r->pid, NULL, &r->out_fd, NULL, &error))
    fail ("cannot start otc-router: %s", error->message);
  close (err_fd);

  /* the first line is the URL */
  for (;;) {
    gchar ch;

    if (read (r->out_fd, &ch, 1) != 1)
      break;
    g_string_append_c (line, ch);
    if (ch == '\n')
      break;
  }
  fail_unless (g_str_has_prefix (line->str, "http://127.0.0.1:"),
      "otc-router printed \"%s\"", line->str);
  r->url = g_strndup (line->str, line->len - 1);
  *url_line = g_string_free (line, FALSE);
  g_free ((gchar *) argv[3]);
  g_free ((gchar *) argv[4]);
  g_free (secret_file);
  g_free (log_path);
  g_free (err_path);
  g_strfreev (envp);
  return r;
}

/* The search itself finds key material planted the way output could hold
 * it: 8 bytes of a key inside a larger base64 blob (and base64url) at each
 * of the three alignments, an upper-case spaced hex dump, raw bytes; and
 * finds nothing in the same text without them. */
static void
assert_search_finds (GPtrArray * needles, const gchar * session_id)
{
  OtcSecretKey *sk = otc_test_secret_key (SECRET, session_id);
  const OtcCipherSuiteInfo *info =
      otc_cipher_suite_get_info (OTC_CIPHER_SUITE_DEFAULT);
  guint8 base[OTC_MAX_HASH_SIZE], key[OTC_MAX_KEY_SIZE],
      salt[OTC_NONCE_SIZE], blob[64];
  gchar *text, *b64, *h;
  gsize at;
  guint a, i;

  fail_unless (otc_derive_sender_base_key (sk, OTC_CIPHER_SUITE_DEFAULT, 768,
          base, NULL));
  fail_unless (otc_derive_sframe_key_salt (OTC_CIPHER_SUITE_DEFAULT, 768,
          base, info->hash_size, key, salt, NULL));
  /* 0-2: base64, 3-5: base64url, the key 0, 1, 2 bytes into a group; 6:
   * the blob without it */
  for (a = 0; a < 7; a++) {
    memset (blob, 0x5a, sizeof (blob));
    if (a < 6)
      memcpy (blob + 20 + a % 3, key + 41, 8);
    b64 = g_base64_encode (blob, sizeof (blob));
    if (a >= 3) {
      g_strdelimit (b64, "+", '-');
      g_strdelimit (b64, "/", '_');
    }
    text = g_strdup_printf ("0:00:01.000 12 0x1 LOG otc x.c:1:f: data %s "
        "end\n", b64);
    fail_unless ((otc_test_find_secret ((const guint8 *) text, strlen (text),
                needles, &at) != NULL) == (a < 6), "%u: %s", a, text);
    g_free (text);
    g_free (b64);
  }
  h = g_strdup ("");
  for (i = 10; i < 19; i++) {
    gchar *t = g_strdup_printf ("%s%02X ", h, base[i]);

    g_free (h);
    h = t;
  }
  text = g_strdup_printf ("00000010: %s .........\n", h);
  fail_unless (otc_test_find_secret ((const guint8 *) text, strlen (text),
          needles, &at) != NULL, "%s", text);
  g_free (text);
  g_free (h);
  memset (blob, 0, sizeof (blob));
  memcpy (blob + 30, salt + 2, 8);
  fail_unless (otc_test_find_secret (blob, sizeof (blob), needles,
          &at) != NULL);
  fail_unless_equals_int (at, 30);
  otc_secret_key_unref (sk);
}

/* Fails naming @what when @text (@len bytes) holds any needle; counts. */
static void
assert_clean (const gchar * what, const gchar * text, gsize len,
    GPtrArray * needles, guint64 * searched)
{
  otc_test_assert_clean_len (what, (const guint8 *) text, len, needles);
  *searched += len;
}

GST_START_TEST (test_session_hygiene)
{
  gchar *dot_dir = g_dir_make_tmp ("otc-session-dot-XXXXXX", NULL);
  TestSession *t = g_new0 (TestSession, 1);
  gchar *secret_file = otc_test_write_secret_file (SECRET);
  gchar *wrong_file = otc_test_write_secret_file (WRONG);
  gchar *tokens[3], *desc, *dots, *router_log, *router_err;
  const gchar *secrets[] = { SECRET, WRONG, NULL };
  /* the first connections' key-id blocks: 256, 512, 768 (+ stream) */
  const guint64 kids[] = { 256, 257, 512, 513, 768, 769 };
  GPtrArray *needles;
  GString *router_out = g_string_new (NULL);
  Launch *pub, *sub, *wrong;
  Result rp, rs, rw;
  gsize dots_len, log_len, err_len;
  guint64 searched = 0;
  gint64 t_search;
  gint out_fd;
  guint i;

  live_session = t;             /* session_teardown() stops it on failure */
  {
    gchar *url_line = NULL;

    t->router = start_router (dot_dir, &url_line);
    g_string_append (router_out, url_line);
    g_free (url_line);
  }
  t->session_id = test_create_session (t->router, "e2ee=true");
  for (i = 0; i < 3; i++)
    tokens[i] = test_session_token (t);
  needles = otc_test_secret_needles (secrets, t->session_id, kids,
      G_N_ELEMENTS (kids));
  assert_search_finds (needles, t->session_id);

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

  /* the router's output up to its exit (clean: status 0) */
  out_fd = dup (t->router->out_fd);
  fail_unless (out_fd >= 0);
  test_session_free (t);
  for (;;) {
    gchar buf[4096];
    gssize n = read (out_fd, buf, sizeof (buf));

    if (n <= 0)
      break;
    g_string_append_len (router_out, buf, n);
  }
  close (out_fd);
  router_log = take_file (g_build_filename (dot_dir, "router.log", NULL),
      &log_len);
  router_err = take_file (g_build_filename (dot_dir, "router.err", NULL),
      &err_len);
  g_printerr ("router: %" G_GSIZE_FORMAT " bytes of debug log\n", log_len);

  /* it ran: published, received and decrypted, a mismatch reported */
  fail_unless (strstr (rp.out, "otc-stream-published") != NULL, "%s",
      rp.out);
  fail_unless (strstr (rs.out, "otc-stream-subscribed") != NULL);
  fail_unless (strstr (rs.out, "chain") != NULL, "no frame reached the "
      "subscriber's sink: %.3000s", rs.out);
  fail_unless (strstr (rw.out, "otc-encryption-secret-mismatch") != NULL);
  fail_unless (strstr (rp.log, "otcencrypt") != NULL);
  fail_unless (strstr (router_log, "otcrouter") != NULL);

  t_search = g_get_monotonic_time ();
  assert_clean ("publisher's -v -m output", rp.out, rp.out_len, needles,
      &searched);
  assert_clean ("publisher's stderr", rp.err, rp.err_len, needles,
      &searched);
  assert_clean ("publisher's debug log", rp.log, rp.log_len, needles,
      &searched);
  assert_clean ("subscriber's -v -m output", rs.out, rs.out_len, needles,
      &searched);
  assert_clean ("subscriber's stderr", rs.err, rs.err_len, needles,
      &searched);
  assert_clean ("subscriber's debug log", rs.log, rs.log_len, needles,
      &searched);
  assert_clean ("wrong subscriber's -v -m output", rw.out, rw.out_len,
      needles, &searched);
  assert_clean ("wrong subscriber's stderr", rw.err, rw.err_len, needles,
      &searched);
  assert_clean ("wrong subscriber's debug log", rw.log, rw.log_len, needles,
      &searched);
  assert_clean ("otc-router's stdout", router_out->str, router_out->len,
      needles, &searched);
  assert_clean ("otc-router's stderr", router_err, err_len, needles,
      &searched);
  assert_clean ("otc-router's debug log", router_log, log_len, needles,
      &searched);
  dots = read_dots (dot_dir, &dots_len);
  assert_clean ("dot files", dots, dots_len, needles, &searched);
  g_printerr ("%" G_GUINT64_FORMAT " bytes searched for %u needles in %.2f "
      "s: clean\n", searched, needles->len,
      (g_get_monotonic_time () - t_search) / 1e6);

  g_free (dots);
  g_free (router_log);
  g_free (router_err);
  g_string_free (router_out, TRUE);
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
