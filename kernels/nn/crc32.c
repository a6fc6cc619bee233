/* crc32.c — CRC-32, the checksum of checkpoints (dl_crc32 in dlab/checkpoint.h).
 *
 * Our own 20 lines instead of zlib's crc32() so that checkpoints work in a build without
 * zlib; the values are the same (tests/test_checkpoint.c checks the standard check value).
 * Left out: the faster slicing-by-8 and carry-less-multiply versions. Byte at a time it
 * runs at 2.2 ms per MB on the 2-core Zen 5 dev machine, ~25 ms for a GPT checkpoint with
 * its AdamW moments (~10 MB) — small next to a training run's checkpoint interval.
 */
#include <pthread.h>

#include "dlab/checkpoint.h"

/* The reflected CRC-32 of zlib, PNG and Ethernet (polynomial 0xEDB88320), a byte at a time
 * through a 256-entry table. It detects every error burst of up to 32 bits, so every
 * single corrupted byte. */
static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

uint32_t dl_crc32(uint32_t crc, const void *data, size_t n) {
    pthread_once(&crc_once, crc_init);
    const unsigned char *p = data;
    crc = ~crc;
    for (size_t i = 0; i < n; i++)
        crc = crc_table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}
