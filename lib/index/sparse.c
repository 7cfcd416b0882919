/* SPDX-License-Identifier: MIT */
/*
 * Sparse index: the free-space index for huge pools (an IPv6 /64 has 2^64
 * addresses; anything up to 2^128 - 1 works).
 *
 * Workload: a pool that is, in any realistic use, almost entirely free (a
 * million leases fill 2^-44 of a /64). Memory must follow the number of taken
 * addresses, never the size of the pool, so the index is a hash set of taken
 * ordinals (otab.c: about 19-28 bytes per taken address) and two watermarks:
 *   low:  no ordinal below it is free;
 *   high: every ordinal at or above it is free.
 * next-fit (the default) then almost always answers from `high` in O(1): a
 * cursor that follows allocations sits at or above it. lowest starts at
 * `low`. random draws uniform candidates and checks the set: with the pool
 * nearly empty the first draw is free; after 64 taken draws (a pool more than
 * ~93 % full, which only happens when the sparse index is forced onto a small
 * pool) it falls back to the next free ordinal after a random point, which
 * is no longer exactly uniform.
 *
 * Limits: next-fit and lowest walk a run of consecutive taken ordinals one
 * lookup at a time (about 10-30 ns each). Runs are short in a huge pool;
 * a small pool forced onto this index near full pays for its run length.
 */
#include "index_impl.h"

struct ipam__sparse {
	struct ipam__otab taken;
	ipam__u128 total;
	ipam__u128 low;
	ipam__u128 high;
};

#define RANDOM_TRIES 64

int ipam__sparse_new(struct ipam__sparse **out, ipam__u128 total)
{
	struct ipam__sparse *s;

	if (!out || total == 0)
		return -EINVAL;
	s = ipam__zalloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	ipam__otab_init(&s->taken, false);
	s->total = total;
	*out = s;
	return 0;
}

void ipam__sparse_free(struct ipam__sparse *s)
{
	if (!s)
		return;
	ipam__otab_fini(&s->taken);
	ipam__release(s, sizeof(*s));
}

int ipam__sparse_test(const struct ipam__sparse *s, ipam__u128 i)
{
	if (i >= s->high)
		return 0;
	return ipam__otab_find(&s->taken, i, NULL);
}

int ipam__sparse_reserve(struct ipam__sparse *s, size_t n)
{
	return ipam__otab_reserve(&s->taken, n);
}

void ipam__sparse_set(struct ipam__sparse *s, ipam__u128 i)
{
	ipam__otab_insert(&s->taken, i, 0);
	if (i >= s->high)
		s->high = i + 1;
}

void ipam__sparse_clear(struct ipam__sparse *s, ipam__u128 i)
{
	ipam__otab_remove(&s->taken, i, NULL);
	if (i < s->low)
		s->low = i;
	if (s->taken.count == 0)
		s->high = s->low = 0;
}

int ipam__sparse_next_free(const struct ipam__sparse *s, ipam__u128 from, ipam__u128 *out)
{
	ipam__u128 c;

	if ((ipam__u128)s->taken.count >= s->total)
		return -ENOSPC;
	if (from >= s->total)
		from = 0;
	c = from <= s->low ? s->low : from; /* nothing below low is free */
	while (c < s->high && ipam__otab_find(&s->taken, c, NULL))
		if (++c == s->total)
			c = s->low; /* wrap */
	*out = c;
	return 0;
}

void ipam__sparse_learn(struct ipam__sparse *s, ipam__u128 from, ipam__u128 found)
{
	/* No wrap happened (found >= low >= from): [low, found) is all taken. */
	if (from <= s->low && found >= s->low)
		s->low = found;
}

int ipam__sparse_random_free(const struct ipam__sparse *s, struct ipam__rng *rng,
			     ipam__u128 *out)
{
	if ((ipam__u128)s->taken.count >= s->total)
		return -ENOSPC;
	for (int t = 0; t < RANDOM_TRIES; t++) {
		ipam__u128 c = ipam__rng_below(rng, s->total);
		if (!ipam__sparse_test(s, c)) {
			*out = c;
			return 0;
		}
	}
	return ipam__sparse_next_free(s, ipam__rng_below(rng, s->total), out);
}

int ipam__sparse_foreach_taken(const struct ipam__sparse *s, int (*cb)(void *, ipam__u128),
			       void *ud)
{
	return ipam__otab_foreach(&s->taken, cb, ud);
}

size_t ipam__sparse_bytes(const struct ipam__sparse *s)
{
	return sizeof(*s) + ipam__otab_bytes(&s->taken);
}
