/* SPDX-License-Identifier: MIT */
/*
 * The file store opened with a scope (ipam_file_store_scope), as ipam-cni
 * opens it for ADD, DEL and CHECK: only the scope's leases are records,
 * every other lease marks its address used (a "ghost").
 *
 * - what a scoped handle answers, and what it refuses (-ENOTSUP) instead of
 *   answering from part of the state;
 * - a decision overtaken by another handle's commit and compaction, so that
 *   the address it chose is a ghost when it commits: a conflict, never an
 *   address handed out twice;
 * - a compaction from a scoped handle writes every lease;
 * - a randomized run against a model: containers ADDed, rebound, DELeted
 *   (stale DELs too) by one short-lived scoped handle per call, as CNI
 *   processes do, beside a long-lived whole handle, with compactions; the
 *   state is compared with the model and verified throughout.
 */
#include <fcntl.h>
#include <unistd.h>

#include "ctx_fixture.h"
#include "hash.h"

static char dir[256];

static void setup(void)
{
	fx_tmpdir(dir, sizeof(dir));
}

static void teardown(void)
{
	fx_rmtree(dir);
}

static ipam_store *open_store(const ipam_file_store_scope *scope, uint64_t compact)
{
	ipam_store *st = NULL;
	ipam_file_store_options o;
	ipam_file_store_options_init(&o);
	o.durability = IPAM_DURABILITY_NONE;
	o.compact_bytes = compact;
	o.scope = scope;
	ck_assert_msg(ipam_store_file_new(&st, dir, &o) == 0, "%s", ipam_last_error_message());
	return st;
}

/* Seconds of the pools' (soft) reuse quarantine, 0: none; every handle of a
 * test must use the same. */
static uint32_t quarantine_s;

/* Add the set (v4: 10.40.0.1-10.40.0.60, 60 addresses; v6: 60 as well);
 * returns what ipam_ctx_add_poolset() did. */
static int try_add_set(ipam_ctx *ctx)
{
	ipam_poolset *set = NULL;
	ipam_pool *p4 = fx_pool("v4", "10.40.0.0/24", "10.40.0.1-10.40.0.60", NULL);
	ipam_pool *p6 = fx_pool("v6", "fd00:40::/64", "fd00:40::1-fd00:40::3c", NULL);
	int r;
	ck_assert_int_eq(ipam_pool_set_quarantine(p4, quarantine_s, 0, 0), 0);
	ck_assert_int_eq(ipam_pool_set_quarantine(p6, quarantine_s, 0, 0), 0);
	ck_assert_int_eq(ipam_poolset_new(&set, "net"), 0);
	ck_assert_int_eq(ipam_poolset_add(set, p4), 0);
	ck_assert_int_eq(ipam_poolset_add(set, p6), 0);
	r = ipam_ctx_add_poolset(ctx, set);
	if (r < 0)
		ipam_poolset_free(set);
	return r;
}

static ipam_ctx *open_ctx(ipam_store *st)
{
	ipam_ctx *ctx = fx_ctx(st, 0);
	ck_assert_msg(try_add_set(ctx) == 0, "%s", ipam_last_error_message());
	return ctx;
}

static int alloc(ipam_ctx *ctx, const char *owner, const char *att, ipam_lease out[2])
{
	ipam_request r = fx_req("net", owner, att);
	unsigned n = 2;
	return ipam_allocate(ctx, &r, out, &n);
}

static int count_cb(void *ud, const ipam_lease *l)
{
	(void)l;
	(*(unsigned *)ud)++;
	return 0;
}

/* Leases held by an owner (bound, suspect or reserved: not quarantined)
 * in the store, by a whole handle (which also verifies). */
static unsigned whole_count(void)
{
	ipam_store *st = open_store(NULL, 0);
	ipam_ctx *ctx = open_ctx(st);
	ipam_lease_filter held = { NULL, NULL, NULL,
				   (1u << IPAM_LEASE_BOUND) | (1u << IPAM_LEASE_SUSPECT) |
					   (1u << IPAM_LEASE_RESERVED),
				   0 };
	unsigned n = 0;
	ck_assert_msg(ipam_verify(ctx, "net") == 0, "%s", ipam_last_error_message());
	ck_assert_int_eq(ipam_foreach_lease(ctx, "net", &held, count_cb, &n), 0);
	ipam_ctx_free(ctx);
	ipam_store_free(st);
	return n;
}

