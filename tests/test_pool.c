/* SPDX-License-Identifier: MIT */
/* Pool definitions and pool sets: every validation rule with its message,
 * the default ranges host-local uses, the allocatable space arithmetic
 * checked against a brute-force count, and pool sets refusing overlaps. */
#include <stdlib.h>
#include <string.h>

#include <ipam/error.h>
#include <ipam/pool.h>

#include "pool_internal.h"
#include "testutil.h"

static ipam_range R(const char *s)
{
	ipam_range r;
	ck_assert_msg(ipam_range_parse(s, &r) == 0, "range %s: %s", s, ipam_last_error_message());
	return r;
}

static ipam_addr A(const char *s)
{
	ipam_addr a;
	ck_assert_int_eq(ipam_addr_parse(s, &a), 0);
	return a;
}

static ipam_pool *P(const char *name, const char *subnet)
{
	ipam_pool *p = NULL;
	ck_assert_msg(ipam_pool_new_str(&p, name, subnet) == 0, "%s", ipam_last_error_message());
	return p;
}

static uint64_t capacity(const ipam_pool *p)
{
	ipam_u128 c;
	ck_assert_int_eq(ipam_pool_capacity(p, &c), 0);
	ck_assert_uint_eq(c.hi, 0);
	return c.lo;
}

static void expect_error(int got, int want, const char *field)
{
	ipam_error_info e;
	ck_assert_int_eq(got, want);
	ipam_last_error(&e);
	ck_assert_int_eq(e.code, want);
	ck_assert_msg(strcmp(e.field, field) == 0, "field %s, want %s (%s)", e.field, field, e.message);
	ck_assert(strlen(e.message) > 0);
}

START_TEST(names)
{
	ck_assert_int_eq(ipam_name_check("net-1_a.b"), 0);
	ck_assert_int_eq(ipam_name_check(""), -EINVAL);
	ck_assert_int_eq(ipam_name_check(".hidden"), -EINVAL);
	ck_assert_int_eq(ipam_name_check("-rf"), -EINVAL);
	ck_assert_int_eq(ipam_name_check("../etc"), -EINVAL);
	ck_assert_int_eq(ipam_name_check("a/b"), -EINVAL);
	ck_assert_int_eq(ipam_name_check("a b"), -EINVAL);
	ck_assert_int_eq(ipam_name_check("a\nb"), -EINVAL);
	ck_assert_int_eq(ipam_name_check("caf\xc3\xa9"), -EINVAL);
	ck_assert_int_eq(ipam_name_check(NULL), -EINVAL);
	char longname[80];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[79] = 0;
	ck_assert_int_eq(ipam_name_check(longname), -ENAMETOOLONG);
	longname[IPAM_NAME_MAX] = 0;
	ck_assert_int_eq(ipam_name_check(longname), 0);
	ipam_pool *p = NULL;
	ck_assert_int_eq(ipam_pool_new_str(&p, "bad/name", "10.0.0.0/24"), -EINVAL);
	ck_assert_ptr_null(p);
}
END_TEST

START_TEST(subnets)
{
	ipam_pool *p = NULL;
	expect_error(ipam_pool_new_str(&p, "p", "10.0.0.1/24"), -EINVAL, "subnet");
	ck_assert_ptr_nonnull(strstr(ipam_last_error_message(), "10.0.0.0/24"));
	expect_error(ipam_pool_new_str(&p, "p", "10.0.0.0/33"), -EINVAL, "subnet");
	expect_error(ipam_pool_new_str(&p, "p", "::/129"), -EINVAL, "subnet");
	expect_error(ipam_pool_new_str(&p, "p", ""), -EINVAL, "subnet");
	expect_error(ipam_pool_new_str(&p, "p", "garbage"), -EINVAL, "subnet");
	ck_assert_ptr_null(p);
}
END_TEST

