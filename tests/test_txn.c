/* SPDX-License-Identifier: MIT */
/*
 * The commit path under a spy store that wraps the memory store and fails
 * or conflicts on demand at each step of a commit (before the check, after
 * the check, instead of the apply), plus an out-of-memory sweep through a
 * whole allocate/rebind/release cycle. Every failure must leave the state
 * exactly as it was; conflicts must be retried with backoff up to the bound
 * and then reported as "try again later". Then candidate claims: what a
 * decider does when other deciders of the context have claimed candidates
 * for commits in flight (simulated here by claims that are never committed).
 * And the decision stamp: a change set decided on the state the view still
 * has skips its precondition lookups; one overtaken by another commit (the
 * spy slips one in between decision and check) must not.
 */
#include <stddef.h>
#include <stdlib.h>

#include <ipam/gc.h>

#include "ctx_fixture.h"
#include "ctx_internal.h"
#include "lease_eq.h"

enum spy_step { SPY_NONE, SPY_BEFORE_CHECK, SPY_AFTER_CHECK, SPY_CONFLICT };

struct spy {
	ipam_store base;
	ipam_store *inner;
	enum spy_step fail_at;
	int fail_code;   /* returned at fail_at */
	int fail_records; /* record it (ipam_error_set): a backend that did not answer */
	int fail_times;  /* how many commits fail; -1: all */
	int commits_tried, commits_done;
	ipam_view *view;
	/* Run once, lock held, before the next check: another writer's commit
	 * landing between this decision and its commit. */
	void (*interpose)(ipam_view *v, const ipam_txn *txn);
};

static void spy_destroy(ipam_store *st)
{
	struct spy *s = (struct spy *)st;
	ipam_store_free(s->inner);
	free(s);
}

static int spy_attach(ipam_store *st, const ipam_poolset *set, ipam_view **view)
{
	struct spy *s = (struct spy *)st;
	int r = s->inner->ops->attach(s->inner, set, view);
	if (r == 0)
		s->view = *view;
	return r;
}

static void spy_detach(ipam_store *st, ipam_view *view)
{
	struct spy *s = (struct spy *)st;
	s->inner->ops->detach(s->inner, view);
}

/* The same steps as ipam_view_commit(), with a fault injected. */
static int spy_commit(ipam_store *st, ipam_view *v, const ipam_txn *txn, uint64_t *rev)
{
	struct spy *s = (struct spy *)st;
	int fail = s->fail_times != 0, r;

	s->commits_tried++;
	if (fail && s->fail_times > 0)
		s->fail_times--;
	ipam_view_lock(v);
	if (fail && s->fail_at == SPY_BEFORE_CHECK) {
		ipam_view_unlock(v);
		if (s->fail_records)
			return ipam_error_set(s->fail_code, "spy", NULL, "backend did not answer");
		return s->fail_code;
	}
	if (s->interpose) {
		s->interpose(v, txn);
		s->interpose = NULL;
	}
	r = ipam_view_check(v, txn);
	if (r == 0 && fail && s->fail_at == SPY_CONFLICT)
		r = -EAGAIN;
	if (r == 0 && fail && s->fail_at == SPY_AFTER_CHECK)
		r = s->fail_code;
	if (r == 0)
		r = ipam_view_apply(v, txn, ipam_view_revision(v) + 1);
	if (r == 0) {
		*rev = ipam_view_revision(v);
		s->commits_done++;
	}
	ipam_view_unlock(v);
	return r;
}

static const ipam_store_ops spy_ops = {
	.version = IPAM_STORE_VERSION,
	.name = "spy",
	.destroy = spy_destroy,
	.attach = spy_attach,
	.refresh = NULL,
	.commit = spy_commit,
	.detach = spy_detach,
};

static struct spy *spy;
static ipam_ctx *ctx;

static void setup(void)
{
	spy = calloc(1, sizeof(*spy));
	spy->base.ops = &spy_ops;
	ck_assert_int_eq(ipam_store_memory_new(&spy->inner), 0);
	ctx = fx_ctx(&spy->base, 0);
	fx_add_set(ctx, "net", fx_pool("v4", "10.0.0.0/29", NULL, NULL),
		   fx_pool("v6", "fd00::/125", NULL, NULL), NULL);
}

static void teardown(void)
{
	ck_assert_int_eq(ipam_verify(ctx, "net"), 0);
	ipam_ctx_free(ctx);
	ipam_store_free(&spy->base);
}

static int alloc(const char *owner, const char *att)
{
	ipam_lease out[2];
	ipam_request r = fx_req("net", owner, att);
	unsigned n = 2;
	return ipam_allocate(ctx, &r, out, &n);
}

static int dead_judge(void *ud, const ipam_lease *l, int64_t now)
{
	(void)ud;
	(void)l;
	(void)now;
	return IPAM_GC_DEAD;
}

START_TEST(conflict_then_success)
{
	ipam_ctx_stats s;
	spy->fail_at = SPY_CONFLICT;
	spy->fail_times = 3;
	ck_assert_int_eq(alloc("ns/a", "c1"), 0);
	ck_assert_int_eq(spy->commits_tried, 4);
	ipam_ctx_stats_get(ctx, &s);
	ck_assert_uint_eq(s.conflicts, 3);
	ck_assert_uint_eq(s.retries, 3);
	ck_assert_uint_eq(s.commits, 1);
	ck_assert_uint_eq(fx_used(ctx, "net", "v4"), 1);
}
END_TEST

