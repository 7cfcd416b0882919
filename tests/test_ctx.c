/* SPDX-License-Identifier: MIT */
/*
 * The store contract: one test per semantic of leases and commits, run
 * against the store named by IPAM_TEST_STORE. Pools are tiny so that
 * exhaustion, quarantine and reuse are easy to reach exactly.
 */
#include "ctx_fixture.h"

static ipam_store *st;
static ipam_ctx *ctx;

/* "net": v4 10.0.0.0/29 (.2-.6 minus gateway .1 = 5 addresses),
 *        v6 fd00::/125 (::1-::7, 7 addresses). */
static void setup(void)
{
	st = fx_store();
	ctx = fx_ctx(st, 0);
	fx_add_set(ctx, "net", fx_pool("v4", "10.0.0.0/29", NULL, "10.0.0.1"),
		   fx_pool("v6", "fd00::/125", NULL, NULL), NULL);
}

static void teardown(void)
{
	ck_assert_msg(ipam_verify(ctx, "net") == 0, "%s", ipam_last_error_message());
	ipam_ctx_free(ctx);
	fx_store_free(st);
}

static int alloc2(const char *owner, const char *att, ipam_lease out[2])
{
	ipam_request r = fx_req("net", owner, att);
	unsigned n = 2;
	int e = ipam_allocate(ctx, &r, out, &n);
	if (e == 0)
		ck_assert_uint_eq(n, 2);
	return e;
}

START_TEST(dual_stack_and_idempotent)
{
	ipam_lease a[2], b[2];
	char x[IPAM_ADDR_STRLEN];
	ipam_ctx_stats s;
	ck_assert_int_eq(alloc2("ns/pod-a", "c1", a), 0);
	ck_assert_int_eq(a[0].addr.family, IPAM_AF_INET);
	ck_assert_int_eq(a[1].addr.family, IPAM_AF_INET6);
	ck_assert_str_eq(fx_fmt(&a[0].addr, x), "10.0.0.2"); /* .1 is the gateway */
	ck_assert_str_eq(a[0].pool, "v4");
	ck_assert_str_eq(a[0].node, "node-1");
	ck_assert_uint_gt(a[0].generation, 0);
	ck_assert_uint_eq(a[0].generation, a[1].generation); /* one commit */
	/* Same owner, ifname and attachment: the same leases, no commit. */
	ipam_ctx_stats_get(ctx, &s);
	uint64_t commits = s.commits;
	ck_assert_int_eq(alloc2("ns/pod-a", "c1", b), 0);
	ck_assert_int_eq(ipam_addr_cmp(&a[0].addr, &b[0].addr), 0);
	ck_assert_int_eq(ipam_addr_cmp(&a[1].addr, &b[1].addr), 0);
	ck_assert_uint_eq(a[0].generation, b[0].generation);
	ipam_ctx_stats_get(ctx, &s);
	ck_assert_uint_eq(s.commits, commits);
	ck_assert_uint_eq(s.allocations, 2);
	ck_assert_uint_eq(fx_used(ctx, "net", "v4"), 1);
	/* Another ifname of the same owner is another lease. */
	ipam_request r = fx_req("net", "ns/pod-a", "c1");
	r.ifname = "net1";
	unsigned n = 2;
	ck_assert_int_eq(ipam_allocate(ctx, &r, b, &n), 0);
	ck_assert_int_ne(ipam_addr_cmp(&a[0].addr, &b[0].addr), 0);
}
END_TEST

/* Node power-off: same pod, new sandbox, no DEL for the old one. */
START_TEST(rebind_and_stale_release)
{
	ipam_lease a[2], b[2];
	ipam_ctx_stats s;
	ck_assert_int_eq(alloc2("ns/pod-a", "old-sandbox", a), 0);
	fx_advance(5000);
	ck_assert_int_eq(alloc2("ns/pod-a", "new-sandbox", b), 0);
	ck_assert_int_eq(ipam_addr_cmp(&a[0].addr, &b[0].addr), 0);
	ck_assert_int_eq(ipam_addr_cmp(&a[1].addr, &b[1].addr), 0);
	ck_assert_str_eq(b[0].attachment, "new-sandbox");
	ck_assert_uint_gt(b[0].generation, a[0].generation);
	ck_assert_int_eq(b[0].created, a[0].created);
	ck_assert_int_eq(b[0].updated, a[0].updated + 5);
	ipam_ctx_stats_get(ctx, &s);
	ck_assert_uint_eq(s.rebinds, 2);
	ck_assert_uint_eq(fx_used(ctx, "net", "v4"), 1);
	/* The late DEL of the old sandbox releases nothing. */
	ck_assert_int_eq(ipam_release_attachment(ctx, "net", "old-sandbox", 0), 0);
	ck_assert_uint_eq(fx_used(ctx, "net", "v4"), 1);
	/* A DEL pinned to a stale generation releases nothing either. */
	ck_assert_int_eq(ipam_release_attachment(ctx, "net", "new-sandbox", a[0].generation), 0);
	ck_assert_uint_eq(fx_used(ctx, "net", "v6"), 1);
	/* The current one releases both addresses. */
	ck_assert_int_eq(ipam_release_attachment(ctx, "net", "new-sandbox", b[0].generation), 2);
	ck_assert_uint_eq(fx_used(ctx, "net", "v4"), 0);
	ck_assert_uint_eq(fx_used(ctx, "net", "v6"), 0);
	/* Releasing again is not an error. */
	ck_assert_int_eq(ipam_release_attachment(ctx, "net", "new-sandbox", 0), 0);
}
END_TEST

/* A release pinned to the generation of a lease that has since been
 * released and re-leased to someone else must release nothing. */
START_TEST(generation_pinned_release)
{
	ipam_lease a[2], b[2];
	ck_assert_int_eq(alloc2("ns/one", "c1", a), 0);
	ck_assert_int_eq(ipam_release_addr(ctx, "net", &a[0].addr, a[0].generation), 1);
	ipam_request r = fx_req("net", "ns/two", "c2");
	r.exact = &a[0].addr;
	r.nexact = 1;
	unsigned n = 2;
	ck_assert_int_eq(ipam_allocate(ctx, &r, b, &n), 0);
	ck_assert_int_eq(ipam_addr_cmp(&a[0].addr, &b[0].addr), 0);
	ck_assert_int_eq(ipam_release_addr(ctx, "net", &a[0].addr, a[0].generation), 0);
	ipam_lease l;
	ck_assert_int_eq(ipam_lookup_addr(ctx, "net", &a[0].addr, &l), 0);
	ck_assert_str_eq(l.owner, "ns/two");
	ck_assert_int_eq(ipam_release_addr(ctx, "net", &a[0].addr, 0), 1);
	ck_assert_int_eq(ipam_lookup_addr(ctx, "net", &a[0].addr, &l), -ENOENT);
}
END_TEST

/* Dual-stack where the v6 pool is full: nothing at all is allocated. */
START_TEST(dual_stack_all_or_nothing)
{
	ipam_lease out[2];
	char owner[32], att[32];
	ipam_request r;
	unsigned n;
	for (int i = 0; i < 7; i++) { /* fill v6 alone */
		snprintf(owner, sizeof(owner), "ns/v6only-%d", i);
		r = fx_req("net", owner, owner);
		const char *pools[] = { "v6" };
		r.pools = pools;
		r.npools = 1;
		n = 1;
		ck_assert_int_eq(ipam_allocate(ctx, &r, out, &n), 0);
		ck_assert_uint_eq(n, 1);
	}
	snprintf(att, sizeof(att), "c-late");
	ck_assert_int_eq(alloc2("ns/late", att, out), -ENOSPC);
	ck_assert_uint_eq(fx_used(ctx, "net", "v4"), 0);
	n = 2;
	ck_assert_int_eq(ipam_lookup_owner(ctx, "net", "ns/late", NULL, out, &n), 0);
	ck_assert_uint_eq(n, 0);
	ipam_ctx_stats s;
	ipam_ctx_stats_get(ctx, &s);
	ck_assert_uint_ge(s.exhausted, 1);
}
END_TEST

