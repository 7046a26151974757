#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

GST_ELEMENT_REGISTER_DECLARE (otcencrypt);
GST_ELEMENT_REGISTER_DECLARE (otcdecrypt);

G_END_DECLS
