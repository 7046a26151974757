/* otc-e2ee-bench: the figures of docs/performance.md.
 *
 *   ninja -C build && build/benchmarks/otc-e2ee-bench
 *
 * 1. protect+unprotect of one frame against the raw OpenSSL work
 * 2. otcencrypt ! otcdecrypt against identity ! identity
 * 3. srtpenc ! srtpdec on the same media
 * 4. the longest gap between frames while the secret changes at 30 fps
 *
 * The plugin is loaded from the build directory, with a registry of its
 * own there, so that nothing needs installing and the user's registry is
 * left alone. */
#ifdef HAVE_CONFIG_H
#include "bench-machine.h"
#include "config.h"
#endif

#include <gst/gst.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#ifndef OTC_PLUGIN_DIR
#error "OTC_PLUGIN_DIR must name the directory of the otce2ee plugin"
#endif

typedef struct
{
  gchar *section;
  gchar *target;
  gchar *value;
  gboolean met;
} Target;

static GPtrArray *targets;

static void
target_free (gpointer data)
{
  Target *t = data;

  g_free (t->section);
  g_free (t->target);
  g_free (t->value);
  g_free (t);
}

void
bench_target_add (const gchar * section, const gchar * target,
    const gchar * value, gboolean met)
{
  Target *t = g_new0 (Target, 1);

  t->section = g_strdup (section);
  t->target = g_strdup (target);
  t->value = g_strdup (value);
  t->met = met;
  g_ptr_array_add (targets, t);
}

const gchar *
bench_verdict (gboolean met)
{
  return met ? "met" : "MISSED";
}

static gint
compare_doubles (gconstpointer a, gconstpointer b)
{
  gdouble x = *(const gdouble *) a, y = *(const gdouble *) b;

  return x < y ? -1 : x > y ? 1 : 0;
}

gdouble
bench_median (const gdouble * values, guint n)
{
  gdouble *v = g_memdup2 (values, n * sizeof (gdouble));
  gdouble m;

  qsort (v, n, sizeof (gdouble), compare_doubles);
  m = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  g_free (v);
  return m;
}


/* Before gst_init: the build directory's plugin first, and a registry of
 * our own so that the user's cache never lists a build-tree plugin. */
static void
setup_plugin_path (void)
{
  const gchar *old = g_getenv ("GST_PLUGIN_PATH");
  gchar *path;

  if (old != NULL && *old != '\0')
    path = g_strconcat (OTC_PLUGIN_DIR, G_SEARCHPATH_SEPARATOR_S, old, NULL);
  else
    path = g_strdup (OTC_PLUGIN_DIR);
  g_setenv ("GST_PLUGIN_PATH", path, TRUE);
  g_free (path);
#ifdef OTC_BENCH_REGISTRY
  g_setenv ("GST_REGISTRY", OTC_BENCH_REGISTRY, FALSE);
#endif
}

static gboolean
section_wanted (gchar ** sections, guint n)
{
  gchar num[4];

  if (sections == NULL)
    return TRUE;
  g_snprintf (num, sizeof (num), "%u", n);
  return g_strv_contains ((const gchar * const *) sections, num);
}

int
main (int argc, char **argv)
{
  gchar *sections_arg = NULL;
  gchar **sections = NULL;
  gint rekey_seconds = 10;
  gboolean ok = TRUE, all_met = TRUE;
  GOptionEntry entries[] = {
    {"sections", 's', 0, G_OPTION_ARG_STRING, &sections_arg,
        "Sections to run, comma-separated (default: 1,2,3,4)", "LIST"},
    {"rekey-seconds", 'r', 0, G_OPTION_ARG_INT, &rekey_seconds,
        "Secret changes (one a second) in section 4 (default: 10)", "N"},
    {NULL}
  };
  GOptionContext *ctx;
  GError *error = NULL;
  gchar *model, *gst_version;
  guint i;

  setup_plugin_path ();

  ctx = g_option_context_new ("- otc end-to-end encryption benchmark");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    g_printerr ("%s\n", error->message);
    g_error_free (error);
    g_option_context_free (ctx);
    return 2;
  }
  g_option_context_free (ctx);
  if (sections_arg != NULL)
    sections = g_strsplit (sections_arg, ",", -1);
  if (rekey_seconds < 1)
    rekey_seconds = 1;

  gst_init (&argc, &argv);
  targets = g_ptr_array_new_with_free_func (target_free);

  model = bench_cpu_model_name ();
  gst_version = gst_version_string ();
  g_print ("otc-e2ee-bench (otc %s)\n", PACKAGE_VERSION);
  g_print ("  machine:   %s, %u cores (nproc %u)\n", model,
      g_get_num_processors (), g_get_num_processors ());
  g_print ("  libraries: %s, %s\n", OpenSSL_version (OPENSSL_VERSION),
      gst_version);
#ifdef OTC_BUILD_TYPE
  g_print ("  build:     %s\n", OTC_BUILD_TYPE);
#endif
  g_print ("  plugin:    %s\n\n", OTC_PLUGIN_DIR);
  g_free (model);
  g_free (gst_version);

  if (section_wanted (sections, 1))
    ok &= bench_frame_run ();
  if (section_wanted (sections, 2) || section_wanted (sections, 3))
    ok &= bench_elements_run (section_wanted (sections, 3));
  if (section_wanted (sections, 4))
    ok &= bench_rekey_run ((guint) rekey_seconds);

  g_print ("== Targets ==\n");
  for (i = 0; i < targets->len; i++) {
    Target *t = g_ptr_array_index (targets, i);

    g_print ("  [%s] %-50s %-22s %s\n", t->section, t->target, t->value,
        bench_verdict (t->met));
    all_met &= t->met;
  }
  if (!ok)
    g_print ("  some measurements failed (see above)\n");
  else if (targets->len > 0)
    g_print ("  %s\n", all_met ? "all targets met" : "some targets missed");

  g_ptr_array_unref (targets);
  g_strfreev (sections);
  g_free (sections_arg);
  gst_deinit ();
  /* Missed targets are figures, not failures: only a failed measurement
   * makes the exit status non-zero. */
  return ok ? 0 : 1;
}
