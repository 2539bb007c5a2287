// See include/CPalaceText.h.
#define _GNU_SOURCE
#include "CPalaceText.h"
#include <fcntl.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#define PALACE_SSE2 1
#endif

int palace_o_direct_flag(void) {
#ifdef O_DIRECT
    return O_DIRECT;
#else
    return 0;
#endif
}

// ---- UTF-8 -----------------------------------------------------------------------------------------------------

/// Length of the valid sequence starting at s[i] (a byte >= 0x80), or 0 when it is not one.
static inline size_t seq_len(const uint8_t *s, size_t i, size_t n) {
    uint8_t b = s[i];
    if (b < 0xC2) return 0;
    if (b < 0xE0) return (i + 1 < n && (s[i + 1] & 0xC0) == 0x80) ? 2 : 0;
    if (b < 0xF0) {
        if (i + 2 >= n) return 0;
        uint8_t c1 = s[i + 1], c2 = s[i + 2];
        if ((c1 & 0xC0) != 0x80 || (c2 & 0xC0) != 0x80) return 0;
        if (b == 0xE0 && c1 < 0xA0) return 0;   // overlong
        if (b == 0xED && c1 >= 0xA0) return 0;  // surrogate
        return 3;
    }
    if (b < 0xF5) {
        if (i + 3 >= n) return 0;
        uint8_t c1 = s[i + 1], c2 = s[i + 2], c3 = s[i + 3];
        if ((c1 & 0xC0) != 0x80 || (c2 & 0xC0) != 0x80 || (c3 & 0xC0) != 0x80) return 0;
        if (b == 0xF0 && c1 < 0x90) return 0;   // overlong
        if (b == 0xF4 && c1 >= 0x90) return 0;  // above U+10FFFF
        return 4;
    }
    return 0;
}

int palace_utf8_valid(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
#if PALACE_SSE2
        if (i + 16 <= n) {
            unsigned m = (unsigned)_mm_movemask_epi8(_mm_loadu_si128((const __m128i *)(s + i)));
            if (m == 0) { i += 16; continue; }
            i += (size_t)__builtin_ctz(m);
        }
#else
        if (i + 8 <= n) {
            uint64_t v;
            memcpy(&v, s + i, 8);
            if ((v & 0x8080808080808080ull) == 0) { i += 8; continue; }
        }
#endif
        if (s[i] < 0x80) { i++; continue; }
        size_t len = seq_len(s, i, n);
        if (len == 0) return 0;
        i += len;
    }
    return 1;
}

// ---- key-like tokens (Redactor.hasKeyLike) ----------------------------------------------------------------------

static inline int is_token(uint8_t b) {
    return (b >= '0' && b <= '9') || (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') || b == '-' || b == '_';
}

/// Whether a rule matches at p[i] (a candidate: `sk`, `ey` or `be` in any case of b/e).
static int key_at(const uint8_t *p, size_t i, size_t n) {
    if (i > 0 && is_token(p[i - 1])) return 0;   // not where a run of token bytes starts
    size_t j;
    switch (p[i]) {
    case 's':
        if (!(i + 3 < n && p[i + 1] == 'k' && p[i + 2] == '-')) return 0;
        j = i + 3;
        while (j < n && is_token(p[j])) j++;
        return j - (i + 3) >= 16;
    case 'e': {
        if (!(i + 3 < n && p[i + 1] == 'y' && p[i + 2] == 'J')) return 0;
        size_t dots = 0;
        j = i;
        while (j < n) {
            if (is_token(p[j])) j++;
            else if (p[j] == '.') { dots++; j++; }
            else break;
        }
        return dots == 2 && j - i >= 20;
    }
    default: {
        if (!(i + 7 < n)) return 0;
        static const char word[] = "bearer ";
        for (int k = 0; k < 7; k++) {
            uint8_t b = p[i + k];
            if ((b >= 'A' && b <= 'Z' ? b | 0x20 : b) != (uint8_t)word[k]) return 0;
        }
        j = i + 7;
        while (j < n && (is_token(p[j]) || p[j] == '.')) j++;
        return j - (i + 7) >= 8;
    }
    }
}

static inline int candidate(const uint8_t *p, size_t i, size_t n) {
    if (i + 1 >= n) return 0;
    uint8_t b = p[i], c = p[i + 1];
    return (b == 's' && c == 'k') || (b == 'e' && c == 'y') || ((b | 0x20) == 'b' && (c | 0x20) == 'e');
}

#if PALACE_SSE2
/// Candidate positions of the 16 bytes at p (p[16] must be readable).
static inline unsigned candidates16(const uint8_t *p) {
    __m128i x = _mm_loadu_si128((const __m128i *)p), y = _mm_loadu_si128((const __m128i *)(p + 1));
    __m128i lower = _mm_set1_epi8(0x20);
    __m128i sk = _mm_and_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('s')), _mm_cmpeq_epi8(y, _mm_set1_epi8('k')));
    __m128i ey = _mm_and_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('e')), _mm_cmpeq_epi8(y, _mm_set1_epi8('y')));
    __m128i be = _mm_and_si128(_mm_cmpeq_epi8(_mm_or_si128(x, lower), _mm_set1_epi8('b')),
                               _mm_cmpeq_epi8(_mm_or_si128(y, lower), _mm_set1_epi8('e')));
    return (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(sk, ey), be));
}
#endif