START_TEST(exact_addresses)
{
	ipam_lease out[2];
	ipam_request r = fx_req("net", "ns/a", "c1");
	ipam_addr want = fx_addr("10.0.0.5");
	unsigned n = 2;
	r.exact = &want;
	r.nexact = 1;
	ck_assert_int_eq(ipam_allocate(ctx, &r, out, &n), 0);
	ck_assert_int_eq(ipam_addr_cmp(&out[0].addr, &want), 0);
	/* Taken by someone else. */
	r = fx_req("net", "ns/b", "c2");
	r.exact = &want;
	r.nexact = 1;
	n = 2;
	ck_assert_int_eq(ipam_allocate(ctx, &r, out, &n), -EEXIST);
	ck_assert_ptr_nonnull(strstr(ipam_last_error_message(), "ns/a"));
	/* The gateway, the broadcast address, outside the subnet. */
	ipam_addr gw = fx_addr("10.0.0.1"), bc = fx_addr("10.0.0.7"), out4 = fx_addr("10.9.0.1");
	r.exact = &gw;
	ipam_clear_error();
	ck_assert_int_eq(ipam_allocate(ctx, &r, out, &n), -EACCES);
	ck_assert_int_eq(ipam_last_error(NULL), -EACCES); /* each failure says why */
	ck_assert_ptr_nonnull(strstr(ipam_last_error_message(), "10.0.0.1"));
	ck_assert_ptr_nonnull(strstr(ipam_last_error_message(), "gateway"));
	r.exact = &bc;
	ck_assert_int_eq(ipam_allocate(ctx, &r, out, &n), -EACCES);
	ck_assert_ptr_nonnull(strstr(ipam_last_error_message(), "10.0.0.7"));
	r.exact = &out4;
	ck_assert_int_eq(ipam_allocate(ctx, &r, out, &n), -ERANGE);
	/* A lookup that finds nothing records that, not an earlier failure. */
	ipam_lease l;
	ck_assert_int_eq(ipam_lookup_addr(ctx, "net", &bc, &l), -ENOENT);
	ck_assert_int_eq(ipam_last_error(NULL), -ENOENT);
	ck_assert_ptr_nonnull(strstr(ipam_last_error_message(), "10.0.0.7"));
	/* The owner asking for another address than the one it holds. */
	ipam_addr other = fx_addr("10.0.0.6");
	r = fx_req("net", "ns/a", "c1");
	r.exact = &other;
	r.nexact = 1;
	ck_assert_int_eq(ipam_allocate(ctx, &r, out, &n), -EEXIST);
	/* Nothing of the failed requests stayed behind. */
	ck_assert_uint_eq(fx_used(ctx, "net", "v4"), 1);
	ck_assert_uint_eq(fx_used(ctx, "net", "v6"), 1);
}
END_TEST

START_TEST(bad_requests)
{
	ipam_lease out[2];
	unsigned n = 2;
	char big[400];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	ipam_request r = fx_req("net", big, "c1");
	ck_assert_int_eq(ipam_allocate(ctx, &r, out, &n), -ENAMETOOLONG);
	r = fx_req("net", "ns/a", big);
	ck_assert_int_eq(ipam_allocate(ctx, &r, out, &n), -ENAMETOOLONG);
	r = fx_req("net", "ns/a", "c1");
	r.ifname = "a-very-long-interface-name";
	ck_assert_int_eq(ipam_allocate(ctx, &r, out, &n), -ENAMETOOLONG);
	r = fx_req("net", "", "c1");
	ck_assert_int_eq(ipam_allocate(ctx, &r, out, &n), -EINVAL);
	r = fx_req("net", "ns/a\nx", "c1");
	ck_assert_int_eq(ipam_allocate(ctx, &r, out, &n), -EINVAL);
	r = fx_req("nope", "ns/a", "c1");
	ck_assert_int_eq(ipam_allocate(ctx, &r, out, &n), -ENOENT);
	r = fx_req("net", "ns/a", "c1");
	const char *pools[] = { "v5" };
	r.pools = pools;
	r.npools = 1;
	ck_assert_int_eq(ipam_allocate(ctx, &r, out, &n), -ENOENT);
	r = fx_req("net", "ns/a", "c1");
	n = 1; /* room for one lease, two pools: not "pool exhausted" */
	ck_assert_int_eq(ipam_allocate(ctx, &r, out, &n), -ERANGE);
	ck_assert_uint_eq(n, 2); /* the room needed */
	ck_assert_uint_eq(fx_used(ctx, "net", "v4"), 0);
	n = 2;
	r = fx_req("net", "ns/a", ""); /* no attachment: nothing to release it by */
	ck_assert_int_eq(ipam_allocate(ctx, &r, out, &n), -EINVAL);
	ck_assert_ptr_nonnull(strstr(ipam_last_error_message(), "attachment"));
	r = fx_req("net", "ns/a", "c1");
	r.nattrs = 1; /* and no array */
	ck_assert_int_eq(ipam_allocate(ctx, &r, out, &n), -EINVAL);
	ipam_attr twice[2] = { { "uid", "1" }, { "uid", "2" } };
	r.attrs = twice;
	r.nattrs = 2;
	ck_assert_int_eq(ipam_allocate(ctx, &r, out, &n), -EINVAL);
	ck_assert_ptr_nonnull(strstr(ipam_last_error_message(), "twice"));
	ck_assert_uint_eq(fx_used(ctx, "net", "v4"), 0);
	ck_assert_int_eq(ipam_release_attachment(ctx, "nope", "c1", 0), -ENOENT);
	ck_assert_int_eq(ipam_allocate(NULL, &r, out, &n), -EINVAL);
	/* Attributes, another node, a reserve note and a context's node are
	 * checked as the lease's own strings are, before anything is
	 * decided. */
	n = 2;
	ipam_attr bad_attrs[2] = { { "uid", "1" }, { "", "x" } };
	r = fx_req("net", "ns/a", "c1");
	r.attrs = bad_attrs;
	r.nattrs = 2;
	ck_assert_int_eq(ipam_allocate(ctx, &r, out, &n), -EINVAL);
	memcpy(bad_attrs[1].key, "mac", 4);
	memcpy(bad_attrs[1].value, "02:00\t", 7);
	ck_assert_int_eq(ipam_allocate(ctx, &r, out, &n), -EINVAL);
	r = fx_req("net", "ns/a", "c1");
	r.node = "node\x01";
	ck_assert_int_eq(ipam_allocate(ctx, &r, out, &n), -EINVAL);
	ipam_addr a = fx_addr("10.0.0.3");
	ck_assert_int_eq(ipam_reserve(ctx, "net", &a, "keep\x7f"), -EINVAL);
	ck_assert_uint_eq(fx_used(ctx, "net", "v4"), 0);
	/* A control byte anywhere in a long string (eight bytes are checked
	 * at a time); bytes next to the control range are fine. */
	for (unsigned pos = 0; pos < 69; pos++) {
		static const unsigned char bad[] = { 0x01, 0x1f, 0x7f };
		/* Bytes beside the control ranges, and high bytes as UTF-8
		 * (the etcd store keeps JSON text): e-acute, then the euro
		 * sign's last two bytes after its first. */
		static const char *const good[] = { " ", "~", "\xc3\xa9", "\xe2\x82" };
		char att[72];
		memset(att, 'a', 70);
		att[70] = 0;
		for (unsigned i = 0; i < sizeof(bad); i++) {
			att[pos] = (char)bad[i];
			r = fx_req("net", "ns/a", att);
			ck_assert_int_eq(ipam_allocate(ctx, &r, out, &n), -EINVAL);
		}
		for (unsigned i = 0; i < 4; i++) {
			if (i == 3 && pos + 2 >= 70)
				continue;
			memset(att, 'a', 70);
			att[70] = 0;
			memcpy(att + pos, good[i], strlen(good[i]));
			if (i == 3)
				att[pos + 2] = (char)0xac;
			r = fx_req("net", "ns/a", att);
			ck_assert_msg(ipam_allocate(ctx, &r, out, &n) == 0, "%u/%u: %s", pos, i,
				      ipam_last_error_message());
			ck_assert_int_eq(ipam_release_attachment(ctx, "net", att, 0), 2);
		}
	}
	/* Bytes that are not UTF-8: any store but etcd (JSON text) keeps them. */
	const char *kind = getenv("IPAM_TEST_STORE");
	r = fx_req("net", "ns/a", "c-\xff\xfe");
	ck_assert_int_eq(ipam_allocate(ctx, &r, out, &n), kind && strcmp(kind, "etcd") == 0 ? -EINVAL : 0);
	ck_assert_int_ge(ipam_release_attachment(ctx, "net", "c-\xff\xfe", 0), 0);
	ck_assert_uint_eq(fx_used(ctx, "net", "v4"), 0);
	ipam_ctx_options o;
	ipam_ctx *c2 = NULL;
	ipam_ctx_options_init(&o);
	o.node = "bad\x01node";
	ck_assert_int_eq(ipam_ctx_new(&c2, st, &o), -EINVAL);
	ck_assert_ptr_null(c2);
	o.node = big;
	ck_assert_int_eq(ipam_ctx_new(&c2, st, &o), -ENAMETOOLONG);
	ck_assert_ptr_null(c2);
}
END_TEST