/* host-local's defaults: no network/broadcast for v4, no ::0 for v6. */
START_TEST(default_ranges)
{
	char buf[IPAM_RANGE_STRLEN];
	static const struct { const char *subnet, *range; uint64_t cap; } cases[] = {
		{ "10.0.0.0/24", "10.0.0.1-10.0.0.254", 254 },
		{ "10.0.0.0/30", "10.0.0.1-10.0.0.2", 2 },
		{ "10.0.0.0/31", "10.0.0.0-10.0.0.1", 2 },
		{ "10.0.0.7/32", "10.0.0.7", 1 },
		{ "2001:db8::/120", "2001:db8::1-2001:db8::ff", 255 },
		{ "2001:db8::/127", "2001:db8::-2001:db8::1", 2 },
		{ "2001:db8::5/128", "2001:db8::5", 1 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ipam_pool *p = P("p", cases[i].subnet);
		ck_assert_uint_eq(ipam_pool_range_count(p), 1);
		ipam_range_format(ipam_pool_range(p, 0), buf, sizeof(buf));
		ck_assert_msg(strcmp(buf, cases[i].range) == 0, "%s: %s", cases[i].subnet, buf);
		ck_assert_int_eq(ipam_pool_validate(p), 0);
		ck_assert_uint_eq(capacity(p), cases[i].cap);
		ipam_pool_free(p);
	}
}
END_TEST

START_TEST(range_rules)
{
	ipam_pool *p = P("p", "10.0.0.0/24");
	ipam_range r = R("10.0.0.10-10.0.0.20");
	ck_assert_int_eq(ipam_pool_add_range(p, &r), 0);
	r = R("10.0.0.20-10.0.0.30");
	expect_error(ipam_pool_add_range(p, &r), -EEXIST, "ranges");
	r = R("10.0.1.0-10.0.1.5");
	expect_error(ipam_pool_add_range(p, &r), -ERANGE, "ranges");
	ck_assert_ptr_nonnull(strstr(ipam_last_error_message(), "outside the subnet 10.0.0.0/24"));
	r = R("2001:db8::-2001:db8::5");
	expect_error(ipam_pool_add_range(p, &r), -EAFNOSUPPORT, "ranges");
	r.first = A("10.0.0.50");
	r.last = A("10.0.0.40");
	expect_error(ipam_pool_add_range(p, &r), -ERANGE, "ranges");
	r = R("10.0.0.0-10.0.0.0"); /* the network address, explicitly: allowed */
	ck_assert_int_eq(ipam_pool_add_range(p, &r), 0);
	ck_assert_uint_eq(ipam_pool_range_count(p), 2);
	ck_assert_int_eq(ipam_pool_validate(p), 0);
	ck_assert_uint_eq(capacity(p), 12);
	ipam_addr net = A("10.0.0.0");
	ck_assert(ipam_pool_is_allocatable(p, &net));
	/* Exclusions: inside the subnet, may cover anything. */
	r = R("10.0.1.0-10.0.1.1");
	expect_error(ipam_pool_add_exclude(p, &r), -ERANGE, "exclude");
	r = R("10.0.0.12-10.0.0.14");
	ck_assert_int_eq(ipam_pool_add_exclude(p, &r), 0);
	ck_assert_uint_eq(capacity(p), 9);
	ipam_addr x = A("10.0.0.13");
	ck_assert(!ipam_pool_is_allocatable(p, &x));
	/* Excluding everything: an empty pool is refused at validation. */
	r = R("10.0.0.0-10.0.0.255");
	ck_assert_int_eq(ipam_pool_add_exclude(p, &r), 0);
	expect_error(ipam_pool_validate(p), -EINVAL, "ranges");
	ipam_pool_free(p);
}
END_TEST

START_TEST(gateway_rules)
{
	ipam_pool *p = P("p", "10.0.0.0/24");
	ipam_addr gw = A("10.0.0.1"), out = A("10.0.1.1"), v6 = A("::1");
	expect_error(ipam_pool_set_gateway(p, &out), -ERANGE, "gateway");
	expect_error(ipam_pool_set_gateway(p, &v6), -ERANGE, "gateway");
	ck_assert_int_eq(ipam_pool_set_gateway(p, &gw), 0);
	/* Inside the default range: accepted, never handed out. */
	ck_assert_int_eq(ipam_pool_validate(p), 0);
	ck_assert_uint_eq(capacity(p), 253);
	ck_assert(!ipam_pool_is_allocatable(p, &gw));
	ck_assert_int_eq(ipam_addr_cmp(ipam_pool_gateway(p), &gw), 0);
	/* Strict mode refuses it. */
	ck_assert_int_eq(ipam_pool_set_flags(p, IPAM_POOL_STRICT_GATEWAY), 0);
	expect_error(ipam_pool_validate(p), -EINVAL, "gateway");
	ck_assert_int_eq(ipam_pool_set_flags(p, 0x80), -EINVAL);
	ipam_pool_free(p);
}
END_TEST

START_TEST(other_fields)
{
	ipam_pool *p = P("p", "2001:db8::/64");
	ipam_prefix dst;
	ipam_addr gw = A("2001:db8::1"), gw4 = A("10.0.0.1"), dns = A("2001:db8::53");
	ck_assert_int_eq(ipam_prefix_parse("::/0", 0, &dst), 0);
	ck_assert_int_eq(ipam_pool_add_route(p, &dst, &gw), 0);
	expect_error(ipam_pool_add_route(p, &dst, &gw4), -EAFNOSUPPORT, "routes.gw");
	ck_assert_int_eq(ipam_prefix_parse("0.0.0.0/0", 0, &dst), 0);
	ck_assert_int_eq(ipam_pool_add_route(p, &dst, NULL), 0);
	expect_error(ipam_pool_validate(p), -EAFNOSUPPORT, "routes");
	ipam_pool_free(p);

	p = P("p", "2001:db8::/64");
	ck_assert_int_eq(ipam_pool_add_dns_server(p, &dns), 0);
	ck_assert_int_eq(ipam_pool_set_dns_domain(p, "cluster.local"), 0);
	ck_assert_int_eq(ipam_pool_set_dns_domain(p, "bad domain"), -EINVAL);
	ck_assert_str_eq(ipam_pool_dns_domain(p), "cluster.local");
	ck_assert_int_eq(ipam_pool_add_dns_search(p, "svc.cluster.local"), 0);
	ck_assert_int_eq(ipam_pool_add_dns_search(p, ""), -EINVAL);
	ck_assert_uint_eq(ipam_pool_dns_search_count(p), 1);
	ck_assert_str_eq(ipam_pool_dns_search(p, 0), "svc.cluster.local");
	ck_assert_int_eq(ipam_pool_set_vlan(p, 4095), -ERANGE);
	ck_assert_int_eq(ipam_pool_set_vlan(p, 100), 0);
	ck_assert_uint_eq(ipam_pool_vlan(p), 100);
	ck_assert_int_eq(ipam_pool_set_policy(p, (ipam_policy)7), -EINVAL);
	ck_assert_int_eq(ipam_pool_set_policy(p, IPAM_POLICY_RANDOM), 0);
	ck_assert_int_eq(ipam_pool_set_quarantine(p, 30, 100, 0x10), -EINVAL);
	ck_assert_int_eq(ipam_pool_set_quarantine(p, 30, 100, IPAM_QUARANTINE_HARD), 0);
	uint32_t qs, qa;
	unsigned qf;
	ipam_pool_quarantine(p, &qs, &qa, &qf);
	ck_assert(qs == 30 && qa == 100 && qf == IPAM_QUARANTINE_HARD);
	ck_assert_int_eq(ipam_pool_validate(p), 0);
	ipam_pool_free(p);
	/* Too many items is a clean -E2BIG. */
	p = P("p", "10.0.0.0/8");
	int r = 0;
	for (unsigned i = 0; i < IPAM_POOL_MAX_ITEMS + 1 && r == 0; i++) {
		ipam_addr a = ipam_addr_v4(0x0a000000u + 10 * i + 1);
		ipam_range one = { a, a };
		r = ipam_pool_add_exclude(p, &one);
	}
	ck_assert_int_eq(r, -E2BIG);
	ipam_pool_free(p);
	ck_assert_ptr_null(ipam_pool_free(NULL));
}
END_TEST

/* The bitmap limit and the index choice, including a /0 IPv6 pool. */
START_TEST(index_choice)
{
	ipam_pool *p = P("p", "::/0");
	ck_assert_int_eq(ipam_pool_set_index(p, IPAM_INDEX_BITMAP, 0), 0);
	expect_error(ipam_pool_validate(p), -E2BIG, "index");
	ck_assert_int_eq(ipam_pool_set_index(p, IPAM_INDEX_AUTO, 0), 0);
	ck_assert_int_eq(ipam_pool_validate(p), 0);
	ck_assert_int_eq(ipam_pool_index_kind(p), IPAM_INDEX_SPARSE);
	/* Every one of the 2^128 addresses: more than any index numbers. */
	ipam_range all;
	ck_assert_int_eq(ipam_range_parse("::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", &all), 0);
	ck_assert_int_eq(ipam_pool_add_range(p, &all), 0);
	expect_error(ipam_pool_validate(p), -E2BIG, "ranges");
	expect_error(ipam_pool_index_kind(p), -E2BIG, "ranges");
	ck_assert_int_eq(ipam_pool_set_index(p, IPAM_INDEX_SPARSE, 0), 0);
	expect_error(ipam_pool_validate(p), -E2BIG, "ranges");
	ipam_pool_free(p);

	p = P("p", "10.0.0.0/8");
	ck_assert_int_eq(ipam_pool_index_kind(p), IPAM_INDEX_BITMAP); /* 2^24 - 2 */
	ck_assert_int_eq(ipam_pool_set_index(p, IPAM_INDEX_BITMAP, 1000), 0);
	expect_error(ipam_pool_validate(p), -E2BIG, "index");
	ck_assert_int_eq(ipam_pool_set_index(p, IPAM_INDEX_SPARSE, 0), 0);
	ck_assert_int_eq(ipam_pool_index_kind(p), IPAM_INDEX_SPARSE);
	ck_assert_int_eq(ipam_pool_set_index(p, (ipam_index_kind)9, 0), -EINVAL);
	ipam_pool_free(p);

	p = P("p", "2001:db8::/104");
	ck_assert_int_eq(ipam_pool_index_kind(p), IPAM_INDEX_BITMAP);
	ipam_pool_free(p);
	p = P("p", "2001:db8::/64");
	ck_assert_int_eq(ipam_pool_index_kind(p), IPAM_INDEX_SPARSE);
	ipam_pool_free(p);
}
END_TEST

/* Allocatable space = brute-force membership, over random small pools. */
START_TEST(allocatable_random)
{
	uint64_t s = tu_seed("pool allocatable");
	long iters = tu_scale(400);
	for (long it = 0; it < iters; it++) {
		ipam_pool *p = P("p", "10.0.0.0/23");
		unsigned char member[512];
		ipam_range *v;
		size_t n;
		memset(member, 0, sizeof(member));
		unsigned nranges = 1 + tu_splitmix(&s) % 4;
		for (unsigned k = 0; k < nranges; k++) {
			uint32_t a = tu_splitmix(&s) % 512, b = a + tu_splitmix(&s) % 64;
			if (b > 511)
				b = 511;
			ipam_range r = { ipam_addr_v4(0x0a000000u + a), ipam_addr_v4(0x0a000000u + b) };
			ipam_pool_add_range(p, &r); /* overlapping ones are refused */
		}
		for (unsigned k = 0; k < ipam_pool_range_count(p); k++) {
			const ipam_range *r = ipam_pool_range(p, k);
			for (uint64_t x = r->first.lo; x <= r->last.lo; x++)
				member[x - 0x0a000000u] = 1;
		}
		unsigned nex = tu_splitmix(&s) % 5;
		for (unsigned k = 0; k < nex; k++) {
			uint32_t a = tu_splitmix(&s) % 512, b = a + tu_splitmix(&s) % 16;
			if (b > 511)
				b = 511;
			ipam_range r = { ipam_addr_v4(0x0a000000u + a), ipam_addr_v4(0x0a000000u + b) };
			ck_assert_int_eq(ipam_pool_add_exclude(p, &r), 0);
			for (uint32_t x = a; x <= b; x++)
				member[x] = 0;
		}
		if (tu_splitmix(&s) & 1) {
			uint32_t g = tu_splitmix(&s) % 512;
			ipam_addr gw = ipam_addr_v4(0x0a000000u + g);
			ck_assert_int_eq(ipam_pool_set_gateway(p, &gw), 0);
			member[g] = 0;
		}
		uint64_t want = 0;
		for (unsigned x = 0; x < 512; x++) {
			ipam_addr a = ipam_addr_v4(0x0a000000u + x);
			want += member[x];
			ck_assert_int_eq(ipam_pool_is_allocatable(p, &a), member[x]);
		}
		ck_assert_int_eq(ipam__pool_allocatable(p, &v, &n), 0);
		uint64_t got = 0;
		for (size_t k = 0; k < n; k++) {
			for (uint64_t x = v[k].first.lo; x <= v[k].last.lo; x++)
				ck_assert(member[x - 0x0a000000u]);
			got += v[k].last.lo - v[k].first.lo + 1;
			if (k)
				ck_assert(v[k].first.lo > v[k - 1].last.lo + 1); /* merged */
		}
		ck_assert_uint_eq(got, want);
		if (want)
			ck_assert_uint_eq(capacity(p), want);
		ck_assert_int_eq(ipam_pool_validate(p), want ? 0 : -EINVAL);
		ipam__release(v, n * sizeof(*v));
		ipam_pool_free(p);
	}
}
END_TEST

START_TEST(poolsets)
{
	ipam_poolset *s = NULL;
	ck_assert_int_eq(ipam_poolset_new(&s, "bad name"), -EINVAL);
	ck_assert_int_eq(ipam_poolset_new(&s, "net1"), 0);
	ipam_pool *v4 = P("v4", "10.0.0.0/24"), *v6 = P("v6", "2001:db8::/64");
	ipam_pool *dup = P("v4", "10.1.0.0/24"), *overlap = P("other", "10.0.0.0/25");
	ck_assert_int_eq(ipam_poolset_add(s, v4), 0);
	ck_assert_int_eq(ipam_poolset_add(s, v6), 0);
	expect_error(ipam_poolset_add(s, dup), -EEXIST, "pool");
	expect_error(ipam_poolset_add(s, overlap), -EEXIST, "ranges");
	ck_assert_int_eq(ipam_poolset_add(s, v4), -EEXIST);
	ck_assert_uint_eq(ipam_poolset_count(s), 2);
	ck_assert_ptr_eq(ipam_poolset_find(s, "v6"), v6);
	ck_assert_ptr_null(ipam_poolset_find(s, "nope"));
	ipam_addr a = A("2001:db8::77"), b = A("10.0.0.255");
	ck_assert_ptr_eq(ipam_poolset_find_addr(s, &a), v6);
	ck_assert_ptr_null(ipam_poolset_find_addr(s, &b)); /* broadcast */
	/* An invalid pool is refused and stays the caller's. */
	ipam_pool *empty = P("empty", "10.9.0.0/30");
	ipam_range all = R("10.9.0.0-10.9.0.3");
	ipam_pool_add_exclude(empty, &all);
	ck_assert_int_eq(ipam_poolset_add(s, empty), -EINVAL);
	ipam_pool_free(empty);
	ipam_pool_free(dup);
	ipam_pool_free(overlap);
	ipam_poolset_free(s);
	ck_assert_ptr_null(ipam_poolset_free(NULL));
}
END_TEST

/* A pool with every field set; `variant` changes one of them (0: none). */
static ipam_pool *full_pool(int variant)
{
	ipam_pool *p = NULL;
	ipam_range r;
	ipam_prefix dst;
	ipam_addr gw = A(variant == 3 ? "10.1.0.2" : "10.1.0.1"), dns = A(variant == 7 ? "10.9.9.9" : "10.9.9.8");

	ck_assert_int_eq(ipam_pool_new_str(&p, variant == 1 ? "q" : "p", variant == 2 ? "10.1.0.0/23" : "10.1.0.0/24"), 0);
	ck_assert_int_eq(ipam_pool_set_gateway(p, &gw), 0);
	ck_assert_int_eq(ipam_range_parse(variant == 4 ? "10.1.0.10-10.1.0.101" : "10.1.0.10-10.1.0.100", &r), 0);
	ck_assert_int_eq(ipam_pool_add_range(p, &r), 0);
	ck_assert_int_eq(ipam_range_parse(variant == 5 ? "10.1.0.21-10.1.0.30" : "10.1.0.20-10.1.0.30", &r), 0);
	ck_assert_int_eq(ipam_pool_add_exclude(p, &r), 0);
	ck_assert_int_eq(ipam_prefix_parse(variant == 6 ? "10.0.0.0/9" : "10.0.0.0/8", 0, &dst), 0);
	ck_assert_int_eq(ipam_pool_add_route(p, &dst, &gw), 0);
	ck_assert_int_eq(ipam_pool_add_dns_server(p, &dns), 0);
	ck_assert_int_eq(ipam_pool_set_dns_domain(p, variant == 8 ? "cluster.local2" : "cluster.local"), 0);
	ck_assert_int_eq(ipam_pool_add_dns_search(p, variant == 9 ? "svc.other" : "svc.cluster.local"), 0);
	ck_assert_int_eq(ipam_pool_set_vlan(p, variant == 10 ? 11 : 10), 0);
	ck_assert_int_eq(ipam_pool_set_flags(p, variant == 11 ? 0 : IPAM_POOL_STRICT_GATEWAY), 0);
	ck_assert_int_eq(ipam_pool_set_index(p, variant == 12 ? IPAM_INDEX_SPARSE : IPAM_INDEX_BITMAP, 0), 0);
	ck_assert_int_eq(ipam_pool_set_policy(p, variant == 13 ? IPAM_POLICY_RANDOM : IPAM_POLICY_LOWEST), 0);
	ck_assert_int_eq(ipam_pool_set_quarantine(p, variant == 14 ? 31 : 30, variant == 15 ? 6 : 5, 0), 0);
	if (variant == 16)
		ck_assert_int_eq(ipam_pool_add_dns_search(p, "extra"), 0);
	return p;
}

/* What the memory store keeps of a set: a copy equal field by field, and a
 * comparison that sees any one field changed that addresses depend on. */
START_TEST(clone_and_compare)
{
	ipam_pool *p = full_pool(0), *c = NULL;
	ipam_poolset *s = NULL, *sc = NULL, *s2 = NULL;

	ck_assert_int_eq(ipam__pool_clone(p, &c), 0);
	ck_assert(ipam__pool_same(p, c));
	ck_assert_str_eq(ipam_pool_dns_search(c, 0), "svc.cluster.local");
	ck_assert_ptr_ne(ipam_pool_dns_search(c, 0), ipam_pool_dns_search(p, 0)); /* its own */
	for (int v = 1; v <= 16; v++) {
		/* Routes, DNS and VLAN (6-10, 16) are no lease's business. */
		int meta = (v >= 6 && v <= 10) || v == 16;
		ipam_pool *o = full_pool(v);
		ck_assert_msg(ipam__pool_same(p, o) == meta, "variant %d", v);
		ipam_pool_free(o);
	}
	ipam_pool_free(c);
	/* Sets: the same pools in the same order. */
	ck_assert_int_eq(ipam_poolset_new(&s, "net"), 0);
	ck_assert_int_eq(ipam_poolset_add(s, p), 0);
	ck_assert_int_eq(ipam_poolset_add(s, P("v6", "fd00::/120")), 0);
	ck_assert_int_eq(ipam__poolset_clone(s, &sc), 0);
	ck_assert(ipam__poolset_same(s, sc));
	ck_assert_int_eq(ipam_poolset_new(&s2, "net"), 0);
	ck_assert_int_eq(ipam_poolset_add(s2, P("v6", "fd00::/120")), 0);
	ck_assert_int_eq(ipam_poolset_add(s2, full_pool(0)), 0);
	ck_assert(!ipam__poolset_same(s, s2)); /* order */
	ipam_poolset_free(s2);
	ck_assert_int_eq(ipam_poolset_new(&s2, "net2"), 0);
	ck_assert_int_eq(ipam_poolset_add(s2, full_pool(0)), 0);
	ck_assert_int_eq(ipam_poolset_add(s2, P("v6", "fd00::/120")), 0);
	ck_assert(!ipam__poolset_same(s, s2)); /* name */
	ipam_poolset_free(s2);
	ipam_poolset_free(sc);
	ipam_poolset_free(s);
}
END_TEST

/* A copy that runs out of memory at each of its allocations in turn gives
 * -ENOMEM, no copy, and nothing leaked (ASan). */
START_TEST(clone_out_of_memory)
{
	static const ipam_allocator ca = TU_FAILING_ALLOCATOR;
	ipam_poolset *s = NULL, *sc;
	long n;
	int e = -ENOMEM;

	ck_assert_int_eq(ipam_set_allocator(&ca), 0);
	ck_assert_int_eq(ipam_poolset_new(&s, "net"), 0);
	ck_assert_int_eq(ipam_poolset_add(s, full_pool(0)), 0);
	ck_assert_int_eq(ipam_poolset_add(s, P("v6", "fd00::/120")), 0);
	for (n = 0; e == -ENOMEM && n < 1000; n++) {
		sc = (ipam_poolset *)1;
		*tu_budget() = n;
		e = ipam__poolset_clone(s, &sc);
		*tu_budget() = -1;
		if (e == 0) {
			ck_assert(ipam__poolset_same(s, sc));
			ipam_poolset_free(sc);
		} else {
			ck_assert_int_eq(e, -ENOMEM);
			ck_assert_ptr_null(sc);
		}
	}
	ck_assert_int_eq(e, 0);
	ck_assert_int_gt(n, 8); /* set, 2 pools, their vectors and strings */
	ipam_poolset_free(s);
	ipam_set_allocator(NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pool");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, names);
	tcase_add_test(tc, subnets);
	tcase_add_test(tc, default_ranges);
	tcase_add_test(tc, range_rules);
	tcase_add_test(tc, gateway_rules);
	tcase_add_test(tc, other_fields);
	tcase_add_test(tc, index_choice);
	tcase_add_test(tc, allocatable_random);
	tcase_add_test(tc, poolsets);
	tcase_add_test(tc, clone_and_compare);
	tcase_add_test(tc, clone_out_of_memory);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
