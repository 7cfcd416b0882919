/* SPDX-License-Identifier: MIT */
/*
 * The etcd store against a real etcd: key layout and generations, which
 * writers conflict (block mode: only writers in one block or for one
 * owner; coarse mode: all writers of a pool), values that do not parse,
 * change sets too large for one transaction, an unreachable cluster and
 * failover, TLS with client certificates.
 */
#include "etcd_test.h"

#define NET4 "10.1.0.0/22" /* 1024 addresses: 8 blocks of 128 */
#define NET6 "fd00:1::/120"

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

/* ---- a view driven through the store table directly ------------------------------------ */

struct lv {
	ipam_store *st;
	ipam_poolset *set;
	ipam_view *v;
};

static int lv_open(struct lv *x, const char *prefix, int coarse)
{
	x->st = et_store(prefix, coarse);
	x->set = et_set(NET4, NULL);
	return x->st->ops->attach(x->st, x->set, &x->v);
}

static void lv_close(struct lv *x)
{
	if (x->v)
		x->st->ops->detach(x->st, x->v);
	ipam_store_free(x->st);
	ipam_poolset_free(x->set);
}

static void lease_at(ipam_lease *l, const char *addr, const char *owner)
{
	memset(l, 0, sizeof(*l));
	snprintf(l->pool, sizeof(l->pool), "v4");
	ck_assert_int_eq(ipam_addr_parse(addr, &l->addr), 0);
	snprintf(l->owner, sizeof(l->owner), "%s", owner);
	snprintf(l->ifname, sizeof(l->ifname), "eth0");
	snprintf(l->attachment, sizeof(l->attachment), "%s-sandbox", owner);
	snprintf(l->node, sizeof(l->node), "node-1");
	l->state = IPAM_LEASE_BOUND;
	l->created = l->updated = now_s();
}

/* Take addr for owner, decided on x's view as it is (maybe stale). */
static int lv_take(struct lv *x, const char *addr, const char *owner, uint64_t *rev)
{
	ipam_op op;
	ipam_cond c[2];
	ipam_txn t;
	uint64_t dummy;

	memset(&op, 0, sizeof(op));
	memset(c, 0, sizeof(c));
	op.kind = IPAM_OP_PUT;
	lease_at(&op.lease, addr, owner);
	c[0].kind = IPAM_COND_ADDR;
	c[0].addr = op.lease.addr;
	c[1].kind = IPAM_COND_OWNER;
	c[1].owner = owner;
	c[1].ifname = "eth0";
	memset(&t, 0, sizeof(t));
	t.ops = &op;
	t.nops = 1;
	t.conds = c;
	t.nconds = 2;
	t.now_ms = now_s() * 1000;
	return x->st->ops->commit(x->st, x->v, &t, rev ? rev : &dummy);
}

static uint64_t conflicts_of(ipam_store *st)
{
	ipam_etcd_stats s;
	ck_assert_int_eq(ipam_etcd_stats_get(st, &s), 0);
	return s.txn_conflicts;
}

/* ---- layout, generations, reload ------------------------------------------------------------ */

