/* SPDX-License-Identifier: MIT */
/*
 * Model-based randomized test of the free-space index: a long random
 * sequence of allocate (policy, sticky hint), exact, release, direct take and
 * untake, and clock advances with quarantine expiry, applied both to the real
 * index and to a plain array model written straight from the contract in
 * lib/index/index.h; compared after every step. Every index kind x policy x
 * quarantine setting on two pools (IPv4 with exclusions and gateway, IPv6
 * with several ranges). One test corrupts the model on purpose and asserts
 * that the comparison catches it.
 *
 * Seed printed as "seed=N"; replay with IPAM_TEST_SEED=N.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>

#include "idx_util.h"

enum { M_FREE = IPAM__ADDR_FREE, M_USED = IPAM__ADDR_USED, M_QUAR = IPAM__ADDR_QUARANTINED };

struct model {
	size_t n;
	uint8_t *st;
	size_t *qord;
	uint64_t *qown, *qseq;
	int64_t *qtime;
	uint8_t *qlive;
	size_t qhead, qtail, qcap;
	size_t used, quar, cursor;
	uint64_t allocs;
	ipam_policy policy;
	int64_t q_ms;
	uint64_t q_allocs;
	bool hard;
};

struct ctx {
	ipam__index *idx;
	struct model m;
	uint64_t rng;
	int64_t now;
	const char *const *bad;    /* addresses never handed out (-EACCES) */
	const char *const *outside; /* addresses outside the pool (-ERANGE) */
	char why[512];
};

