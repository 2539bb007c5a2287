// See include/CPalaceText.h.
#define _GNU_SOURCE
#include "CPalaceText.h"
#include <fcntl.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#define PALACE_SSE2 1
#endif

#if defined(__GLIBC__)
#include <malloc.h>
#endif

void palace_keep_freed_memory(void) {
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, 32 << 20);   // glibc's maximum on 64-bit; also ends its sliding threshold
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

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

#if PALACE_SSE2 && defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <tmmintrin.h>
#define PALACE_UTF8_LOOKUP 1
/// UTF-8 validation 16 bytes at a time with three table lookups per block (Keiser & Lemire, "Validating UTF-8 in
/// less than one instruction per byte", 2021 — the "lookup" algorithm of simdjson/simdutf): each pair of adjacent
/// bytes is classified by the first byte's high and low nibble and the second byte's high nibble; a bit left in
/// all three marks an error (too short, too long, overlong, surrogate, above U+10FFFF, two continuations), and
/// third/fourth continuation bytes are checked against the lead two or three bytes back. All-ASCII blocks cost one
/// test. Same answer as the scalar definition (PalaceIndexTests compare them).
__attribute__((target("ssse3"))) static int utf8_valid_lookup(const uint8_t *s, size_t n) {
    enum { TOO_SHORT = 1 << 0, TOO_LONG = 1 << 1, OVERLONG_3 = 1 << 2, TOO_LARGE = 1 << 3, SURROGATE = 1 << 4,
           OVERLONG_2 = 1 << 5, TOO_LARGE_1000 = 1 << 6, OVERLONG_4 = 1 << 6, TWO_CONTS = 1 << 7,
           CARRY = TOO_SHORT | TOO_LONG | TWO_CONTS };
    static const uint8_t byte_1_high_table[16] = {
        TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG,
        TWO_CONTS, TWO_CONTS, TWO_CONTS, TWO_CONTS,
        TOO_SHORT | OVERLONG_2, TOO_SHORT, TOO_SHORT | OVERLONG_3 | SURROGATE,
        TOO_SHORT | TOO_LARGE | TOO_LARGE_1000 | OVERLONG_4};
    const __m128i byte_1_high = _mm_loadu_si128((const __m128i *)byte_1_high_table);
    static const uint8_t byte_1_low_table[16] = {
        CARRY | OVERLONG_3 | OVERLONG_2 | OVERLONG_4, CARRY | OVERLONG_2, CARRY, CARRY,
        CARRY | TOO_LARGE, CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000 | SURROGATE, CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000};
    const __m128i byte_1_low = _mm_loadu_si128((const __m128i *)byte_1_low_table);
    static const uint8_t byte_2_high_table[16] = {
        TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT,
        TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE_1000 | OVERLONG_4,
        TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE,
        TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE,
        TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE,
        TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT};
    const __m128i byte_2_high = _mm_loadu_si128((const __m128i *)byte_2_high_table);
    // A lead byte in the last 1 (2, 3) positions of a block needs the next block.
    const __m128i max_value = _mm_setr_epi8(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                            (char)(0xF0 - 1), (char)(0xE0 - 1), (char)(0xC0 - 1));
    const __m128i low4 = _mm_set1_epi8(0x0F);
    __m128i error = _mm_setzero_si128(), prev_input = _mm_setzero_si128(), prev_incomplete = _mm_setzero_si128();
    size_t i = 0;
    for (;;) {
        __m128i input;
        if (i + 16 <= n) {
            input = _mm_loadu_si128((const __m128i *)(s + i));
        } else if (i < n) {
            uint8_t last[16] = {0};   // the tail, padded with ASCII
            memcpy(last, s + i, n - i);
            input = _mm_loadu_si128((const __m128i *)last);
        } else {
            break;
        }
        i += 16;
        if (_mm_movemask_epi8(input) == 0) {
            error = _mm_or_si128(error, prev_incomplete);
            prev_incomplete = _mm_setzero_si128();
            prev_input = input;
            continue;
        }
        __m128i prev1 = _mm_alignr_epi8(input, prev_input, 15);
        __m128i special = _mm_and_si128(
            _mm_and_si128(_mm_shuffle_epi8(byte_1_high, _mm_and_si128(_mm_srli_epi16(prev1, 4), low4)),
                          _mm_shuffle_epi8(byte_1_low, _mm_and_si128(prev1, low4))),
            _mm_shuffle_epi8(byte_2_high, _mm_and_si128(_mm_srli_epi16(input, 4), low4)));
        __m128i prev2 = _mm_alignr_epi8(input, prev_input, 14), prev3 = _mm_alignr_epi8(input, prev_input, 13);
        __m128i third = _mm_subs_epu8(prev2, _mm_set1_epi8((char)(0xE0 - 1)));
        __m128i fourth = _mm_subs_epu8(prev3, _mm_set1_epi8((char)(0xF0 - 1)));
        __m128i must23 = _mm_cmpgt_epi8(_mm_or_si128(third, fourth), _mm_setzero_si128());
        error = _mm_or_si128(error, _mm_xor_si128(_mm_and_si128(must23, _mm_set1_epi8((char)0x80)), special));
        prev_incomplete = _mm_subs_epu8(input, max_value);
        prev_input = input;
    }
    error = _mm_or_si128(error, prev_incomplete);
    return _mm_movemask_epi8(_mm_cmpeq_epi8(error, _mm_setzero_si128())) == 0xFFFF;
}
#endif

