#include "config.h"

#include "gstotcsessionelements.h"

static gboolean
plugin_init (GstPlugin * plugin)
{
  gboolean ok = FALSE;

  ok |= GST_ELEMENT_REGISTER (otcsession, plugin);
  ok |= GST_ELEMENT_REGISTER (otcsink, plugin);
  ok |= GST_ELEMENT_REGISTER (otcsrc, plugin);
  return ok;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, otcsession,
    "otc sessions: join, publish and subscribe, end-to-end encrypted",
    plugin_init, PACKAGE_VERSION, "LGPL", "otc", "https://example.invalid/otc")
