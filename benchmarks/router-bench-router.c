/* otc-router-bench: the router as its own process (so that /proc tells
 * its CPU time and memory apart from the clients'), its REST API and the
 * tokens its clients connect with. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <glib/gstdio.h>
#include <jwt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "router-bench.h"

#define ROUTER_START_TIMEOUT_S 20
#define ROUTER_STOP_TIMEOUT_S 10

/* The router goes when the benchmark goes, whatever ends it. */
static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
  /* the router at the normal priority even when the clients run niced
   * (needs CAP_SYS_NICE; without it the router keeps the clients' value,
   * which the program prints) */
  setpriority (PRIO_PROCESS, 0, 0);
}

static gchar *
random_hex (guint bytes)
{
  GString *s = g_string_new (NULL);
  guint i;

  for (i = 0; i < bytes; i++)
    g_string_append_printf (s, "%02x", g_random_int_range (0, 256));
  return g_string_free (s, FALSE);
}

BenchRouter *
bench_router_start (const gchar * path, const gchar * subscriber_transport,
    GError ** error)
{
  BenchRouter *r = g_new0 (BenchRouter, 1);
  gchar **envp = g_get_environ ();
  gchar *secret_file, *archive_arg, *key_arg, *secret_arg;
  GString *line = g_string_new (NULL);
  gint64 deadline;

  r->api_key = g_strdup ("bench");
  r->api_secret = random_hex (24);
  r->state_dir = g_dir_make_tmp ("otc-router-bench-XXXXXX", error);
  if (r->state_dir == NULL)
    goto fail;
  /* the secret stays off the process list */
  secret_file = g_build_filename (r->state_dir, "api-secret", NULL);
  if (!g_file_set_contents_full (secret_file, r->api_secret, -1,
          G_FILE_SET_CONTENTS_NONE, 0600, error)) {
    g_free (secret_file);
    goto fail;
  }
  envp = g_environ_setenv (envp, "OTC_ROUTER_STATE_DIR", r->state_dir, TRUE);
  key_arg = g_strconcat ("--api-key=", r->api_key, NULL);
  secret_arg = g_strconcat ("--api-secret-file=", secret_file, NULL);
  archive_arg = g_strconcat ("--archive-dir=", r->state_dir, NULL);
  {
    gchar *transport_arg = subscriber_transport ?
        g_strconcat ("--subscriber-transport=", subscriber_transport, NULL) :
        NULL;
    const gchar *argv[] = { path, "--port=0", "--bind=127.0.0.1", key_arg,
      secret_arg, archive_arg, transport_arg, NULL
    };
    gboolean spawned;

    spawned = g_spawn_async_with_pipes (NULL, (gchar **) argv, envp,
        G_SPAWN_DO_NOT_REAP_CHILD, die_with_parent, NULL, &r->pid, NULL,
        &r->out_fd, NULL, error);
    g_free (transport_arg);

    if (!spawned) {
      g_free (key_arg);
      g_free (secret_arg);
      g_free (archive_arg);
      g_free (secret_file);
      goto fail;
    }
  }
  g_free (key_arg);
  g_free (secret_arg);
  g_free (archive_arg);
  g_free (secret_file);

  /* the first line is the URL */
  deadline = g_get_monotonic_time () + ROUTER_START_TIMEOUT_S * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < deadline) {
    gchar ch;
    gssize n = read (r->out_fd, &ch, 1);

    if (n <= 0 || ch == '\n')
      break;
    g_string_append_c (line, ch);
  }
  if (!g_str_has_prefix (line->str, "http://127.0.0.1:")) {
    g_set_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED,
        "%s printed \"%s\", not its URL", path, line->str);
    g_string_free (line, TRUE);
    g_strfreev (envp);
    bench_router_stop (r);
    return NULL;
  }
  r->url = g_string_free (line, FALSE);
  g_strfreev (envp);
  return r;

fail:
  g_string_free (line, TRUE);
  g_strfreev (envp);
  g_free (r->api_key);
  g_free (r->api_secret);
  g_free (r->state_dir);
  g_free (r);
  return NULL;
}

static void
remove_tree (const gchar * path)
{
  GDir *dir = g_dir_open (path, 0, NULL);
  const gchar *name;

  if (dir) {
    while ((name = g_dir_read_name (dir))) {
      gchar *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR))
        remove_tree (child);
      else
        g_unlink (child);
      g_free (child);
    }
    g_dir_close (dir);
  }
  g_rmdir (path);
}

