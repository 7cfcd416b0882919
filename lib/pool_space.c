/* SPDX-License-Identifier: MIT */
/*
 * The allocatable space of a pool (ranges minus exclusions minus gateway)
 * and the validation that depends on it. Pools carry at most a few hundred
 * ranges and exclusions, so plain sorting and sweeping is ample; this runs
 * when a pool is defined, never per allocation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool_internal.h"
#include "u128.h"

static int range_cmp(const void *a, const void *b)
{
	return ipam_addr_cmp(&((const ipam_range *)a)->first, &((const ipam_range *)b)->first);
}

/* Sort and merge overlapping or adjacent ranges in place; returns new n. */
static size_t merge_ranges(ipam_range *v, size_t n)
{
	size_t out = 0;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), range_cmp);
	for (size_t i = 1; i < n; i++) {
		ipam__u128 last = ipam__addr_value(&v[out].last);
		ipam__u128 first = ipam__addr_value(&v[i].first);
		if (last == ipam__family_max(v[out].last.family) || first <= last + 1) {
			if (ipam_addr_cmp(&v[i].last, &v[out].last) > 0)
				v[out].last = v[i].last;
		} else {
			v[++out] = v[i];
		}
	}
	return out + 1;
}

int ipam__pool_allocatable(const ipam_pool *p, ipam_range **out, size_t *n_out)
{
	size_t nr = ipam_pool_range_count(p), nh = p->excludes.count + 1, cap, n = 0, nholes = 0;
	ipam_range *ranges, *holes, *res;

	*out = NULL;
	*n_out = 0;
	/* Each hole can split one range in two: at most nr + nh pieces. */
	cap = nr + nh;
	ranges = ipam__calloc(nr, sizeof(*ranges));
	holes = ipam__calloc(nh, sizeof(*holes));
	res = ipam__calloc(cap, sizeof(*res));
	if (!ranges || !holes || !res) {
		ipam__release(ranges, nr * sizeof(*ranges));
		ipam__release(holes, nh * sizeof(*holes));
		ipam__release(res, cap * sizeof(*res));
		return ipam__fail_code(-ENOMEM);
	}
	for (size_t i = 0; i < nr; i++)
		ranges[i] = *ipam_pool_range(p, (unsigned)i);
	for (unsigned i = 0; i < p->excludes.count; i++)
		holes[nholes++] = *ipam_pool_exclude(p, i);
	if (p->gateway.family) {
		holes[nholes].first = holes[nholes].last = p->gateway;
		nholes++;
	}
	nr = merge_ranges(ranges, nr);
	nholes = merge_ranges(holes, nholes);

	for (size_t i = 0, h = 0; i < nr; i++) {
		ipam__u128 cur = ipam__addr_value(&ranges[i].first);
		ipam__u128 end = ipam__addr_value(&ranges[i].last);
		int done = 0;

		while (h < nholes && ipam__addr_value(&holes[h].last) < cur)
			h++;
		for (size_t k = h; k < nholes && !done; k++) {
			ipam__u128 hf = ipam__addr_value(&holes[k].first);
			ipam__u128 hl = ipam__addr_value(&holes[k].last);
			if (hf > end)
				break;
			if (hf > cur) {
				res[n] = ranges[i];
				ipam__addr_set_value(&res[n].first, cur);
				ipam__addr_set_value(&res[n].last, hf - 1);
				n++;
			}
			if (hl >= end)
				done = 1;
			else if (hl + 1 > cur)
				cur = hl + 1;
		}
		if (!done) {
			res[n] = ranges[i];
			ipam__addr_set_value(&res[n].first, cur);
			n++;
		}
	}
	ipam__release(ranges, ipam_pool_range_count(p) * sizeof(*ranges));
	ipam__release(holes, nh * sizeof(*holes));
	n = merge_ranges(res, n);
	if (n == 0) {
		ipam__release(res, cap * sizeof(*res));
		return 0;
	}
	if (n < cap) {
		ipam_range *shrunk = ipam__resize(res, cap * sizeof(*res), n * sizeof(*res));
		if (!shrunk) {
			ipam__release(res, cap * sizeof(*res));
			return ipam__fail_code(-ENOMEM);
		}
		res = shrunk;
	}
	*out = res;
	*n_out = n;
	return 0;
}

/* Capacity and hull span (last - first of the allocatable space). */
static int pool_measure(const ipam_pool *p, ipam__u128 *count, int *count_overflow,
			ipam__u128 *hull_span, size_t *pieces)
{
	ipam_range *v;
	size_t n;
	int r = ipam__pool_allocatable(p, &v, &n);

	if (r < 0)
		return r;
	*count = 0;
	*count_overflow = 0;
	*hull_span = 0;
	*pieces = n;
	for (size_t i = 0; i < n; i++) {
		ipam__u128 span = ipam__addr_value(&v[i].last) - ipam__addr_value(&v[i].first);
		if (span == ~(ipam__u128)0 || *count + span + 1 < *count)
			*count_overflow = 1;
		else
			*count += span + 1;
	}
	if (n)
		*hull_span = ipam__addr_value(&v[n - 1].last) - ipam__addr_value(&v[0].first);
	ipam__release(v, n * sizeof(*v));
	return 0;
}