START_TEST(conflict_forever_gives_up)
{
	ipam_ctx_stats s;
	spy->fail_at = SPY_CONFLICT;
	spy->fail_times = -1;
	ck_assert_int_eq(alloc("ns/a", "c1"), -EAGAIN);
	ck_assert_ptr_nonnull(strstr(ipam_last_error_message(), "try again later"));
	ck_assert_int_eq(spy->commits_tried, 16); /* the default bound */
	ipam_ctx_stats_get(ctx, &s);
	ck_assert_uint_eq(s.gave_up, 1);
	ck_assert_uint_eq(fx_used(ctx, "net", "v4"), 0);
	ck_assert_uint_eq(fx_used(ctx, "net", "v6"), 0);
	/* Releases give up the same way and leave the lease. */
	spy->fail_times = 0;
	ck_assert_int_eq(alloc("ns/a", "c1"), 0);
	spy->fail_times = -1;
	ck_assert_int_eq(ipam_release_attachment(ctx, "net", "c1", 0), -EAGAIN);
	ck_assert_uint_eq(fx_used(ctx, "net", "v4"), 1);
}
END_TEST

/* Another owner takes the address the change set is about to take. */
static char taken_by_other[64];

static void take_first_address(ipam_view *v, const ipam_txn *txn)
{
	ipam_op op;
	ipam_txn t;
	memset(&op, 0, sizeof(op));
	op.kind = IPAM_OP_PUT;
	op.pool = txn->ops[0].pool;
	op.lease = txn->ops[0].lease;
	snprintf(op.lease.owner, sizeof(op.lease.owner), "ns/intruder");
	snprintf(op.lease.attachment, sizeof(op.lease.attachment), "c-intruder");
	ipam_addr_format(&op.lease.addr, taken_by_other, sizeof(taken_by_other));
	memset(&t, 0, sizeof(t));
	t.ops = &op;
	t.nops = 1;
	ck_assert_uint_eq(txn->decided_at, ipam_view_stamp(v)); /* decided on this state */
	ck_assert_int_eq(ipam_view_apply(v, &t, ipam_view_revision(v) + 1), 0);
	ck_assert_uint_ne(txn->decided_at, ipam_view_stamp(v));
}

START_TEST(decision_stamp)
{
	ipam_ctx_stats s;
	ipam_lease out[2];
	char got[64];
	uint64_t st0 = ipam_view_stamp(spy->view);

	ck_assert_uint_ne(st0, 0);
	ck_assert_int_eq(alloc("ns/a", "c1"), 0);
	ck_assert_uint_ne(ipam_view_stamp(spy->view), st0);
	/* A commit overtaken between decision and check is checked, found
	 * stale and decided again: the lease is not put over the other's. */
	spy->interpose = take_first_address;
	ipam_request r = fx_req("net", "ns/b", "c2");
	unsigned n = 2;
	ck_assert_int_eq(ipam_allocate(ctx, &r, out, &n), 0);
	ipam_addr_format(&out[0].addr, got, sizeof(got));
	ck_assert_str_ne(got, taken_by_other);
	ipam_ctx_stats_get(ctx, &s);
	ck_assert_uint_eq(s.conflicts, 1);
	ck_assert_uint_eq(fx_used(ctx, "net", "v4"), 3);
	/* By hand: a false precondition is reported unless the change set
	 * says it was decided on this very state (then it is the decider's
	 * word: see ipam_txn.decided_at). */
	ipam_cond c = { .kind = IPAM_COND_ADDR, .pool = 0, .addr = out[0].addr, .generation = 0 };
	ipam_txn t;
	memset(&t, 0, sizeof(t));
	t.conds = &c;
	t.nconds = 1;
	ipam_view_lock(spy->view);
	ck_assert_int_eq(ipam_view_check(spy->view, &t), -EAGAIN);
	t.decided_at = st0; /* an older state */
	ck_assert_int_eq(ipam_view_check(spy->view, &t), -EAGAIN);
	t.decided_at = ipam_view_stamp(spy->view);
	ck_assert_int_eq(ipam_view_check(spy->view, &t), 0);
	ipam_view_unlock(spy->view);
}
END_TEST

/* A store's own -EAGAIN (its backend did not answer, recorded) is not a
 * conflict: returned after one attempt, its message kept; a GC pass stops
 * on it instead of counting every lease as changed while judged. */
START_TEST(store_again_not_a_conflict)
{
	ipam_ctx_stats s;
	spy->fail_at = SPY_BEFORE_CHECK;
	spy->fail_code = -EAGAIN;
	spy->fail_records = 1;
	spy->fail_times = -1;
	ck_assert_int_eq(alloc("ns/a", "c1"), -EAGAIN);
	ck_assert_int_eq(spy->commits_tried, 1);
	ck_assert_ptr_nonnull(strstr(ipam_last_error_message(), "did not answer"));
	ipam_ctx_stats_get(ctx, &s);
	ck_assert_uint_eq(s.conflicts, 0);
	ck_assert_uint_eq(s.gave_up, 0);
	ck_assert_uint_eq(fx_used(ctx, "net", "v4"), 0);
	spy->fail_times = 0;
	ck_assert_int_eq(alloc("ns/a", "c1"), 0);
	ck_assert_int_eq(alloc("ns/b", "c2"), 0);
	spy->fail_times = -1;
	spy->commits_tried = 0;
	ipam_gc_oracle o = { IPAM_GC_ORACLE_VERSION, "dead", NULL, dead_judge, NULL, NULL, NULL };
	ipam_gc_policy p;
	ipam_gc_report *rep = NULL;
	ipam_gc_policy_init(&p);
	p.min_age = 0;
	p.two_observations = 0;
	ck_assert_int_eq(ipam_gc(ctx, "net", &o, &p, &rep), -EAGAIN);
	ck_assert_ptr_nonnull(rep);
	ck_assert_int_eq(rep->stopped, 1);
	ck_assert_int_eq(rep->status, -EAGAIN);
	ck_assert_uint_eq(rep->counts[IPAM_GC_CONFLICT], 0);
	ck_assert_int_eq(spy->commits_tried, 1);
	ipam_gc_report_free(rep);
	ck_assert_uint_eq(fx_used(ctx, "net", "v4"), 2);
}
END_TEST