gint
bench_router_stop (BenchRouter * r)
{
  gint status = -1;
  gint64 deadline = g_get_monotonic_time () + ROUTER_STOP_TIMEOUT_S *
      G_USEC_PER_SEC;
  gboolean reaped = FALSE;

  kill (r->pid, SIGTERM);
  while (g_get_monotonic_time () < deadline && !reaped) {
    if (waitpid (r->pid, &status, WNOHANG) == r->pid)
      reaped = TRUE;
    else
      g_usleep (10000);         /* polling the child's exit, bounded */
  }
  if (!reaped) {
    kill (r->pid, SIGKILL);
    waitpid (r->pid, NULL, 0);
    status = -1;
  }
  g_spawn_close_pid (r->pid);
  close (r->out_fd);
  remove_tree (r->state_dir);
  g_free (r->state_dir);
  g_free (r->url);
  g_free (r->api_key);
  g_free (r->api_secret);
  g_free (r);
  return status;
}

/* Sum of the run times of the process's live threads, in ns. Threads that
 * ended are missing (utime + stime has them): a cross-check only. */
static guint64
schedstat_sum (GPid pid)
{
  gchar *task_dir = g_strdup_printf ("/proc/%d/task", (gint) pid);
  GDir *dir = g_dir_open (task_dir, 0, NULL);
  const gchar *name;
  guint64 sum = 0;

  while (dir && (name = g_dir_read_name (dir))) {
    gchar *path = g_build_filename (task_dir, name, "schedstat", NULL);
    gchar *text = NULL;

    if (g_file_get_contents (path, &text, NULL, NULL))
      sum += g_ascii_strtoull (text, NULL, 10);
    g_free (text);
    g_free (path);
  }
  if (dir)
    g_dir_close (dir);
  g_free (task_dir);
  return sum;
}

gboolean
bench_proc_sample (GPid pid, BenchProcSample * sample)
{
  gchar *path, *text = NULL, *paren;
  gchar **fields;
  gboolean ok = FALSE;

  memset (sample, 0, sizeof (*sample));
  sample->when_ns = router_bench_now_ns ();
  path = g_strdup_printf ("/proc/%d/stat", (gint) pid);
  if (g_file_get_contents (path, &text, NULL, NULL)
      && (paren = strrchr (text, ')')) != NULL) {
    /* after "pid (comm) ": field 3 (state) is fields[0]; utime (14) is
     * fields[11], stime (15) fields[12], num_threads (20) fields[17] */
    fields = g_strsplit (paren + 2, " ", -1);
    if (g_strv_length (fields) > 17) {
      sample->cpu_ticks = g_ascii_strtoull (fields[11], NULL, 10) +
          g_ascii_strtoull (fields[12], NULL, 10);
      sample->threads = (guint) g_ascii_strtoull (fields[17], NULL, 10);
      ok = TRUE;
    }
    g_strfreev (fields);
  }
  g_free (text);
  g_free (path);
  text = NULL;

  path = g_strdup_printf ("/proc/%d/status", (gint) pid);
  if (ok && g_file_get_contents (path, &text, NULL, NULL)) {
    const gchar *rss = strstr (text, "\nVmRSS:");

    if (rss)
      sample->rss_kb = g_ascii_strtoull (rss + strlen ("\nVmRSS:"), NULL, 10);
    else
      ok = FALSE;
  }
  g_free (text);
  g_free (path);
  sample->schedstat_ns = schedstat_sum (pid);
  return ok;
}

static void
thread_time_free (BenchThreadTime * t)
{
  g_free (t->comm);
  g_free (t);
}

GHashTable *
bench_proc_thread_times (GPid pid)
{
  gchar *task_dir = g_strdup_printf ("/proc/%d/task", (gint) pid);
  GDir *dir = g_dir_open (task_dir, 0, NULL);
  GHashTable *times = g_hash_table_new_full (g_str_hash, g_str_equal,
      g_free, (GDestroyNotify) thread_time_free);
  const gchar *name;

  while (dir && (name = g_dir_read_name (dir))) {
    gchar *path = g_build_filename (task_dir, name, "stat", NULL);
    gchar *text = NULL, *open, *close;

    if (g_file_get_contents (path, &text, NULL, NULL)
        && (open = strchr (text, '(')) && (close = strrchr (text, ')'))) {
      gchar **fields = g_strsplit (close + 2, " ", -1);

      if (g_strv_length (fields) > 12) {
        BenchThreadTime *t = g_new0 (BenchThreadTime, 1);

        t->comm = g_strndup (open + 1, close - open - 1);
        t->cpu_ticks = g_ascii_strtoull (fields[11], NULL, 10) +
            g_ascii_strtoull (fields[12], NULL, 10);
        g_hash_table_insert (times, g_strdup (name), t);
      }
      g_strfreev (fields);
    }
    g_free (text);
    g_free (path);
  }
  if (dir)
    g_dir_close (dir);
  g_free (task_dir);
  return times;
}

