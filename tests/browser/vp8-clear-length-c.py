"""Prints the C library's VP8 clear length (otc_vp8_clear_length) of every
file named on the command line, as JSON: {"file": L or -code}. Used by
vp8-policy.mjs to check the JS port against the C code byte for byte."""
import ctypes
import json
import sys

lib = ctypes.CDLL(sys.argv[1])
lib.otc_vp8_clear_length.argtypes = [ctypes.c_char_p, ctypes.c_size_t,
                                     ctypes.POINTER(ctypes.c_uint),
                                     ctypes.c_void_p]
lib.otc_vp8_clear_length.restype = ctypes.c_int
out = {}
for path in sys.argv[2:]:
    data = open(path, 'rb').read()
    n = ctypes.c_uint(0)
    ok = lib.otc_vp8_clear_length(data, len(data), ctypes.byref(n), None)
    out[path] = n.value if ok else -6005
print(json.dumps(out))