static int utf8_valid_scalar(const uint8_t *s, size_t n);

int palace_utf8_valid(const uint8_t *s, size_t n) {
#if PALACE_UTF8_LOOKUP
    static int ssse3 = -1;
    if (ssse3 < 0) ssse3 = __builtin_cpu_supports("ssse3") ? 1 : 0;
    if (ssse3) return utf8_valid_lookup(s, n);
#endif
    return utf8_valid_scalar(s, n);
}

int palace_utf8_valid_scalar(const uint8_t *s, size_t n) { return utf8_valid_scalar(s, n); }

static int utf8_valid_scalar(const uint8_t *s, size_t n) {
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
/// Candidate positions of the 16 bytes at p (p[17] must be readable): where `sk-`, `eyJ` or `bea` (b and e in
/// any case) start — the first three bytes every rule needs, rare in text (unlike `be` or `ey` alone).
static inline unsigned candidates16(const uint8_t *p) {
    __m128i x = _mm_loadu_si128((const __m128i *)p), y = _mm_loadu_si128((const __m128i *)(p + 1));
    __m128i z = _mm_loadu_si128((const __m128i *)(p + 2));
    __m128i lower = _mm_set1_epi8(0x20);
    __m128i sk = _mm_and_si128(_mm_and_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('s')), _mm_cmpeq_epi8(y, _mm_set1_epi8('k'))),
                               _mm_cmpeq_epi8(z, _mm_set1_epi8('-')));
    __m128i ey = _mm_and_si128(_mm_and_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('e')), _mm_cmpeq_epi8(y, _mm_set1_epi8('y'))),
                               _mm_cmpeq_epi8(z, _mm_set1_epi8('J')));
    __m128i be = _mm_and_si128(_mm_and_si128(_mm_cmpeq_epi8(_mm_or_si128(x, lower), _mm_set1_epi8('b')),
                                             _mm_cmpeq_epi8(_mm_or_si128(y, lower), _mm_set1_epi8('e'))),
                               _mm_cmpeq_epi8(_mm_or_si128(z, lower), _mm_set1_epi8('a')));
    return (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(sk, ey), be));
}
#endif

