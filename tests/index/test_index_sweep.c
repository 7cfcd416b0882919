/* SPDX-License-Identifier: MIT */
/*
 * Exhaustive sweeps of the free-space index:
 * - every pool size from 1 to 4096 addresses, with and without exclusions
 *   and an in-range gateway, on the bitmap and the sparse index, starting at
 *   a different bit alignment each time: fill, -ENOSPC, only-first and
 *   only-last free, drain;
 * - every IPv4 prefix /8../32 and IPv6 /64../128 with the pool's default
 *   range: first, last, gateway, network/broadcast (or subnet-router
 *   anycast) and the addresses just outside. Large pools check boundaries
 *   only; the smaller ones are filled completely.
 */
#include <stdbool.h>
#include <stdlib.h>

#include "idx_util.h"

static bool quick(void)
{
	const char *q = getenv("IPAM_TEST_QUICK");
	return q && *q && *q != '0';
}

/* Allocate until -ENOSPC; returns how many, checking ascending order for
 * the lowest policy. */
static uint64_t fill(ipam__index *idx, bool ascending)
{
	ipam_addr a, prev = { 0, 0, 0 };
	uint64_t n = 0;
	int r;

	while ((r = ipam__index_alloc(idx, 1, NULL, 0, &a)) == 0) {
		if (ascending && n > 0)
			IU_TRUE(ipam_addr_cmp(&prev, &a) < 0);
		prev = a;
		n++;
	}
	IU_EQ(r, -ENOSPC);
	return n;
}

/* ---- every size 1..4096 --------------------------------------------------- */

static void sweep_size(uint64_t n, bool excl, ipam_index_kind kind)
{
	ipam_addr base = iu_addr("10.0.0.0"), first = iu_plus(&base, 1 + n % 61), a, gw;
	ipam_range rg = iu_span(&first, n);
	ipam_pool *p = iu_pool("10.0.0.0/16");
	bool *off = calloc(n, 1); /* excluded offsets */
	uint64_t expect = n, got, lo = 0, hi = 0;
	ipam__index *idx;

	ck_assert_ptr_nonnull(off);
	iu_add_range(p, &rg);
	if (excl && n >= 4) {
		uint64_t e1 = n / 3, e2 = n / 2, e2n = n / 8 < 5 ? n / 8 + 1 : 5, g = n - 2;
		ipam_addr x = iu_plus(&first, e1), y = iu_plus(&first, e2);
		ipam_range r1 = iu_span(&x, 1), r2 = iu_span(&y, e2n);
		iu_add_exclude(p, &r1);
		iu_add_exclude(p, &r2);
		gw = iu_plus(&first, g);
		IU_EQ(ipam_pool_set_gateway(p, &gw), 0);
		off[e1] = off[g] = true;
		for (uint64_t i = 0; i < e2n; i++)
			off[e2 + i] = true;
	}
	for (uint64_t i = 0; i < n; i++)
		expect -= off[i];
	IU_EQ(ipam_pool_set_index(p, kind, 0), 0);
	IU_EQ(ipam_pool_set_policy(p, IPAM_POLICY_LOWEST), 0);
	idx = iu_index(p);
	ipam_pool_free(p);
	IU_TRUE(iu_counts(idx).total == expect);

	/* Every allowed address exactly once, in order; then -ENOSPC. */
	got = fill(idx, true);
	IU_MSG(got == expect, "size %llu: %llu of %llu", (unsigned long long)n,
		      (unsigned long long)got, (unsigned long long)expect);
	for (uint64_t i = 0; i < n; i++) {
		a = iu_plus(&first, i);
		IU_EQ(ipam__index_state(idx, &a), off[i] ? -EACCES : IPAM__ADDR_USED);
	}
	a = iu_plus(&first, n); /* just past the range: in the subnet, not in a range */
	IU_EQ(ipam__index_state(idx, &a), -EACCES);
	IU_TRUE(iu_counts(idx).free == 0);

	/* Only the last, then only the first allowed address free. */
	while (off[hi = n - 1 - lo])
		lo++;
	for (lo = 0; off[lo]; lo++)
		;
	a = iu_plus(&first, hi);
	IU_EQ(ipam__index_release(idx, &a, 1, 0), 0);
	IU_EQ(ipam__index_alloc(idx, 2, NULL, 0, &a), 0);
	IU_EQ(iu_ord(idx, &a), expect - 1);
	a = iu_plus(&first, lo);
	IU_EQ(ipam__index_release(idx, &a, 1, 0), 0);
	IU_EQ(ipam__index_set_policy(idx, IPAM_POLICY_NEXT_FIT), 0);
	IU_EQ(ipam__index_alloc(idx, 2, NULL, 0, &a), 0);
	IU_EQ(iu_ord(idx, &a), 0);
	IU_EQ(ipam__index_alloc(idx, 2, NULL, 0, &a), -ENOSPC);

	/* Drain through release; everything is free again. */
	for (uint64_t i = 0; i < expect; i++) {
		a = iu_at(idx, i);
		IU_EQ(ipam__index_release(idx, &a, 1, 0), 0);
	}
	IU_TRUE(iu_counts(idx).used == 0 && iu_counts(idx).free == expect);
	IU_EQ(ipam__index_alloc(idx, 2, NULL, 0, &a), 0);
	ipam__index_free(idx);
	free(off);
}