/* Quarantine: 30 s or 2 other allocations. */
START_TEST(quarantine)
{
	ipam_store *s2 = fx_store();
	ipam_ctx *c = fx_ctx(s2, 0);
	ipam_pool *p = fx_pool("v4", "10.1.0.0/29", NULL, NULL); /* .1-.6 */
	ipam_pool_set_quarantine(p, 30, 0, 0);
	fx_add_set(c, "q", p, NULL);
	ipam_lease l[6], x;
	char owner[16];
	unsigned n;
	for (int i = 0; i < 6; i++) {
		snprintf(owner, sizeof(owner), "o%d", i);
		ipam_request r = fx_req("q", owner, owner);
		n = 1;
		ck_assert_int_eq(ipam_allocate(c, &r, &l[i], &n), 0);
	}
	ck_assert_int_eq(ipam_release_owner(c, "q", "o2", NULL), 1);
	ipam_pool_stats ps;
	ck_assert_int_eq(ipam_pool_stats_get(c, "q", "v4", &ps), 0);
	ck_assert_uint_eq(ps.quarantined.lo, 1);
	ck_assert_uint_eq(ps.free.lo, 0);
	ck_assert_int_eq(ipam_lookup_addr(c, "q", &l[2].addr, &x), 0);
	ck_assert_int_eq(x.state, IPAM_LEASE_QUARANTINED);
	/* Another owner asking for it exactly is refused... */
	ipam_request r = fx_req("q", "other", "other");
	r.exact = &l[2].addr;
	r.nexact = 1;
	n = 1;
	ck_assert_int_eq(ipam_allocate(c, &r, &x, &n), -EBUSY);
	/* ...but its previous owner gets it back at once. */
	r = fx_req("q", "o2", "o2-new");
	n = 1;
	ck_assert_int_eq(ipam_allocate(c, &r, &x, &n), 0);
	ck_assert_int_eq(ipam_addr_cmp(&x.addr, &l[2].addr), 0);
	/* Soft quarantine: a full pool hands out the oldest quarantined one. */
	ck_assert_int_eq(ipam_release_owner(c, "q", "o4", NULL), 1);
	r = fx_req("q", "newcomer", "nc");
	n = 1;
	ck_assert_int_eq(ipam_allocate(c, &r, &x, &n), 0);
	ck_assert_int_eq(ipam_addr_cmp(&x.addr, &l[4].addr), 0);
	/* With a free address available, quarantined ones are skipped
	 * until their delay has passed. */
	ck_assert_int_eq(ipam_release_owner(c, "q", "o0", NULL), 1);
	ck_assert_int_eq(ipam_release_owner(c, "q", "o1", NULL), 1);
	fx_advance(31000);
	ck_assert_int_eq(ipam_release_owner(c, "q", "o3", NULL), 1); /* quarantined now */
	r = fx_req("q", "late", "late");
	n = 1;
	ck_assert_int_eq(ipam_allocate(c, &r, &x, &n), 0);
	ck_assert(ipam_addr_cmp(&x.addr, &l[3].addr) != 0);
	ck_assert_int_eq(ipam_verify(c, "q"), 0);
	ipam_ctx_free(c);
	ipam_store_free(s2);
}
END_TEST

START_TEST(reserve_unreserve)
{
	ipam_addr a = fx_addr("10.0.0.2"), gw = fx_addr("10.0.0.1");
	ipam_lease out[2], l;
	ck_assert_int_eq(ipam_reserve(ctx, "net", &a, "router-vip"), 0);
	ck_assert_int_eq(ipam_reserve(ctx, "net", &a, "again"), -EEXIST);
	ck_assert_int_eq(ipam_reserve(ctx, "net", &gw, "gw"), -EACCES);
	ck_assert_int_eq(ipam_lookup_addr(ctx, "net", &a, &l), 0);
	ck_assert_int_eq(l.state, IPAM_LEASE_RESERVED);
	ck_assert_str_eq(l.owner, "router-vip");
	ck_assert_int_eq(alloc2("ns/a", "c1", out), 0);
	ck_assert_int_ne(ipam_addr_cmp(&out[0].addr, &a), 0);
	ipam_pool_stats ps;
	ipam_pool_stats_get(ctx, "net", "v4", &ps);
	ck_assert_uint_eq(ps.reserved, 1);
	ck_assert_uint_eq(ps.used.lo, 2);
	/* A release by address leaves a reservation alone. */
	ck_assert_int_eq(ipam_release_addr(ctx, "net", &a, 0), 0);
	ck_assert_int_eq(ipam_unreserve(ctx, "net", &a), 0);
	ck_assert_int_eq(ipam_unreserve(ctx, "net", &a), -ENOENT);
	ipam_pool_stats_get(ctx, "net", "v4", &ps);
	ck_assert_uint_eq(ps.reserved, 0);
	ck_assert_uint_eq(ps.used.lo, 1);
}
END_TEST

START_TEST(renew_ttl_and_attrs)
{
	ipam_lease out[2], l;
	ipam_request r = fx_req("net", "client-01:02:03", "mac");
	ipam_attr at;
	snprintf(at.key, sizeof(at.key), "uid");
	snprintf(at.value, sizeof(at.value), "5d8f7c9b");
	r.attrs = &at;
	r.nattrs = 1;
	r.ttl = 600;
	unsigned n = 2;
	ck_assert_int_eq(ipam_allocate(ctx, &r, out, &n), 0);
	ck_assert_int_eq(out[0].expires, out[0].created + 600);
	fx_advance(100000);
	ck_assert_int_eq(ipam_renew(ctx, "net", "client-01:02:03", "eth0", 600), 2);
	ck_assert_int_eq(ipam_lookup_addr(ctx, "net", &out[0].addr, &l), 0);
	ck_assert_int_eq(l.expires, out[0].created + 700);
	ck_assert_uint_gt(l.generation, out[0].generation);
	ck_assert_uint_eq(l.nattrs, 1);
	ck_assert_str_eq(l.attrs[0].key, "uid");
	ck_assert_str_eq(l.attrs[0].value, "5d8f7c9b");
	ck_assert_int_eq(ipam_renew(ctx, "net", "nobody", NULL, 60), -ENOENT);
	/* Asking again with a TTL renews too (a DHCP REQUEST); within the
	 * lease's time already granted it changes nothing. */
	fx_advance(100000);
	n = 2;
	ck_assert_int_eq(ipam_allocate(ctx, &r, out, &n), 0);
	ck_assert_int_eq(ipam_addr_cmp(&out[0].addr, &l.addr), 0);
	ck_assert_int_eq(out[0].expires, l.created + 800);
	ck_assert_uint_gt(out[0].generation, l.generation);
	ipam_lease again[2];
	r.ttl = 60;
	n = 2;
	ck_assert_int_eq(ipam_allocate(ctx, &r, again, &n), 0);
	ck_assert_int_eq(again[0].expires, out[0].expires);
	ck_assert_uint_eq(again[0].generation, out[0].generation);
	ipam_ctx_stats s;
	ipam_ctx_stats_get(ctx, &s);
	ck_assert_uint_eq(s.rebinds, 0);
	/* A lease without an expiry keeps having none. */
	ipam_request forever = fx_req("net", "ns/forever", "cf");
	n = 2;
	ck_assert_int_eq(ipam_allocate(ctx, &forever, out, &n), 0);
	forever.ttl = 60;
	fx_advance(5000);
	n = 2;
	ck_assert_int_eq(ipam_allocate(ctx, &forever, again, &n), 0);
	ck_assert_int_eq(again[0].expires, 0);
	ck_assert_uint_eq(again[0].generation, out[0].generation);
}
END_TEST

