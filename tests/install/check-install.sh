#!/usr/bin/env bash
# `meson install` into a scratch DESTDIR: the plugin lands in GStreamer's
# own plugin directory (so gst-inspect-1.0 finds it with no environment),
# the library has its header and pkg-config file, and an application
# builds against them.
# usage: check-install.sh BUILD_DIR PLUGIN_DIR PREFIX LIBDIR
set -euo pipefail
build=$1 plugindir=$2 prefix=$3 libdir=$4
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT

meson install -C "$build" --destdir "$dest" --no-rebuild --quiet >/dev/null

fail() { echo "FAIL: $*"; exit 1; }
plugin="$dest$plugindir/libgstotce2ee.so"
[ -f "$plugin" ] || fail "plugin not in GStreamer's plugin directory ($plugindir)"
[ "$plugindir" = "$(pkg-config --variable=pluginsdir gstreamer-1.0)" ] \
  || echo "note: plugindir overridden to $plugindir"
[ -e "$dest$prefix/$libdir/libotc-e2ee-1.0.so.0" ] || fail "library missing"
[ -f "$dest$prefix/include/otc-1.0/otc/e2ee.h" ] || fail "header missing"
pc="$dest$prefix/$libdir/pkgconfig/otc-e2ee-1.0.pc"
[ -f "$pc" ] || fail "pkg-config file missing"
readelf -d "$plugin" | grep -q "R.*PATH.*\[$prefix/$libdir\]" \
  || fail "plugin has no run path to $prefix/$libdir"
echo "ok: files in place"

# gst-inspect-1.0 with only the installed plugin directory
out=$(GST_PLUGIN_SYSTEM_PATH_1_0="$dest$plugindir" GST_PLUGIN_PATH_1_0='' \
  GST_REGISTRY="$dest/registry.bin" LD_LIBRARY_PATH="$dest$prefix/$libdir" \
  gst-inspect-1.0 otcencrypt 2>&1) || fail "gst-inspect-1.0 otcencrypt: $out"
grep -q "encryption-secret" <<<"$out" || fail "otcencrypt properties missing"
echo "ok: gst-inspect-1.0 otcencrypt"
for element in otcsession otcsink otcsrc; do
  out=$(GST_PLUGIN_SYSTEM_PATH_1_0="$dest$plugindir" GST_PLUGIN_PATH_1_0='' \
    GST_REGISTRY="$dest/registry.bin" LD_LIBRARY_PATH="$dest$prefix/$libdir" \
    gst-inspect-1.0 $element 2>&1) || fail "gst-inspect-1.0 $element: $out"
  grep -q "ice-addresses" <<<"$out" || fail "$element properties missing"
done
echo "ok: gst-inspect-1.0 otcsession otcsink otcsrc"

# an application against the installed header and pkg-config file
cat >"$dest/app.c" <<'C'
#include <otc/e2ee.h>
#include <stdio.h>
int
main (void)
{
  GError *error = NULL;
  if (!otc_has_end_to_end_encryption_support ())
    return 1;
  if (otc_secret_validate ("short", &error) || error->code != 6004)
    return 2;
  printf ("app: %s\n", otc_e2ee_error_name (error->code));
  g_error_free (error);
  return 0;
}
C
# the .pc file as installed, pointed at the scratch prefix
mkdir "$dest/pc"
sed "s|^prefix=.*|prefix=$dest$prefix|" "$pc" >"$dest/pc/otc-e2ee-1.0.pc"
export PKG_CONFIG_PATH="$dest/pc"
# shellcheck disable=SC2046
cc -o "$dest/app" "$dest/app.c" $(pkg-config --cflags --libs otc-e2ee-1.0) \
  || fail "application does not build against the installed files"
LD_LIBRARY_PATH="$dest$prefix/$libdir" "$dest/app" || fail "application failed"
echo "ok: application built with pkg-config otc-e2ee-1.0"
