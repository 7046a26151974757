#include <string.h>

#include "bench-machine.h"

gchar *
bench_cpu_model_name (void)
{
  gchar *contents = NULL, *model = NULL;
  gchar **lines;
  guint i;

  if (!g_file_get_contents ("/proc/cpuinfo", &contents, NULL, NULL))
    return g_strdup ("unknown");
  lines = g_strsplit (contents, "\n", -1);
  for (i = 0; lines[i] != NULL && model == NULL; i++) {
    if (g_str_has_prefix (lines[i], "model name")) {
      const gchar *colon = strchr (lines[i], ':');

      if (colon != NULL)
        model = g_strstrip (g_strdup (colon + 1));
    }
  }
  g_strfreev (lines);
  g_free (contents);
  return model ? model : g_strdup ("unknown");
}