START_TEST(test_every_size)
{
	/* _i: 0 bitmap, 1 sparse; exclusions on and off. */
	ipam_index_kind kind = _i ? IPAM_INDEX_SPARSE : IPAM_INDEX_BITMAP;
	for (uint64_t n = 1; n <= 4096; n++) {
		if (quick() && kind == IPAM_INDEX_SPARSE && n > 512 && n % 17)
			continue;
		sweep_size(n, false, kind);
		sweep_size(n, true, kind);
	}
}
END_TEST

/* ---- every prefix length ---------------------------------------------------- */

struct bounds {
	ipam_addr first, last;   /* first and last allocatable */
	ipam_addr below, above;  /* just outside the subnet */
	ipam_addr net, bcast, gw; /* family 0 when not applicable */
	ipam__u128 total;
};

static void check_bounds(ipam__index *idx, const struct bounds *b, bool fill_all)
{
	char t[IPAM_ADDR_STRLEN];
	ipam_error_info e;
	ipam_addr a;

	IU_MSG(iu_counts(idx).total == b->total, "total for %s", iu_fmt(&b->first, t));
	IU_EQ(ipam__index_state(idx, &b->below), -ERANGE);
	IU_EQ(ipam__index_alloc_exact(idx, &b->above, 1, 0), -ERANGE);
	if (b->net.family)
		IU_EQ(ipam__index_alloc_exact(idx, &b->net, 1, 0), -EACCES);
	if (b->bcast.family)
		IU_EQ(ipam__index_state(idx, &b->bcast), -EACCES);
	if (b->gw.family) {
		IU_EQ(ipam__index_alloc_exact(idx, &b->gw, 1, 0), -EACCES);
		ipam_last_error(&e);
		ck_assert_ptr_nonnull(strstr(e.message, "gateway"));
		ck_assert_ptr_nonnull(strstr(e.message, iu_fmt(&b->gw, t)));
	}
	/* lowest: the first allocatable address */
	IU_EQ(ipam__index_set_policy(idx, IPAM_POLICY_LOWEST), 0);
	IU_EQ(ipam__index_alloc(idx, 1, NULL, 0, &a), 0);
	IU_MSG(iu_addr_eq(&a, &b->first), "lowest gave %s", iu_fmt(&a, t));
	/* the last one by exact request, once */
	if (b->total > 1) {
		IU_EQ(ipam__index_alloc_exact(idx, &b->last, 1, 0), 0);
		IU_EQ(ipam__index_alloc_exact(idx, &b->last, 1, 0), -EEXIST);
		IU_EQ(ipam__index_state(idx, &b->last), IPAM__ADDR_USED);
	}
	/* next-fit after the last address wraps to the second one */
	IU_EQ(ipam__index_set_policy(idx, IPAM_POLICY_NEXT_FIT), 0);
	if (b->total > 2) {
		ipam_addr second = iu_plus(&b->first, 1);
		if (b->gw.family && iu_addr_eq(&second, &b->gw))
			second = iu_plus(&second, 1);
		IU_EQ(ipam__index_alloc(idx, 1, NULL, 0, &a), 0);
		IU_MSG(iu_addr_eq(&a, &second), "next-fit gave %s", iu_fmt(&a, t));
	}
	if (fill_all) {
		struct ipam__index_counts c = iu_counts(idx);
		IU_TRUE(fill(idx, false) == c.free);
		IU_EQ(ipam__index_release(idx, &b->last, 1, 0), 0);
		IU_EQ(ipam__index_alloc(idx, 1, NULL, 0, &a), 0);
		IU_TRUE(iu_addr_eq(&a, &b->last));
		IU_EQ(ipam__index_alloc(idx, 1, NULL, 0, &a), -ENOSPC);
	}
}

