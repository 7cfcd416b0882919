/* SPDX-License-Identifier: MIT */
/*
 * Multi-level bitmap: the free-space index for dense pools (IPv4 subnets and
 * IPv6 ranges up to bitmap_max, 2^24 addresses by default).
 *
 * Workload: allocate+release at any fill, typically 50-99 % used, and the
 * occasional exact test. Finding a free ordinal must never scan the pool:
 * a bit is 1 when the ordinal is free; above the leaves, summary level k
 * holds one bit per word of level k-1, set when that word has a free bit.
 * A search looks at one word per level going up until a word has a set bit
 * at or after the start position, then one word per level going down with
 * count-trailing-zeros. 2^24 ordinals need four levels, so any search reads
 * at most eight words, even when only the last ordinal is free.
 *
 * For IPAM_POLICY_RANDOM the k-th free ordinal is found through free counts
 * per 4096 and per 2^18 ordinals (at most 64 + 64 + 64 steps per level).
 *
 * Memory: 1 bit per ordinal, 1/64 bit per ordinal per summary level, and
 * 32 bits per 4096 ordinals of counts: about 1.024 bits per address, all in
 * one allocation made when the index is built, so nothing allocates later.
 */
#include <string.h>

#include "index_impl.h"

#define C1_SHIFT IPAM__BM_C1_SHIFT
#define C2_SHIFT IPAM__BM_C2_SHIFT

static inline uint64_t bit(uint64_t i)
{
	return UINT64_C(1) << (i & 63);
}

static inline uint64_t div_up(uint64_t a, unsigned shift)
{
	return (a >> shift) + ((a & ((UINT64_C(1) << shift) - 1)) != 0);
}

/* Words [0, n) of a level: all ones, the last word holding only `bits`. */
static void fill_ones(uint64_t *w, uint64_t n, uint64_t bits)
{
	memset(w, 0xff, (size_t)n * sizeof(*w));
	if (bits & 63)
		w[n - 1] = bit(bits) - 1;
}

int ipam__bitmap_new(struct ipam__bitmap **out, uint64_t nbits)
{
	struct ipam__bitmap *b;
	uint64_t words = 0, n, bits;
	size_t size;
	unsigned lv = 0;

	if (!out || nbits == 0 || nbits > (UINT64_C(1) << 36))
		return -E2BIG;
	b = ipam__zalloc(sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->nbits = b->nfree = nbits;
	bits = nbits;
	do { /* IPAM__BM_LEVELS_MAX levels cover 2^36 ordinals */
		n = div_up(bits, 6);
		b->nwords[lv++] = n;
		words += n;
		bits = n;
	} while (n > 1);
	b->nlevels = lv;
	b->n1 = div_up(nbits, C1_SHIFT);
	b->n2 = div_up(nbits, C2_SHIFT);
	if (words > SIZE_MAX / 16) {
		ipam__release(b, sizeof(*b));
		return -E2BIG;
	}
	size = (size_t)words * sizeof(uint64_t) + (size_t)(b->n1 + b->n2) * sizeof(uint32_t);
	b->block = ipam__alloc(size);
	if (!b->block) {
		ipam__release(b, sizeof(*b));
		return -ENOMEM;
	}
	b->block_size = size;

	uint64_t *w = b->block;
	bits = nbits;
	for (lv = 0; lv < b->nlevels; lv++) {
		b->lvl[lv] = w;
		fill_ones(w, b->nwords[lv], bits);
		bits = b->nwords[lv];
		w += b->nwords[lv];
	}
	b->c1 = (uint32_t *)(void *)w;
	b->c2 = b->c1 + b->n1;
	for (uint64_t j = 0; j < b->n1; j++)
		b->c1[j] = (uint32_t)(j + 1 < b->n1 ? UINT64_C(1) << C1_SHIFT
						    : nbits - (j << C1_SHIFT));
	for (uint64_t j = 0; j < b->n2; j++)
		b->c2[j] = (uint32_t)(j + 1 < b->n2 ? UINT64_C(1) << C2_SHIFT
						    : nbits - (j << C2_SHIFT));
	*out = b;
	return 0;
}

void ipam__bitmap_free(struct ipam__bitmap *b)
{
	if (!b)
		return;
	ipam__release(b->block, b->block_size);
	ipam__release(b, sizeof(*b));
}

/* From bit pos of level lv (known set) down to its lowest free leaf. */
static inline uint64_t descend(const struct ipam__bitmap *b, unsigned lv, uint64_t pos)
{
	while (lv > 0) {
		lv--;
		pos = (pos << 6) | (uint64_t)__builtin_ctzll(b->lvl[lv][pos]);
	}
	return pos;
}

int ipam__bitmap_next_free(const struct ipam__bitmap *b, uint64_t from, uint64_t *out)
{
	uint64_t pos;
	unsigned top = b->nlevels - 1;

	if (b->nfree == 0)
		return -ENOSPC;
	pos = from < b->nbits ? from : 0;
	for (unsigned lv = 0; lv < b->nlevels; lv++) {
		uint64_t wi = pos >> 6, w;

		if (wi >= b->nwords[lv])
			break;
		w = b->lvl[lv][wi] & (~UINT64_C(0) << (pos & 63));
		if (w) {
			*out = descend(b, lv, (wi << 6) | (uint64_t)__builtin_ctzll(w));
			return 0;
		}
		pos = wi + 1; /* the next word of level lv, as a bit of level lv+1 */
	}
	/* Nothing at or after `from`: wrap to the lowest free ordinal. */
	*out = descend(b, top, (uint64_t)__builtin_ctzll(b->lvl[top][0]));
	return 0;
}

int ipam__bitmap_select_free(const struct ipam__bitmap *b, uint64_t k, uint64_t *out)
{
	uint64_t j2 = 0, j1, w, word, end;

	if (k >= b->nfree)
		return -ENOSPC;
	while (k >= b->c2[j2])
		k -= b->c2[j2++];
	j1 = j2 << (C2_SHIFT - C1_SHIFT);
	while (k >= b->c1[j1])
		k -= b->c1[j1++];
	w = j1 << (C1_SHIFT - 6);
	end = b->nwords[0];
	for (; w < end; w++) {
		uint64_t pc = (uint64_t)__builtin_popcountll(b->lvl[0][w]);
		if (k < pc)
			break;
		k -= pc;
	}
	if (w >= end)
		return -ENOSPC; /* counts disagree with the bits: cannot happen */
	word = b->lvl[0][w];
	while (k--)
		word &= word - 1;
	*out = (w << 6) | (uint64_t)__builtin_ctzll(word);
	return 0;
}

uint64_t ipam__bitmap_free_count(const struct ipam__bitmap *b)
{
	return b->nfree;
}

int ipam__bitmap_foreach_taken(const struct ipam__bitmap *b, int (*cb)(void *, ipam__u128),
			       void *ud)
{
	for (uint64_t w = 0; w < b->nwords[0]; w++) {
		uint64_t taken = ~b->lvl[0][w];
		if (w + 1 == b->nwords[0] && (b->nbits & 63))
			taken &= bit(b->nbits) - 1;
		while (taken) {
			int r = cb(ud, (ipam__u128)((w << 6) | (uint64_t)__builtin_ctzll(taken)));
			if (r)
				return r;
			taken &= taken - 1;
		}
	}
	return 0;
}

size_t ipam__bitmap_bytes(const struct ipam__bitmap *b)
{
	return sizeof(*b) + b->block_size;
}
