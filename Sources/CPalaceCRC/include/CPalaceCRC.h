#ifndef CPALACECRC_H
#define CPALACECRC_H
// CRC-32C (Castagnoli) for the log's frames and segment headers (FORMAT.md). Uses the SSE4.2 crc32 instruction
// on x86-64 CPUs that have it (checked once at run time) and the ARMv8 CRC32 instructions where the compiler
// targets them; otherwise a portable slicing-by-8 table implementation. All paths give identical results.
#include <stddef.h>
#include <stdint.h>

/// Continues `crc` (the finished CRC32C of the bytes before; 0 to start) over `count` bytes at `bytes`.
uint32_t palace_crc32c(uint32_t crc, const void *bytes, size_t count);

/// The portable implementation, whatever the CPU (for tests that compare both paths).
uint32_t palace_crc32c_portable(uint32_t crc, const void *bytes, size_t count);

/// 1 when `palace_crc32c` uses a hardware instruction on this machine.
int palace_crc32c_hardware(void);

#endif
