/*
 * lwIP's compiler/platform port for wasm32 (clang, wasi-libc headers).
 *
 * Nothing here reaches the outside world: randomness comes from a generator
 * the host seeds (so a seeded test replays the same ports and sequence
 * numbers), diagnostics are compiled out, and assertions are counted by the
 * glue instead of trapping, so that a bad packet can never take the agent
 * down with it (the host reads the count and the last message).
 */
#ifndef NEXTMINI_ARCH_CC_H
#define NEXTMINI_ARCH_CC_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define BYTE_ORDER LITTLE_ENDIAN

/* (arch.h defines u16_t and friends after this file, hence the stdint names.)
 * wasm has no byte-swap instruction, but clang turns these into a few shifts
 * inline, instead of lwIP's out-of-line lwip_htons/lwip_htonl calls. */
#define lwip_htons(x) ((uint16_t)__builtin_bswap16((uint16_t)(x)))
#define lwip_htonl(x) ((uint32_t)__builtin_bswap32((uint32_t)(x)))

uint32_t nm_rand(void);
#define LWIP_RAND() nm_rand()

void nm_assert_failed(const char *message, int line);
#define LWIP_PLATFORM_DIAG(x) do { } while (0)
#define LWIP_PLATFORM_ASSERT(x) nm_assert_failed((x), __LINE__)

/* One's-complement sums: our own 64-bit accumulating routine (glue.c), far
 * fewer steps per byte than lwIP's 16-bit reference loop. */
uint16_t nm_chksum(const void *data, int len);
#define LWIP_CHKSUM nm_chksum

#endif /* NEXTMINI_ARCH_CC_H */
