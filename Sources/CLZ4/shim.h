// LZ4's "static linking only" API (LZ4_attach_dictionary, LZ4_attach_HC_dictionary): the system shared library
// does not export it, so module.modulemap links the static archive liblz4.a (shipped by liblz4-dev).
#define LZ4_STATIC_LINKING_ONLY
#define LZ4_HC_STATIC_LINKING_ONLY
#include <lz4.h>
#include <lz4hc.h>