static int mismatch(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int mismatch(struct ctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
	return -1;
}

static uint64_t rnd(struct ctx *c, uint64_t n)
{
	return tu_splitmix(&c->rng) % n;
}

/* ---- the model: the contract of index.h, as plainly as possible ---------- */

static bool m_expired(const struct model *m, size_t i, int64_t now)
{
	if (m->q_ms && (now < m->qtime[i] || now - m->qtime[i] < m->q_ms))
		return false;
	if (m->q_allocs && m->allocs - m->qseq[i] < m->q_allocs)
		return false;
	return true;
}

static long m_oldest(struct model *m)
{
	for (size_t i = m->qhead; i < m->qtail; i++)
		if (m->qlive[i])
			return (long)i;
	return -1;
}

static long m_qfind(const struct model *m, size_t ord)
{
	for (size_t i = m->qhead; i < m->qtail; i++)
		if (m->qlive[i] && m->qord[i] == ord)
			return (long)i;
	return -1;
}

static void m_qdrop(struct model *m, long i)
{
	m->qlive[i] = 0;
	m->quar--;
}

static size_t m_expire(struct model *m, int64_t now)
{
	long i;
	size_t n = 0;

	while ((i = m_oldest(m)) >= 0 && m_expired(m, (size_t)i, now)) {
		m->st[m->qord[i]] = M_FREE;
		m_qdrop(m, i);
		m->qhead = (size_t)i + 1;
		n++;
	}
	return n;
}

/* Free, or quarantined for this owner: give it. */
static bool m_claim(struct model *m, size_t ord, uint64_t owner)
{
	long q;

	if (m->st[ord] == M_FREE) {
		m->st[ord] = M_USED;
		return true;
	}
	if (m->st[ord] == M_QUAR && owner && (q = m_qfind(m, ord)) >= 0 && m->qown[q] == owner) {
		m_qdrop(m, q);
		m->st[ord] = M_USED;
		return true;
	}
	return false;
}

static void m_allocated(struct model *m, size_t ord)
{
	m->used++;
	m->allocs++;
	m->cursor = ord + 1 == m->n ? 0 : ord + 1;
}

static long m_first_free(const struct model *m, size_t from)
{
	for (size_t k = 0; k < m->n; k++) {
		size_t i = (from + k) % m->n;
		if (m->st[i] == M_FREE)
			return (long)i;
	}
	return -1;
}

/* ---- comparison ------------------------------------------------------------ */

static int compare_counts(struct ctx *c)
{
	struct ipam__index_counts k = iu_counts(c->idx);
	size_t mfree = c->m.n - c->m.used - c->m.quar;

	if (k.total != c->m.n || k.used != c->m.used || k.quarantined != c->m.quar ||
	    k.free != mfree)
		return mismatch(c, "counts: index %llu/%llu/%llu/%llu model %zu/%zu/%zu/%zu",
				(unsigned long long)k.total, (unsigned long long)k.used,
				(unsigned long long)k.quarantined, (unsigned long long)k.free,
				c->m.n, c->m.used, c->m.quar, mfree);
	return 0;
}

static int compare_all(struct ctx *c)
{
	char b[IPAM_ADDR_STRLEN];

	if (compare_counts(c) < 0)
		return -1;
	for (size_t i = 0; i < c->m.n; i++) {
		ipam_addr a = iu_at(c->idx, i);
		int s = ipam__index_state(c->idx, &a);
		if (s != c->m.st[i])
			return mismatch(c, "state of %s (ordinal %zu): index %d model %d",
					iu_fmt(&a, b), i, s, c->m.st[i]);
	}
	return 0;
}

struct walk {
	struct ctx *c;
	size_t seen;
	int bad;
};

static int walk_one(void *ud, const ipam_addr *a, int state)
{
	struct walk *w = ud;
	ipam__u128 o = iu_ord(w->c->idx, a);

	w->seen++;
	if (o >= w->c->m.n || w->c->m.st[o] != state || state == M_FREE)
		w->bad = 1;
	return 0;
}

static int compare_walk(struct ctx *c)
{
	struct walk w = { c, 0, 0 };

	ipam__index_foreach(c->idx, walk_one, &w);
	if (w.bad || w.seen != c->m.used + c->m.quar)
		return mismatch(c, "foreach: %zu visited, %zu taken in the model, bad=%d", w.seen,
				c->m.used + c->m.quar, w.bad);
	return 0;
}

/* ---- operations: index first, then model, then compare the outcome -------- */

static int expect_addr(struct ctx *c, const char *op, int r, const ipam_addr *got, long want)
{
	char b[IPAM_ADDR_STRLEN];

	if (r != 0)
		return mismatch(c, "%s: index returned %d, model expects ordinal %ld", op, r, want);
	if (iu_ord(c->idx, got) != (ipam__u128)want)
		return mismatch(c, "%s: index gave %s (ordinal %llu), model expects ordinal %ld", op,
				iu_fmt(got, b), (unsigned long long)iu_ord(c->idx, got), want);
	return 0;
}

static int op_alloc(struct ctx *c)
{
	struct model *m = &c->m;
	uint64_t owner = rnd(c, 5);
	ipam_addr hint_a, got;
	const ipam_addr *hint = NULL;
	long hint_ord = -1, want;
	uint64_t h = rnd(c, 10);
	int r;

	if (h < 2 && m_oldest(m) >= 0) { /* a quarantined address, often its owner */
		long q = m_oldest(m) + (long)rnd(c, (uint64_t)(m->qtail - (size_t)m_oldest(m)));
		if (m->qlive[q]) {
			hint_ord = (long)m->qord[q];
			if (rnd(c, 2))
				owner = m->qown[q];
		}
	} else if (h < 4) {
		hint_ord = (long)rnd(c, m->n);
	} else if (h < 5) {
		hint_a = iu_addr(c->bad[rnd(c, 3)]);
		hint = &hint_a;
	}
	if (hint_ord >= 0) {
		hint_a = iu_at(c->idx, (ipam__u128)hint_ord);
		hint = &hint_a;
	}
	r = ipam__index_alloc(c->idx, owner, hint, c->now, &got);
	m_expire(m, c->now);
	if (hint_ord >= 0 && m_claim(m, (size_t)hint_ord, owner)) {
		m_allocated(m, (size_t)hint_ord);
		return expect_addr(c, "alloc(hint)", r, &got, hint_ord);
	}
	if (m->used + m->quar == m->n) {
		long q = m_oldest(m);
		if (q < 0 || m->hard) {
			if (r != -ENOSPC)
				return mismatch(c, "alloc: index returned %d, model expects -ENOSPC", r);
			return 0;
		}
		want = (long)m->qord[q];
		m_qdrop(m, q);
		m->st[want] = M_USED;
		m_allocated(m, (size_t)want);
		return expect_addr(c, "alloc(oldest quarantined)", r, &got, want);
	}
	switch (m->policy) {
	case IPAM_POLICY_RANDOM:
		if (r != 0)
			return mismatch(c, "alloc(random): index returned %d with free addresses", r);
		want = (long)iu_ord(c->idx, &got);
		if (m->st[want] != M_FREE)
			return mismatch(c, "alloc(random): ordinal %ld is not free in the model", want);
		break;
	case IPAM_POLICY_LOWEST:
		want = m_first_free(m, 0);
		break;
	case IPAM_POLICY_NEXT_FIT:
	default:
		want = m_first_free(m, m->cursor);
		break;
	}
	m->st[want] = M_USED;
	m_allocated(m, (size_t)want);
	return expect_addr(c, "alloc", r, &got, want);
}

static int op_exact(struct ctx *c)
{
	struct model *m = &c->m;
	uint64_t owner = rnd(c, 5), pick = rnd(c, 10);
	size_t ord = (size_t)rnd(c, m->n);
	ipam_addr a;
	int r, want;

	if (pick == 0) {
		a = iu_addr(c->bad[rnd(c, 3)]);
		r = ipam__index_alloc_exact(c->idx, &a, owner, c->now);
		return r == -EACCES ? 0 : mismatch(c, "exact(not allocatable): %d", r);
	}
	if (pick == 1) {
		a = iu_addr(c->outside[rnd(c, 2)]);
		r = ipam__index_alloc_exact(c->idx, &a, owner, c->now);
		return r == -ERANGE ? 0 : mismatch(c, "exact(outside): %d", r);
	}
	if (pick < 4 && m_oldest(m) >= 0) { /* a quarantined one, maybe by its owner */
		long q = m_oldest(m);
		ord = m->qord[q];
		if (rnd(c, 2))
			owner = m->qown[q];
	}
	a = iu_at(c->idx, ord);
	r = ipam__index_alloc_exact(c->idx, &a, owner, c->now);
	m_expire(m, c->now);
	if (m_claim(m, ord, owner)) {
		m_allocated(m, ord);
		want = 0;
	} else {
		want = m->st[ord] == M_USED ? -EEXIST : -EBUSY;
	}
	return r == want ? 0 : mismatch(c, "exact(%zu): index %d model %d", ord, r, want);
}

/* A used ordinal if the model has one (random start), else any. */
static size_t pick_used(struct ctx *c)
{
	size_t start = (size_t)rnd(c, c->m.n);
	for (size_t k = 0; k < c->m.n; k++)
		if (c->m.st[(start + k) % c->m.n] == M_USED)
			return (start + k) % c->m.n;
	return start;
}

static int op_release(struct ctx *c)
{
	struct model *m = &c->m;
	size_t ord = rnd(c, 8) ? pick_used(c) : (size_t)rnd(c, m->n);
	uint64_t owner = rnd(c, 5);
	ipam_addr a = iu_at(c->idx, ord);
	int r = ipam__index_release(c->idx, &a, owner, c->now), want = 0;

	if (m->st[ord] != M_USED) {
		want = -ENOENT;
	} else if (m->q_ms || m->q_allocs) {
		m->st[ord] = M_QUAR;
		m->qord[m->qtail] = ord;
		m->qown[m->qtail] = owner;
		m->qtime[m->qtail] = c->now;
		m->qseq[m->qtail] = m->allocs;
		m->qlive[m->qtail++] = 1;
		m->quar++;
		m->used--;
	} else {
		m->st[ord] = M_FREE;
		m->used--;
	}
	return r == want ? 0 : mismatch(c, "release(%zu): index %d model %d", ord, r, want);
}

static int op_take_untake(struct ctx *c, bool take)
{
	struct model *m = &c->m;
	size_t ord = take ? (size_t)rnd(c, m->n) : pick_used(c);
	ipam_addr a = iu_at(c->idx, ord);
	int r, want = 0;
	long q;

	if (!take && rnd(c, 3) == 0 && (q = m_oldest(m)) >= 0)
		ord = m->qord[q], a = iu_at(c->idx, ord);
	r = take ? ipam__index_take(c->idx, &a) : ipam__index_untake(c->idx, &a);
	if (take && m->st[ord] == M_USED) {
		want = -EEXIST;
	} else if (!take && m->st[ord] == M_FREE) {
		want = -ENOENT;
	} else {
		if (m->st[ord] == M_QUAR)
			m_qdrop(m, m_qfind(m, ord));
		else if (!take)
			m->used--;
		if (take)
			m->used++;
		m->st[ord] = take ? M_USED : M_FREE;
	}
	return r == want ? 0 : mismatch(c, "%s(%zu): index %d model %d", take ? "take" : "untake",
					ord, r, want);
}

static int op_tick(struct ctx *c)
{
	int r;
	size_t n;

	c->now += (int64_t)rnd(c, 700);
	r = ipam__index_expire(c->idx, c->now);
	n = m_expire(&c->m, c->now);
	return r == (int)n ? 0 : mismatch(c, "expire: index freed %d, model %zu", r, n);
}

/* ---- driver ------------------------------------------------------------------- */

struct pool_def {
	const char *subnet, *gateway;
	const char *ranges[3], *excludes[3];
	const char *bad[3], *outside[2];
};

static const struct pool_def pools[] = {
	{ "10.1.0.0/22", "10.1.0.1", { NULL }, { "10.1.1.0-10.1.1.9", "10.1.2.100", NULL },
	  { "10.1.0.1", "10.1.1.5", "10.1.3.255" }, { "10.1.4.0", "fd00::5" } },
	{ "fd00::/120", "fd00::1", { "fd00::10-fd00::7f", "fd00::90-fd00::ef", NULL },
	  { "fd00::20-fd00::2f", NULL }, { "fd00::1", "fd00::25", "fd00::80" },
	  { "fd00::1:0", "10.0.0.1" } },
};

static const struct {
	uint32_t seconds, allocations;
	unsigned flags;
} qcfgs[] = { { 0, 0, 0 }, { 2, 0, 0 }, { 0, 7, 0 }, { 1, 3, 0 }, { 2, 0, IPAM_QUARANTINE_HARD } };

#define NPOLICIES 3
#define NQ ((int)(sizeof(qcfgs) / sizeof(qcfgs[0])))
#define NRUNS (2 * 2 * NPOLICIES * NQ)

static ipam_pool *make_pool(int pi, ipam_index_kind kind, ipam_policy pol, int qi)
{
	const struct pool_def *d = &pools[pi];
	ipam_pool *p = iu_pool(d->subnet);
	ipam_addr gw = iu_addr(d->gateway);

	for (int i = 0; d->ranges[i]; i++) {
		ipam_range r = iu_range(d->ranges[i]);
		iu_add_range(p, &r);
	}
	for (int i = 0; d->excludes[i]; i++) {
		ipam_range r = iu_range(d->excludes[i]);
		iu_add_exclude(p, &r);
	}
	IU_EQ(ipam_pool_set_gateway(p, &gw), 0);
	IU_EQ(ipam_pool_set_index(p, kind, 0), 0);
	IU_EQ(ipam_pool_set_policy(p, pol), 0);
	IU_EQ(ipam_pool_set_quarantine(p, qcfgs[qi].seconds, qcfgs[qi].allocations,
						  qcfgs[qi].flags), 0);
	return p;
}

static void ctx_init(struct ctx *c, int run, long steps, uint64_t seed)
{
	int pi = run / (2 * NPOLICIES * NQ), kind = run / (NPOLICIES * NQ) % 2;
	int pol = run / NQ % NPOLICIES, qi = run % NQ;
	ipam_pool *p = make_pool(pi, kind ? IPAM_INDEX_SPARSE : IPAM_INDEX_BITMAP,
				 (ipam_policy)pol, qi);
	struct model *m = &c->m;

	memset(c, 0, sizeof(*c));
	c->idx = iu_index(p);
	ipam_pool_free(p);
	IU_EQ(ipam__index_kind(c->idx), kind ? IPAM_INDEX_SPARSE : IPAM_INDEX_BITMAP);
	c->rng = seed;
	ipam__index_seed(c->idx, seed ^ 0x5eed);
	c->bad = pools[pi].bad;
	c->outside = pools[pi].outside;
	m->n = (size_t)iu_counts(c->idx).total;
	m->policy = (ipam_policy)pol;
	m->q_ms = (int64_t)qcfgs[qi].seconds * 1000;
	m->q_allocs = qcfgs[qi].allocations;
	m->hard = qcfgs[qi].flags & IPAM_QUARANTINE_HARD;
	m->qcap = (size_t)steps + 1;
	m->st = calloc(m->n, 1);
	m->qord = calloc(m->qcap, sizeof(*m->qord));
	m->qown = calloc(m->qcap, sizeof(*m->qown));
	m->qseq = calloc(m->qcap, sizeof(*m->qseq));
	m->qtime = calloc(m->qcap, sizeof(*m->qtime));
	m->qlive = calloc(m->qcap, 1);
	IU_TRUE(m->st && m->qord && m->qown && m->qseq && m->qtime && m->qlive);
}

static void ctx_fini(struct ctx *c)
{
	struct model *m = &c->m;
	ipam__index_free(c->idx);
	free(m->st);
	free(m->qord);
	free(m->qown);
	free(m->qseq);
	free(m->qtime);
	free(m->qlive);
}

/* Run `steps` operations; returns the step of the first mismatch or -1. At
 * step fault_at (if >= 0) the model is corrupted on purpose. */
static long drive(struct ctx *c, long steps, long fault_at)
{
	for (long s = 0; s < steps; s++) {
		/* Phases that fill and drain, so both full and empty pools occur. */
		bool filling = (s / 1500) % 2 == 0;
		uint64_t op = rnd(c, 100);
		int r;

		if (s == fault_at) {
			size_t i = (size_t)rnd(c, c->m.n);
			c->m.st[i] = c->m.st[i] == M_FREE ? M_USED : M_FREE;
		}
		if (op < (filling ? 50u : 25u))
			r = op_alloc(c);
		else if (op < 70)
			r = op_release(c);
		else if (op < 80)
			r = op_exact(c);
		else if (op < 84)
			r = op_take_untake(c, true);
		else if (op < 88)
			r = op_take_untake(c, false);
		else
			r = op_tick(c);
		if (r == 0)
			r = (c->m.n <= 256 || s % 16 == 0) ? compare_all(c) : compare_counts(c);
		if (r == 0 && s % 500 == 0)
			r = compare_walk(c);
		if (r < 0)
			return s;
	}
	return compare_all(c) < 0 ? steps : -1;
}

static uint64_t master_seed;

START_TEST(test_model)
{
	static const char *const pol_names[] = { "next-fit", "lowest", "random" };
	long steps = tu_scale(20000);
	uint64_t seed = master_seed + (uint64_t)_i * UINT64_C(0x9e3779b97f4a7c15);
	struct ctx c;
	long bad;

	ctx_init(&c, _i, steps, seed);
	bad = drive(&c, steps, -1);
	IU_MSG(bad < 0,
		      "run %d (pool %d, %s, %s, quarantine %d) failed at step %ld: %s "
		      "(seed=%llu)",
		      _i, _i / (2 * NPOLICIES * NQ), _i / (NPOLICIES * NQ) % 2 ? "sparse" : "bitmap",
		      pol_names[_i / NQ % NPOLICIES], _i % NQ, bad, c.why,
		      (unsigned long long)master_seed);
	ctx_fini(&c);
}
END_TEST

/* The checker must be able to fail: corrupt the model at step 300 and
 * expect the comparison to report exactly that step (pool 1 is compared in
 * full after every step). */
START_TEST(test_model_fault_is_detected)
{
	struct ctx c;
	long bad;
	int run = 1 * (2 * NPOLICIES * NQ) + _i * NQ; /* pool 1, bitmap/sparse, next-fit */

	ctx_init(&c, run, 1000, master_seed);
	bad = drive(&c, 1000, 300);
	IU_MSG(bad == 300, "corruption at step 300 detected at %ld", bad);
	IU_TRUE(c.why[0] != '\0');
	ctx_fini(&c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("index-model");
	TCase *tc = tcase_create("model");

	master_seed = tu_seed("index-model");
	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, test_model, 0, NRUNS);
	tcase_add_loop_test(tc, test_model_fault_is_detected, 0, 2);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
