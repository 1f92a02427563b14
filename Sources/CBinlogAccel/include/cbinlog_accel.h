#ifndef CBINLOG_ACCEL_H
#define CBINLOG_ACCEL_H

#include <stddef.h>
#include <stdint.h>

/// 1 when this CPU can run dst_crc32_fold (x86-64 with PCLMULQDQ and SSE4.1), else 0.
int dst_crc32_fold_available(void);

/// Continues a CRC-32 (IEEE, reflected 0xEDB88320) over `len` bytes by carry-less
/// multiplication folding. `state` and the result are the register value without the
/// final inversion (start from 0xFFFFFFFF). `len` must be at least 64 and a multiple of
/// 16. Only call when dst_crc32_fold_available() returned 1.
uint32_t dst_crc32_fold(uint32_t state, const uint8_t *buf, size_t len);

#endif
