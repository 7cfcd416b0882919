/* SPDX-License-Identifier: MIT */
/*
 * Threads against one context: 8 threads × N random operations (allocate,
 * rebind, release by attachment, by owner, stale releases, lookups) on a
 * 1000-address dual-stack pool set, with owners shared between threads so
 * that they really collide. A checker thread verifies the state while they
 * run; at the end the counts must equal a recount and every owner holding
 * leases holds exactly one per family. Then threads that only allocate,
 * for distinct owners, from a pool with room to spare: with per-address
 * preconditions and candidate claims they never pick the same address, so
 * no commit may conflict, whatever the policy. Built to run under
 * ThreadSanitizer.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "ctx_fixture.h"

#define THREADS 8
#define OWNERS 2000 /* twice the addresses: exhaustion happens */

static ipam_store *st;
static ipam_ctx *ctx;
static long ops_per_thread;
static uint64_t base_seed;
static atomic_int stop_checker;
static atomic_long failures;

static void *worker(void *arg)
{
	long id = (long)(intptr_t)arg;
	uint64_t s = base_seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)(id + 1));
	char owner[32], att[48];
	ipam_lease out[2];

	for (long i = 0; i < ops_per_thread; i++) {
		unsigned o = (unsigned)(tu_splitmix(&s) % OWNERS);
		unsigned gen = (unsigned)(tu_splitmix(&s) % 3); /* sandbox incarnation */
		int op = (int)(tu_splitmix(&s) % 10), e;
		unsigned n = 2;
		snprintf(owner, sizeof(owner), "ns/pod-%u", o);
		snprintf(att, sizeof(att), "sandbox-%u-%u", o, gen);
		ipam_request r = fx_req("net", owner, att);
		int bad = 0;
		if (op < 5) {
			e = ipam_allocate(ctx, &r, out, &n);
			if (e == 0 && (n != 2 || out[0].addr.family != IPAM_AF_INET ||
				       out[1].addr.family != IPAM_AF_INET6 ||
				       strcmp(out[0].attachment, att) != 0))
				bad = 1;
			if (e < 0 && e != -ENOSPC && e != -EAGAIN)
				bad = 1;
		} else if (op < 8) {
			/* -EAGAIN: still conflicting after the bounded attempts
			 * ("try again later"), as for the other writes; coarse
			 * mode under ThreadSanitizer gets there. */
			e = ipam_release_attachment(ctx, "net", att, 0);
			if ((e < 0 && e != -EAGAIN) || e == 1 || e > 2)
				bad = 1; /* 0 or both families */
		} else if (op < 9) {
			e = ipam_release_owner(ctx, "net", owner, NULL);
			if (e < 0 && e != -EAGAIN)
				bad = 1;
		} else {
			n = 2;
			e = ipam_lookup_owner(ctx, "net", owner, "eth0", out, &n);
			if (e < 0 || (n != 0 && n != 2))
				bad = 1;
		}
		if (bad) {
			atomic_fetch_add(&failures, 1);
			fprintf(stderr, "thread %ld op %d on %s: %d (%s)\n", id, op, owner, e,
				e < 0 ? ipam_last_error_message() : "unexpected result");
		}
	}
	return NULL;
}

static void *checker(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop_checker)) {
		if (ipam_verify(ctx, "net") != 0) {
			fprintf(stderr, "verify: %s\n", ipam_last_error_message());
			atomic_fetch_add(&failures, 1);
		}
		struct timespec ts = { 0, 2000000 };
		nanosleep(&ts, NULL);
	}
	return NULL;
}

struct recount {
	unsigned v4[OWNERS], v6[OWNERS];
	long bound;
};

static int recount_cb(void *ud, const ipam_lease *l)
{
	struct recount *rc = ud;
	unsigned o;
	if (l->state != IPAM_LEASE_BOUND || sscanf(l->owner, "ns/pod-%u", &o) != 1 || o >= OWNERS)
		return 1;
	if (l->addr.family == IPAM_AF_INET)
		rc->v4[o]++;
	else
		rc->v6[o]++;
	rc->bound++;
	return 0;
}