START_TEST(io_error_at_each_step)
{
	static const enum spy_step steps[] = { SPY_BEFORE_CHECK, SPY_AFTER_CHECK };
	for (unsigned i = 0; i < 2; i++) {
		spy->fail_at = steps[i];
		spy->fail_code = -EIO;
		spy->fail_times = 1;
		ipam_error_set(-E2BIG, "mark", NULL, "an earlier failure");
		ck_assert_int_eq(alloc("ns/a", "c1"), -EIO);
		/* The store recorded nothing: the library records its code, so
		 * the record never shows an earlier failure. */
		ck_assert_int_eq(ipam_last_error(NULL), -EIO);
		ck_assert_uint_eq(fx_used(ctx, "net", "v4"), 0);
		ck_assert_uint_eq(fx_used(ctx, "net", "v6"), 0);
		ck_assert_int_eq(alloc("ns/a", "c1"), 0); /* works again after */
		spy->fail_times = 1;
		ck_assert_int_eq(alloc("ns/a", "c2"), -EIO); /* a failed rebind */
		ipam_lease l[2];
		unsigned n = 2;
		ck_assert_int_eq(ipam_lookup_owner(ctx, "net", "ns/a", NULL, l, &n), 0);
		ck_assert_uint_eq(n, 2);
		ck_assert_str_eq(l[0].attachment, "c1");
		spy->fail_times = 1;
		ck_assert_int_eq(ipam_release_attachment(ctx, "net", "c1", 0), -EIO);
		ck_assert_uint_eq(fx_used(ctx, "net", "v4"), 1);
		ck_assert_int_eq(ipam_release_attachment(ctx, "net", "c1", 0), 2);
	}
}
END_TEST

/* A store whose table is from the future, or that lacks methods. */
START_TEST(store_table_checked)
{
	static const ipam_store_ops empty = { .version = IPAM_STORE_VERSION, .name = "empty" };
	static const ipam_store_ops future = { .version = IPAM_STORE_VERSION + 1, .name = "future" };
	ipam_store s1 = { &empty, NULL }, s2 = { &future, NULL };
	ipam_ctx *c = NULL;
	ipam_poolset *set = NULL;
	ck_assert_int_eq(ipam_ctx_new(&c, &s1, NULL), 0);
	ck_assert_int_eq(ipam_poolset_new(&set, "x"), 0);
	ck_assert_int_eq(ipam_poolset_add(set, fx_pool("p", "10.0.0.0/30", NULL, NULL)), 0);
	ck_assert_int_eq(ipam_ctx_add_poolset(c, set), -ENOTSUP);
	ipam_ctx_free(c);
	ck_assert_int_eq(ipam_ctx_new(&c, &s2, NULL), 0);
	ck_assert_int_eq(ipam_ctx_add_poolset(c, set), -ENOTSUP);
	ipam_ctx_free(c);
	ipam_poolset_free(set);
}
END_TEST

/* ---- out of memory ---------------------------------------------------------------- */

/* One cycle: allocate two owners, rebind one, quarantine-release, reserve,
 * release all. Returns 0 or the first error; state is checked by caller. */
static int cycle(ipam_ctx *c)
{
	ipam_lease out[2];
	ipam_addr res = fx_addr("10.0.0.6");
	ipam_request r = fx_req("net", "ns/a", "c1");
	unsigned n = 2;
	int e;
	if ((e = ipam_allocate(c, &r, out, &n)) < 0)
		return e;
	r = fx_req("net", "ns/b", "c2");
	n = 2;
	if ((e = ipam_allocate(c, &r, out, &n)) < 0)
		return e;
	r = fx_req("net", "ns/a", "c3");
	n = 2;
	if ((e = ipam_allocate(c, &r, out, &n)) < 0)
		return e;
	if ((e = ipam_reserve(c, "net", &res, "vip")) < 0)
		return e;
	if ((e = ipam_release_attachment(c, "net", "c3", 0)) < 0)
		return e;
	if ((e = ipam_release_owner(c, "net", "ns/b", NULL)) < 0)
		return e;
	if ((e = ipam_unreserve(c, "net", &res)) < 0)
		return e;
	return 0;
}