START_TEST(layout_and_generations)
{
	char prefix[96], key[256];
	ipam_store *st;
	ipam_ctx *ctx;
	ipam_lease l[2];
	unsigned n = 2;
	char a4[IPAM_ADDR_STRLEN];

	et_prefix(prefix, sizeof(prefix), "layout");
	st = et_store(prefix, 0);
	ctx = et_ctx(st, "node-1", NET4, NET6);
	ipam_request rq = et_req("ns/pod-a", "sandbox-1");
	ck_assert_int_eq(ipam_allocate(ctx, &rq, l, &n), 0);
	ck_assert_uint_eq(n, 2);
	ipam_addr_format(&l[0].addr, a4, sizeof(a4));

	struct ipam_etcd__kvs kvs = et_range(prefix);
	snprintf(key, sizeof(key), "%s/net/layout", prefix);
	ck_assert_ptr_nonnull(et_find(&kvs, key));
	snprintf(key, sizeof(key), "%s/net/owners/v4/ns/pod-a/eth0", prefix);
	const struct ipam_etcd__kv *ok = et_find(&kvs, key);
	ck_assert_ptr_nonnull(ok);
	ck_assert_str_eq(ok->value, a4);
	/* The address is in block 0 of v4; its generation is the commit's
	 * etcd revision, which is the block key's mod_revision. */
	snprintf(key, sizeof(key), "%s/net/blocks/v4/%032x", prefix, 0);
	const struct ipam_etcd__kv *bk = et_find(&kvs, key);
	ck_assert_ptr_nonnull(bk);
	ck_assert_ptr_nonnull(strstr(bk->value, a4));
	ck_assert_uint_eq(l[0].generation, (uint64_t)bk->mod_rev);
	ck_assert_uint_eq(l[1].generation, (uint64_t)bk->mod_rev); /* one commit */
	ipam_etcd__kvs_free(&kvs);

	/* Another process (a fresh store) sees the same leases. */
	ipam_store *st2 = et_store(prefix, 0);
	ipam_ctx *ctx2 = et_ctx(st2, "node-2", NET4, NET6);
	ipam_lease got;
	ck_assert_int_eq(ipam_lookup_addr(ctx2, "net", &l[0].addr, &got), 0);
	ck_assert_str_eq(got.owner, "ns/pod-a");
	ck_assert_uint_eq(got.generation, l[0].generation);
	ck_assert_int_eq(ipam_verify(ctx2, "net"), 0);

	/* Released through the second: the first sees it at its next call
	 * and the owner key is gone. */
	ck_assert_int_eq(ipam_release_owner(ctx2, "net", "ns/pod-a", NULL), 2);
	ck_assert_int_eq(ipam_lookup_addr(ctx, "net", &l[0].addr, &got), -ENOENT);
	kvs = et_range(prefix);
	snprintf(key, sizeof(key), "%s/net/owners/v4/ns/pod-a/eth0", prefix);
	ck_assert_ptr_null(et_find(&kvs, key));
	ipam_etcd__kvs_free(&kvs);
	ipam_pool_stats ps;
	ck_assert_int_eq(ipam_pool_stats_get(ctx, "net", "v4", &ps), 0);
	ck_assert_uint_eq(ps.used.lo, 0);
	ipam_ctx_free(ctx2);
	ipam_store_free(st2);
	ipam_ctx_free(ctx);
	ipam_store_free(st);
}
END_TEST

/* ---- who conflicts ---------------------------------------------------------------------------- */

START_TEST(writers_in_different_blocks_do_not_conflict)
{
	char prefix[96];
	struct lv a, b;

	et_prefix(prefix, sizeof(prefix), "blocks");
	ck_assert_int_eq(lv_open(&a, prefix, 0), 0);
	ck_assert_int_eq(lv_open(&b, prefix, 0), 0);
	ck_assert_int_eq(lv_take(&a, "10.1.0.10", "o1", NULL), 0);
	/* b has not seen a's commit; its address is in another block. */
	ck_assert_int_eq(lv_take(&b, "10.1.0.200", "o2", NULL), 0);
	ck_assert_uint_eq(conflicts_of(b.st), 0);
	/* Same block as a's: the block key moved, so b must decide again. */
	ck_assert_int_eq(lv_take(&b, "10.1.0.11", "o3", NULL), -EAGAIN);
	ck_assert_uint_eq(conflicts_of(b.st), 1);
	/* The failed commit caught b up: the same decision now holds. */
	ck_assert_int_eq(lv_take(&b, "10.1.0.11", "o3", NULL), 0);
	/* The same address again (b is current): refused by the view. */
	ck_assert_int_eq(lv_take(&a, "10.1.0.11", "o4", NULL), -EAGAIN);
	lv_close(&a);
	lv_close(&b);
}
END_TEST

