/* SPDX-License-Identifier: MIT */
#ifndef IPAM_HASH_H
#define IPAM_HASH_H

/*
 * XXH3 inlined into the library (XXH_INLINE_ALL) so that no XXH_* symbol is
 * exported and no runtime dependency on libxxhash is added. Hashes of
 * attacker-chosen strings (owners, client IDs) must be seeded with a
 * per-process random seed (ipam__hash_seed()). A hash written to disk must
 * use a fixed seed that the file format's version pins.
 */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <stddef.h>
#include <stdint.h>

static inline uint64_t ipam__hash(const void *data, size_t len, uint64_t seed)
{
	return XXH3_64bits_withSeed(data, len, seed);
}

#endif /* IPAM_HASH_H */
