#ifndef CPALACETEXT_H
#define CPALACETEXT_H
// Byte kernels of the batch export (PalaceIndex/Export): UTF-8 validation, the default redaction rules' "is there a
// key-like token" test, and JSON string escaping, fused into one pass over a body. SSE2 on x86-64 (16 bytes per
// step), portable code elsewhere; every path gives the same answers as the Swift definitions they replace
// (Swift's UTF-8 validation, Redactor.hasKeyLike, JSONValue.appendString); PalaceIndexTests compare them.
#include <stddef.h>
#include <stdint.h>

/// 1 when `bytes` is valid UTF-8 (the Unicode definition: no overlongs, surrogates or values above U+10FFFF).
int palace_utf8_valid(const uint8_t *bytes, size_t count);

/// `palace_utf8_valid` without the SSSE3 lookup kernel (byte by byte past ASCII): for tests comparing them.
int palace_utf8_valid_scalar(const uint8_t *bytes, size_t count);

/// 1 when the default rules would mask something in `bytes` (Redactor.hasKeyLike: `sk-` + 16 token bytes,
/// `bearer ` + 8, a JWT `eyJ….….…` of at least 20 bytes, each starting a run of token bytes).
int palace_has_key_like(const uint8_t *bytes, size_t count);

// Flags of palace_json_escape.
#define PALACE_ESCAPE_CHECK_UTF8 1   // stop with PALACE_ESCAPE_INVALID_UTF8 on invalid UTF-8
#define PALACE_ESCAPE_CHECK_KEYS 2   // stop with PALACE_ESCAPE_KEY_LIKE where palace_has_key_like would say 1
// Its statuses.
#define PALACE_ESCAPE_OK 0
#define PALACE_ESCAPE_INVALID_UTF8 1
#define PALACE_ESCAPE_KEY_LIKE 2
#define PALACE_ESCAPE_NO_ROOM 3

/// Writes the JSON string escape of `src` (the content between the quotes: `"` `\` and bytes below 0x20 escaped,
/// \n \r \t \b \f short, others \u00XX) at `dst`, which has room for `capacity` bytes; returns the bytes written
/// and sets `*status`. Anything but PALACE_ESCAPE_OK leaves `dst` content undefined (the caller discards it).
/// Room: `palace_escape_capacity(count)` always suffices; less may end with PALACE_ESCAPE_NO_ROOM. The kernel
/// may store up to 64 bytes past what it reports written (never past `capacity`).
size_t palace_json_escape(const uint8_t *src, size_t count, uint8_t *dst, size_t capacity, int flags, int *status);

/// The best escape kernel this CPU runs: 0 portable (SSE2 where there is SSE2), 1 SSSE3 shuffles, 2 AVX-512 VBMI2
/// (32 bytes per step). `palace_json_escape` uses it; every kernel writes the same bytes and statuses.
int palace_json_escape_kernel(void);

/// `palace_json_escape` with kernel `kernel` (lowered to the best one the CPU runs): for tests comparing them.
/// The AVX-512 kernel may store up to 64 bytes past what it reports written (never past `capacity`).
size_t palace_json_escape_using(int kernel, const uint8_t *src, size_t count, uint8_t *dst, size_t capacity, int flags, int *status);

/// Room that always suffices for `palace_json_escape` of `count` bytes.
static inline size_t palace_escape_capacity(size_t count) { return count * 6 + 256; }

/// Scans JSON string content from s[0] (just after the opening quote) to the closing quote, as RedactedJSON reads
/// it: a backslash skips the byte after it; a raw byte below 0x20 or no closing quote gives -1. Returns the
/// content length; *escaped: a backslash was seen; *ascii: no byte >= 0x80 among those examined.
ptrdiff_t palace_json_scan_string(const uint8_t *s, size_t count, int *escaped, int *ascii);

/// For JSON string content with escapes: 1 when every escape is the one JSONValue's serializer writes for its
/// character (\" \\ \n \r \t \b \f, else \u00xx in lowercase hex for a byte below 0x20), so the content can be
/// copied as it is; the decoded text (for the key test) goes to `decoded` (room for `count` bytes), its length
/// to *decoded_len. 0 for any other escape (\/, \u4e2d, \u000a, upper-case hex, a broken one).
int palace_json_canonical(const uint8_t *s, size_t count, uint8_t *decoded, size_t *decoded_len);

/// glibc: allocations up to 32 MiB come from the heap and freed memory is kept (mallopt M_MMAP_THRESHOLD,
/// M_TRIM_THRESHOLD), for a process doing one large export. Nothing elsewhere.
void palace_keep_freed_memory(void);

/// The O_DIRECT open flag of this platform (0 where there is none).
int palace_o_direct_flag(void);

#endif