START_TEST(one_owner_in_two_blocks_conflicts)
{
	char prefix[96];
	struct lv a, b;

	et_prefix(prefix, sizeof(prefix), "owner");
	ck_assert_int_eq(lv_open(&a, prefix, 0), 0);
	ck_assert_int_eq(lv_open(&b, prefix, 0), 0);
	ck_assert_int_eq(lv_take(&a, "10.1.0.10", "ns/x", NULL), 0);
	/* Another block, same owner: the owner key compare fails. */
	ck_assert_int_eq(lv_take(&b, "10.1.0.200", "ns/x", NULL), -EAGAIN);
	/* Caught up, b's view now refuses it itself. */
	ck_assert_int_eq(lv_take(&b, "10.1.0.200", "ns/x", NULL), -EAGAIN);
	ck_assert_uint_eq(conflicts_of(b.st), 1);
	lv_close(&a);
	lv_close(&b);
}
END_TEST

START_TEST(coarse_mode_conflicts_on_the_pool)
{
	char prefix[96], key[200];
	struct lv a, b;

	et_prefix(prefix, sizeof(prefix), "coarse");
	ck_assert_int_eq(lv_open(&a, prefix, 1), 0);
	ck_assert_int_eq(lv_open(&b, prefix, 1), 0);
	ck_assert_int_eq(lv_take(&a, "10.1.0.10", "o1", NULL), 0);
	ck_assert_int_eq(lv_take(&b, "10.1.0.200", "o2", NULL), -EAGAIN);
	ck_assert_int_eq(lv_take(&b, "10.1.0.200", "o2", NULL), 0);
	struct ipam_etcd__kvs kvs = et_range(prefix);
	snprintf(key, sizeof(key), "%s/net/pools/v4", prefix);
	ck_assert_ptr_nonnull(et_find(&kvs, key));
	ck_assert_uint_eq(kvs.n, 2); /* the layout record and the pool key */
	ipam_etcd__kvs_free(&kvs);
	lv_close(&a);
	lv_close(&b);
	/* A prefix written in coarse mode is refused in block mode. */
	ck_assert_int_eq(lv_open(&a, prefix, 0), -EINVAL);
	ck_assert_ptr_nonnull(strstr(ipam_etcd_last_error_message(), "layout"));
	lv_close(&a);
}
END_TEST

/* ---- bad data, big change sets ------------------------------------------------------------- */

START_TEST(unparsable_value_is_ebadmsg)
{
	char prefix[96], key[200];
	struct lv a;

	et_prefix(prefix, sizeof(prefix), "bad");
	ck_assert_int_eq(lv_open(&a, prefix, 0), 0);
	ck_assert_int_eq(lv_take(&a, "10.1.0.10", "o1", NULL), 0);
	lv_close(&a);
	snprintf(key, sizeof(key), "%s/net/blocks/v4/%032x", prefix, 1);
	et_put(key, "{\"v\":1,\"leases\":[{\"addr\":\"10.1.0.5\",\"state\":\"bound\"}]}");
	ck_assert_int_eq(lv_open(&a, prefix, 0), -EBADMSG); /* 10.1.0.5 is in block 0 */
	ck_assert_ptr_nonnull(strstr(ipam_etcd_last_error_message(), key));
	lv_close(&a);
	et_put(key, "not json");
	ck_assert_int_eq(lv_open(&a, prefix, 0), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(ipam_etcd_last_error_message(), key));
	lv_close(&a);
}
END_TEST

START_TEST(too_big_change_set_is_refused_whole)
{
	enum { N = 129 };
	char prefix[96], blocks[200];
	ipam_op *ops = calloc(N, sizeof(*ops));
	struct lv a;
	ipam_txn t;
	uint64_t rev;

	et_prefix(prefix, sizeof(prefix), "big");
	ck_assert_int_eq(lv_open(&a, prefix, 0), 0);
	for (int i = 0; i < N; i++) {
		char addr[32], owner[32];
		snprintf(addr, sizeof(addr), "10.1.0.%d", i + 1);
		snprintf(owner, sizeof(owner), "o%d", i);
		ops[i].kind = IPAM_OP_PUT;
		lease_at(&ops[i].lease, addr, owner);
	}
	memset(&t, 0, sizeof(t));
	t.ops = ops;
	t.nops = N;
	t.now_ms = now_s() * 1000;
	ck_assert_int_eq(a.st->ops->commit(a.st, a.v, &t, &rev), -E2BIG);
	snprintf(blocks, sizeof(blocks), "%s/net/blocks/", prefix);
	struct ipam_etcd__kvs kvs = et_range(blocks);
	ck_assert_uint_eq(kvs.n, 0); /* nothing written */
	ipam_etcd__kvs_free(&kvs);
	t.nops = 60; /* 60 owner keys and one block: fits */
	ck_assert_int_eq(a.st->ops->commit(a.st, a.v, &t, &rev), 0);
	lv_close(&a);
	free(ops);
}
END_TEST

