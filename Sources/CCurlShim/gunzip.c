// Streaming gunzip for the capture copy of gzip-encoded response bodies (zlib; libcurl depends on it already).
#include "CCurlShim.h"
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

struct ccurl_gunzip { z_stream s; int ended; const char *error; };

ccurl_gunzip *ccurl_gunzip_new(void) {
    ccurl_gunzip *z = calloc(1, sizeof *z);
    if (!z) return NULL;
    // 15 + 32: accept both gzip and zlib headers.
    if (inflateInit2(&z->s, 15 + 32) != Z_OK) { free(z); return NULL; }
    return z;
}

int ccurl_gunzip_feed(ccurl_gunzip *z, const unsigned char *data, size_t len,
                      void (*sink)(void *ctx, const unsigned char *out, size_t n), void *ctx) {
    if (z->error) return -1;
    if (z->ended) return 1;
    unsigned char out[16384];
    z->s.next_in = (unsigned char *)data;
    z->s.avail_in = (uInt)len;
    do {
        z->s.next_out = out;
        z->s.avail_out = sizeof out;
        int rc = inflate(&z->s, Z_NO_FLUSH);
        size_t produced = sizeof out - z->s.avail_out;
        if (produced) sink(ctx, out, produced);
        if (rc == Z_STREAM_END) { z->ended = 1; return 1; }
        if (rc == Z_BUF_ERROR) return 0;   // needs more input
        if (rc != Z_OK) { z->error = z->s.msg ? z->s.msg : "damaged gzip data"; return -1; }
    } while (z->s.avail_in > 0 || z->s.avail_out == 0);
    return 0;
}

const char *ccurl_gunzip_error(ccurl_gunzip *z) { return z->error; }
void ccurl_gunzip_free(ccurl_gunzip *z) { if (!z) return; inflateEnd(&z->s); free(z); }