static int count_cb(void *ud, const ipam_lease *l)
{
	(void)l;
	(*(int *)ud)++;
	return 0;
}

START_TEST(lookups_and_iteration)
{
	ipam_lease out[4];
	ck_assert_int_eq(alloc2("ns/a", "ca", out), 0);
	ck_assert_int_eq(alloc2("ns/b", "cb", out), 0);
	ck_assert_int_eq(alloc2("other/c", "cc", out), 0);
	unsigned n = 4;
	ck_assert_int_eq(ipam_lookup_owner(ctx, "net", "ns/b", "eth0", out, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(out[0].attachment, "cb");
	n = 1; /* less room than matches: count still reported */
	ck_assert_int_eq(ipam_lookup_attachment(ctx, "net", "cc", out, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(out[0].owner, "other/c");
	int count = 0;
	ck_assert_int_eq(ipam_foreach_lease(ctx, "net", NULL, count_cb, &count), 0);
	ck_assert_int_eq(count, 6);
	ipam_lease_filter f;
	memset(&f, 0, sizeof(f));
	f.pool = "v6";
	count = 0;
	ipam_foreach_lease(ctx, "net", &f, count_cb, &count);
	ck_assert_int_eq(count, 3);
	f.pool = NULL;
	f.owner = "ns/a";
	count = 0;
	ipam_foreach_lease(ctx, "net", &f, count_cb, &count);
	ck_assert_int_eq(count, 2);
	f.owner = NULL;
	f.states = 1u << IPAM_LEASE_RESERVED;
	count = 0;
	ipam_foreach_lease(ctx, "net", &f, count_cb, &count);
	ck_assert_int_eq(count, 0);
	ipam_pool_stats ps;
	ck_assert_int_eq(ipam_pool_stats_get(ctx, "net", "v4", &ps), 0);
	ck_assert_uint_eq(ps.total.lo, 5);
	ck_assert_uint_eq(ps.used.lo, 3);
	ck_assert_uint_eq(ps.free.lo, 2);
	ck_assert_int_eq(ipam_pool_stats_get(ctx, "net", "nope", &ps), -ENOENT);
}
END_TEST

/* Coarse mode works the same from one thread. */
START_TEST(coarse_mode)
{
	ipam_store *s2 = fx_store();
	ipam_ctx *c = fx_ctx(s2, 1);
	fx_add_set(c, "net", fx_pool("v4", "10.0.0.0/29", NULL, "10.0.0.1"), NULL);
	ipam_lease l;
	for (int i = 0; i < 5; i++) {
		char o[16];
		snprintf(o, sizeof(o), "o%d", i);
		ipam_request r = fx_req("net", o, o);
		unsigned n = 1;
		ck_assert_int_eq(ipam_allocate(c, &r, &l, &n), 0);
	}
	ipam_request r = fx_req("net", "o9", "o9");
	unsigned n = 1;
	ck_assert_int_eq(ipam_allocate(c, &r, &l, &n), -ENOSPC);
	ck_assert_int_eq(ipam_release_owner(c, "net", "o1", NULL), 1);
	ck_assert_int_eq(ipam_allocate(c, &r, &l, &n), 0);
	ck_assert_int_eq(ipam_verify(c, "net"), 0);
	ipam_ctx_free(c);
	ipam_store_free(s2);
}
END_TEST

/* spread: each context starts its next-fit cursor somewhere else. */
START_TEST(spread_start)
{
	int at_first = 0;
	for (int i = 0; i < 4; i++) {
		ipam_store *s2 = fx_store();
		ipam_ctx_options o;
		ipam_ctx *c = NULL;
		ipam_lease l;
		ipam_ctx_options_init(&o);
		o.spread = 1;
		ck_assert_int_eq(ipam_ctx_new(&c, s2, &o), 0);
		fx_add_set(c, "big", fx_pool("v4", "10.60.0.0/16", NULL, NULL), NULL);
		ipam_request r = fx_req("big", "ns/a", "c1");
		unsigned n = 1;
		ck_assert_int_eq(ipam_allocate(c, &r, &l, &n), 0);
		at_first += l.addr.lo == 0x0a3c0001u;
		ipam_ctx_free(c);
		ipam_store_free(s2);
	}
	ck_assert_int_lt(at_first, 4); /* without spread all four take 10.60.0.1 */
	/* On the memory store contexts share a set's cursor: one attaching
	 * with spread after a commit does not move it under the others. */
	if (strcmp(st->ops->name, "memory") == 0) {
		ipam_ctx_options o;
		ipam_ctx *c1 = fx_ctx(st, 0), *c2 = NULL;
		ipam_lease l;
		unsigned n = 1;
		fx_add_set(c1, "big", fx_pool("v4", "10.60.0.0/16", NULL, NULL), NULL);
		ipam_request r = fx_req("big", "ns/a", "c1");
		ck_assert_int_eq(ipam_allocate(c1, &r, &l, &n), 0);
		ck_assert_uint_eq(l.addr.lo, 0x0a3c0001u);
		ipam_ctx_options_init(&o);
		o.spread = 1;
		ck_assert_int_eq(ipam_ctx_new(&c2, st, &o), 0);
		fx_add_set(c2, "big", fx_pool("v4", "10.60.0.0/16", NULL, NULL), NULL);
		r = fx_req("big", "ns/b", "c2");
		n = 1;
		ck_assert_int_eq(ipam_allocate(c1, &r, &l, &n), 0);
		ck_assert_uint_eq(l.addr.lo, 0x0a3c0002u);
		ipam_ctx_free(c2);
		ipam_ctx_free(c1);
	}
}
END_TEST

enum { OWNERS = 12 };

/* Compare the model (held[o]: owner ns/p<o> holds a lease in each pool)
 * with the store: -1 if they agree, else the first owner that differs
 * (OWNERS if only the pool counts differ). */
static int model_disagrees(const int *held)
{
	int total = 0;
	for (int o = 0; o < OWNERS; o++) {
		char owner[16];
		ipam_lease l[2];
		unsigned n = 2;
		snprintf(owner, sizeof(owner), "ns/p%d", o);
		ck_assert_int_eq(ipam_lookup_owner(ctx, "net", owner, NULL, l, &n), 0);
		if (n != (held[o] ? 2u : 0u))
			return o;
		total += held[o];
	}
	if (fx_used(ctx, "net", "v4") != (uint64_t)total || fx_used(ctx, "net", "v6") != (uint64_t)total)
		return OWNERS;
	return -1;
}

/* Random operations against a trivial model: owner -> address per pool. */
START_TEST(model_random)
{
	uint64_t s = tu_seed("ctx model");
	int held[OWNERS];         /* 1 if the model says the owner holds leases */
	char att[OWNERS][32];     /* its current attachment */
	long steps = tu_scale(4000);
	memset(held, 0, sizeof(held));
	for (int i = 0; i < OWNERS; i++)
		snprintf(att[i], sizeof(att[i]), "a%d-0", i);
	for (long step = 0; step < steps; step++) {
		int o = (int)(tu_splitmix(&s) % OWNERS), op = (int)(tu_splitmix(&s) % 5);
		char owner[16];
		ipam_lease out[2];
		unsigned n = 2;
		int held_total = 0;
		snprintf(owner, sizeof(owner), "ns/p%d", o);
		for (int i = 0; i < OWNERS; i++)
			held_total += held[i];
		if (op <= 1) { /* allocate (idempotent if held) */
			ipam_request r = fx_req("net", owner, att[o]);
			int e = ipam_allocate(ctx, &r, out, &n);
			if (held[o] || held_total < 5) {
				ck_assert_msg(e == 0, "step %ld: %s", step, ipam_strerror(e));
				held[o] = 1;
			} else {
				ck_assert_int_eq(e, -ENOSPC);
			}
		} else if (op == 2) { /* new sandbox: rebind if held */
			snprintf(att[o], sizeof(att[o]), "a%d-%ld", o, step);
			ipam_request r = fx_req("net", owner, att[o]);
			int e = ipam_allocate(ctx, &r, out, &n);
			if (held[o] || held_total < 5) {
				ck_assert_int_eq(e, 0);
				ck_assert_str_eq(out[0].attachment, att[o]);
				held[o] = 1;
			} else {
				ck_assert_int_eq(e, -ENOSPC);
			}
		} else if (op == 3) { /* release by current attachment */
			int e = ipam_release_attachment(ctx, "net", att[o], 0);
			ck_assert_int_eq(e, held[o] ? 2 : 0);
			held[o] = 0;
		} else { /* a stale attachment releases nothing */
			ck_assert_int_eq(ipam_release_attachment(ctx, "net", "stale", 0), 0);
		}
		ck_assert_msg(model_disagrees(held) < 0, "step %ld: owner %d differs from the model", step,
			      model_disagrees(held));
		if (step % 64 == 0)
			ck_assert_msg(ipam_verify(ctx, "net") == 0, "%s", ipam_last_error_message());
	}
}
END_TEST

/* The checker can fail: a model that disagrees is caught. */
START_TEST(model_detects_fault)
{
	int held[OWNERS] = { 0 };
	ipam_lease out[2];
	ck_assert_int_eq(alloc2("ns/p3", "c3", out), 0);
	held[3] = 1;
	ck_assert_int_eq(model_disagrees(held), -1);
	/* A model that lost the lease, or invented one, must be caught. */
	held[3] = 0;
	ck_assert_int_eq(model_disagrees(held), 3);
	held[3] = 1;
	held[5] = 1;
	ck_assert_int_eq(model_disagrees(held), 5);
}
END_TEST

/* The pools of setup(), defined again (another context's own copy). */
static void add_net(ipam_ctx *c)
{
	fx_add_set(c, "net", fx_pool("v4", "10.0.0.0/29", NULL, "10.0.0.1"),
		   fx_pool("v6", "fd00::/125", NULL, NULL), NULL);
}

/* Contexts over one store share its leases: what one commits the other
 * sees and cannot take; a freed context's leases stay with the store and a
 * new context finds them. On the memory store, a set of the same name
 * whose pools hand out addresses otherwise is refused while a context
 * holds the set (redefine_keeps_leases: once none does). */
START_TEST(contexts_share_the_store)
{
	ipam_ctx *c2 = fx_ctx(st, 0), *c3;
	ipam_lease a[2], b[2], l;
	ipam_request r;
	unsigned n = 2;

	add_net(c2);
	ck_assert_int_eq(alloc2("ns/pod-a", "c1", a), 0);
	ck_assert_int_eq(ipam_lookup_addr(c2, "net", &a[0].addr, &l), 0);
	ck_assert_str_eq(l.owner, "ns/pod-a");
	r = fx_req("net", "ns/pod-b", "c2");
	ck_assert_int_eq(ipam_allocate(c2, &r, b, &n), 0);
	ck_assert_int_ne(ipam_addr_cmp(&a[0].addr, &b[0].addr), 0);
	ck_assert_int_ne(ipam_addr_cmp(&a[1].addr, &b[1].addr), 0);
	/* Released through the other context. */
	ck_assert_int_eq(ipam_release_attachment(c2, "net", "c1", 0), 2);
	ck_assert_int_eq(ipam_lookup_addr(ctx, "net", &a[0].addr, &l), -ENOENT);
	ck_assert_uint_eq(fx_used(ctx, "net", "v4"), 1);
	/* c2 goes; its lease stays, and a new context finds it. */
	ipam_ctx_free(c2);
	ck_assert_int_eq(ipam_lookup_addr(ctx, "net", &b[0].addr, &l), 0);
	ck_assert_str_eq(l.owner, "ns/pod-b");
	ipam_ctx_free(ctx);
	ctx = fx_ctx(st, 0);
	add_net(ctx);
	ck_assert_int_eq(ipam_lookup_addr(ctx, "net", &b[0].addr, &l), 0);
	ck_assert_str_eq(l.owner, "ns/pod-b");
	ck_assert_uint_eq(fx_used(ctx, "net", "v6"), 1);
	if (strcmp(st->ops->name, "memory") == 0) {
		/* Another definition under the same name is refused, and
		 * refused whole: the context stays usable, the leases stay. */
		ipam_poolset *other = NULL;
		c3 = fx_ctx(st, 0);
		ck_assert_int_eq(ipam_poolset_new(&other, "net"), 0);
		ck_assert_int_eq(ipam_poolset_add(other, fx_pool("v4", "10.0.0.0/28", NULL, "10.0.0.1")), 0);
		ck_assert_int_eq(ipam_poolset_add(other, fx_pool("v6", "fd00::/125", NULL, NULL)), 0);
		ck_assert_int_eq(ipam_ctx_add_poolset(c3, other), -EBUSY);
		ipam_poolset_free(other);
		/* The same pools in another order are another definition too:
		 * a view numbers its pools by position. */
		ck_assert_int_eq(ipam_poolset_new(&other, "net"), 0);
		ck_assert_int_eq(ipam_poolset_add(other, fx_pool("v6", "fd00::/125", NULL, NULL)), 0);
		ck_assert_int_eq(ipam_poolset_add(other, fx_pool("v4", "10.0.0.0/29", NULL, "10.0.0.1")), 0);
		ck_assert_int_eq(ipam_ctx_add_poolset(c3, other), -EBUSY);
		ipam_poolset_free(other);
		add_net(c3); /* alike: shared */
		ck_assert_int_eq(ipam_lookup_addr(c3, "net", &b[0].addr, &l), 0);
		ipam_ctx_free(c3);
		/* Routes, DNS and VLAN are no lease's business: they may
		 * differ (a daemon reloading its configuration). */
		ipam_pool *v4 = fx_pool("v4", "10.0.0.0/29", NULL, "10.0.0.1");
		ipam_addr dns = fx_addr("10.0.0.53");
		ck_assert_int_eq(ipam_pool_add_dns_server(v4, &dns), 0);
		ck_assert_int_eq(ipam_pool_set_vlan(v4, 7), 0);
		c3 = fx_ctx(st, 0);
		fx_add_set(c3, "net", v4, fx_pool("v6", "fd00::/125", NULL, NULL), NULL);
		ck_assert_int_eq(ipam_lookup_addr(c3, "net", &b[0].addr, &l), 0);
		ipam_ctx_free(c3);
	}
}
END_TEST

/* A set defined anew once no context holds it (a daemon reloading its
 * configuration): the leases stay, with their generations and times, in
 * pools matched by name; a definition that would strand a lease is refused
 * with a message naming it, and nothing is lost. */
START_TEST(redefine_keeps_leases)
{
	int memory = strcmp(st->ops->name, "memory") == 0;
	int e;
	ipam_lease a[2], b[2], c[2], l;
	ipam_addr r6 = fx_addr("10.0.0.6");
	ipam_pool *v4;
	ipam_range ex;
	char x[IPAM_ADDR_STRLEN];

	ck_assert_int_eq(alloc2("ns/pod-a", "c1", a), 0); /* .2 */
	fx_advance(2000);
	ck_assert_int_eq(alloc2("ns/pod-b", "c2", b), 0); /* .3 */
	ck_assert_int_eq(ipam_reserve(ctx, "net", &r6, "ops"), 0);
	ck_assert_int_eq(ipam_release_attachment(ctx, "net", "c1", 0), 2); /* .2 free */
	ipam_ctx_free(ctx);
	/* Wider v4 range, the pools in the other order. */
	ctx = fx_ctx(st, 0);
	fx_add_set(ctx, "net", fx_pool("v6", "fd00::/125", NULL, NULL),
		   fx_pool("v4", "10.0.0.0/28", NULL, "10.0.0.1"), NULL);
	ck_assert_int_eq(ipam_lookup_addr(ctx, "net", &b[0].addr, &l), 0);
	ck_assert_str_eq(l.owner, "ns/pod-b");
	ck_assert_str_eq(l.attachment, "c2");
	ck_assert_str_eq(l.pool, "v4");
	ck_assert_uint_eq(l.generation, b[0].generation);
	ck_assert_int_eq(l.created, b[0].created);
	ck_assert_int_eq(ipam_lookup_addr(ctx, "net", &b[1].addr, &l), 0);
	ck_assert_str_eq(l.pool, "v6");
	ck_assert_int_eq(ipam_lookup_addr(ctx, "net", &r6, &l), 0);
	ck_assert_int_eq(l.state, IPAM_LEASE_RESERVED);
	ck_assert_uint_eq(fx_used(ctx, "net", "v4"), 2); /* .3 and the reservation */
	ck_assert_uint_eq(fx_used(ctx, "net", "v6"), 1);
	ck_assert_msg(ipam_verify(ctx, "net") == 0, "%s", ipam_last_error_message());
	/* On the memory store the next-fit cursor went along: after .3, not
	 * back to the freed .2. (Leases come in the set's order: v6 first.) */
	ck_assert_int_eq(alloc2("ns/pod-c", "c3", c), 0);
	ck_assert_int_eq(c[1].addr.family, IPAM_AF_INET);
	if (memory)
		ck_assert_str_eq(fx_fmt(&c[1].addr, x), "10.0.0.4");
	/* A pinned release with the old generation still matches. */
	ck_assert_int_eq(ipam_release_attachment(ctx, "net", "c2", b[0].generation), 2);
	ck_assert_int_eq(alloc2("ns/pod-b", "c2", b), 0);
	b[0] = b[1]; /* its v4 lease, for below */
	c[0] = c[1];
	fx_fmt(&b[0].addr, x);
	ipam_ctx_free(ctx);

	/* Refused: pod-b's address excluded; then the v6 pool gone. */
	ctx = fx_ctx(st, 0);
	v4 = fx_pool("v4", "10.0.0.0/28", NULL, "10.0.0.1");
	ex.first = ex.last = b[0].addr;
	ck_assert_int_eq(ipam_pool_add_exclude(v4, &ex), 0);
	ipam_poolset *set = NULL;
	ck_assert_int_eq(ipam_poolset_new(&set, "net"), 0);
	ck_assert_int_eq(ipam_poolset_add(set, v4), 0);
	ck_assert_int_eq(ipam_poolset_add(set, fx_pool("v6", "fd00::/125", NULL, NULL)), 0);
	e = ipam_ctx_add_poolset(ctx, set);
	ck_assert_msg(e == -EINVAL, "%d: %s", e, ipam_last_error_message());
	ck_assert_msg(strstr(ipam_last_error_message(), x) != NULL, "%s", ipam_last_error_message());
	ipam_poolset_free(set);
	ck_assert_int_eq(ipam_poolset_new(&set, "net"), 0);
	ck_assert_int_eq(ipam_poolset_add(set, fx_pool("v4", "10.0.0.0/28", NULL, "10.0.0.1")), 0);
	e = ipam_ctx_add_poolset(ctx, set);
	ck_assert_msg(e == -EINVAL, "%d: %s", e, ipam_last_error_message());
	ck_assert_msg(strstr(ipam_last_error_message(), "v6") != NULL, "%s", ipam_last_error_message());
	ipam_poolset_free(set);
	/* Nothing lost: the last good definition finds every lease. */
	fx_add_set(ctx, "net", fx_pool("v6", "fd00::/125", NULL, NULL),
		   fx_pool("v4", "10.0.0.0/28", NULL, "10.0.0.1"), NULL);
	ck_assert_int_eq(ipam_lookup_addr(ctx, "net", &b[0].addr, &l), 0);
	ck_assert_str_eq(l.owner, "ns/pod-b");
	ck_assert_int_eq(ipam_lookup_addr(ctx, "net", &c[0].addr, &l), 0);
	ck_assert_str_eq(l.owner, "ns/pod-c");
	ck_assert_int_eq(ipam_lookup_addr(ctx, "net", &r6, &l), 0);
	ck_assert_uint_eq(fx_used(ctx, "net", "v4"), 3);
	ck_assert_uint_eq(fx_used(ctx, "net", "v6"), 2);
	/* Once its leases are released, the v6 pool may go, though a file
	 * store's log still names them... */
	ck_assert_int_eq(ipam_release_attachment(ctx, "net", "c2", 0), 2);
	ck_assert_int_eq(ipam_release_attachment(ctx, "net", "c3", 0), 2);
	ipam_ctx_free(ctx);
	ctx = fx_ctx(st, 0);
	fx_add_set(ctx, "net", fx_pool("v4", "10.0.0.0/28", NULL, "10.0.0.1"), NULL);
	ck_assert_int_eq(ipam_lookup_addr(ctx, "net", &r6, &l), 0);
	ck_assert_int_eq(l.state, IPAM_LEASE_RESERVED);
	ipam_ctx_free(ctx);
	/* ...or a snapshot holds a lease in it that the log releases. */
	ctx = fx_ctx(st, 0);
	fx_add_set(ctx, "net", fx_pool("v4", "10.0.0.0/28", NULL, "10.0.0.1"),
		   fx_pool("v6", "fd00::/125", NULL, NULL), NULL);
	ck_assert_int_eq(alloc2("ns/pod-d", "c4", a), 0);
	if (strcmp(st->ops->name, "file") == 0)
		ck_assert_int_eq(ipam_store_file_compact(st, "net"), 0);
	ck_assert_int_eq(ipam_release_attachment(ctx, "net", "c4", 0), 2);
	ipam_ctx_free(ctx);
	ctx = fx_ctx(st, 0);
	fx_add_set(ctx, "net", fx_pool("v4", "10.0.0.0/28", NULL, "10.0.0.1"), NULL);
	ck_assert_uint_eq(fx_used(ctx, "net", "v4"), 1); /* the reservation */
}
END_TEST

static ipam_poolset *mv_set(const char *subnet)
{
	ipam_poolset *set = NULL;
	ipam_pool *v4 = fx_pool("v4", subnet, NULL, NULL);
	ck_assert_int_eq(ipam_pool_set_quarantine(v4, 60, 0, 0), 0);
	ck_assert_int_eq(ipam_poolset_new(&set, "mv"), 0);
	ck_assert_int_eq(ipam_poolset_add(set, v4), 0);
	return set;
}

/* A pool widened to a subnet that starts lower (10.0.1.0/24 to
 * 10.0.0.0/23), and back: the leases stay, except on the etcd store's
 * blocks layout, whose blocks are numbered from the subnet's first
 * address: there a block holding a lease no longer matches its key
 * (-EBADMSG, saying why), and nothing is lost; a wait in the quarantine
 * does not stand in the way (it is dropped). */
START_TEST(redefine_moved_subnet)
{
	const char *coarse = getenv("IPAM_ETCD_COARSE");
	int blocks = strcmp(st->ops->name, "etcd") == 0 && !(coarse && strcmp(coarse, "1") == 0);
	ipam_ctx *c = fx_ctx(st, 0);
	ipam_lease a, l;
	ipam_pool_stats ps;
	ipam_request r = fx_req("mv", "ns/m", "m1");
	ipam_poolset *set;
	unsigned n = 1;
	int e;
	ck_assert_int_eq(ipam_ctx_add_poolset(c, mv_set("10.0.1.0/24")), 0);
	ck_assert_int_eq(ipam_allocate(c, &r, &a, &n), 0);
	ipam_ctx_free(c);
	c = fx_ctx(st, 0);
	set = mv_set("10.0.0.0/23");
	e = ipam_ctx_add_poolset(c, set);
	if (blocks) {
		ck_assert_int_eq(e, -EBADMSG);
		ck_assert_msg(strstr(ipam_last_error_message(), "may not move"), "%s",
			      ipam_last_error_message());
		ipam_poolset_free(set);
		ck_assert_int_eq(ipam_ctx_add_poolset(c, mv_set("10.0.1.0/24")), 0);
	} else {
		ck_assert_msg(e == 0, "%s", ipam_last_error_message());
	}
	ck_assert_int_eq(ipam_lookup_addr(c, "mv", &a.addr, &l), 0);
	ck_assert_str_eq(l.owner, "ns/m");
	ck_assert_uint_eq(l.generation, a.generation);
	ck_assert_int_eq(ipam_verify(c, "mv"), 0);
	/* Released: a wait, which moves (or is dropped on etcd blocks). */
	ck_assert_int_eq(ipam_release_attachment(c, "mv", "m1", 0), 1);
	ipam_ctx_free(c);
	c = fx_ctx(st, 0);
	e = ipam_ctx_add_poolset(c, mv_set(blocks ? "10.0.0.0/23" : "10.0.1.0/24"));
	ck_assert_msg(e == 0, "%s", ipam_last_error_message());
	ck_assert_int_eq(ipam_pool_stats_get(c, "mv", "v4", &ps), 0);
	ck_assert_uint_eq(ps.quarantined.lo, blocks ? 0 : 1);
	ck_assert_uint_eq(ps.used.lo, 0);
	ck_assert_int_eq(ipam_verify(c, "mv"), 0);
	ipam_ctx_free(c);
}
END_TEST

/* Define "net" anew in a new context, v4 as a /mask with a quarantine of
 * q seconds (0: none); on the file store, after a compaction when snap (the
 * waits then load from a snapshot, else from the log). */
static void redefine_v4(const char *subnet, uint32_t q, int snap)
{
	ipam_pool *v4 = fx_pool("v4", subnet, NULL, "10.0.0.1");

	if (snap && strcmp(st->ops->name, "file") == 0)
		ck_assert_msg(ipam_store_file_compact(st, "net") == 0, "%s", ipam_last_error_message());
	ipam_ctx_free(ctx);
	ctx = fx_ctx(st, 0);
	if (q)
		ck_assert_int_eq(ipam_pool_set_quarantine(v4, q, 0, 0), 0);
	fx_add_set(ctx, "net", v4, fx_pool("v6", "fd00::/125", NULL, NULL), NULL);
}

static uint64_t quarantined_v4(void)
{
	ipam_pool_stats ps;

	ck_assert_int_eq(ipam_pool_stats_get(ctx, "net", "v4", &ps), 0);
	return ps.quarantined.lo;
}

/* A quarantine turned on, then off, by redefinitions: released addresses
 * wait in it while it is on, keep waiting across a redefinition that keeps
 * it, and are free once it is off or the pool no longer hands them out (the
 * waits are dropped; no lease is). */
static void redefine_quarantine_run(int snap)
{
	ipam_lease a[2], l;
	ipam_addr nine = fx_addr("10.0.0.9");
	const char *pools[] = { "v4" };
	ipam_request r = fx_req("net", "ns/pod-z", "z");
	unsigned n = 1;

	ck_assert_int_eq(alloc2("ns/pod-a", "c1", a), 0); /* .2 */
	redefine_v4("10.0.0.0/28", 60, snap);
	r.pools = pools;
	r.npools = 1;
	r.exact = &nine;
	r.nexact = 1;
	ck_assert_int_eq(ipam_allocate(ctx, &r, &l, &n), 0);
	ck_assert_int_eq(ipam_release_attachment(ctx, "net", "c1", 0), 2);
	ck_assert_int_eq(ipam_release_attachment(ctx, "net", "z", 0), 1);
	ck_assert_int_eq(ipam_lookup_addr(ctx, "net", &a[0].addr, &l), 0);
	ck_assert_int_eq(l.state, IPAM_LEASE_QUARANTINED);
	ck_assert_uint_eq(quarantined_v4(), 2);
	/* Kept: still waiting; another owner is refused .2. */
	redefine_v4("10.0.0.0/28", 60, snap);
	ck_assert_uint_eq(quarantined_v4(), 2);
	r = fx_req("net", "other", "o");
	r.pools = pools;
	r.npools = 1;
	r.exact = &a[0].addr;
	r.nexact = 1;
	n = 1;
	ck_assert_int_eq(ipam_allocate(ctx, &r, &l, &n), -EBUSY);
	/* Back to the /29: .9's wait is dropped, .2's kept. (A file store
	 * without a snapshot replays pod-z's lease at .9 and its release.) */
	redefine_v4("10.0.0.0/29", 60, snap);
	ck_assert_uint_eq(quarantined_v4(), 1);
	ck_assert_uint_eq(fx_used(ctx, "net", "v4"), 0);
	ck_assert_msg(ipam_verify(ctx, "net") == 0, "%s", ipam_last_error_message());
	/* No quarantine: .2 is free. */
	redefine_v4("10.0.0.0/28", 0, snap);
	ck_assert_uint_eq(quarantined_v4(), 0);
	ck_assert_uint_eq(fx_used(ctx, "net", "v4"), 0);
	ck_assert_int_eq(ipam_lookup_addr(ctx, "net", &a[0].addr, &l), -ENOENT);
	n = 1;
	ck_assert_int_eq(ipam_allocate(ctx, &r, &l, &n), 0);
	ck_assert_int_eq(ipam_addr_cmp(&l.addr, &a[0].addr), 0);
	/* A lease at .9 holds the /28: the /29 is refused, naming it... */
	r = fx_req("net", "ns/pod-y", "y");
	r.pools = pools;
	r.npools = 1;
	r.exact = &nine;
	r.nexact = 1;
	n = 1;
	ck_assert_int_eq(ipam_allocate(ctx, &r, &l, &n), 0);
	if (snap && strcmp(st->ops->name, "file") == 0)
		ck_assert_int_eq(ipam_store_file_compact(st, "net"), 0);
	ipam_ctx_free(ctx);
	ctx = fx_ctx(st, 0);
	ipam_poolset *set = NULL;
	ck_assert_int_eq(ipam_poolset_new(&set, "net"), 0);
	ck_assert_int_eq(ipam_poolset_add(set, fx_pool("v4", "10.0.0.0/29", NULL, "10.0.0.1")), 0);
	ck_assert_int_eq(ipam_poolset_add(set, fx_pool("v6", "fd00::/125", NULL, NULL)), 0);
	int e = ipam_ctx_add_poolset(ctx, set);
	ck_assert_msg(e == -EINVAL, "%d: %s", e, ipam_last_error_message());
	ck_assert_msg(strstr(ipam_last_error_message(), "10.0.0.9") &&
			      strstr(ipam_last_error_message(), "ns/pod-y"),
		      "%s", ipam_last_error_message());
	ipam_poolset_free(set);
	/* ...until it is released (after the snapshot that holds it). */
	fx_add_set(ctx, "net", fx_pool("v4", "10.0.0.0/28", NULL, "10.0.0.1"),
		   fx_pool("v6", "fd00::/125", NULL, NULL), NULL);
	ck_assert_int_eq(ipam_release_attachment(ctx, "net", "y", 0), 1);
	redefine_v4("10.0.0.0/29", 0, 0);
	ck_assert_int_eq(ipam_lookup_addr(ctx, "net", &a[0].addr, &l), 0);
	ck_assert_str_eq(l.owner, "other");
	ck_assert_uint_eq(fx_used(ctx, "net", "v4"), 1);
}

START_TEST(redefine_quarantine)
{
	redefine_quarantine_run(0);
}
END_TEST

/* Two pools of one subnet with their own ranges: an exact address or a
 * hint goes to the pool that hands it out. */
START_TEST(pools_sharing_a_subnet)
{
	ipam_store *s2 = fx_store();
	ipam_ctx *c = fx_ctx(s2, 0);
	fx_add_set(c, "two", fx_pool("lo", "10.2.0.0/24", "10.2.0.10-10.2.0.19", NULL),
		   fx_pool("hi", "10.2.0.0/24", "10.2.0.20-10.2.0.29", NULL), NULL);
	ipam_lease out[2];
	char x[IPAM_ADDR_STRLEN];
	ipam_addr both[2] = { fx_addr("10.2.0.25"), fx_addr("10.2.0.12") };
	ipam_request r = fx_req("two", "o1", "a1");
	unsigned n = 2;
	r.exact = both;
	r.nexact = 2;
	ck_assert_msg(ipam_allocate(c, &r, out, &n) == 0, "%s", ipam_last_error_message());
	ck_assert_str_eq(out[0].pool, "lo");
	ck_assert_str_eq(fx_fmt(&out[0].addr, x), "10.2.0.12");
	ck_assert_str_eq(out[1].pool, "hi");
	ck_assert_str_eq(fx_fmt(&out[1].addr, x), "10.2.0.25");
	/* One exact address, for the second pool only. */
	const char *hi = "hi";
	r = fx_req("two", "o2", "a2");
	r.exact = &both[0];
	r.nexact = 1;
	r.pools = &hi;
	r.npools = 1;
	n = 2;
	ck_assert_int_eq(ipam_allocate(c, &r, out, &n), -EEXIST); /* o1 holds it */
	ipam_addr free_hi = fx_addr("10.2.0.27");
	r.exact = &free_hi;
	ck_assert_msg(ipam_allocate(c, &r, out, &n) == 0, "%s", ipam_last_error_message());
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(fx_fmt(&out[0].addr, x), "10.2.0.27");
	/* A hint, likewise. */
	ipam_addr hint = fx_addr("10.2.0.28");
	r = fx_req("two", "o3", "a3");
	r.hints = &hint;
	r.nhints = 1;
	n = 2;
	ck_assert_int_eq(ipam_allocate(c, &r, out, &n), 0);
	ck_assert_str_eq(fx_fmt(&out[1].addr, x), "10.2.0.28");
	/* An address in the subnet that neither pool hands out. */
	ipam_addr none = fx_addr("10.2.0.40");
	r = fx_req("two", "o4", "a4");
	r.exact = &none;
	r.nexact = 1;
	n = 2;
	ck_assert_int_eq(ipam_allocate(c, &r, out, &n), -EACCES);
	ck_assert_ptr_nonnull(strstr(ipam_last_error_message(), "10.2.0.40"));
	/* The same after an address that did go to the first pool. */
	ipam_addr pair[2] = { fx_addr("10.2.0.13"), fx_addr("10.2.0.41") };
	r.exact = pair;
	r.nexact = 2;
	n = 2;
	ck_assert_int_eq(ipam_allocate(c, &r, out, &n), -EACCES);
	ck_assert_ptr_nonnull(strstr(ipam_last_error_message(), "10.2.0.41"));
	ck_assert_int_eq(ipam_verify(c, "two"), 0);
	ipam_ctx_free(c);
	ipam_store_free(s2);
}
END_TEST

/* An exact request for an address whose quarantine is over, by time or by
 * other allocations, gets it. */
START_TEST(exact_after_quarantine)
{
	ipam_store *s2 = fx_store();
	ipam_ctx *c = fx_ctx(s2, 0);
	ipam_pool *p = fx_pool("v4", "10.3.0.0/28", NULL, NULL); /* .1-.14 */
	ipam_pool *q = fx_pool("v4b", "10.4.0.0/28", NULL, NULL);
	ipam_pool_set_quarantine(p, 60, 0, 0);
	ipam_pool_set_quarantine(q, 0, 2, 0);
	fx_add_set(c, "qt", p, NULL);
	fx_add_set(c, "qa", q, NULL);
	ipam_lease l, x;
	unsigned n = 1;
	const char *sets[2] = { "qt", "qa" };
	for (int k = 0; k < 2; k++) {
		ipam_request r = fx_req(sets[k], "first", "first");
		ck_assert_int_eq(ipam_allocate(c, &r, &l, &n), 0);
		ck_assert_int_eq(ipam_release_owner(c, sets[k], "first", NULL), 1);
		r = fx_req(sets[k], "second", "second");
		r.exact = &l.addr;
		r.nexact = 1;
		ck_assert_int_eq(ipam_allocate(c, &r, &x, &n), -EBUSY);
		ck_assert_int_eq(ipam_last_error(NULL), -EBUSY);
		if (k == 0) {
			fx_advance(61000);
		} else { /* two other allocations */
			ipam_request o = fx_req(sets[k], "other1", "other1");
			ck_assert_int_eq(ipam_allocate(c, &o, &x, &n), 0);
			ck_assert_int_eq(ipam_allocate(c, &r, &x, &n), -EBUSY);
			o = fx_req(sets[k], "other2", "other2");
			ck_assert_int_eq(ipam_allocate(c, &o, &x, &n), 0);
		}
		ck_assert_msg(ipam_allocate(c, &r, &x, &n) == 0, "%s: %s", sets[k],
			      ipam_last_error_message());
		ck_assert_int_eq(ipam_addr_cmp(&x.addr, &l.addr), 0);
		ck_assert_str_eq(x.owner, "second");
		ck_assert_int_eq(ipam_verify(c, sets[k]), 0);
	}
	ipam_ctx_free(c);
	ipam_store_free(s2);
}
END_TEST

/* An ipam_addr that is not well formed is refused before anything reads
 * it (no uninitialised bytes in a message). */
START_TEST(malformed_addresses)
{
	ipam_addr bad[3];
	ipam_lease out[2];
	bad[0] = fx_addr("10.0.0.3");
	bad[0].hi = 5;
	bad[1] = fx_addr("10.0.0.3");
	bad[1].lo = (uint64_t)1 << 33;
	bad[2] = fx_addr("10.0.0.3");
	bad[2].family = 9;
	for (int i = 0; i < 3; i++) {
		ipam_request r = fx_req("net", "ns/x", "cx");
		unsigned n = 2;
		r.exact = &bad[i];
		r.nexact = 1;
		ck_assert_int_eq(ipam_allocate(ctx, &r, out, &n), -EINVAL);
		ck_assert_ptr_nonnull(strstr(ipam_last_error_message(), "exact"));
		r.exact = NULL;
		r.nexact = 0;
		r.hints = &bad[i];
		r.nhints = 1;
		ck_assert_int_eq(ipam_allocate(ctx, &r, out, &n), -EINVAL);
		ck_assert_int_eq(ipam_reserve(ctx, "net", &bad[i], "x"), -EINVAL);
		ck_assert_ptr_nonnull(strstr(ipam_last_error_message(), "well-formed"));
		ck_assert_int_eq(ipam_unreserve(ctx, "net", &bad[i]), -EINVAL);
		ck_assert_int_eq(ipam_release_addr(ctx, "net", &bad[i], 0), -EINVAL);
		ck_assert_int_eq(ipam_lookup_addr(ctx, "net", &bad[i], out), -EINVAL);
	}
	ck_assert_uint_eq(fx_used(ctx, "net", "v4"), 0);
}
END_TEST

/* The same, the file store loading from snapshots. */
START_TEST(redefine_quarantine_snapshot)
{
	redefine_quarantine_run(1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ctx");
	TCase *tc = tcase_create("contract");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, dual_stack_and_idempotent);
	tcase_add_test(tc, rebind_and_stale_release);
	tcase_add_test(tc, generation_pinned_release);
	tcase_add_test(tc, dual_stack_all_or_nothing);
	tcase_add_test(tc, exact_addresses);
	tcase_add_test(tc, bad_requests);
	tcase_add_test(tc, quarantine);
	tcase_add_test(tc, reserve_unreserve);
	tcase_add_test(tc, renew_ttl_and_attrs);
	tcase_add_test(tc, lookups_and_iteration);
	tcase_add_test(tc, coarse_mode);
	tcase_add_test(tc, spread_start);
	tcase_add_test(tc, model_random);
	tcase_add_test(tc, model_detects_fault);
	tcase_add_test(tc, contexts_share_the_store);
	tcase_add_test(tc, redefine_keeps_leases);
	tcase_add_test(tc, redefine_quarantine);
	tcase_add_test(tc, redefine_quarantine_snapshot);
	tcase_add_test(tc, redefine_moved_subnet);
	tcase_add_test(tc, pools_sharing_a_subnet);
	tcase_add_test(tc, exact_after_quarantine);
	tcase_add_test(tc, malformed_addresses);
	suite_add_tcase(s, tc);
	printf("store: %s\n", getenv("IPAM_TEST_STORE") ? getenv("IPAM_TEST_STORE") : "memory");
	return tu_run(s);
}