/* ---- an unreachable cluster, failover ---------------------------------------------------------- */

START_TEST(unreachable_then_failover)
{
	char prefix[96], dead[128], both[300];
	struct fx_etcd probe;
	ipam_store *st;
	ipam_poolset *set = et_set(NET4, NULL);
	ipam_view *v = NULL;
	ipam_etcd_stats s;

	/* A port nothing listens on: an etcd started and stopped. */
	ck_assert_int_eq(fx_etcd_start(&probe, 0), 0);
	snprintf(dead, sizeof(dead), "%s", probe.url);
	fx_etcd_destroy(&probe);
	et_prefix(prefix, sizeof(prefix), "down");
	st = et_store_opts(prefix, 0, 0, dead);
	ck_assert_int_eq(st->ops->attach(st, set, &v), -EAGAIN);
	ck_assert_ptr_nonnull(strstr(ipam_etcd_last_error_message(), "unreachable: try again later"));
	ck_assert_ptr_nonnull(strstr(ipam_etcd_last_error_message(), dead));
	ipam_store_free(st);

	snprintf(both, sizeof(both), "%s,%s", dead, et_etcd.url);
	st = et_store_opts(prefix, 0, 0, both);
	ck_assert_int_eq(st->ops->attach(st, set, &v), 0);
	ck_assert_int_eq(ipam_etcd_stats_get(st, &s), 0);
	ck_assert_uint_ge(s.failovers, 1);
	st->ops->detach(st, v);
	ipam_store_free(st);
	ipam_poolset_free(set);
}
END_TEST

/* Block values are JSON text: a lease string that is not UTF-8 is refused
 * with -EINVAL before anything is sent (jansson would not encode it). */
START_TEST(strings_must_be_utf8)
{
	static const struct {
		const char *s;
		int ok;
	} cases[] = {
		{ "ns/pod-a", 1 },	      { "caf\xc3\xa9", 1 },	 { "\xe2\x82\xac", 1 },
		{ "\xf0\x9f\x98\x80", 1 },    { "\xf4\x8f\xbf\xbf", 1 }, { "\xed\x9f\xbf", 1 },
		{ "\xff", 0 },		      { "\xc3", 0 },		 { "\xc3(", 0 },
		{ "\xc0\xaf", 0 },	      { "\xe0\x80\xaf", 0 },	 { "\xed\xa0\x80", 0 },
		{ "\xf4\x90\x80\x80", 0 },    { "\xf8\x88\x80\x80\x80", 0 }, { "\x80", 0 },
		{ "\xe2\x82", 0 },
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int field = 0; field < 6; field++) {
			ipam_lease l;
			memset(&l, 0, sizeof(l));
			strcpy(l.owner, "ns/a");
			strcpy(l.ifname, "eth0");
			strcpy(l.attachment, "c1");
			char *f[] = { l.owner, l.ifname, l.attachment, l.node, l.attrs[0].key, l.attrs[0].value };
			l.nattrs = field >= 4;
			if (field >= 4)
				strcpy(l.attrs[0].key, "k");
			strcpy(f[field], cases[i].s);
			ck_assert_msg(ipam_etcd__lease_utf8(&l) == (cases[i].ok ? 0 : -EINVAL), "case %u field %d", i,
				      field);
		}
	}
}
END_TEST