START_TEST(oom_sweep)
{
	static const ipam_allocator fa = TU_FAILING_ALLOCATOR;
	long n;
	int e = -ENOMEM;
	for (n = 0; n < 20000 && e == -ENOMEM; n++) {
		ipam_store *st = NULL;
		ipam_ctx *c = NULL;
		ipam_pool *p4 = NULL;
		ck_assert_int_eq(ipam_set_allocator(&fa), 0);
		*tu_budget() = -1;
		ck_assert_int_eq(ipam_store_memory_new(&st), 0);
		ctx = NULL;
		c = fx_ctx(st, 0);
		ipam_poolset *set = NULL;
		ck_assert_int_eq(ipam_poolset_new(&set, "net"), 0);
		p4 = fx_pool("v4", "10.0.0.0/29", NULL, NULL);
		ipam_pool_set_quarantine(p4, 10, 0, 0);
		ck_assert_int_eq(ipam_poolset_add(set, p4), 0);
		ck_assert_int_eq(ipam_poolset_add(set, fx_pool("v6", "fd00::/64", NULL, NULL)), 0);
		ck_assert_int_eq(ipam_ctx_add_poolset(c, set), 0);
		*tu_budget() = n; /* fail the n-th allocation from here on */
		ipam_clear_error();
		e = cycle(c);
		*tu_budget() = -1;
		ck_assert_msg(e == 0 || e == -ENOMEM, "N=%ld: %s", n, ipam_strerror(e));
		/* The failure is recorded, whoever met it (no stale record). */
		if (e < 0)
			ck_assert_msg(ipam_last_error(NULL) == e, "N=%ld: returned %d, recorded %d", n, e,
				      ipam_last_error(NULL));
		ck_assert_msg(ipam_verify(c, "net") == 0, "N=%ld: %s", n, ipam_last_error_message());
		/* Whatever failed, everything can be cleaned up afterwards. */
		ipam_addr res = fx_addr("10.0.0.6");
		ck_assert_int_ge(ipam_release_owner(c, "net", "ns/a", NULL), 0);
		ck_assert_int_ge(ipam_release_owner(c, "net", "ns/b", NULL), 0);
		int u = ipam_unreserve(c, "net", &res);
		ck_assert(u == 0 || u == -ENOENT);
		ck_assert_uint_eq(fx_used(c, "net", "v4"), 0);
		ck_assert_uint_eq(fx_used(c, "net", "v6"), 0);
		ipam_ctx_free(c);
		ipam_store_free(st);
		ipam_set_allocator(NULL);
	}
	ck_assert_int_eq(e, 0);
	/* Records come from the view's heap (a chunk at a time) and small
	 * change sets live on the stack, so a cycle has few allocation
	 * points left: the heap's chunk and chunk table, interned strings,
	 * index room. */
	ck_assert_int_gt(n, 5);
	printf("oom sweep: %ld allocation points failed cleanly\n", n - 1);
}
END_TEST

/* ---- candidate claims ------------------------------------------------------------ */

static ipam_store *cst;
static ipam_ctx *cctx;
static struct ipam__set_entry *cent;
static struct ipam__claimlist other_claims;
static struct ipam__txnbuf other; /* another decider's claims, its commit "in flight" */

/* One v4 pool, .1-.6, of the given policy. */
static void claims_ctx(ipam_policy policy)
{
	ipam_pool *p = fx_pool("v4", "10.0.0.0/29", NULL, NULL);
	int err;

	ck_assert_int_eq(ipam_pool_set_policy(p, policy), 0);
	ck_assert_int_eq(ipam_store_memory_new(&cst), 0);
	cctx = fx_ctx(cst, 0);
	fx_add_set(cctx, "net", p, NULL);
	cent = ipam__ctx_entry(cctx, "net", &err);
	ck_assert_ptr_nonnull(cent);
	memset(&other, 0, sizeof(other));
	memset(&other_claims, 0, sizeof(other_claims));
	other.claims = &other_claims;
}

static void claims_done(void)
{
	ipam_ctx_stats s;

	ipam__claims_drop(cent, &other);
	ipam_ctx_stats_get(cctx, &s);
	ck_assert_uint_eq(s.conflicts, 0);
	ck_assert_int_eq(ipam_verify(cctx, "net"), 0);
	ipam_ctx_free(cctx);
	ipam_store_free(cst);
}

static void claim_other(const char *addr)
{
	ipam_addr a = fx_addr(addr);

	pthread_mutex_lock(&cent->view->pools[0].cursor_lock);
	ipam__claim(cent, &other, 0, ipam__addr_value(&a));
	pthread_mutex_unlock(&cent->view->pools[0].cursor_lock);
}

/* Allocate for owner (optionally with a hint); the address as text. */
static const char *calloc_addr(const char *owner, const char *hint, char *buf)
{
	ipam_lease out[1];
	ipam_request r = fx_req("net", owner, owner);
	ipam_addr h;
	unsigned n = 1;

	if (hint) {
		h = fx_addr(hint);
		r.hints = &h;
		r.nhints = 1;
	}
	ck_assert_msg(ipam_allocate(cctx, &r, out, &n) == 0, "%s", ipam_last_error_message());
	return fx_fmt(&out[0].addr, buf);
}

START_TEST(claims_next_fit)
{
	char b[IPAM_ADDR_STRLEN];

	claims_ctx(IPAM_POLICY_NEXT_FIT);
	ck_assert_str_eq(calloc_addr("ns/a", NULL, b), "10.0.0.1");
	claim_other("10.0.0.2");
	claim_other("10.0.0.3");
	ck_assert_str_eq(calloc_addr("ns/b", NULL, b), "10.0.0.4"); /* steps over both */
	/* The other decider gives up: its candidates were never taken. */
	ipam__claims_drop(cent, &other);
	ck_assert_uint_eq(fx_used(cctx, "net", "v4"), 2);
	ck_assert_str_eq(calloc_addr("ns/c", NULL, b), "10.0.0.5");
	ck_assert_str_eq(calloc_addr("ns/d", NULL, b), "10.0.0.6");
	ck_assert_str_eq(calloc_addr("ns/e", NULL, b), "10.0.0.2"); /* wrapped: not lost */
	ck_assert_str_eq(calloc_addr("ns/f", NULL, b), "10.0.0.3");
	/* The same owner asking again gets its address, claimed or not. */
	claim_other("10.0.0.4");
	ck_assert_str_eq(calloc_addr("ns/b", NULL, b), "10.0.0.4");
	claims_done();
}
END_TEST

