/* SPDX-License-Identifier: MIT */
/*
 * A hash table of ordinals (128-bit keys, optional 64-bit values): the taken
 * set of the sparse index and the position map of the quarantine.
 *
 * Workload: mostly lookups of absent keys (candidate probing in a huge, nearly
 * empty pool), then inserts, fewer removals. Robin Hood linear probing keeps
 * an absent-key lookup short even at high load: the probe stops as soon as it
 * meets a key closer to its home than the probe is to its own. Removal shifts
 * the following cluster back one slot, so there are no tombstones.
 *
 * Memory is what bounds this table: a key is 16 bytes, the load stays between
 * 0.54 and 0.75 while growing (the capacity grows by 40 %, not doubling, and
 * the slot is found by multiply-shift, so any capacity works), so a taken
 * ordinal costs 21-30 bytes. (At 0.85 the clusters that an insert shifts
 * and a removal shifts back made an allocate+release 3-6 times slower.) It
 * shrinks by half when under a quarter full, but never below the room still
 * promised by reserve calls.
 *
 * The hash is a plain multiplicative one: fast, and it spreads runs of
 * consecutive ordinals (next-fit) perfectly. It is not seeded, so a caller
 * who chooses many exact addresses on purpose could build long clusters;
 * they cost time, never correctness.
 */
#include <string.h>

#include "index_impl.h"

#define EMPTY (~(ipam__u128)0)
#define MIN_CAP 16

/* Fibonacci hashing: one multiply spreads runs of consecutive ordinals
 * evenly (the slot comes from the high bits, by multiply-shift). */
static inline uint64_t mix(ipam__u128 k)
{
	return ((uint64_t)k ^ (uint64_t)(k >> 64) * UINT64_C(0xc4ceb9fe1a85ec53)) *
	       UINT64_C(0x9e3779b97f4a7c15);
}

/* Multiply-shift onto any capacity. (Giving runs of consecutive ordinals
 * consecutive slots was tried: better cache use for next-fit, but longer
 * clusters cost more than it saved.) */
static inline size_t home(size_t cap, ipam__u128 k)
{
	return (size_t)(((ipam__u128)mix(k) * cap) >> 64);
}

static inline size_t dist(size_t cap, size_t slot, size_t h)
{
	return slot >= h ? slot - h : slot + cap - h;
}

static inline size_t limit(size_t cap)
{
	return cap / 4 * 3 + (cap % 4) * 3 / 4; /* 75 % of cap */
}

void ipam__otab_init(struct ipam__otab *t, bool with_vals)
{
	memset(t, 0, sizeof(*t));
	t->with_vals = with_vals;
}

static void release_arrays(ipam__u128 *keys, uint64_t *vals, size_t cap)
{
	ipam__release(keys, cap * sizeof(*keys));
	if (vals)
		ipam__release(vals, cap * sizeof(*vals));
}

void ipam__otab_fini(struct ipam__otab *t)
{
	release_arrays(t->keys, t->vals, t->cap);
	t->keys = NULL;
	t->vals = NULL;
	t->cap = t->count = 0;
}

/* Insert into arrays of capacity cap (room known to exist, key absent). */
static void place(ipam__u128 *keys, uint64_t *vals, size_t cap, ipam__u128 key, uint64_t val)
{
	size_t i = home(cap, key), d = 0;

	for (;;) {
		if (keys[i] == EMPTY) {
			keys[i] = key;
			if (vals)
				vals[i] = val;
			return;
		}
		size_t di = dist(cap, i, home(cap, keys[i]));
		if (di < d) { /* the resident is richer: it moves on instead */
			ipam__u128 tk = keys[i];
			keys[i] = key;
			key = tk;
			if (vals) {
				uint64_t tv = vals[i];
				vals[i] = val;
				val = tv;
			}
			d = di;
		}
		i = i + 1 == cap ? 0 : i + 1;
		d++;
	}
}