static void run(int coarse)
{
	pthread_t t[THREADS], chk;
	struct recount *rc = calloc(1, sizeof(*rc));
	ipam_ctx_stats s;

	base_seed = tu_seed(coarse ? "stress coarse" : "stress fine");
	ops_per_thread = tu_scale(100000);
	atomic_store(&failures, 0);
	atomic_store(&stop_checker, 0);
	st = fx_store();
	ctx = fx_ctx(st, coarse);
	/* 1000 addresses per family. */
	fx_add_set(ctx, "net", fx_pool("v4", "10.20.0.0/22", "10.20.0.1-10.20.3.232", NULL),
		   fx_pool("v6", "fd00:20::/64", "fd00:20::1-fd00:20::3e8", NULL), NULL);
	pthread_create(&chk, NULL, checker, NULL);
	for (long i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	atomic_store(&stop_checker, 1);
	pthread_join(chk, NULL);
	ck_assert_int_eq(atomic_load(&failures), 0);
	ck_assert_msg(ipam_verify(ctx, "net") == 0, "%s", ipam_last_error_message());
	ck_assert_int_eq(ipam_foreach_lease(ctx, "net", NULL, recount_cb, rc), 0);
	for (unsigned o = 0; o < OWNERS; o++)
		ck_assert_msg(rc->v4[o] == rc->v6[o] && rc->v4[o] <= 1, "owner %u: %u v4, %u v6", o,
			      rc->v4[o], rc->v6[o]);
	ck_assert_uint_eq(fx_used(ctx, "net", "v4"), (uint64_t)rc->bound / 2);
	ck_assert_uint_eq(fx_used(ctx, "net", "v6"), (uint64_t)rc->bound / 2);
	ipam_ctx_stats_get(ctx, &s);
	printf("%s: %ld ops, %llu commits, %llu conflicts (%.3f per commit), %llu retries, "
	       "%llu gave up, %llu exhausted, %ld bound at the end\n",
	       coarse ? "coarse" : "fine", ops_per_thread * THREADS,
	       (unsigned long long)s.commits, (unsigned long long)s.conflicts,
	       s.commits ? (double)s.conflicts / (double)s.commits : 0.0,
	       (unsigned long long)s.retries, (unsigned long long)s.gave_up,
	       (unsigned long long)s.exhausted, rc->bound / 2);
	ipam_ctx_free(ctx);
	fx_store_free(st);
	free(rc);
}

START_TEST(stress_fine)
{
	run(0);
}
END_TEST

START_TEST(stress_coarse)
{
	run(1);
}
END_TEST

/* ---- concurrent deciders take different candidates ------------------------------- */

#define ROOMY_THREADS 4

static long roomy_per_thread;

static void *roomy_worker(void *arg)
{
	long id = (long)(intptr_t)arg;
	char owner[32];
	ipam_lease out[2];

	for (long i = 0; i < roomy_per_thread; i++) {
		unsigned n = 2;
		snprintf(owner, sizeof(owner), "ns/pod-%ld-%ld", id, i);
		ipam_request r = fx_req("net", owner, owner);
		if (ipam_allocate(ctx, &r, out, &n) != 0 || n != 2)
			atomic_fetch_add(&failures, 1);
	}
	return NULL;
}

static void roomy(ipam_policy policy)
{
	pthread_t t[ROOMY_THREADS];
	ipam_pool *p4 = fx_pool("v4", "10.21.0.0/21", NULL, NULL); /* 2046 addresses */
	ipam_pool *p6 = fx_pool("v6", "fd00:21::/64", NULL, NULL);
	ipam_ctx_stats s;

	ck_assert_int_eq(ipam_pool_set_policy(p4, policy), 0);
	ck_assert_int_eq(ipam_pool_set_policy(p6, policy), 0);
	roomy_per_thread = tu_scale(250); /* at most half the v4 pool in all */
	if (roomy_per_thread * ROOMY_THREADS > 1000)
		roomy_per_thread = 1000 / ROOMY_THREADS;
	atomic_store(&failures, 0);
	ck_assert_int_eq(ipam_store_memory_new(&st), 0);
	ctx = fx_ctx(st, 0);
	fx_add_set(ctx, "net", p4, p6, NULL);
	for (long i = 0; i < ROOMY_THREADS; i++)
		pthread_create(&t[i], NULL, roomy_worker, (void *)(intptr_t)i);
	for (int i = 0; i < ROOMY_THREADS; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_eq(atomic_load(&failures), 0);
	ck_assert_msg(ipam_verify(ctx, "net") == 0, "%s", ipam_last_error_message());
	ck_assert_uint_eq(fx_used(ctx, "net", "v4"), (uint64_t)(roomy_per_thread * ROOMY_THREADS));
	ck_assert_uint_eq(fx_used(ctx, "net", "v6"), (uint64_t)(roomy_per_thread * ROOMY_THREADS));
	ipam_ctx_stats_get(ctx, &s);
	printf("roomy %s: %ld allocations, %llu conflicts, %llu retries\n",
	       policy == IPAM_POLICY_LOWEST ? "lowest" : policy == IPAM_POLICY_RANDOM ? "random" : "next-fit",
	       roomy_per_thread * ROOMY_THREADS, (unsigned long long)s.conflicts,
	       (unsigned long long)s.retries);
	ck_assert_uint_eq(s.conflicts, 0);
	ipam_ctx_free(ctx);
	ipam_store_free(st);
}

START_TEST(roomy_no_conflicts)
{
	roomy(IPAM_POLICY_NEXT_FIT);
	roomy(IPAM_POLICY_LOWEST);
	roomy(IPAM_POLICY_RANDOM);
}
END_TEST

/* ipam_foreach_lease() while another thread adds leases (the address
 * table doubles several times meanwhile): no record is listed twice, and
 * every lease committed before a walk began is listed by it. */
#define WALK_LEASES 3000

static atomic_long walk_done; /* leases committed so far, in order */
static ipam_addr walk_addr[WALK_LEASES];

static void *walk_writer(void *arg)
{
	char owner[32];
	ipam_lease out[1];

	(void)arg;
	for (long i = 0; i < WALK_LEASES; i++) {
		unsigned n = 1;
		snprintf(owner, sizeof(owner), "ns/w-%ld", i);
		ipam_request r = fx_req("net", owner, owner);
		if (ipam_allocate(ctx, &r, out, &n) != 0 || n != 1) {
			atomic_fetch_add(&failures, 1);
			break;
		}
		walk_addr[i] = out[0].addr;
		atomic_store(&walk_done, i + 1);
	}
	return NULL;
}

struct walk {
	unsigned char *seen; /* by host number in 10.22.0.0/20 */
	long dups, listed;
};

static int walk_cb(void *ud, const ipam_lease *l)
{
	struct walk *w = ud;
	uint32_t host = (uint32_t)l->addr.lo - 0x0a160000u;

	if (host >= 4096 || w->seen[host]++)
		w->dups++;
	if (++w->listed % 32 == 0) { /* let the writer grow the table mid-walk */
		struct timespec ts = { 0, 50000 };
		nanosleep(&ts, NULL);
	}
	return 0;
}

START_TEST(foreach_while_growing)
{
	pthread_t t;
	struct walk w;
	long walks = 0;

	atomic_store(&failures, 0);
	atomic_store(&walk_done, 0);
	ck_assert_int_eq(ipam_store_memory_new(&st), 0);
	ctx = fx_ctx(st, 0);
	fx_add_set(ctx, "net", fx_pool("v4", "10.22.0.0/20", NULL, NULL), NULL);
	w.seen = calloc(4096, 1);
	ck_assert_ptr_nonnull(w.seen);
	pthread_create(&t, NULL, walk_writer, NULL);
	while (atomic_load(&walk_done) < WALK_LEASES && atomic_load(&failures) == 0) {
		long before = atomic_load(&walk_done);
		memset(w.seen, 0, 4096);
		w.dups = w.listed = 0;
		ck_assert_int_eq(ipam_foreach_lease(ctx, "net", NULL, walk_cb, &w), 0);
		ck_assert_msg(w.dups == 0, "walk %ld: %ld records listed twice", walks, w.dups);
		for (long i = 0; i < before; i++)
			ck_assert_msg(w.seen[(uint32_t)walk_addr[i].lo - 0x0a160000u] == 1,
				      "walk %ld: a lease committed before it was not listed", walks);
		walks++;
	}
	pthread_join(t, NULL);
	printf("foreach while growing: %ld walks over 0..%d leases\n", walks, WALK_LEASES);
	ck_assert_int_eq(atomic_load(&failures), 0);
	free(w.seen);
	ipam_ctx_free(ctx);
	ipam_store_free(st);
}
END_TEST

/* Threads with a context each over one store (each defines the set
 * itself): their leases are one state. Every owner gets its own address,
 * and a context made afterwards finds every lease still held, each
 * address once. */
#define CTX_THREADS 4
#define CTX_OWNERS 50

static void *ctx_worker(void *arg)
{
	long id = (long)(intptr_t)arg;
	ipam_ctx *c = fx_ctx(st, 0);
	char owner[32];
	ipam_lease out[1];

	fx_add_set(c, "net", fx_pool("v4", "10.23.0.0/24", NULL, NULL), NULL);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < CTX_OWNERS; i++) {
			unsigned n = 1;
			int e, tries = 0;
			snprintf(owner, sizeof(owner), "ns/t%ld-%d", id, i);
			ipam_request r = fx_req("net", owner, owner);
			while ((e = ipam_allocate(c, &r, out, &n)) == -EAGAIN && ++tries < 100)
				n = 1;
			if (e != 0 || n != 1)
				atomic_fetch_add(&failures, 1);
			/* Every other owner leaves again. */
			if (round == 1 && i % 2 && ipam_release_attachment(c, "net", owner, 0) != 1)
				atomic_fetch_add(&failures, 1);
		}
	}
	ipam_ctx_free(c);
	return NULL;
}