int palace_has_key_like(const uint8_t *p, size_t n) {
    if (n < 11) return 0;
    size_t i = 0;
#if PALACE_SSE2
    while (i + 18 <= n) {
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

#if PALACE_SSE2 && defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <tmmintrin.h>
#define PALACE_SHUFFLE 1
/// For each 8-bit mask of bytes to escape in 8 source bytes: the pshufb indices that spread them out with a gap
/// before each escaped byte (0x80: a zero), and the backslashes that fill the gaps.
static uint8_t spread[256][16], slashes[256][16], spread_len[256];

__attribute__((constructor)) static void build_spread(void) {
    for (int m = 0; m < 256; m++) {
        int o = 0;
        for (int k = 0; k < 8; k++) {
            if (m & (1 << k)) { spread[m][o] = 0x80; slashes[m][o] = '\\'; o++; }
            spread[m][o] = (uint8_t)k; slashes[m][o] = 0; o++;
        }
        spread_len[m] = (uint8_t)o;
        for (; o < 16; o++) { spread[m][o] = 0x80; slashes[m][o] = 0; }
    }
}

/// Escapes the block `v` (escape mask `esc`) with two table shuffles when its only control characters are the
/// five with one-letter escapes (\b \t \n \f \r): each escaped byte becomes a backslash and the byte (or the
/// letter). Returns 0 (nothing written) for a block with another control character.
__attribute__((target("ssse3"))) static inline int fast_block(__m128i v, unsigned esc, uint8_t *d, size_t *j) {
    __m128i control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1F)), v);
    unsigned cm = (unsigned)_mm_movemask_epi8(control);
    if (cm) {
        // Letters by low nibble: 8 b, 9 t, A n, C f, D r; 0 for the others (which need \u00XX: not here).
        const __m128i letters = _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 'b', 't', 'n', 0, 'f', 'r', 0, 0);
        __m128i t = _mm_shuffle_epi8(letters, _mm_and_si128(v, _mm_set1_epi8(0x0F)));
        t = _mm_and_si128(t, _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x0F)), v));   // 0x18-0x1F: not these

        unsigned ok = (unsigned)_mm_movemask_epi8(_mm_andnot_si128(_mm_cmpeq_epi8(t, _mm_setzero_si128()), control));
        if (ok != cm) return 0;
        v = _mm_or_si128(_mm_and_si128(control, t), _mm_andnot_si128(control, v));
    }
    unsigned m0 = esc & 0xFF, m1 = esc >> 8;
    __m128i lo = _mm_or_si128(_mm_shuffle_epi8(v, _mm_loadu_si128((const __m128i *)spread[m0])),
                              _mm_loadu_si128((const __m128i *)slashes[m0]));
    _mm_storeu_si128((__m128i *)(d + *j), lo);
    *j += spread_len[m0];
    __m128i hi = _mm_or_si128(_mm_shuffle_epi8(_mm_srli_si128(v, 8), _mm_loadu_si128((const __m128i *)spread[m1])),
                              _mm_loadu_si128((const __m128i *)slashes[m1]));
    _mm_storeu_si128((__m128i *)(d + *j), hi);
    *j += spread_len[m1];
    return 1;
}

static size_t escape_plain(const uint8_t *s, size_t n, uint8_t *d, size_t cap, int flags, int *status);
__attribute__((target("ssse3"))) static size_t escape_shuffle(const uint8_t *s, size_t n, uint8_t *d, size_t cap, int flags, int *status);
#define PALACE_AVX512_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vbmi2,bmi2,popcnt,ssse3")))
PALACE_AVX512_TARGET static size_t escape_avx512(const uint8_t *s, size_t n, uint8_t *d, size_t cap, int flags, int *status);

int palace_json_escape_kernel(void) {
    static int kernel = -1;   // computed once; a race writes the same value
    if (kernel < 0) {
        __builtin_cpu_init();
        int ssse3 = __builtin_cpu_supports("ssse3");
        int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                     __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vbmi2") &&
                     __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("popcnt");
        kernel = avx512 ? 2 : ssse3 ? 1 : 0;
    }
    return kernel;
}