START_TEST(claims_lowest_and_random)
{
	char b[IPAM_ADDR_STRLEN];

	claims_ctx(IPAM_POLICY_LOWEST);
	claim_other("10.0.0.1");
	ck_assert_str_eq(calloc_addr("ns/a", NULL, b), "10.0.0.2");
	ipam__claims_drop(cent, &other);
	ck_assert_str_eq(calloc_addr("ns/b", NULL, b), "10.0.0.1");
	claims_done();

	claims_ctx(IPAM_POLICY_RANDOM);
	for (int i = 1; i <= 6; i++) {
		char a[16];
		if (i == 4)
			continue;
		snprintf(a, sizeof(a), "10.0.0.%d", i);
		claim_other(a);
	}
	ck_assert_str_eq(calloc_addr("ns/a", NULL, b), "10.0.0.4"); /* the only unclaimed */
	claims_done();
}
END_TEST

START_TEST(claims_hint_and_exact)
{
	char b[IPAM_ADDR_STRLEN];
	ipam_lease out[1];
	ipam_request r = fx_req("net", "ns/x", "ns/x");
	ipam_addr ex = fx_addr("10.0.0.1");
	unsigned n = 1;

	claims_ctx(IPAM_POLICY_NEXT_FIT);
	/* A hint is sticky even when another decider claimed the address:
	 * the preconditions decide between them. */
	claim_other("10.0.0.5");
	ck_assert_str_eq(calloc_addr("ns/a", "10.0.0.5", b), "10.0.0.5");
	ipam__claims_drop(cent, &other);
	/* An exact request is a claim: a concurrent policy decision avoids it. */
	r.exact = &ex;
	r.nexact = 1;
	ck_assert_int_eq(ipam_allocate(cctx, &r, out, &n), 0);
	ck_assert_str_eq(fx_fmt(&out[0].addr, b), "10.0.0.1");
	ck_assert_uint_eq(ipam__claims_count(cent, 0), 0); /* dropped after the commit */
	claims_done();
}
END_TEST

START_TEST(claims_all_claimed)
{
	char b[IPAM_ADDR_STRLEN];
	ipam_ctx_stats s;

	claims_ctx(IPAM_POLICY_NEXT_FIT);
	for (int i = 1; i <= 5; i++)
		calloc_addr((char[]){ 'n', 's', '/', (char)('a' + i), 0 }, NULL, b);
	/* One free address, claimed by a decider that never commits (stalled):
	 * the allocation waits a little, then takes it anyway. Not -ENOSPC. */
	claim_other("10.0.0.6");
	ck_assert_str_eq(calloc_addr("ns/z", NULL, b), "10.0.0.6");
	ipam_ctx_stats_get(cctx, &s);
	ck_assert_uint_eq(s.retries, 1);
	claims_done();
}
END_TEST


/* The memory store's commit of a change set decided on an older state
 * (decided_at 0: never the view's stamp) checks every precondition, ADDR
 * and OWNER. */