int palace_has_key_like(const uint8_t *p, size_t n) {
    if (n < 11) return 0;
    size_t i = 0;
#if PALACE_SSE2
    while (i + 17 <= n) {
        unsigned m = candidates16(p + i);
        while (m) {
            size_t k = i + (size_t)__builtin_ctz(m);
            m &= m - 1;
            if (key_at(p, k, n)) return 1;
        }
        i += 16;
    }
#endif
    for (; i < n; i++)
        if (candidate(p, i, n) && key_at(p, i, n)) return 1;
    return 0;
}

// ---- JSON string escaping ---------------------------------------------------------------------------------------

static inline size_t write_escape(uint8_t b, uint8_t *d) {
    d[0] = '\\';
    switch (b) {
    case '"': d[1] = '"'; return 2;
    case '\\': d[1] = '\\'; return 2;
    case '\n': d[1] = 'n'; return 2;
    case '\r': d[1] = 'r'; return 2;
    case '\t': d[1] = 't'; return 2;
    case '\b': d[1] = 'b'; return 2;
    case '\f': d[1] = 'f'; return 2;
    default: {
        static const char hex[] = "0123456789abcdef";
        d[1] = 'u'; d[2] = '0'; d[3] = '0'; d[4] = (uint8_t)hex[b >> 4]; d[5] = (uint8_t)hex[b & 15];
        return 6;
    }
    }
}

size_t palace_json_escape(const uint8_t *s, size_t n, uint8_t *d, size_t cap, int flags, int *status) {
    const int utf8 = flags & PALACE_ESCAPE_CHECK_UTF8, keys = (flags & PALACE_ESCAPE_CHECK_KEYS) && n >= 11;
    size_t i = 0, j = 0;
    size_t valid_until = 0;   // bytes before this are inside a sequence already validated
    *status = PALACE_ESCAPE_OK;
#if PALACE_SSE2
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), c1f = _mm_set1_epi8(0x1F);
    // Blocks of 16 while 32 bytes remain: the copies below read up to 31 bytes past the block start.
    while (i + 32 <= n) {
        if (cap - j < 16 * 6 + 32) { *status = PALACE_ESCAPE_NO_ROOM; return j; }
        __m128i v = _mm_loadu_si128((const __m128i *)(s + i));
        if (utf8) {
            unsigned hi = (unsigned)_mm_movemask_epi8(v);
            while (hi) {
                size_t k = i + (size_t)__builtin_ctz(hi);
                hi &= hi - 1;
                if (k < valid_until) continue;
                size_t len = seq_len(s, k, n);
                if (len == 0) { *status = PALACE_ESCAPE_INVALID_UTF8; return j; }
                valid_until = k + len;
            }
        }
        if (keys) {
            unsigned m = candidates16(s + i);
            while (m) {
                size_t k = i + (size_t)__builtin_ctz(m);
                m &= m - 1;
                if (key_at(s, k, n)) { *status = PALACE_ESCAPE_KEY_LIKE; return j; }
            }
        }
        __m128i special = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                                       _mm_cmpeq_epi8(_mm_min_epu8(v, c1f), v));
        unsigned esc = (unsigned)_mm_movemask_epi8(special);
        if (esc == 0) {
            _mm_storeu_si128((__m128i *)(d + j), v);
            j += 16;
        } else {
            unsigned from = 0;
            while (esc) {
                unsigned k = (unsigned)__builtin_ctz(esc);
                esc &= esc - 1;
                _mm_storeu_si128((__m128i *)(d + j), _mm_loadu_si128((const __m128i *)(s + i + from)));
                j += k - from;
                j += write_escape(s[i + k], d + j);
                from = k + 1;
            }
            _mm_storeu_si128((__m128i *)(d + j), _mm_loadu_si128((const __m128i *)(s + i + from)));
            j += 16 - from;
        }
        i += 16;
    }
#endif
    if (cap - j < (n - i) * 6 + 16) { *status = PALACE_ESCAPE_NO_ROOM; return j; }
    for (; i < n; i++) {
        uint8_t b = s[i];
        if (utf8 && b >= 0x80 && i >= valid_until) {
            size_t len = seq_len(s, i, n);
            if (len == 0) { *status = PALACE_ESCAPE_INVALID_UTF8; return j; }
            valid_until = i + len;
        }
        if (keys && candidate(s, i, n) && key_at(s, i, n)) { *status = PALACE_ESCAPE_KEY_LIKE; return j; }
        if (b < 0x20 || b == '"' || b == '\\') j += write_escape(b, d + j);
        else d[j++] = b;
    }
    return j;
}