size_t palace_json_escape_using(int kernel, const uint8_t *s, size_t n, uint8_t *d, size_t cap, int flags, int *status) {
    int best = palace_json_escape_kernel();
    if (kernel > best) kernel = best;
    switch (kernel) {
    case 2: return escape_avx512(s, n, d, cap, flags, status);
    case 1: return escape_shuffle(s, n, d, cap, flags, status);
    default: return escape_plain(s, n, d, cap, flags, status);
    }
}

size_t palace_json_escape(const uint8_t *s, size_t n, uint8_t *d, size_t cap, int flags, int *status) {
    return palace_json_escape_using(2, s, n, d, cap, flags, status);
}
#elif PALACE_SSE2
static inline int fast_block(__m128i v, unsigned esc, uint8_t *d, size_t *j) { (void)v; (void)esc; (void)d; (void)j; return 0; }
#endif

/// The escape from s[i] on, with j bytes written and s[..<valid_until] already validated (a wider kernel's rest).
static inline __attribute__((always_inline)) size_t escape_impl(const uint8_t *s, size_t n, uint8_t *d, size_t cap, int flags, int *status, const int shuffle,
                                                                size_t i, size_t j, size_t valid_until) {
    const int utf8 = flags & PALACE_ESCAPE_CHECK_UTF8, keys = (flags & PALACE_ESCAPE_CHECK_KEYS) && n >= 11;
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
        } else if (shuffle && fast_block(v, esc, d, &j)) {
            // done by the shuffle tables
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

#if PALACE_SHUFFLE
static size_t escape_plain(const uint8_t *s, size_t n, uint8_t *d, size_t cap, int flags, int *status) {
    return escape_impl(s, n, d, cap, flags, status, 0, 0, 0, 0);
}
__attribute__((target("ssse3"))) static size_t escape_shuffle(const uint8_t *s, size_t n, uint8_t *d, size_t cap, int flags, int *status) {
    return escape_impl(s, n, d, cap, flags, status, 1, 0, 0, 0);
}

#include <immintrin.h>
/// 32 source bytes per step (AVX-512 VBMI2): the escape mask spreads into a 64-slot expand mask (pdep/pext: a
/// slot for a backslash before each escaped byte), vpexpandb places the bytes (control characters replaced by
/// their letters) and the gaps take the backslash; blocks with a control character that needs \u00XX are
/// escaped byte by byte. The checks (UTF-8, key candidates) are those of the 16-byte loop, 32 bytes at a time.
/// The rest (under 64 bytes) goes to the 16-byte loop.
PALACE_AVX512_TARGET static size_t escape_avx512(const uint8_t *s, size_t n, uint8_t *d, size_t cap, int flags, int *status) {
    const int utf8 = flags & PALACE_ESCAPE_CHECK_UTF8, keys = (flags & PALACE_ESCAPE_CHECK_KEYS) && n >= 11;
    size_t i = 0, j = 0, valid_until = 0;
    *status = PALACE_ESCAPE_OK;
    const __m256i quote = _mm256_set1_epi8('"'), backslash = _mm256_set1_epi8('\\'), c1f = _mm256_set1_epi8(0x1F),
                  c0f = _mm256_set1_epi8(0x0F), lower = _mm256_set1_epi8(0x20);
    // Letters by low nibble: 8 b, 9 t, A n, C f, D r; 0 for the others (which need \u00XX).
    const __m256i letters = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 'b', 't', 'n', 0, 'f', 'r', 0, 0,
                                             0, 0, 0, 0, 0, 0, 0, 0, 'b', 't', 'n', 0, 'f', 'r', 0, 0);
    const __m512i slashes = _mm512_set1_epi8('\\');
    // Reads up to 34 bytes from the block start (key candidates): blocks while 64 bytes remain.
    while (i + 64 <= n) {
        if (cap - j < 32 * 6 + 64) { *status = PALACE_ESCAPE_NO_ROOM; return j; }
        __m256i v = _mm256_loadu_si256((const __m256i *)(s + i));
        unsigned hi = utf8 ? (unsigned)_mm256_movemask_epi8(v) : 0, cand = 0;
        if (keys) {
            // Vector compares (mask-register compares all queue on one port): `sk-`, `eyJ`, `bea` in any case.
            __m256i y = _mm256_loadu_si256((const __m256i *)(s + i + 1)), z = _mm256_loadu_si256((const __m256i *)(s + i + 2));
            __m256i sk = _mm256_and_si256(_mm256_and_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('s')), _mm256_cmpeq_epi8(y, _mm256_set1_epi8('k'))),
                                          _mm256_cmpeq_epi8(z, _mm256_set1_epi8('-')));
            __m256i ey = _mm256_and_si256(_mm256_and_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('e')), _mm256_cmpeq_epi8(y, _mm256_set1_epi8('y'))),
                                          _mm256_cmpeq_epi8(z, _mm256_set1_epi8('J')));
            __m256i be = _mm256_and_si256(_mm256_and_si256(_mm256_cmpeq_epi8(_mm256_or_si256(v, lower), _mm256_set1_epi8('b')),
                                                           _mm256_cmpeq_epi8(_mm256_or_si256(y, lower), _mm256_set1_epi8('e'))),
                                          _mm256_cmpeq_epi8(_mm256_or_si256(z, lower), _mm256_set1_epi8('a')));
            cand = (unsigned)_mm256_movemask_epi8(_mm256_or_si256(_mm256_or_si256(sk, ey), be));
        }
        // In the 16-byte loop's order (UTF-8 then keys, per half), so a block with both problems gives its status.
        for (unsigned half = 0; (hi | cand) && half < 2; half++) {
            unsigned h = half ? hi >> 16 : hi & 0xFFFF, m = half ? cand >> 16 : cand & 0xFFFF;
            size_t at = i + 16 * half;
            while (h) {
                size_t k = at + (size_t)__builtin_ctz(h);
                h &= h - 1;
                if (k < valid_until) continue;
                size_t len = seq_len(s, k, n);
                if (len == 0) { *status = PALACE_ESCAPE_INVALID_UTF8; return j; }
                valid_until = k + len;
            }
            while (m) {
                size_t k = at + (size_t)__builtin_ctz(m);
                m &= m - 1;
                if (key_at(s, k, n)) { *status = PALACE_ESCAPE_KEY_LIKE; return j; }
            }
        }
        __m256i controls = _mm256_cmpeq_epi8(_mm256_min_epu8(v, c1f), v);
        unsigned esc = (unsigned)_mm256_movemask_epi8(_mm256_or_si256(controls, _mm256_or_si256(_mm256_cmpeq_epi8(v, quote),
                                                                                                  _mm256_cmpeq_epi8(v, backslash))));
        if (esc == 0) {
            _mm256_storeu_si256((__m256i *)(d + j), v);
            j += 32;
            i += 32;
            continue;
        }
        if (!_mm256_testz_si256(controls, controls)) {
            __mmask32 control = _mm256_movepi8_mask(controls);
            __m256i t = _mm256_shuffle_epi8(letters, _mm256_and_si256(v, c0f));
            __mmask32 letter = _mm256_mask_test_epi8_mask(_mm256_cmple_epu8_mask(v, c0f), t, t);
            if (control & ~letter) {
                for (size_t k = i; k < i + 32; k++) {
                    uint8_t b = s[k];
                    if (b < 0x20 || b == '"' || b == '\\') j += write_escape(b, d + j);
                    else d[j++] = b;
                }
                i += 32;
                continue;
            }
            v = _mm256_mask_blend_epi8(control, v, t);
        }
        // Two slots per source byte, [backslash if escaped, the byte]; pext keeps the present ones in order.
        uint64_t present = _pdep_u64(esc, 0x5555555555555555ull) | 0xAAAAAAAAAAAAAAAAull;
        uint64_t bytes = _pext_u64(0xAAAAAAAAAAAAAAAAull, present);
        _mm512_storeu_si512((void *)(d + j), _mm512_mask_expand_epi8(slashes, bytes, _mm512_castsi256_si512(v)));
        j += 32 + (size_t)__builtin_popcount(esc);
        i += 32;
    }
    return escape_impl(s, n, d, cap, flags, status, 1, i, j, valid_until);
}
#else
size_t palace_json_escape(const uint8_t *s, size_t n, uint8_t *d, size_t cap, int flags, int *status) {
    return escape_impl(s, n, d, cap, flags, status, 0, 0, 0, 0);
}