START_TEST(direct_preconditions)
{
	ipam_store *st;
	ipam_ctx *c;
	ipam_lease out[2];
	unsigned n = 2;
	int err;

	ck_assert_int_eq(ipam_store_memory_new(&st), 0);
	c = fx_ctx(st, 0);
	fx_add_set(c, "net", fx_pool("v4", "10.0.0.0/29", NULL, NULL), NULL);
	ipam_request r = fx_req("net", "ns/a", "c1");
	ck_assert_int_eq(ipam_allocate(c, &r, out, &n), 0);
	struct ipam__set_entry *e = ipam__ctx_entry(c, "net", &err);
	ck_assert_ptr_nonnull(e);
	ipam_view *v = e->view;
	uint64_t g = out[0].generation;
	for (int k = 0; k < 4; k++) {
		int gen_ok = k & 1, addr_ok = k >> 1 & 1;
		struct ipam__dop op;
		ipam_cond conds[2];
		uint64_t rev = 0;
		memset(&op, 0, offsetof(struct ipam__dop, bin));
		memset(conds, 0, sizeof(conds));
		ipam__view_rdlock(v);
		op.base = ipam__view_find_addr(v, 0, ipam__addr_value(&out[0].addr));
		ipam__view_rdunlock(v);
		ck_assert_ptr_nonnull(op.base);
		/* A renewal of the lease, as decide_renew() builds it. */
		op.kind = IPAM_OP_PUT;
		op.addr = ipam__addr_value(&out[0].addr);
		op.state = IPAM_LEASE_BOUND;
		op.created = out[0].created;
		op.updated = out[0].updated + 1;
		op.expires = 100 + k;
		conds[0].kind = IPAM_COND_ADDR;
		conds[0].addr = out[0].addr;
		conds[0].generation = addr_ok ? g : g + 1;
		conds[1].kind = IPAM_COND_OWNER;
		conds[1].owner = "ns/a";
		conds[1].ifname = "eth0";
		conds[1].generation = gen_ok ? g : 0;
		err = ipam__view_commit_dops(v, &op, 1, conds, 2, fx_now_ms, 0, &rev);
		if (!gen_ok || !addr_ok) {
			ck_assert_msg(err == -EAGAIN, "case %d: %d", k, err);
			continue;
		}
		ck_assert_msg(err == 0, "case %d: %d", k, err);
		ipam_lease l;
		ck_assert_int_eq(ipam_lookup_addr(c, "net", &out[0].addr, &l), 0);
		ck_assert_int_eq(l.expires, 100 + k);
		ck_assert_uint_eq(l.generation, rev);
		ck_assert_str_eq(l.attachment, "c1");
		g = rev;
	}
	/* The record replaced by another with the same generation (a txn
	 * keeping generations, as a store replaying its log sends): the
	 * preconditions hold, but the decision's base is gone, and is not
	 * read (ASan would see it). */
	{
		struct ipam__dop op;
		ipam_cond cond;
		ipam_op pop;
		ipam_txn txn;
		uint64_t rev = 0;
		memset(&op, 0, offsetof(struct ipam__dop, bin));
		memset(&cond, 0, sizeof(cond));
		memset(&pop, 0, sizeof(pop));
		memset(&txn, 0, sizeof(txn));
		ipam__view_rdlock(v);
		op.base = ipam__view_find_addr(v, 0, ipam__addr_value(&out[0].addr));
		ipam__view_rdunlock(v);
		ck_assert_int_eq(ipam_lookup_addr(c, "net", &out[0].addr, &pop.lease), 0);
		pop.kind = IPAM_OP_PUT;
		pop.flags = IPAM_OP_F_KEEP_GENERATION;
		strcpy(pop.lease.attachment, "c2");
		txn.ops = &pop;
		txn.nops = 1;
		ck_assert_int_eq(ipam_view_commit(v, &txn, &rev), 0);
		op.kind = IPAM_OP_PUT;
		op.addr = ipam__addr_value(&out[0].addr);
		op.state = IPAM_LEASE_BOUND;
		op.updated = out[0].updated + 9;
		cond.kind = IPAM_COND_ADDR;
		cond.addr = out[0].addr;
		cond.generation = g; /* still true */
		ck_assert_int_eq(ipam__view_commit_dops(v, &op, 1, &cond, 1, fx_now_ms, 0, &rev), -EAGAIN);
		ipam_lease l;
		ck_assert_int_eq(ipam_lookup_addr(c, "net", &out[0].addr, &l), 0);
		ck_assert_str_eq(l.attachment, "c2");
		ck_assert_uint_eq(l.generation, g);
	}
	ck_assert_int_eq(ipam_verify(c, "net"), 0);
	ipam_ctx_free(c);
	ipam_store_free(st);
}
END_TEST

/* ---- the memory store's own path against the public one ----------------------------------
 * A context on the memory store applies its decisions directly
 * (ipam__view_commit_dops); one on a store with its own table (the spy,
 * faults off) gets public ipam_op records and commits them through
 * ipam_view_check/ipam_view_apply. The same seeded run of every write call
 * on both must give the same answers and the same records, field by field,
 * generations included. */

#define EQ_OWNERS 10

static int eq_collect(void *ud, const ipam_lease *l)
{
	ipam_lease **p = ud;
	**p = *l;
	(*p)++;
	return 0;
}

static int eq_cmp(const void *a, const void *b)
{
	const ipam_lease *x = a, *y = b;
	int c = strcmp(x->pool, y->pool);
	return c ? c : ipam_addr_cmp(&x->addr, &y->addr);
}

static unsigned eq_dump(ipam_ctx *c, ipam_lease *buf)
{
	ipam_lease *p = buf;
	ck_assert_int_eq(ipam_foreach_lease(c, "net", NULL, eq_collect, &p), 0);
	qsort(buf, (size_t)(p - buf), sizeof(*buf), eq_cmp);
	return (unsigned)(p - buf);
}

static void eq_same_leases(const ipam_lease *x, const ipam_lease *y, long step)
{
	char why[700];
	ck_assert_msg(!tu_lease_diff(x, y, why, sizeof(why)), "step %ld: %s", step, why);
}

static void eq_compare(ipam_ctx *a, ipam_ctx *b, long step)
{
	static ipam_lease la[64], lb[64];
	unsigned na = eq_dump(a, la), nb = eq_dump(b, lb);
	ck_assert_msg(na == nb, "step %ld: %u records vs %u", step, na, nb);
	for (unsigned i = 0; i < na; i++)
		eq_same_leases(&la[i], &lb[i], step);
	for (int k = 0; k < 2; k++) {
		const char *pool = k ? "v6" : "v4";
		ipam_pool_stats sa, sb;
		ck_assert_int_eq(ipam_pool_stats_get(a, "net", pool, &sa), 0);
		ck_assert_int_eq(ipam_pool_stats_get(b, "net", pool, &sb), 0);
		ck_assert_msg(sa.used.lo == sb.used.lo && sa.quarantined.lo == sb.quarantined.lo &&
				      sa.reserved == sb.reserved && sa.version == sb.version,
			      "step %ld: pool %s stats differ", step, pool);
	}
	ck_assert_int_eq(ipam_verify(a, "net"), 0);
	ck_assert_int_eq(ipam_verify(b, "net"), 0);
}

static void eq_set(ipam_ctx *c)
{
	ipam_pool *v4 = fx_pool("v4", "10.0.0.0/28", NULL, NULL);
	ck_assert_int_eq(ipam_pool_set_quarantine(v4, 20, 0, 0), 0);
	fx_add_set(c, "net", v4, fx_pool("v6", "fd00::/124", NULL, NULL), NULL);
}

