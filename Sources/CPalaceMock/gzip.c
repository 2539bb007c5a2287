// Streaming gzip for `X-Mock-Gzip` responses (zlib's deflate with a gzip wrapper).
#include "CPalaceMock.h"
#include <stdlib.h>
#include <zlib.h>

struct palace_gzip { z_stream s; int failed; };

palace_gzip *palace_gzip_new(int level) {
    palace_gzip *z = calloc(1, sizeof *z);
    if (!z) return NULL;
    // windowBits 15 + 16: a gzip header and trailer instead of zlib's.
    if (deflateInit2(&z->s, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) { free(z); return NULL; }
    return z;
}

int palace_gzip_feed(palace_gzip *z, const uint8_t *data, size_t len, int finish,
                     void (*sink)(void *ctx, const uint8_t *out, size_t n), void *ctx) {
    if (z->failed) return -1;
    uint8_t out[16384];
    int flush = finish ? Z_FINISH : Z_SYNC_FLUSH;
    z->s.next_in = (Bytef *)data;
    z->s.avail_in = (uInt)len;
    for (;;) {
        z->s.next_out = out;
        z->s.avail_out = sizeof out;
        int rc = deflate(&z->s, flush);
        if (rc == Z_STREAM_ERROR) { z->failed = 1; return -1; }
        size_t produced = sizeof out - z->s.avail_out;
        if (produced) sink(ctx, out, produced);
        if (finish ? rc == Z_STREAM_END : (z->s.avail_in == 0 && z->s.avail_out != 0)) return 0;
        if (rc == Z_BUF_ERROR && z->s.avail_out != 0) { z->failed = 1; return -1; }
    }
}

void palace_gzip_free(palace_gzip *z) {
    if (!z) return;
    deflateEnd(&z->s);
    free(z);
}