int palace_json_escape_kernel(void) { return 0; }

size_t palace_json_escape_using(int kernel, const uint8_t *s, size_t n, uint8_t *d, size_t cap, int flags, int *status) {
    (void)kernel;
    return escape_impl(s, n, d, cap, flags, status, 0, 0, 0, 0);
}
#endif

// ---- JSON string content (RedactedJSON) -------------------------------------------------------------------------

ptrdiff_t palace_json_scan_string(const uint8_t *s, size_t n, int *escaped, int *ascii) {
    size_t i = 0;
    int esc = 0;
    unsigned high = 0;
#if PALACE_SSE2
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), c1f = _mm_set1_epi8(0x1F);
#endif
    while (i < n) {
#if PALACE_SSE2
        if (i + 16 <= n) {
            __m128i v = _mm_loadu_si128((const __m128i *)(s + i));
            __m128i special = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                                           _mm_cmpeq_epi8(_mm_min_epu8(v, c1f), v));
            unsigned m = (unsigned)_mm_movemask_epi8(special), h = (unsigned)_mm_movemask_epi8(v);
            if (m == 0) { high |= h; i += 16; continue; }
            unsigned k = (unsigned)__builtin_ctz(m);
            high |= h & ((1u << k) - 1);
            i += k;
        }
#endif
        uint8_t b = s[i];
        if (b == '"') { *escaped = esc; *ascii = high == 0; return (ptrdiff_t)i; }
        if (b == '\\') { esc = 1; i += 2; continue; }   // the escaped byte cannot end the string
        if (b < 0x20) return -1;
        if (b >= 0x80) high = 1;
        i++;
    }
    return -1;
}