/* Defining a set anew on the memory store under an allocator that fails
 * the Nth allocation, for every N: each failure is -ENOMEM with the old
 * definition and every lease kept, field by field, the waiting one
 * included; the first N that gets through gives the same leases under the
 * new definition, which has no quarantine: without the wait. */
static ipam_poolset *redef_set(int wide)
{
	ipam_poolset *set = NULL;
	ipam_pool *v4 = fx_pool("v4", wide ? "10.0.0.0/27" : "10.0.0.0/28", NULL, NULL);
	if (!wide)
		ck_assert_int_eq(ipam_pool_set_quarantine(v4, 20, 0, 0), 0);
	ck_assert_int_eq(ipam_poolset_new(&set, "net"), 0);
	if (wide) /* reordered too */
		ck_assert_int_eq(ipam_poolset_add(set, fx_pool("v6", "fd00::/124", NULL, NULL)), 0);
	ck_assert_int_eq(ipam_poolset_add(set, v4), 0);
	if (!wide)
		ck_assert_int_eq(ipam_poolset_add(set, fx_pool("v6", "fd00::/124", NULL, NULL)), 0);
	return set;
}

START_TEST(redefine_oom_sweep)
{
	static const ipam_allocator fa = TU_FAILING_ALLOCATOR;
	static ipam_lease before[64], after[64];
	long n;
	int e = -ENOMEM;
	for (n = 0; n < 20000 && e == -ENOMEM; n++) {
		ipam_store *st = NULL;
		ipam_ctx *c;
		ipam_poolset *set;
		unsigned nb, na;
		ck_assert_int_eq(ipam_set_allocator(&fa), 0);
		*tu_budget() = -1;
		ck_assert_int_eq(ipam_store_memory_new(&st), 0);
		c = fx_ctx(st, 0);
		ck_assert_int_eq(ipam_ctx_add_poolset(c, redef_set(0)), 0);
		for (int i = 0; i < 6; i++) { /* 6 pods, one released, one reservation */
			char owner[16];
			ipam_lease l[2];
			unsigned k = 2;
			snprintf(owner, sizeof(owner), "ns/p%d", i);
			ipam_request r = fx_req("net", owner, owner);
			ck_assert_int_eq(ipam_allocate(c, &r, l, &k), 0);
		}
		ck_assert_int_eq(ipam_release_owner(c, "net", "ns/p2", NULL), 2);
		ipam_addr res = fx_addr("10.0.0.14");
		ck_assert_int_eq(ipam_reserve(c, "net", &res, "ops"), 0);
		nb = eq_dump(c, before);
		ipam_ctx_free(c);
		c = fx_ctx(st, 0);
		set = redef_set(1);
		*tu_budget() = n; /* fail the n-th allocation from here on */
		e = ipam_ctx_add_poolset(c, set);
		*tu_budget() = -1;
		ck_assert_msg(e == 0 || e == -ENOMEM, "N=%ld: %s", n, ipam_strerror(e));
		if (e < 0) { /* the old definition, the same leases */
			ipam_poolset_free(set);
			ck_assert_int_eq(ipam_ctx_add_poolset(c, redef_set(0)), 0);
		}
		if (e == 0) { /* the wait is gone with the quarantine */
			unsigned k = 0;
			for (unsigned i = 0; i < nb; i++)
				if (before[i].state != IPAM_LEASE_QUARANTINED)
					before[k++] = before[i];
			ck_assert_uint_eq(nb - k, 1);
			nb = k;
		}
		na = eq_dump(c, after);
		ck_assert_msg(na == nb, "N=%ld: %u leases, %u before", n, na, nb);
		for (unsigned i = 0; i < na; i++)
			eq_same_leases(&before[i], &after[i], n);
		ck_assert_msg(ipam_verify(c, "net") == 0, "N=%ld: %s", n, ipam_last_error_message());
		ipam_ctx_free(c);
		ipam_store_free(st);
		ipam_set_allocator(NULL);
	}
	ck_assert_int_eq(e, 0);
	ck_assert_int_gt(n, 5);
	printf("redefine oom sweep: %ld allocation points failed cleanly\n", n - 1);
}
END_TEST