START_TEST(bad_options)
{
	ipam_etcd_options o;
	ipam_store *st = NULL;

	ck_assert_int_eq(ipam_store_etcd_new(&st, NULL), -EINVAL);
	ipam_etcd_options_init(&o);
	ck_assert_int_eq(ipam_store_etcd_new(&st, &o), -EINVAL); /* no endpoints */
	o.endpoints = "127.0.0.1:2379";
	ck_assert_int_eq(ipam_store_etcd_new(&st, &o), -EINVAL); /* not a URL */
	o.endpoints = "http://127.0.0.1:2379";
	o.block_size = 100;
	ck_assert_int_eq(ipam_store_etcd_new(&st, &o), -EINVAL);
	o.block_size = 64;
	o.cert_file = "/nonexistent.crt";
	ck_assert_int_eq(ipam_store_etcd_new(&st, &o), -EINVAL); /* cert without key */
	o.cert_file = NULL;
	ck_assert_int_eq(ipam_store_etcd_new(&st, &o), 0);
	ck_assert_int_eq(ipam_etcd_stats_get(st, NULL), -ENOTSUP);
	ipam_store_free(st);
	ck_assert_ptr_null(st = NULL);
}
END_TEST

/* ---- TLS -------------------------------------------------------------------------------------------- */

static int tls_attach(const char *ca, const char *cert, const char *key)
{
	ipam_etcd_options o;
	ipam_store *st = NULL;
	ipam_poolset *set = et_set(NET4, NULL);
	ipam_view *v = NULL;
	char prefix[96];
	int r;

	et_prefix(prefix, sizeof(prefix), "tls");
	ipam_etcd_options_init(&o);
	o.endpoints = et_etcd.url;
	o.prefix = prefix;
	o.ca_file = ca;
	o.cert_file = cert;
	o.key_file = key;
	o.connect_timeout_ms = 1000;
	o.request_timeout_ms = 2000;
	ck_assert_int_eq(ipam_store_etcd_new(&st, &o), 0);
	r = st->ops->attach(st, set, &v);
	if (r == 0) {
		struct lv x = { st, set, v };
		ck_assert_int_eq(lv_take(&x, "10.1.0.10", "tls-owner", NULL), 0);
		st->ops->detach(st, v);
	} else {
		printf("tls attach refused (%d): %s\n", r, ipam_etcd_last_error_message());
	}
	ipam_store_free(st);
	ipam_poolset_free(set);
	return r;
}

START_TEST(tls_needs_the_right_client_certificate)
{
	ck_assert_int_eq(tls_attach(et_etcd.ca, et_etcd.cert, et_etcd.key), 0);
	ck_assert_int_lt(tls_attach(et_etcd.ca, NULL, NULL), 0);
	ck_assert_int_lt(tls_attach(et_etcd.ca, et_etcd.bad_cert, et_etcd.bad_key), 0);
	/* Without the CA the server is not trusted. */
	ck_assert_int_eq(tls_attach(NULL, et_etcd.cert, et_etcd.key), -EACCES);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("etcd");
	TCase *tc = tcase_create("plain");
	TCase *tls = tcase_create("tls");

	et_require_etcd();
	tcase_add_unchecked_fixture(tc, et_start_plain, et_stop);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, layout_and_generations);
	tcase_add_test(tc, writers_in_different_blocks_do_not_conflict);
	tcase_add_test(tc, one_owner_in_two_blocks_conflicts);
	tcase_add_test(tc, coarse_mode_conflicts_on_the_pool);
	tcase_add_test(tc, unparsable_value_is_ebadmsg);
	tcase_add_test(tc, too_big_change_set_is_refused_whole);
	tcase_add_test(tc, unreachable_then_failover);
	tcase_add_test(tc, bad_options);
	tcase_add_test(tc, strings_must_be_utf8);
	suite_add_tcase(s, tc);
	tcase_add_unchecked_fixture(tls, et_start_tls, et_stop);
	tcase_set_timeout(tls, 120);
	tcase_add_test(tls, tls_needs_the_right_client_certificate);
	suite_add_tcase(s, tls);
	return tu_run(s);
}