static void v4_prefix(unsigned len, ipam_index_kind kind)
{
	char text[32];
	uint32_t hosts = len == 32 ? 1 : (uint32_t)1 << (32 - len), net = 0x0a000000;
	struct bounds b;
	ipam_pool *p;
	ipam__index *idx;

	memset(&b, 0, sizeof(b));
	snprintf(text, sizeof(text), "10.0.0.0/%u", len);
	p = iu_pool(text);
	b.below = ipam_addr_v4(net - 1);
	b.above = ipam_addr_v4(net + hosts);
	if (len <= 30) {
		b.net = ipam_addr_v4(net);
		b.bcast = ipam_addr_v4(net + hosts - 1);
		b.gw = ipam_addr_v4(net + 1);
		IU_EQ(ipam_pool_set_gateway(p, &b.gw), 0);
		b.first = ipam_addr_v4(net + 2);
		b.last = ipam_addr_v4(net + hosts - 2);
		b.total = hosts - 3;
	} else { /* RFC 3021: the whole /31 or /32 */
		b.first = ipam_addr_v4(net);
		b.last = ipam_addr_v4(net + hosts - 1);
		b.total = hosts;
	}
	IU_EQ(ipam_pool_set_index(p, kind, 0), 0);
	idx = iu_index(p);
	ipam_pool_free(p);
	IU_EQ(ipam__index_kind(idx),
			 kind == IPAM_INDEX_SPARSE ? IPAM_INDEX_SPARSE : IPAM_INDEX_BITMAP);
	check_bounds(idx, &b, len >= (quick() ? 18u : 14u));
	ipam__index_free(idx);
}

START_TEST(test_v4_prefixes)
{
	for (unsigned len = 8; len <= 32; len++) {
		v4_prefix(len, IPAM_INDEX_AUTO);
		if (len >= 20)
			v4_prefix(len, IPAM_INDEX_SPARSE);
	}
}
END_TEST

static ipam_addr v6_plus(const ipam_addr *a, ipam__u128 off)
{
	ipam_addr r = *a;
	ipam__addr_set_value(&r, ipam__addr_value(a) + off);
	return r;
}

static void v6_prefix(unsigned len, ipam_index_kind kind)
{
	char text[48];
	ipam__u128 hosts = len == 0 ? 0 : (ipam__u128)1 << (128 - len);
	ipam_addr net = iu_addr("fd00::");
	struct bounds b;
	ipam_pool *p;
	ipam__index *idx;

	memset(&b, 0, sizeof(b));
	snprintf(text, sizeof(text), "fd00::/%u", len);
	p = iu_pool(text);
	b.below = v6_plus(&net, ~(ipam__u128)0); /* net - 1 */
	b.above = v6_plus(&net, hosts);
	if (len <= 126) {
		b.net = net; /* subnet-router anycast */
		b.gw = v6_plus(&net, 1);
		IU_EQ(ipam_pool_set_gateway(p, &b.gw), 0);
		b.first = v6_plus(&net, 2);
		b.total = hosts - 2;
	} else { /* /127 (RFC 6164) and /128: all of it, as pool.c decides */
		b.first = net;
		b.total = hosts;
	}
	b.last = v6_plus(&net, hosts - 1);
	IU_EQ(ipam_pool_set_index(p, kind, 0), 0);
	idx = iu_index(p);
	ipam_pool_free(p);
	if (kind == IPAM_INDEX_AUTO)
		IU_EQ(ipam__index_kind(idx), b.total <= IPAM_BITMAP_MAX_DEFAULT
								 ? IPAM_INDEX_BITMAP
								 : IPAM_INDEX_SPARSE);
	check_bounds(idx, &b, len >= 116);
	ipam__index_free(idx);
}

START_TEST(test_v6_prefixes)
{
	for (unsigned len = 64; len <= 128; len++) {
		v6_prefix(len, IPAM_INDEX_AUTO);
		if (len >= 116)
			v6_prefix(len, IPAM_INDEX_SPARSE);
	}
}
END_TEST

/* BITMAP forced on a pool above the limit is refused; AUTO switches. */
START_TEST(test_bitmap_limit)
{
	ipam_pool *p = iu_pool("10.0.0.0/24");
	ipam__index *idx = NULL;

	IU_EQ(ipam_pool_set_index(p, IPAM_INDEX_BITMAP, 100), 0);
	IU_EQ(ipam__index_new(&idx, p), -E2BIG);
	ck_assert_ptr_null(idx);
	IU_EQ(ipam_pool_set_index(p, IPAM_INDEX_AUTO, 254), 0);
	idx = iu_index(p);
	IU_EQ(ipam__index_kind(idx), IPAM_INDEX_BITMAP);
	ipam__index_free(idx);
	IU_EQ(ipam_pool_set_index(p, IPAM_INDEX_AUTO, 253), 0);
	idx = iu_index(p);
	IU_EQ(ipam__index_kind(idx), IPAM_INDEX_SPARSE);
	ipam__index_free(idx);
	ipam_pool_free(p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("index-sweep");
	TCase *tc = tcase_create("sweep");

	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, test_every_size, 0, 2);
	tcase_add_test(tc, test_v4_prefixes);
	tcase_add_test(tc, test_v6_prefixes);
	tcase_add_test(tc, test_bitmap_limit);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
