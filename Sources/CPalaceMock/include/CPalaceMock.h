// The mock's debug facilities in C: SHA-256 of echoed request bodies, and a streaming gzip compressor (zlib) for
// `X-Mock-Gzip`. Kept apart from CCurlShim: the mock never depends on the proxy's targets.
#ifndef CPALACEMOCK_H
#define CPALACEMOCK_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t state[8];
    uint64_t length;        // bytes hashed so far
    uint8_t block[64];
    size_t used;            // bytes in `block`
} palace_sha256;

void palace_sha256_init(palace_sha256 *h);
void palace_sha256_update(palace_sha256 *h, const void *data, size_t len);
void palace_sha256_final(palace_sha256 *h, uint8_t digest[32]);

/// A gzip (RFC 1952) stream. `palace_gzip_feed` compresses `len` bytes and, with `finish` 0, ends with a sync
/// flush (everything fed so far can be decoded by the reader), with `finish` 1 writes the trailer. Output goes
/// to `sink` in pieces. Returns 0, or -1 after a zlib error (the stream is then unusable).
typedef struct palace_gzip palace_gzip;
palace_gzip *palace_gzip_new(int level);
int palace_gzip_feed(palace_gzip *z, const uint8_t *data, size_t len, int finish,
                     void (*sink)(void *ctx, const uint8_t *out, size_t n), void *ctx);
void palace_gzip_free(palace_gzip *z);

#endif