static int count_cb(void *ud, const ipam_lease *l)
{
	unsigned char *seen = ud;
	uint32_t host = (uint32_t)l->addr.lo & 0xff;

	if ((uint32_t)l->addr.lo >> 8 != 0x0a1700u || seen[host]++)
		atomic_fetch_add(&failures, 1);
	return 0;
}

START_TEST(contexts_in_threads)
{
	pthread_t t[CTX_THREADS];
	unsigned char seen[256] = { 0 };
	ipam_lease l;

	atomic_store(&failures, 0);
	st = fx_store();
	for (long i = 0; i < CTX_THREADS; i++)
		pthread_create(&t[i], NULL, ctx_worker, (void *)(intptr_t)i);
	for (int i = 0; i < CTX_THREADS; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_eq(atomic_load(&failures), 0);
	ctx = fx_ctx(st, 0);
	fx_add_set(ctx, "net", fx_pool("v4", "10.23.0.0/24", NULL, NULL), NULL);
	ck_assert_int_eq(ipam_verify(ctx, "net"), 0);
	ck_assert_uint_eq(fx_used(ctx, "net", "v4"), CTX_THREADS * CTX_OWNERS / 2);
	ck_assert_int_eq(ipam_foreach_lease(ctx, "net", NULL, count_cb, seen), 0);
	ck_assert_int_eq(atomic_load(&failures), 0);
	unsigned n = 1;
	ck_assert_int_eq(ipam_lookup_owner(ctx, "net", "ns/t3-48", NULL, &l, &n), 0);
	ck_assert_uint_eq(n, 1);
	ipam_ctx_free(ctx);
	fx_store_free(st);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("stress");
	TCase *tc = tcase_create("threads");
	tcase_set_timeout(tc, 900);
	tcase_add_test(tc, stress_fine);
	tcase_add_test(tc, stress_coarse);
	tcase_add_test(tc, roomy_no_conflicts);
	tcase_add_test(tc, foreach_while_growing);
	tcase_add_test(tc, contexts_in_threads);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
