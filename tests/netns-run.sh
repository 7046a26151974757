#!/bin/sh
# Runs a command in a network namespace of its own, where only loopback
# exists: WebRTC tests can then reach nothing but 127.0.0.1.
# With OTC_NETNS_EXTRA_ADDRESS (e.g. 10.255.0.1) set, that address is also
# put on one end of a veth pair whose both ends stay in the namespace, so
# that a test can check that ICE ignores an interface it was not given
# (nothing can leave the namespace through it). If the pair cannot be made,
# the variable is unset. Exits 77 (skipped) where namespaces are not
# permitted.
if ! unshare -n true 2>/dev/null; then
  echo "netns-run: cannot create a network namespace (needs root or" \
    "user namespaces); skipping $1" >&2
  exit 77
fi
exec unshare -n sh -c '
  ip link set lo up || exit 1
  if [ -n "$OTC_NETNS_EXTRA_ADDRESS" ]; then
    if ip link add otc0 type veth peer name otc1 2>/dev/null &&
        ip addr add "$OTC_NETNS_EXTRA_ADDRESS/24" dev otc0 &&
        ip link set otc0 up && ip link set otc1 up; then
      :
    else
      echo "netns-run: no veth pair, OTC_NETNS_EXTRA_ADDRESS unset" >&2
      unset OTC_NETNS_EXTRA_ADDRESS
    fi
  fi
  exec "$@"' sh "$@"