/* ------------------------------------------------------------------------ */
/* REST and tokens */

static gchar *
make_jwt (const gchar * claims_json, const gchar * secret)
{
  jwt_t *jwt = NULL;
  gchar *out = NULL;
  char *s;

  if (jwt_new (&jwt) != 0)
    return NULL;
  if (jwt_add_grants_json (jwt, claims_json) == 0
      && jwt_set_alg (jwt, JWT_ALG_HS256, (const unsigned char *) secret,
          strlen (secret)) == 0 && (s = jwt_encode_str (jwt)) != NULL) {
    out = g_strdup (s);
    free (s);
  }
  jwt_free (jwt);
  return out;
}

static gint64
now_s (void)
{
  return g_get_real_time () / G_USEC_PER_SEC;
}

gchar *
bench_router_client_token (BenchRouter * r, const gchar * session_id,
    const gchar * role)
{
  gchar *claims = g_strdup_printf ("{\"scope\":\"session.connect\","
      "\"session_id\":\"%s\",\"role\":\"%s\",\"iat\":%" G_GINT64_FORMAT
      ",\"exp\":%" G_GINT64_FORMAT ",\"nonce\":\"%u\"}", session_id, role,
      now_s (), now_s () + 3600, g_random_int ());
  gchar *jwt = make_jwt (claims, r->api_secret);

  g_free (claims);
  return jwt;
}

gchar *
bench_router_create_session (BenchRouter * r, GError ** error)
{
  gchar *claims = g_strdup_printf ("{\"iss\":\"%s\",\"ist\":\"project\","
      "\"iat\":%" G_GINT64_FORMAT ",\"exp\":%" G_GINT64_FORMAT
      ",\"jti\":\"%u\"}", r->api_key, now_s (), now_s () + 120,
      g_random_int ());
  gchar *jwt = make_jwt (claims, r->api_secret);
  gchar *uri = g_strconcat (r->url, "/session/create", NULL);
  SoupSession *session = soup_session_new ();
  SoupMessage *msg = soup_message_new ("POST", uri);
  static const gchar form[] = "e2ee=true";
  GBytes *reply;
  JsonParser *parser = NULL;
  JsonNode *root;
  gchar *id = NULL;

  soup_message_headers_append (soup_message_get_request_headers (msg),
      "X-OPENTOK-AUTH", jwt);
  soup_message_set_request_body_from_bytes (msg,
      "application/x-www-form-urlencoded", g_bytes_new_static (form,
          strlen (form)));
  reply = soup_session_send_and_read (session, msg, NULL, error);
  if (reply == NULL)
    goto done;
  if (soup_message_get_status (msg) != 200) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
        "POST /session/create: HTTP %u: %.*s", soup_message_get_status (msg),
        (gint) g_bytes_get_size (reply),
        (const gchar *) g_bytes_get_data (reply, NULL));
    goto done;
  }
  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, g_bytes_get_data (reply, NULL),
          g_bytes_get_size (reply), error))
    goto done;
  root = json_parser_get_root (parser);
  if (JSON_NODE_HOLDS_ARRAY (root)
      && json_array_get_length (json_node_get_array (root)) > 0) {
    JsonObject *o = json_array_get_object_element (json_node_get_array (root),
        0);

    if (o && json_object_has_member (o, "session_id"))
      id = g_strdup (json_object_get_string_member (o, "session_id"));
  }
  if (id == NULL)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
        "POST /session/create: no session_id in the answer");

done:
  g_clear_object (&parser);
  if (reply)
    g_bytes_unref (reply);
  g_object_unref (msg);
  g_object_unref (session);
  g_free (uri);
  g_free (jwt);
  g_free (claims);
  return id;
}
