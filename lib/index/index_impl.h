/* SPDX-License-Identifier: MIT */
#ifndef IPAM_INDEX_IMPL_H
#define IPAM_INDEX_IMPL_H

/*
 * The parts behind lib/index/index.h, all working on ordinals (positions
 * among the pool's allocatable addresses, see index.h). None of them knows
 * about owners, policies or addresses; index.c glues them together.
 * "Taken" below means used or quarantined: both are not free.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "index.h"
#include "internal.h"
#include "u128.h"

/* ---- random numbers (index.c) ------------------------------------------- */

struct ipam__rng {
	uint64_t s;
};

uint64_t ipam__rng_next(struct ipam__rng *r);
/* Uniform in [0, n); n > 0. */
ipam__u128 ipam__rng_below(struct ipam__rng *r, ipam__u128 n);

/* ---- multi-level bitmap (bitmap.c) ------------------------------------- */

#define IPAM__BM_LEVELS_MAX 6 /* 64^6 = 2^36 ordinals (an 8 GiB bitmap) at most */
#define IPAM__BM_C1_SHIFT 12  /* ordinals per first-level count: 4096 = 64 words */
#define IPAM__BM_C2_SHIFT 18  /* ordinals per second-level count: 64 first-level */

/* A bit is 1 when its ordinal is free; see bitmap.c. Defined here so that
 * test/set/clear inline into the allocation path. */
struct ipam__bitmap {
	uint64_t nbits;
	uint64_t nfree;
	unsigned nlevels;
	uint64_t nwords[IPAM__BM_LEVELS_MAX];
	uint64_t *lvl[IPAM__BM_LEVELS_MAX]; /* lvl[0]: leaves; top: one word */
	uint32_t *c1;                       /* free ordinals per 4096 */
	uint32_t *c2;                       /* free ordinals per 2^18 */
	uint64_t n1, n2;
	void *block; /* everything above, one allocation */
	size_t block_size;
};

/* nbits >= 1 ordinals, all free. -ENOMEM, -E2BIG if it cannot be sized. */
int ipam__bitmap_new(struct ipam__bitmap **out, uint64_t nbits);
void ipam__bitmap_free(struct ipam__bitmap *b);
/* 1 if taken. i < nbits. */
static inline int ipam__bitmap_test(const struct ipam__bitmap *b, uint64_t i)
{
	return !(b->lvl[0][i >> 6] & (UINT64_C(1) << (i & 63)));
}

/* Mark taken (i must be free): a word that became empty clears its bit one
 * level up, and so on. */
static inline void ipam__bitmap_set(struct ipam__bitmap *b, uint64_t i)
{
	uint64_t *w = &b->lvl[0][i >> 6];

	*w &= ~(UINT64_C(1) << (i & 63));
	b->nfree--;
	b->c1[i >> IPAM__BM_C1_SHIFT]--;
	b->c2[i >> IPAM__BM_C2_SHIFT]--;
	for (unsigned lv = 1; *w == 0 && lv < b->nlevels; lv++) {
		i >>= 6;
		w = &b->lvl[lv][i >> 6];
		*w &= ~(UINT64_C(1) << (i & 63));
	}
}

/* Mark free (i must be taken): a word that was empty sets its bit one level
 * up, and so on. */
static inline void ipam__bitmap_clear(struct ipam__bitmap *b, uint64_t i)
{
	uint64_t *w = &b->lvl[0][i >> 6];
	uint64_t was = *w;

	*w = was | (UINT64_C(1) << (i & 63));
	b->nfree++;
	b->c1[i >> IPAM__BM_C1_SHIFT]++;
	b->c2[i >> IPAM__BM_C2_SHIFT]++;
	for (unsigned lv = 1; was == 0 && lv < b->nlevels; lv++) {
		i >>= 6;
		w = &b->lvl[lv][i >> 6];
		was = *w;
		*w = was | (UINT64_C(1) << (i & 63));
	}
}
/* First free ordinal >= from, wrapping to 0; -ENOSPC if none is free. */
int ipam__bitmap_next_free(const struct ipam__bitmap *b, uint64_t from, uint64_t *out);
/* The k-th free ordinal in ascending order (k < free count); -ENOSPC. */
int ipam__bitmap_select_free(const struct ipam__bitmap *b, uint64_t k, uint64_t *out);
uint64_t ipam__bitmap_free_count(const struct ipam__bitmap *b);
/* cb for each taken ordinal, ascending; stops at a non-zero return. */
int ipam__bitmap_foreach_taken(const struct ipam__bitmap *b, int (*cb)(void *, ipam__u128),
			       void *ud);