int palace_json_canonical(const uint8_t *s, size_t n, uint8_t *decoded, size_t *decoded_len) {
    static const char hex[] = "0123456789abcdef";
    size_t i = 0, j = 0;
    while (i < n) {
        const uint8_t *bs = memchr(s + i, '\\', n - i);
        size_t run = bs ? (size_t)(bs - (s + i)) : n - i;
        memcpy(decoded + j, s + i, run);
        i += run; j += run;
        if (!bs) break;
        if (i + 1 >= n) return 0;
        uint8_t e = s[i + 1], c;
        switch (e) {
        case '"': c = '"'; break;
        case '\\': c = '\\'; break;
        case 'n': c = '\n'; break;
        case 'r': c = '\r'; break;
        case 't': c = '\t'; break;
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case 'u': {
            if (i + 6 > n || s[i + 2] != '0' || s[i + 3] != '0' || (s[i + 4] != '0' && s[i + 4] != '1')) return 0;
            const char *d = memchr(hex, s[i + 5], 16);
            if (!d || s[i + 5] == 0) return 0;
            c = (uint8_t)((s[i + 4] - '0') * 16 + (d - hex));
            if (c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f') return 0;   // written short
            decoded[j++] = c;
            i += 6;
            continue;
        }
        default: return 0;
        }
        decoded[j++] = c;
        i += 2;
    }
    *decoded_len = j;
    return 1;
}