START_TEST(direct_matches_public)
{
	uint64_t rng = tu_seed("txn/direct_matches_public");
	ipam_store *mst;
	struct spy *pub = calloc(1, sizeof(*pub));
	ipam_ctx *a, *b;
	static const char *const hexid =
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	long steps = tu_scale(4000);

	ck_assert_ptr_nonnull(pub);
	pub->base.ops = &spy_ops;
	ck_assert_int_eq(ipam_store_memory_new(&pub->inner), 0);
	ck_assert_int_eq(ipam_store_memory_new(&mst), 0);
	a = fx_ctx(mst, 0);
	b = fx_ctx(&pub->base, 0);
	eq_set(a);
	eq_set(b);
	for (long step = 0; step < steps; step++) {
		unsigned o = (unsigned)(tu_splitmix(&rng) % EQ_OWNERS), what = (unsigned)(tu_splitmix(&rng) % 10);
		uint64_t x = tu_splitmix(&rng);
		char owner[32], att[80], addr_s[64];
		const char *ifname = x & 1 ? "eth0" : "net1";
		ipam_addr addr;
		int ra, rb;

		snprintf(owner, sizeof(owner), "ns/pod-%u", o);
		/* A few attachments per owner (rebinds), some of them container ids. */
		if ((x >> 1) % 3 == 0)
			snprintf(att, sizeof(att), "%.62s%02x", hexid, (unsigned)(o * 4 + (x >> 3) % 4));
		else
			snprintf(att, sizeof(att), "sandbox-%u-%u", o, (unsigned)((x >> 3) % 3));
		if (x >> 8 & 1)
			snprintf(addr_s, sizeof(addr_s), "10.0.0.%u", 1 + (unsigned)((x >> 9) % 14));
		else
			snprintf(addr_s, sizeof(addr_s), "fd00::%x", 1 + (unsigned)((x >> 9) % 15));
		addr = fx_addr(addr_s);
		switch (what) {
		case 0:
		case 1:
		case 2: {
			ipam_lease oa[2], ob[2];
			unsigned na = 2, nb = 2;
			ipam_attr at[2] = { { "uid", "1234" }, { "mac", "02:00:00:00:00:01" } };
			ipam_request r = fx_req("net", owner, att);
			r.ifname = ifname;
			r.ttl = (x >> 16) % 4 == 0 ? (uint32_t)((x >> 18) % 100) : 0;
			r.nattrs = (unsigned)((x >> 24) % 3);
			r.attrs = at;
			if ((x >> 26) % 8 == 0) {
				r.exact = &addr;
				r.nexact = 1;
			} else if ((x >> 26) % 8 == 1) {
				r.hints = &addr;
				r.nhints = 1;
			}
			if ((x >> 29) % 8 == 0)
				r.node = "node-2";
			ra = ipam_allocate(a, &r, oa, &na);
			rb = ipam_allocate(b, &r, ob, &nb);
			ck_assert_msg(ra == rb, "step %ld: allocate %d vs %d", step, ra, rb);
			if (ra == 0) {
				ck_assert_uint_eq(na, nb);
				for (unsigned i = 0; i < na; i++)
					eq_same_leases(&oa[i], &ob[i], step);
			}
			break;
		}
		case 3:
			ra = ipam_release_attachment(a, "net", att, 0);
			rb = ipam_release_attachment(b, "net", att, 0);
			ck_assert_msg(ra == rb, "step %ld: release attachment %d vs %d", step, ra, rb);
			break;
		case 4: {
			ipam_lease l;
			uint64_t gen = 0;
			if (ipam_lookup_addr(a, "net", &addr, &l) == 0)
				gen = l.generation + ((x >> 16) % 3 == 0); /* sometimes stale */
			ra = ipam_release_addr(a, "net", &addr, gen);
			rb = ipam_release_addr(b, "net", &addr, gen);
			ck_assert_msg(ra == rb, "step %ld: release addr %d vs %d", step, ra, rb);
			break;
		}
		case 5:
			ra = ipam_release_owner(a, "net", owner, x >> 16 & 1 ? ifname : NULL);
			rb = ipam_release_owner(b, "net", owner, x >> 16 & 1 ? ifname : NULL);
			ck_assert_msg(ra == rb, "step %ld: release owner %d vs %d", step, ra, rb);
			break;
		case 6:
			ra = ipam_renew(a, "net", owner, x >> 16 & 1 ? ifname : NULL, (uint32_t)((x >> 17) % 50));
			rb = ipam_renew(b, "net", owner, x >> 16 & 1 ? ifname : NULL, (uint32_t)((x >> 17) % 50));
			ck_assert_msg(ra == rb, "step %ld: renew %d vs %d", step, ra, rb);
			break;
		case 7:
			if (x >> 16 & 1) {
				ra = ipam_reserve(a, "net", &addr, x >> 17 & 1 ? "ops: keep" : NULL);
				rb = ipam_reserve(b, "net", &addr, x >> 17 & 1 ? "ops: keep" : NULL);
			} else {
				ra = ipam_unreserve(a, "net", &addr);
				rb = ipam_unreserve(b, "net", &addr);
			}
			ck_assert_msg(ra == rb, "step %ld: (un)reserve %d vs %d", step, ra, rb);
			break;
		default:
			fx_advance((int64_t)((x >> 16) % 15000));
			break;
		}
		if (step % 16 == 0 || step == steps - 1)
			eq_compare(a, b, step);
	}
	ipam_ctx_free(a);
	ipam_ctx_free(b);
	ipam_store_free(mst);
	ipam_store_free(&pub->base);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("txn");
	TCase *tc = tcase_create("spy");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, conflict_then_success);
	tcase_add_test(tc, conflict_forever_gives_up);
	tcase_add_test(tc, io_error_at_each_step);
	tcase_add_test(tc, store_again_not_a_conflict);
	tcase_add_test(tc, decision_stamp);
	suite_add_tcase(s, tc);
	TCase *t2 = tcase_create("plain");
	tcase_set_timeout(t2, 300);
	tcase_add_test(t2, store_table_checked);
	tcase_add_test(t2, oom_sweep);
	tcase_add_test(t2, redefine_oom_sweep);
	tcase_add_test(t2, direct_matches_public);
	tcase_add_test(t2, direct_preconditions);
	suite_add_tcase(s, t2);
	TCase *t3 = tcase_create("claims");
	tcase_add_test(t3, claims_next_fit);
	tcase_add_test(t3, claims_lowest_and_random);
	tcase_add_test(t3, claims_hint_and_exact);
	tcase_add_test(t3, claims_all_claimed);
	suite_add_tcase(s, t3);
	return tu_run(s);
}