/* n pods ns/o0.. with containers c0.., then a compaction: leases in a
 * snapshot. */
static void seed_pods(int n)
{
	char owner[32], att[32];
	ipam_lease l[2];
	ipam_store *st = open_store(NULL, 0);
	ipam_ctx *ctx = open_ctx(st);
	for (int i = 0; i < n; i++) {
		snprintf(owner, sizeof(owner), "ns/o%d", i);
		snprintf(att, sizeof(att), "c%d", i);
		ck_assert_int_eq(alloc(ctx, owner, att, l), 0);
	}
	ck_assert_int_eq(ipam_store_file_compact(st, "net"), 0);
	ipam_ctx_free(ctx);
	ipam_store_free(st);
}

static int no_oracle(void *ud, const ipam_lease *l, int64_t now)
{
	(void)ud;
	(void)l;
	(void)now;
	return IPAM_GC_ALIVE;
}

START_TEST(answers_or_refuses)
{
	char owner[32], att[32], buf[IPAM_ADDR_STRLEN];
	ipam_lease l[2], o7[2], o11[2], o12[2], got[4];
	ipam_pool_stats before, after;
	unsigned n;

	/* 40 pods, one released, one reserved address; a snapshot, then more
	 * commits in the log. */
	ipam_store *st = open_store(NULL, 0);
	ipam_ctx *ctx = open_ctx(st);
	for (int i = 0; i < 40; i++) {
		snprintf(owner, sizeof(owner), "ns/o%d", i);
		snprintf(att, sizeof(att), "c%d", i);
		ck_assert_int_eq(alloc(ctx, owner, att, i == 7 ? o7 : i == 11 ? o11 : i == 12 ? o12 : l), 0);
	}
	ck_assert_int_eq(ipam_release_attachment(ctx, "net", "c5", 0), 2);
	ipam_addr reserved = fx_addr("10.40.0.59");
	ck_assert_int_eq(ipam_reserve(ctx, "net", &reserved, "router"), 0);
	ck_assert_int_eq(ipam_store_file_compact(st, "net"), 0);
	ck_assert_int_eq(alloc(ctx, "ns/o40", "c40", l), 0);
	ck_assert_int_eq(ipam_pool_stats_get(ctx, "net", "v4", &before), 0);
	ipam_ctx_free(ctx);
	ipam_store_free(st);

	ipam_addr in_scope[1] = { o11[0].addr };
	ipam_file_store_scope sc = { "ns/o7", "c9", in_scope, 1 };
	st = open_store(&sc, 0);
	ctx = open_ctx(st);
	/* The scope's own keys, and what is always loaded. */
	n = 4;
	ck_assert_int_eq(ipam_lookup_owner(ctx, "net", "ns/o7", NULL, got, &n), 0);
	ck_assert_uint_eq(n, 2);
	n = 4;
	ck_assert_int_eq(ipam_lookup_attachment(ctx, "net", "c9", got, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(ipam_lookup_addr(ctx, "net", &o11[0].addr, got), 0);
	ck_assert_str_eq(got[0].owner, "ns/o11");
	ck_assert_int_eq(ipam_lookup_addr(ctx, "net", &reserved, got), 0);
	ck_assert_int_eq(got[0].state, IPAM_LEASE_RESERVED);
	ipam_addr free_addr = fx_addr("10.40.0.50");
	ck_assert_int_eq(ipam_lookup_addr(ctx, "net", &free_addr, got), -ENOENT);
	/* Statistics come from the index: exact. */
	ck_assert_int_eq(ipam_pool_stats_get(ctx, "net", "v4", &after), 0);
	ck_assert_uint_eq(after.used.lo, before.used.lo);
	ck_assert_uint_eq(after.reserved, before.reserved);
	ck_assert_uint_eq(after.free.lo, before.free.lo);
	/* Outside the scope: refused, not answered from part of the state. */
	n = 4;
	ck_assert_int_eq(ipam_lookup_owner(ctx, "net", "ns/o8", NULL, got, &n), -ENOTSUP);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_nonnull(strstr(ipam_last_error_message(), "scope"));
	n = 4;
	ck_assert_int_eq(ipam_lookup_attachment(ctx, "net", "c8", got, &n), -ENOTSUP);
	ck_assert_int_eq(ipam_lookup_addr(ctx, "net", &o12[0].addr, got), -ENOTSUP);
	ck_assert_int_eq(ipam_foreach_lease(ctx, "net", NULL, count_cb, &n), -ENOTSUP);
	ck_assert_int_eq(ipam_verify(ctx, "net"), -ENOTSUP);
	ipam_gc_oracle oracle = { IPAM_GC_ORACLE_VERSION, "alive", NULL, no_oracle, NULL, NULL, NULL };
	ck_assert_int_eq(ipam_gc(ctx, "net", &oracle, NULL, NULL), -ENOTSUP);
	ck_assert_int_eq(alloc(ctx, "ns/o8", "c8", l), -ENOTSUP);
	ck_assert_int_eq(ipam_release_attachment(ctx, "net", "c8", 0), -ENOTSUP);
	ck_assert_int_eq(ipam_release_owner(ctx, "net", "ns/o8", NULL), -ENOTSUP);
	ck_assert_int_eq(ipam_release_addr(ctx, "net", &o12[0].addr, 0), -ENOTSUP);
	/* Inside: as on a whole store. An ADD again is idempotent. */
	ck_assert_int_eq(alloc(ctx, "ns/o7", "c7", l), 0);
	ck_assert_int_eq(ipam_addr_cmp(&l[0].addr, &o7[0].addr), 0);
	ck_assert_int_eq(ipam_addr_cmp(&l[1].addr, &o7[1].addr), 0);
	ck_assert_int_eq(ipam_renew(ctx, "net", "ns/o7", NULL, 60), 2);
	ck_assert_int_eq(ipam_release_attachment(ctx, "net", "c9", 0), 2);
	ipam_ctx_free(ctx);
	ipam_store_free(st);

	/* A new pod asking for exact addresses. */
	ipam_addr asks[2] = { o11[0].addr, free_addr };
	ipam_file_store_scope sn = { "ns/new", "cnew", asks, 2 };
	st = open_store(&sn, 0);
	ctx = open_ctx(st);
	ipam_request r = fx_req("net", "ns/new", "cnew");
	const char *pools[1] = { "v4" };
	r.pools = pools;
	r.npools = 1;
	r.nexact = 1;
	r.exact = &o12[0].addr; /* held, and not in the scope */
	n = 2;
	ck_assert_int_eq(ipam_allocate(ctx, &r, l, &n), -ENOTSUP);
	r.exact = &o11[0].addr; /* held, in the scope: who holds it is known */
	n = 2;
	ck_assert_int_eq(ipam_allocate(ctx, &r, l, &n), -EEXIST);
	ck_assert_ptr_nonnull(strstr(ipam_last_error_message(), "ns/o11"));
	r.exact = &free_addr;
	n = 2;
	ck_assert_int_eq(ipam_allocate(ctx, &r, l, &n), 0);
	ck_assert_str_eq(fx_fmt(&l[0].addr, buf), "10.40.0.50");
	ipam_ctx_free(ctx);
	ipam_store_free(st);

	/* 41 pods - c5 - c9 + ns/new (v4 only) + the reservation. */
	ck_assert_uint_eq(whole_count(), 39 * 2 + 1 + 1);
}
END_TEST

/* ---- a decision overtaken between decide and commit ----------------------------- */

/* Wraps a scoped file store: before the first commit, another handle takes
 * the address the change set is about to take, and compacts, so that the
 * scoped handle reloads and finds that address held by a lease it does not
 * load. Then, before the retry's refresh, a third owner commits: the
 * refresh replays a commit of an owner outside the scope. */
struct race {
	ipam_store base;
	ipam_store *inner;
	int fired, fired_refresh;
};

static void race_destroy(ipam_store *st)
{
	struct race *x = (struct race *)st;
	ipam_store_free(x->inner);
	free(x);
}

static int race_attach(ipam_store *st, const ipam_poolset *set, ipam_view **view)
{
	struct race *x = (struct race *)st;
	return x->inner->ops->attach(x->inner, set, view);
}

static int race_refresh(ipam_store *st, ipam_view *view)
{
	struct race *x = (struct race *)st;
	if (x->fired && !x->fired_refresh) {
		ipam_store *ost = open_store(NULL, 0);
		ipam_ctx *octx = open_ctx(ost);
		ipam_lease l[2];
		x->fired_refresh = 1;
		ck_assert_int_eq(alloc(octx, "ns/other", "cy", l), 0);
		ipam_ctx_free(octx);
		ipam_store_free(ost);
	}
	return x->inner->ops->refresh(x->inner, view);
}

static void race_detach(ipam_store *st, ipam_view *view)
{
	struct race *x = (struct race *)st;
	x->inner->ops->detach(x->inner, view);
}

static int race_commit(ipam_store *st, ipam_view *v, const ipam_txn *txn, uint64_t *rev)
{
	struct race *x = (struct race *)st;
	if (!x->fired && txn->nops > 0 && txn->ops[0].kind == IPAM_OP_PUT) {
		ipam_store *ost = open_store(NULL, 0);
		ipam_ctx *octx = open_ctx(ost);
		ipam_request r = fx_req("net", "ns/intruder", "cx");
		const char *pools[1] = { ipam_pool_name(ipam_poolset_pool(ipam_view_poolset(v), txn->ops[0].pool)) };
		ipam_lease l[1];
		unsigned n = 1;
		x->fired = 1;
		r.pools = pools;
		r.npools = 1;
		r.exact = &txn->ops[0].lease.addr;
		r.nexact = 1;
		ck_assert_msg(ipam_allocate(octx, &r, l, &n) == 0, "%s", ipam_last_error_message());
		ck_assert_int_eq(ipam_store_file_compact(ost, "net"), 0);
		ipam_ctx_free(octx);
		ipam_store_free(ost);
	}
	return x->inner->ops->commit(x->inner, v, txn, rev);
}

static const ipam_store_ops race_ops = {
	.version = IPAM_STORE_VERSION,
	.name = "race",
	.destroy = race_destroy,
	.attach = race_attach,
	.refresh = race_refresh,
	.commit = race_commit,
	.detach = race_detach,
};

START_TEST(overtaken_decision)
{
	ipam_lease mine[2], theirs[1];
	ipam_ctx_stats s;
	unsigned n = 1;

	seed_pods(20);
	ipam_store *st;
	ipam_ctx *ctx;

	ipam_file_store_scope sc = { "ns/me", "cme", NULL, 0 };
	struct race *x = calloc(1, sizeof(*x));
	x->base.ops = &race_ops;
	x->inner = open_store(&sc, 0);
	ctx = open_ctx(&x->base);
	ck_assert_msg(alloc(ctx, "ns/me", "cme", mine) == 0, "%s", ipam_last_error_message());
	ck_assert_int_eq(x->fired, 1);
	ck_assert_int_eq(x->fired_refresh, 1);
	ipam_ctx_stats_get(ctx, &s);
	ck_assert_uint_ge(s.conflicts, 1);
	ipam_ctx_free(ctx);
	ipam_store_free(&x->base);

	st = open_store(NULL, 0);
	ctx = open_ctx(st);
	ck_assert_int_eq(ipam_lookup_owner(ctx, "net", "ns/intruder", NULL, theirs, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_ne(ipam_addr_cmp(&theirs[0].addr, &mine[0].addr), 0);
	ck_assert_int_ne(ipam_addr_cmp(&theirs[0].addr, &mine[1].addr), 0);
	ipam_ctx_free(ctx);
	ipam_store_free(st);
	ck_assert_uint_eq(whole_count(), 20 * 2 + 2 + 1 + 2);
}
END_TEST

/* ---- compaction from a scoped handle --------------------------------------------- */

START_TEST(compaction_writes_everything)
{
	ipam_lease l[2];

	seed_pods(30);
	ipam_store *st;
	ipam_ctx *ctx;
	/* Compact after every commit: each one from a scoped handle. */
	for (int round = 0; round < 3; round++) {
		ipam_file_store_scope sc = { "ns/s", "cs", NULL, 0 };
		st = open_store(&sc, 1);
		ctx = open_ctx(st);
		ck_assert_int_eq(alloc(ctx, "ns/s", "cs", l), 0);
		ck_assert_int_eq(ipam_release_attachment(ctx, "net", "cs", 0), 2);
		ck_assert_int_eq(alloc(ctx, "ns/s", "cs", l), 0);
		ipam_ctx_free(ctx);
		ipam_store_free(st);
		ck_assert_uint_eq(whole_count(), 31 * 2);
		/* and the explicit compaction */
		st = open_store(&sc, 0);
		ctx = open_ctx(st);
		ck_assert_int_eq(ipam_release_attachment(ctx, "net", "cs", 0), 2);
		ck_assert_int_eq(ipam_store_file_compact(st, "net"), 0);
		ipam_ctx_free(ctx);
		ipam_store_free(st);
		ck_assert_uint_eq(whole_count(), 30 * 2);
	}
}
END_TEST

/* A control byte in one lease's owner, with the record's checksum made
 * right again (a hostile writer, not damage): a whole open refuses the
 * store; a scoped open refuses it only if it loads that lease. */
START_TEST(text_checked_when_loaded)
{
	char path[300];
	ipam_lease l[2];
	ipam_store *st = open_store(NULL, 0);
	ipam_ctx *ctx = open_ctx(st);
	ck_assert_int_eq(alloc(ctx, "ns/a", "c1", l), 0);
	ck_assert_int_eq(alloc(ctx, "ns/b", "c2", l), 0);
	ck_assert_int_eq(ipam_store_file_compact(st, "net"), 0);
	ipam_ctx_free(ctx);
	ipam_store_free(st);

	snprintf(path, sizeof(path), "%s/net.snap", dir);
	int fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	off_t size = lseek(fd, 0, SEEK_END);
	uint8_t *img = malloc((size_t)size);
	ck_assert_int_eq(pread(fd, img, (size_t)size, 0), size);
	int patched = 0;
	for (size_t off = 32; off + 12 <= (size_t)size;) {
		uint32_t len = (uint32_t)img[off] | (uint32_t)img[off + 1] << 8 |
			       (uint32_t)img[off + 2] << 16 | (uint32_t)img[off + 3] << 24;
		uint8_t *rec = img + off;
		for (size_t i = 8; i + 4 <= len + 4; i++) {
			if (memcmp(rec + i, "ns/b", 4) == 0) {
				rec[i + 2] = 0x01;
				uint64_t sum = ipam__hash(rec, len + 4, 0);
				for (int k = 0; k < 8; k++)
					rec[len + 4 + k] = (uint8_t)(sum >> (8 * k));
				patched++;
			}
		}
		off += len + 12;
	}
	ck_assert_int_eq(patched, 2); /* its v4 and v6 leases */
	ck_assert_int_eq(pwrite(fd, img, (size_t)size, 0), size);
	close(fd);
	free(img);

	st = open_store(NULL, 0);
	ctx = fx_ctx(st, 0);
	ck_assert_int_eq(try_add_set(ctx), -EBADMSG);
	ipam_ctx_free(ctx);
	ipam_store_free(st);
	/* Scoped to ns/a: the bad lease is only an address. */
	ipam_file_store_scope sa = { "ns/a", "c1", NULL, 0 };
	st = open_store(&sa, 0);
	ctx = open_ctx(st);
	ck_assert_int_eq(alloc(ctx, "ns/a", "c1", l), 0);
	ipam_ctx_free(ctx);
	ipam_store_free(st);
	/* Scoped to its container: loaded, so checked. */
	ipam_file_store_scope sb = { NULL, "c2", NULL, 0 };
	st = open_store(&sb, 0);
	ctx = fx_ctx(st, 0);
	ck_assert_int_eq(try_add_set(ctx), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(ipam_last_error_message(), "control byte"));
	ipam_ctx_free(ctx);
	ipam_store_free(st);
}
END_TEST

START_TEST(bad_scopes)
{
	ipam_store *st = NULL;
	ipam_file_store_options o;
	char big[IPAM_OWNER_MAX + 2];
	ipam_addr bad = { 0, 0, 0 };
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	ipam_file_store_options_init(&o);
	ipam_file_store_scope sc = { big, NULL, NULL, 0 };
	o.scope = &sc;
	ck_assert_int_eq(ipam_store_file_new(&st, dir, &o), -EINVAL);
	sc.owner = "";
	ck_assert_int_eq(ipam_store_file_new(&st, dir, &o), -EINVAL);
	sc.owner = "ns/a";
	sc.naddrs = 1;
	ck_assert_int_eq(ipam_store_file_new(&st, dir, &o), -EINVAL); /* addrs NULL */
	sc.addrs = &bad;
	ck_assert_int_eq(ipam_store_file_new(&st, dir, &o), -EINVAL);
	sc.naddrs = IPAM_FILE_SCOPE_ADDRS_MAX + 1;
	ck_assert_int_eq(ipam_store_file_new(&st, dir, &o), -EINVAL);
	ck_assert_ptr_null(st);
}
END_TEST

/* ---- randomized, against a model -------------------------------------------------- */

#define NPODS 70 /* more than the pools hold: exhaustion happens */

struct pod {
	int held;       /* has a lease (both families) */
	unsigned gen;   /* attachment generation: cid<pod>-<gen> */
	ipam_addr a[2]; /* its addresses */
};

static struct pod pods[NPODS];

static void pod_att(int p, unsigned gen, char *buf, size_t size)
{
	snprintf(buf, size, "cid%d-%u", p, gen);
}

struct seen {
	unsigned n;
	int bad;
	char why[600];
};

static int check_cb(void *ud, const ipam_lease *l)
{
	struct seen *s = ud;
	int p = -1, fam = l->addr.family == IPAM_AF_INET ? 0 : 1;
	char att[32];
	s->n++;
	if (sscanf(l->owner, "ns/p%d", &p) != 1 || p < 0 || p >= NPODS) {
		snprintf(s->why, sizeof(s->why), "unknown owner %s", l->owner);
		s->bad = 1;
		return 0;
	}
	pod_att(p, pods[p].gen, att, sizeof(att));
	if (!pods[p].held || ipam_addr_cmp(&pods[p].a[fam], &l->addr) != 0 ||
	    strcmp(l->attachment, att) != 0) {
		snprintf(s->why, sizeof(s->why), "lease of %s (%s) not as the model has it", l->owner,
			 l->attachment);
		s->bad = 1;
	}
	return 0;
}

static void check_model(ipam_ctx *whole)
{
	struct seen s = { 0, 0, "" };
	ipam_lease_filter bound = { NULL, NULL, NULL,
				    (1u << IPAM_LEASE_BOUND) | (1u << IPAM_LEASE_SUSPECT), 0 };
	unsigned held = 0;
	ck_assert_msg(ipam_verify(whole, "net") == 0, "%s", ipam_last_error_message());
	ck_assert_int_eq(ipam_foreach_lease(whole, "net", &bound, check_cb, &s), 0);
	ck_assert_msg(!s.bad, "%s", s.why);
	for (int p = 0; p < NPODS; p++)
		held += pods[p].held ? 2 : 0;
	ck_assert_uint_eq(s.n, held);
}

static void random_run(const char *what)
{
	uint64_t seed = tu_seed(what), rng = seed;
	long steps = tu_scale(600);
	char owner[32], att[32];
	ipam_store *wst = open_store(NULL, 0);
	ipam_ctx *whole = open_ctx(wst);
	unsigned npods_held = 0;

	memset(pods, 0, sizeof(pods));
	for (long i = 0; i < steps; i++) {
		int p = (int)(tu_splitmix(&rng) % NPODS), kind = (int)(tu_splitmix(&rng) % 10);
		uint64_t compact = tu_splitmix(&rng) % 4 == 0 ? 1 + tu_splitmix(&rng) % 3000 : 0;
		int via_whole = tu_splitmix(&rng) % 8 == 0;
		ipam_lease l[2];
		unsigned gen = pods[p].gen;
		int r;

		snprintf(owner, sizeof(owner), "ns/p%d", p);
		if (kind < 5) { /* ADD; sometimes a new sandbox (rebind) */
			if (pods[p].held && kind == 4)
				gen++;
			pod_att(p, gen, att, sizeof(att));
			ipam_file_store_scope sc = { owner, att, NULL, 0 };
			ipam_store *st = via_whole ? NULL : open_store(&sc, compact);
			ipam_ctx *ctx = via_whole ? whole : open_ctx(st);
			r = alloc(ctx, owner, att, l);
			if (pods[p].held) {
				ck_assert_msg(r == 0, "step %ld: ADD again: %s", i, ipam_last_error_message());
				ck_assert_int_eq(ipam_addr_cmp(&l[0].addr, &pods[p].a[0]), 0);
				ck_assert_int_eq(ipam_addr_cmp(&l[1].addr, &pods[p].a[1]), 0);
				pods[p].gen = gen;
			} else if (npods_held == 60) {
				ck_assert_msg(r == -ENOSPC, "step %ld: ADD to a full pool gave %d", i, r);
			} else {
				ck_assert_msg(r == 0, "step %ld: ADD: %s", i, ipam_last_error_message());
				pods[p].held = 1;
				pods[p].a[0] = l[0].addr;
				pods[p].a[1] = l[1].addr;
				npods_held++;
			}
			if (!via_whole) {
				ipam_ctx_free(ctx);
				ipam_store_free(st);
			}
		} else { /* DEL of the current sandbox, or a stale one */
			int stale = kind == 9 && gen > 0;
			pod_att(p, stale ? gen - 1 : gen, att, sizeof(att));
			ipam_file_store_scope sc = { NULL, att, NULL, 0 };
			ipam_store *st = via_whole ? NULL : open_store(&sc, compact);
			ipam_ctx *ctx = via_whole ? whole : open_ctx(st);
			r = ipam_release_attachment(ctx, "net", att, 0);
			ck_assert_msg(r == (pods[p].held && !stale ? 2 : 0), "step %ld: DEL %s gave %d",
				      i, att, r);
			if (r == 2) {
				pods[p].held = 0;
				npods_held--;
			}
			if (!via_whole) {
				ipam_ctx_free(ctx);
				ipam_store_free(st);
			}
		}
		if (i % 25 == 24 || i == steps - 1)
			check_model(whole);
	}
	ipam_ctx_free(whole);
	ipam_store_free(wst);
	ck_assert_uint_eq(whole_count(), npods_held * 2);
}

START_TEST(random_against_model)
{
	quarantine_s = 0;
	random_run("file-scope random_against_model");
}
END_TEST

/* The same with ipam-cni's default: a soft 60 s reuse quarantine (the clock
 * stands still), so releases leave quarantined records, which a scoped
 * handle loads, and addresses come back to their owner or when nothing
 * else is free. */
START_TEST(random_against_model_quarantine)
{
	quarantine_s = 60;
	random_run("file-scope random_against_model_quarantine");
	quarantine_s = 0;
}
END_TEST

int main(void)
{
	Suite *s = suite_create("file-scope");
	TCase *tc = tcase_create("scope");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, answers_or_refuses);
	tcase_add_test(tc, overtaken_decision);
	tcase_add_test(tc, compaction_writes_everything);
	tcase_add_test(tc, bad_scopes);
	tcase_add_test(tc, text_checked_when_loaded);
	tcase_add_test(tc, random_against_model);
	tcase_add_test(tc, random_against_model_quarantine);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