size_t ipam__bitmap_bytes(const struct ipam__bitmap *b);

/* ---- hash table of ordinals (otab.c) ------------------------------------ */

/* Robin Hood hashing with linear probing and backward-shift deletion; keys
 * are ordinals (never all-ones, the empty marker), values optional. */
struct ipam__otab {
	ipam__u128 *keys;
	uint64_t *vals; /* NULL unless made with values */
	size_t cap;
	size_t count;
	size_t promised; /* inserts promised by reserve, not yet made */
	bool with_vals;
};

void ipam__otab_init(struct ipam__otab *t, bool with_vals);
void ipam__otab_fini(struct ipam__otab *t);
/* Make room for `extra` more keys: the next `extra` inserts do not allocate,
 * whatever is removed meanwhile. 0 or -ENOMEM (nothing changed). */
int ipam__otab_reserve(struct ipam__otab *t, size_t extra);
/* 1 and *val (if val) when present, else 0. */
int ipam__otab_find(const struct ipam__otab *t, ipam__u128 key, uint64_t *val);
/* key must be absent and room reserved. */
void ipam__otab_insert(struct ipam__otab *t, ipam__u128 key, uint64_t val);
/* 1 if removed (its value in *val), 0 if absent. Never allocates; may
 * shrink the table when that succeeds. */
int ipam__otab_remove(struct ipam__otab *t, ipam__u128 key, uint64_t *val);
int ipam__otab_foreach(const struct ipam__otab *t, int (*cb)(void *, ipam__u128), void *ud);
size_t ipam__otab_bytes(const struct ipam__otab *t);

/* ---- sparse index (sparse.c) --------------------------------------------- */

struct ipam__sparse;

/* total >= 1 ordinals, all free. */
int ipam__sparse_new(struct ipam__sparse **out, ipam__u128 total);
void ipam__sparse_free(struct ipam__sparse *s);
int ipam__sparse_test(const struct ipam__sparse *s, ipam__u128 i);
/* Room for n more taken ordinals: call before ipam__sparse_set. */
int ipam__sparse_reserve(struct ipam__sparse *s, size_t n);
void ipam__sparse_set(struct ipam__sparse *s, ipam__u128 i);
void ipam__sparse_clear(struct ipam__sparse *s, ipam__u128 i);
/* Searches change nothing; each needs a free ordinal, else -ENOSPC.
 * next_free: the first free at or after `from`, wrapping. */
int ipam__sparse_next_free(const struct ipam__sparse *s, ipam__u128 from, ipam__u128 *out);
int ipam__sparse_random_free(const struct ipam__sparse *s, struct ipam__rng *rng,
			     ipam__u128 *out);
/* After next_free(from) answered `found`: remember that nothing between the
 * low watermark and found is free, so the next scan starts there. */
void ipam__sparse_learn(struct ipam__sparse *s, ipam__u128 from, ipam__u128 found);
int ipam__sparse_foreach_taken(const struct ipam__sparse *s, int (*cb)(void *, ipam__u128),
			       void *ud);
size_t ipam__sparse_bytes(const struct ipam__sparse *s);

/* ---- reuse quarantine (quarantine.c) ---------------------------------- */

struct ipam__qentry {
	ipam__u128 ord;
	uint64_t owner;
	int64_t released_ms;
	uint64_t alloc_seq; /* allocations counted when it was released */
	uint64_t live;      /* 0 once taken back or removed */
};

/* A FIFO of released ordinals plus a map ordinal -> FIFO position. */
struct ipam__quarantine {
	struct ipam__qentry *ring; /* cap a power of two (or 0) */
	size_t cap;
	uint64_t head, tail; /* absolute positions; ring[pos & (cap - 1)] */
	size_t live;
	struct ipam__otab where; /* ordinal -> absolute position */
};

