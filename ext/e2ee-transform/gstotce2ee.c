/* The otce2ee plugin: otcencrypt and otcdecrypt. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstotce2eeelements.h"

static gboolean
plugin_init (GstPlugin * plugin)
{
  gboolean ret = FALSE;

  ret |= GST_ELEMENT_REGISTER (otcencrypt, plugin);
  ret |= GST_ELEMENT_REGISTER (otcdecrypt, plugin);
  return ret;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, otce2ee,
    "otc end-to-end encryption of encoded media (OTC-E2EE v1)",
    plugin_init, PACKAGE_VERSION, "LGPL", "otc", "https://otc.example/")