IPAM_EXPORT int ipam_pool_capacity(const ipam_pool *p, ipam_u128 *out)
{
	ipam__u128 count, hull;
	size_t pieces;
	int ovf, r;

	if (!p || !out)
		return ipam__fail_code(-EINVAL);
	r = pool_measure(p, &count, &ovf, &hull, &pieces);
	if (r < 0)
		return r;
	if (ovf)
		return ipam__fail_code(-EOVERFLOW);
	*out = ipam__u128_to(count);
	return 0;
}

IPAM_EXPORT int ipam_pool_is_allocatable(const ipam_pool *p, const ipam_addr *a)
{
	int in = 0;

	if (!p || !a || a->family != p->subnet.addr.family)
		return 0;
	for (unsigned i = 0; i < ipam_pool_range_count(p) && !in; i++)
		in = ipam_range_contains(ipam_pool_range(p, i), a);
	if (!in)
		return 0;
	if (p->gateway.family && ipam_addr_cmp(&p->gateway, a) == 0)
		return 0;
	for (unsigned i = 0; i < p->excludes.count; i++)
		if (ipam_range_contains(ipam_pool_exclude(p, i), a))
			return 0;
	return 1;
}

/* Resolve AUTO and check the size limit of the bitmap, which holds one bit
 * per allocatable address (count; full: 2^128 or more). */
static int resolve_index(const ipam_pool *p, ipam__u128 size, int full, int report)
{
	if (full) /* every index numbers addresses in 128 bits */
		return report ? ipam__fail(-E2BIG, "ranges", p->name,
					   "the pool has 2^128 allocatable addresses; an index holds "
					   "at most 2^128 - 1: leave one address out")
			      : -E2BIG;
	if (p->index_kind == IPAM_INDEX_SPARSE)
		return IPAM_INDEX_SPARSE;
	if (!full && size <= p->bitmap_max)
		return IPAM_INDEX_BITMAP;
	if (p->index_kind == IPAM_INDEX_AUTO)
		return IPAM_INDEX_SPARSE;
	if (!report)
		return -E2BIG;
	{
		char cbuf[IPAM_U128_STRLEN];
		if (full)
			snprintf(cbuf, sizeof(cbuf), "2^128");
		else
			ipam_u128_format(ipam__u128_to(size), cbuf, sizeof(cbuf));
		return ipam__fail(-E2BIG, "index", p->name,
				  "the pool has %s allocatable addresses, more than the bitmap limit of %llu; "
				  "use the sparse index or smaller ranges",
				  cbuf, (unsigned long long)p->bitmap_max);
	}
}

IPAM_EXPORT int ipam_pool_index_kind(const ipam_pool *p)
{
	ipam__u128 count, hull;
	size_t pieces;
	int ovf, r;

	if (!p)
		return ipam__fail_code(-EINVAL);
	r = pool_measure(p, &count, &ovf, &hull, &pieces);
	if (r < 0)
		return r;
	return resolve_index(p, count, ovf, 1);
}

IPAM_EXPORT int ipam_pool_validate(const ipam_pool *p)
{
	ipam__u128 count, hull;
	size_t pieces;
	int ovf, r;
	char buf[IPAM_RANGE_STRLEN];

	if (!p)
		return ipam__fail(-EINVAL, "pool", NULL, "missing pool");
	if (p->gateway.family && (p->flags & IPAM_POOL_STRICT_GATEWAY)) {
		for (unsigned i = 0; i < ipam_pool_range_count(p); i++) {
			if (ipam_range_contains(ipam_pool_range(p, i), &p->gateway)) {
				ipam_addr_format(&p->gateway, buf, sizeof(buf));
				return ipam__fail(-EINVAL, "gateway", buf,
						  "lies inside an allocatable range (strict gateway mode)");
			}
		}
	}
	for (unsigned i = 0; i < p->routes.count; i++) {
		const struct ipam__route *rt = &VEC_AT(p->routes, struct ipam__route, i);
		if (!rt->gw.family && rt->dst.addr.family != p->subnet.addr.family) {
			ipam_prefix_format(&rt->dst, buf, sizeof(buf));
			return ipam__fail(-EAFNOSUPPORT, "routes", buf,
					  "route of another family needs its own gateway");
		}
	}
	r = pool_measure(p, &count, &ovf, &hull, &pieces);
	if (r < 0)
		return r;
	if (pieces == 0)
		return ipam__fail(-EINVAL, "ranges", p->name,
				  "no allocatable address: the exclusions and gateway cover every range");
	r = resolve_index(p, count, ovf, 1);
	return r < 0 ? r : 0;
}