void ipam__quar_init(struct ipam__quarantine *q);
void ipam__quar_fini(struct ipam__quarantine *q);
/* Room for n more entries: 0 or -ENOMEM (nothing changed). */
int ipam__quar_reserve(struct ipam__quarantine *q, size_t n);
/* Append (room reserved, ord not already in). */
void ipam__quar_push(struct ipam__quarantine *q, ipam__u128 ord, uint64_t owner,
		     int64_t released_ms, uint64_t alloc_seq);
/* The entry of ord if it is quarantined, else NULL. */
const struct ipam__qentry *ipam__quar_get(const struct ipam__quarantine *q, ipam__u128 ord);
/* Remove ord if quarantined: 1 removed, 0 absent. */
int ipam__quar_remove(struct ipam__quarantine *q, ipam__u128 ord);
/* The oldest live entry (NULL if none). Drops dead entries on the way. */
const struct ipam__qentry *ipam__quar_oldest(struct ipam__quarantine *q);
/* The same without dropping anything. */
const struct ipam__qentry *ipam__quar_peek_oldest(const struct ipam__quarantine *q);
/* Remove the oldest live entry (there must be one). */
void ipam__quar_pop(struct ipam__quarantine *q);
size_t ipam__quar_bytes(const struct ipam__quarantine *q);

/* ---- the index itself (index.c: policies; setup.c: building, mapping) --- */

struct ipam__irange {
	ipam__u128 first, last; /* address values */
	ipam__u128 base;        /* ordinal of first */
};

struct ipam__index {
	ipam_index_kind kind; /* BITMAP or SPARSE */
	struct ipam__bitmap *bm;
	struct ipam__sparse *sp;
	int family;
	ipam_prefix subnet;
	ipam_addr gateway; /* family 0: none */
	char name[IPAM_NAME_MAX + 1];
	struct ipam__irange *ranges;
	size_t nranges;
	ipam__u128 total;
	uint64_t used; /* held in memory one way or another: fits in 64 bits */
	ipam__u128 cursor; /* next-fit: ordinal after the last allocation */
	ipam_policy policy;
	int64_t q_ms;      /* quarantine delay, 0: no time condition */
	uint64_t q_allocs; /* quarantine allocations, 0: no count condition */
	bool q_on, q_hard;
	struct ipam__quarantine q;
	uint64_t allocs; /* successful allocations, for the quarantine */
	struct ipam__rng rng;
};

/* Address <-> ordinal: a binary search over the few allocatable ranges. */

/* 0 and *ord, -ERANGE (other family, outside the subnet) or -EACCES (in the
 * subnet but never handed out). Records no message. */
static inline int ipam__idx_locate(const ipam__index *idx, const ipam_addr *a, ipam__u128 *ord)
{
	size_t lo = 0, hi = idx->nranges;
	ipam__u128 v;

	if (a->family != idx->family)
		return -ERANGE;
	v = ipam__addr_value(a);
	while (hi - lo > 1) { /* last range whose first <= v */
		size_t mid = lo + (hi - lo) / 2;
		if (idx->ranges[mid].first <= v)
			lo = mid;
		else
			hi = mid;
	}
	if (v >= idx->ranges[lo].first && v <= idx->ranges[lo].last) {
		*ord = idx->ranges[lo].base + (v - idx->ranges[lo].first);
		return 0;
	}
	return ipam_prefix_contains(&idx->subnet, a) ? -EACCES : -ERANGE;
}

static inline ipam_addr ipam__idx_address(const ipam__index *idx, ipam__u128 ord)
{
	size_t lo = 0, hi = idx->nranges;
	ipam_addr a = { 0, 0, (uint8_t)idx->family };

	while (hi - lo > 1) { /* last range whose base <= ord */
		size_t mid = lo + (hi - lo) / 2;
		if (idx->ranges[mid].base <= ord)
			lo = mid;
		else
			hi = mid;
	}
	ipam__addr_set_value(&a, idx->ranges[lo].first + (ord - idx->ranges[lo].base));
	return a;
}

#endif /* IPAM_INDEX_IMPL_H */
