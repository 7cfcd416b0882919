/* SPDX-License-Identifier: MIT */
/*
 * Building the free-space index of a pool: the allocatable ranges with their
 * first ordinals, the choice of structure (bitmap up to bitmap_max, sparse
 * beyond), policy and quarantine settings; and the small services around
 * it: the random generator, ordinal <-> address, size accounting.
 *
 * Workload: runs once per pool when a view or store is opened; nothing here
 * is on the allocation path except the inline mapping in index_impl.h.
 */
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "index_impl.h"
#include "pool_internal.h"

/* ---- random numbers -------------------------------------------------------- */

uint64_t ipam__rng_next(struct ipam__rng *r)
{
	uint64_t z = (r->s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* Draw bits just wide enough for n - 1 and reject what is past it: exactly
 * uniform, fewer than two draws on average. */
ipam__u128 ipam__rng_below(struct ipam__rng *r, ipam__u128 n)
{
	ipam__u128 m = n - 1;

	if (m == 0)
		return 0;
	if ((m >> 64) == 0) {
		unsigned sh = (unsigned)__builtin_clzll((uint64_t)m);
		for (;;) {
			uint64_t x = ipam__rng_next(r) >> sh;
			if (x <= (uint64_t)m)
				return x;
		}
	}
	unsigned sh = (unsigned)__builtin_clzll((uint64_t)(m >> 64));
	for (;;) {
		ipam__u128 x = ((ipam__u128)(ipam__rng_next(r) >> sh) << 64) | ipam__rng_next(r);
		if (x <= m)
			return x;
	}
}

int ipam__index_ordinal(const ipam__index *idx, const ipam_addr *a, ipam__u128 *ord)
{
	if (!idx || !a || !ord)
		return -EINVAL;
	return ipam__idx_locate(idx, a, ord);
}

int ipam__index_address(const ipam__index *idx, ipam__u128 ord, ipam_addr *out)
{
	if (!idx || !out)
		return -EINVAL;
	if (ord >= idx->total)
		return -ERANGE;
	*out = ipam__idx_address(idx, ord);
	return 0;
}

/* ---- life cycle --------------------------------------------------------------- */

static int build_ranges(ipam__index *idx, const ipam_pool *p)
{
	ipam_range *rv = NULL;
	size_t n = 0;
	ipam__u128 total = 0;
	int r = ipam__pool_allocatable(p, &rv, &n);

	if (r < 0)
		return r;
	if (n == 0) {
		r = ipam__fail(-EINVAL, "ranges", p->name, "pool %s has no allocatable address",
			       p->name);
		goto out;
	}
	idx->ranges = ipam__calloc(n, sizeof(*idx->ranges));
	if (!idx->ranges) {
		r = -ENOMEM;
		goto out;
	}
	idx->nranges = n;
	for (size_t i = 0; i < n; i++) {
		ipam__u128 first = ipam__addr_value(&rv[i].first);
		ipam__u128 last = ipam__addr_value(&rv[i].last);
		ipam__u128 span = last - first; /* count - 1 */
		if (last < first || span == ~(ipam__u128)0 || total + span + 1 < total ||
		    total + span + 1 == 0) {
			r = ipam__fail(-E2BIG, "ranges", p->name,
				       "pool %s has 2^128 addresses or more", p->name);
			goto out;
		}
		idx->ranges[i].first = first;
		idx->ranges[i].last = last;
		idx->ranges[i].base = total;
		total += span + 1;
	}
	idx->total = total;
out:
	ipam__release(rv, n * sizeof(*rv));
	return r;
}

static int build_space(ipam__index *idx, const ipam_pool *p)
{
	uint64_t bm_max = p->bitmap_max ? p->bitmap_max : IPAM_BITMAP_MAX_DEFAULT;
	bool bitmap;

	switch (p->index_kind) {
	case IPAM_INDEX_AUTO:
		bitmap = idx->total <= bm_max;
		break;
	case IPAM_INDEX_BITMAP:
		if (idx->total > bm_max)
			return ipam__fail(-E2BIG, "index", p->name,
					  "pool %s has more addresses than the bitmap limit %" PRIu64,
					  p->name, bm_max);
		bitmap = true;
		break;
	case IPAM_INDEX_SPARSE:
		bitmap = false;
		break;
	default:
		return ipam__fail(-EINVAL, "index", p->name, "unknown index kind");
	}
	idx->kind = bitmap ? IPAM_INDEX_BITMAP : IPAM_INDEX_SPARSE;
	if (bitmap)
		return ipam__bitmap_new(&idx->bm, (uint64_t)idx->total);
	return ipam__sparse_new(&idx->sp, idx->total);
}

int ipam__index_new(ipam__index **out, const ipam_pool *p)
{
	ipam__index *idx;
	struct timespec ts;
	int r;

	if (!out || !p)
		return -EINVAL;
	idx = ipam__zalloc(sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	ipam__quar_init(&idx->q);
	idx->family = p->subnet.addr.family;
	idx->subnet = p->subnet;
	idx->gateway = p->gateway;
	memcpy(idx->name, p->name, sizeof(idx->name));
	idx->name[IPAM_NAME_MAX] = '\0';
	r = build_ranges(idx, p);
	if (r == 0)
		r = build_space(idx, p);
	if (r == 0)
		r = ipam__index_set_policy(idx, p->policy);
	if (r < 0) {
		ipam__index_free(idx);
		return r;
	}
	idx->q_ms = (int64_t)p->quarantine_seconds * 1000;
	idx->q_allocs = p->quarantine_allocations;
	idx->q_on = idx->q_ms > 0 || idx->q_allocs > 0;
	idx->q_hard = (p->quarantine_flags & IPAM_QUARANTINE_HARD) != 0;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ipam__index_seed(idx, (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^
				      (uint64_t)(uintptr_t)idx);
	*out = idx;
	return 0;
}

ipam__index *ipam__index_free(ipam__index *idx)
{
	if (!idx)
		return NULL;
	ipam__bitmap_free(idx->bm);
	ipam__sparse_free(idx->sp);
	ipam__quar_fini(&idx->q);
	ipam__release(idx->ranges, idx->nranges * sizeof(*idx->ranges));
	ipam__release(idx, sizeof(*idx));
	return NULL;
}

void ipam__index_seed(ipam__index *idx, uint64_t seed)
{
	if (idx)
		idx->rng.s = seed;
}

int ipam__index_set_policy(ipam__index *idx, ipam_policy policy)
{
	if (!idx)
		return -EINVAL;
	switch (policy) {
	case IPAM_POLICY_NEXT_FIT:
	case IPAM_POLICY_LOWEST:
	case IPAM_POLICY_RANDOM:
		idx->policy = policy;
		return 0;
	default:
		return ipam__fail(-EINVAL, "policy", NULL, "unknown allocation policy %d", (int)policy);
	}
}

ipam_index_kind ipam__index_kind(const ipam__index *idx)
{
	return idx ? idx->kind : IPAM_INDEX_AUTO;
}

size_t ipam__index_bytes(const ipam__index *idx)
{
	if (!idx)
		return 0;
	return sizeof(*idx) + idx->nranges * sizeof(*idx->ranges) +
	       (idx->bm ? ipam__bitmap_bytes(idx->bm) : ipam__sparse_bytes(idx->sp)) +
	       ipam__quar_bytes(&idx->q);
}
