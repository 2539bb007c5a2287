#ifndef CPALACEFTS_H
#define CPALACEFTS_H
// The index's FTS5 tokenizer "palace" (see palace_tokenizer.c): registered on each connection.
#include <sqlite3.h>

/// Registers the "palace" tokenizer on `db` (SQLITE_OK, or an SQLite error code).
int palace_fts_register(sqlite3 *db);

/// Process-wide SQLite settings, called once before the first connection is opened (SQLITE_OK, or SQLITE_MISUSE
/// when SQLite was already initialized): no allocation statistics (`SQLITE_CONFIG_MEMSTATUS` 0).
int palace_sqlite_configure(void);

#include <stddef.h>
#include <stdint.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/// The index of the first byte of `s[i..<n]` that ends a run of plain JSON string content — a quote, a backslash
/// or a control character (below 0x20) — or `n` when there is none. The indexer's JSON reader
/// (`JSONBytes.skipString`) skips string content with it: 16 bytes per step with SSE2. Inline, so Swift callers
/// pay no call.
static inline size_t palace_json_string_stop(const uint8_t *s, size_t n, size_t i) {
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), control = _mm_set1_epi8(0x1F);
    while (i + 16 <= n) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                                   _mm_cmpeq_epi8(_mm_min_epu8(v, control), v));
        unsigned m = (unsigned)_mm_movemask_epi8(hit);
        if (m) return i + (size_t)__builtin_ctz(m);
        i += 16;
    }
#endif
    while (i < n) {
        uint8_t c = s[i];
        if (c == '"' || c == '\\' || c < 0x20) return i;
        i++;
    }
    return n;
}

#endif