static int rehash(struct ipam__otab *t, size_t cap)
{
	ipam__u128 *keys;
	uint64_t *vals = NULL;

	if (cap > SIZE_MAX / sizeof(*keys))
		return -ENOMEM;
	keys = ipam__alloc(cap * sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	if (t->with_vals) {
		vals = ipam__alloc(cap * sizeof(*vals));
		if (!vals) {
			ipam__release(keys, cap * sizeof(*keys));
			return -ENOMEM;
		}
	}
	memset(keys, 0xff, cap * sizeof(*keys));
	for (size_t i = 0; i < t->cap; i++)
		if (t->keys[i] != EMPTY)
			place(keys, vals, cap, t->keys[i], vals ? t->vals[i] : 0);
	release_arrays(t->keys, t->vals, t->cap);
	t->keys = keys;
	t->vals = vals;
	t->cap = cap;
	return 0;
}

int ipam__otab_reserve(struct ipam__otab *t, size_t extra)
{
	size_t need, cap = t->cap;

	if (extra > SIZE_MAX / 2 - t->count)
		return -ENOMEM;
	need = t->count + extra;
	if (need <= limit(cap) && cap) {
		if (extra > t->promised)
			t->promised = extra;
		return 0;
	}
	if (cap < MIN_CAP)
		cap = MIN_CAP;
	while (limit(cap) < need) {
		if (cap > SIZE_MAX / 3)
			return -ENOMEM;
		cap += cap / 5 * 2; /* x1.4: the load stays between 0.54 and 0.75 */
	}
	if (rehash(t, cap) < 0)
		return -ENOMEM;
	if (extra > t->promised)
		t->promised = extra;
	return 0;
}

static int lookup(const struct ipam__otab *t, ipam__u128 key, size_t *slot)
{
	size_t i, d = 0;

	if (t->count == 0)
		return 0;
	i = home(t->cap, key);
	for (;;) {
		ipam__u128 k = t->keys[i];
		if (k == key) {
			*slot = i;
			return 1;
		}
		if (k == EMPTY || dist(t->cap, i, home(t->cap, k)) < d)
			return 0;
		i = i + 1 == t->cap ? 0 : i + 1;
		d++;
	}
}

int ipam__otab_find(const struct ipam__otab *t, ipam__u128 key, uint64_t *val)
{
	size_t i;

	if (!lookup(t, key, &i))
		return 0;
	if (val)
		*val = t->vals ? t->vals[i] : 0;
	return 1;
}

void ipam__otab_insert(struct ipam__otab *t, ipam__u128 key, uint64_t val)
{
	place(t->keys, t->vals, t->cap, key, val);
	t->count++;
	if (t->promised)
		t->promised--;
}

int ipam__otab_remove(struct ipam__otab *t, ipam__u128 key, uint64_t *val)
{
	size_t i, j;

	if (!lookup(t, key, &i))
		return 0;
	if (val)
		*val = t->vals ? t->vals[i] : 0;
	/* Shift the rest of the cluster back until an empty slot or a key that
	 * sits at its home. */
	for (;;) {
		j = i + 1 == t->cap ? 0 : i + 1;
		if (t->keys[j] == EMPTY || dist(t->cap, j, home(t->cap, t->keys[j])) == 0)
			break;
		t->keys[i] = t->keys[j];
		if (t->vals)
			t->vals[i] = t->vals[j];
		i = j;
	}
	t->keys[i] = EMPTY;
	t->count--;
	if (t->cap > 4 * MIN_CAP && t->count < t->cap / 4 && limit(t->cap / 2) >= t->count + t->promised)
		(void)rehash(t, t->cap / 2); /* best effort: failing changes nothing */
	return 1;
}

int ipam__otab_foreach(const struct ipam__otab *t, int (*cb)(void *, ipam__u128), void *ud)
{
	for (size_t i = 0; i < t->cap; i++) {
		if (t->keys[i] != EMPTY) {
			int r = cb(ud, t->keys[i]);
			if (r)
				return r;
		}
	}
	return 0;
}

size_t ipam__otab_bytes(const struct ipam__otab *t)
{
	return t->cap * (sizeof(ipam__u128) + (t->with_vals ? sizeof(uint64_t) : 0));
}
