/* SPDX-License-Identifier: MIT */
/*
 * Benchmarks of the public allocate/release API on the memory store:
 *  1. one thread, allocate+release on a /16 at 99 % use, beside the raw
 *     free-space index doing the same (the ratio is the figure);
 *  2. 1, 2 and 4 threads churning one 1000-address pool, fine (per-address)
 *     vs coarse (whole-pool) preconditions: operations/s and conflicts per
 *     commit;
 *  3. memory per lease with realistic owners and container ids, counted by
 *     an injected allocator: after a fill, and after long churn at a
 *     constant lease count (the figure a long-running store sees), beside
 *     a fresh fill with the same names.
 * Prints figures; never fails on them (benchmarks are not tests).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ipam/ipam.h>

#include "floor_model.h"
#include "index/index.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void die(const char *what)
{
	fprintf(stderr, "bench: %s: %s\n", what, ipam_last_error_message());
	exit(1);
}

static ipam_pool *pool(const char *name, const char *subnet, const char *range)
{
	ipam_pool *p = NULL;
	ipam_range r;
	if (ipam_pool_new_str(&p, name, subnet) < 0)
		die("pool");
	if (range && (ipam_range_parse(range, &r) < 0 || ipam_pool_add_range(p, &r) < 0))
		die("range");
	return p;
}

static ipam_ctx *make_ctx(ipam_store **st, int coarse, ipam_pool *p4, ipam_pool *p6)
{
	ipam_ctx_options o;
	ipam_ctx *ctx = NULL;
	ipam_poolset *set = NULL;
	if (ipam_store_memory_new(st) < 0)
		die("store");
	ipam_ctx_options_init(&o);
	o.coarse = coarse;
	o.node = "node-1";
	o.max_attempts = 1000;
	if (ipam_ctx_new(&ctx, *st, &o) < 0 || ipam_poolset_new(&set, "net") < 0 ||
	    ipam_poolset_add(set, p4) < 0 || (p6 && ipam_poolset_add(set, p6) < 0) ||
	    ipam_ctx_add_poolset(ctx, set) < 0)
		die("context");
	return ctx;
}

/* ---- 1. API vs raw index at 99 % ---------------------------------------------------- */

/* Names for the churn: short ("x17", the same string as owner and
 * attachment), or realistic (a 38-byte "namespace/pod" owner and a 64-digit
 * container id). Made before the clock starts: the raw index beside this
 * formats nothing either. */
static char churn_owner[1024][64], churn_att[1024][72];

static void churn_names(int realistic)
{
	for (int i = 0; i < 1024; i++) {
		if (realistic) {
			snprintf(churn_owner[i], sizeof(churn_owner[i]),
				 "namespace-%d/pod-name-5d8f7c9b6-%05x", i % 50, i);
			snprintf(churn_att[i], sizeof(churn_att[i]), "%016lx%016lx%016lx%016lx",
				 (unsigned long)i * 7919, (unsigned long)i * 104729, (unsigned long)i,
				 ~(unsigned long)i);
		} else {
			snprintf(churn_owner[i], sizeof(churn_owner[i]), "x%d", i);
			snprintf(churn_att[i], sizeof(churn_att[i]), "x%d", i);
		}
	}
}

/* The timed loop alone, for a profiler (see main). */
static __attribute__((noinline)) void api_churn(ipam_ctx *ctx, long iters)
{
	ipam_lease l;

	for (long i = 0; i < iters; i++) {
		const char *who = churn_owner[i & 1023], *att = churn_att[i & 1023];
		ipam_request r = { .poolset = "net", .owner = who, .ifname = "eth0", .attachment = att };
		unsigned n = 1;
		if (ipam_allocate(ctx, &r, &l, &n) < 0 || ipam_release_attachment(ctx, "net", att, 0) != 1)
			die("churn");
	}
}

static long api_iters = 200000;

/* The lower bound of floor_model.c on the same pool, fill and names. */
static __attribute__((noinline)) void floor_churn(struct floor_model *f, long iters)
{
	ipam_lease l;

	for (long i = 0; i < iters; i++)
		if (floor_model_allocate(f, churn_owner[i & 1023], "eth0", churn_att[i & 1023], &l) < 0 ||
		    floor_model_release(f, churn_att[i & 1023]) != 1)
			die("floor churn");
}

/* What section 1 times beside the raw index: the public API on the memory
 * store, or the floor model. */
struct side {
	ipam_store *st;
	ipam_ctx *ctx;
	ipam_pool *p;
	struct floor_model *f;
};

static void side_open(struct side *s, int floor)
{
	memset(s, 0, sizeof(*s));
	if (!floor) {
		s->ctx = make_ctx(&s->st, 0, pool("v4", "10.0.0.0/16", NULL), NULL);
		return;
	}
	s->p = pool("v4", "10.0.0.0/16", NULL);
	if (floor_model_new(&s->f, s->p, "node-1", 65536) < 0)
		die("floor model");
}

static int side_allocate(struct side *s, const char *owner)
{
	ipam_request r = { .poolset = "net", .owner = owner, .ifname = "eth0", .attachment = owner };
	ipam_lease l;
	unsigned n = 1;

	return s->f ? floor_model_allocate(s->f, owner, "eth0", owner, &l)
		    : ipam_allocate(s->ctx, &r, &l, &n);
}

static void side_close(struct side *s)
{
	ipam_ctx_free(s->ctx);
	ipam_store_free(s->st);
	floor_model_free(s->f);
	ipam_pool_free(s->p);
}

/* ns per allocate+release of one side, on a /16 filled to 99 %. */
static double side_99(int floor, int realistic)
{
	struct side s;
	char owner[32];
	const long total = 65534, fill = total * 99 / 100, iters = api_iters;
	side_open(&s, floor);
	for (long i = 0; i < fill; i++) {
		snprintf(owner, sizeof(owner), "o%ld", i);
		if (side_allocate(&s, owner) < 0)
			die("fill");
	}
	churn_names(realistic);
	double t0 = now_s();
	if (floor)
		floor_churn(s.f, iters);
	else
		api_churn(s.ctx, iters);
	double ns = (now_s() - t0) / (double)iters * 1e9;
	side_close(&s);
	return ns;
}

static double api_99(int realistic)
{
	return side_99(0, realistic);
}

static double floor_99(int realistic)
{
	return side_99(1, realistic);
}

static __attribute__((noinline)) void index_churn(ipam__index *idx, long iters)
{
	ipam_addr a;

	for (long i = 0; i < iters; i++)
		if (ipam__index_alloc(idx, 0, NULL, 0, &a) < 0 || ipam__index_release(idx, &a, 0, 0) < 0)
			die("index churn");
}

static long index_iters = 2000000;

static double index_99(void)
{
	ipam_pool *p = pool("v4", "10.0.0.0/16", NULL);
	ipam__index *idx = NULL;
	ipam_addr a;
	const long total = 65534, fill = total * 99 / 100, iters = index_iters;
	if (ipam__index_new(&idx, p) < 0)
		die("index");
	for (long i = 0; i < fill; i++)
		if (ipam__index_alloc(idx, 0, NULL, 0, &a) < 0)
			die("index fill");
	double t0 = now_s();
	index_churn(idx, iters);
	double ns = (now_s() - t0) / (double)iters * 1e9;
	ipam__index_free(idx);
	ipam_pool_free(p);
	return ns;
}

/* ---- 2. threads, fine vs coarse -------------------------------------------------------- */

struct tharg {
	ipam_ctx *ctx;
	int id;
	long ops;
	float *lat; /* ops entries: microseconds per allocate+release */
};

static void *churn(void *arg)
{
	struct tharg *a = arg;
	char owner[32];
	ipam_lease l[2];
	/* Each thread cycles through its own 1000/threads-ish owners; pods
	 * come and go, as on a node. */
	for (long i = 0; i < a->ops; i++) {
		snprintf(owner, sizeof(owner), "t%d/pod-%ld", a->id, i % 200);
		ipam_request r = { .poolset = "net", .owner = owner, .ifname = "eth0", .attachment = owner };
		unsigned n = 2;
		double t0 = now_s();
		int e = ipam_allocate(a->ctx, &r, l, &n);
		if (e < 0 && e != -ENOSPC && e != -EAGAIN)
			die("thread allocate");
		if (ipam_release_attachment(a->ctx, "net", owner, 0) < 0)
			die("thread release");
		a->lat[i] = (float)((now_s() - t0) * 1e6);
	}
	return NULL;
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return x < y ? -1 : x > y;
}

struct thres {
	double ops_s;
	unsigned long long commits, conflicts;
	double p99_us, max_us; /* of one allocate+release, over every thread */
};

static struct thres threads_run(int nthreads, int coarse)
{
	ipam_store *st;
	ipam_ctx *ctx = make_ctx(&st, coarse, pool("v4", "10.1.0.0/22", "10.1.0.1-10.1.3.232"), NULL);
	pthread_t t[8];
	struct tharg args[8];
	ipam_ctx_stats s;
	struct thres res;
	const long ops = 200000 / nthreads;
	float *lat = malloc(sizeof(float) * (size_t)(ops * nthreads));
	if (!lat)
		die("latencies");
	double t0 = now_s();
	for (int i = 0; i < nthreads; i++) {
		args[i] = (struct tharg){ ctx, i, ops, lat + i * ops };
		pthread_create(&t[i], NULL, churn, &args[i]);
	}
	for (int i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
	double dt = now_s() - t0;
	ipam_ctx_stats_get(ctx, &s);
	res.ops_s = (double)(2 * ops * nthreads) / dt;
	res.commits = (unsigned long long)s.commits;
	res.conflicts = (unsigned long long)s.conflicts;
	qsort(lat, (size_t)(ops * nthreads), sizeof(float), cmp_float);
	res.p99_us = (double)lat[(size_t)(ops * nthreads) * 99 / 100];
	res.max_us = (double)lat[ops * nthreads - 1];
	free(lat);
	ipam_ctx_free(ctx);
	ipam_store_free(st);
	return res;
}

/* Each thread count: ROUNDS runs of fine and of coarse, the two taking
 * turns to go first (this machine's speed drifts): the median and the
 * range of operations/s, conflicts over all runs, and the median over the
 * runs of the 99th percentile and of the longest allocate+release. A
 * conflict costs the loser a backoff sleep, during which the other threads
 * run alone: operations/s alone hides that. */
#define ROUNDS 5

static void threads_section(void)
{
	for (int t = 1; t <= 4; t *= 2) {
		double v[2][ROUNDS], p99[2][ROUNDS], mx[2][ROUNDS];
		unsigned long long commits[2] = { 0, 0 }, conflicts[2] = { 0, 0 };
		for (int r = 0; r < ROUNDS; r++) {
			for (int k = 0; k < 2; k++) {
				int coarse = (r & 1) ^ k;
				struct thres x = threads_run(t, coarse);
				v[coarse][r] = x.ops_s;
				p99[coarse][r] = x.p99_us;
				mx[coarse][r] = x.max_us;
				commits[coarse] += x.commits;
				conflicts[coarse] += x.conflicts;
			}
		}
		for (int coarse = 0; coarse < 2; coarse++) {
			qsort(v[coarse], ROUNDS, sizeof(double), cmp_double);
			qsort(p99[coarse], ROUNDS, sizeof(double), cmp_double);
			qsort(mx[coarse], ROUNDS, sizeof(double), cmp_double);
			printf("  %-6s %d thread%s %9.0f ops/s (%.0f-%.0f)  %.4f conflicts/commit (%llu of %llu)"
			       "  p99 %.1f us, max %.0f us\n",
			       coarse ? "coarse" : "fine", t, t > 1 ? "s" : " ", v[coarse][ROUNDS / 2],
			       v[coarse][0], v[coarse][ROUNDS - 1],
			       commits[coarse] ? (double)conflicts[coarse] / (double)commits[coarse] : 0.0,
			       conflicts[coarse], commits[coarse], p99[coarse][ROUNDS / 2],
			       mx[coarse][ROUNDS / 2]);
		}
	}
}

/* ---- 3. memory per lease ------------------------------------------------------------------ */

static atomic_size_t live_bytes;

static void *m_alloc(size_t size, void *ud)
{
	(void)ud;
	atomic_fetch_add(&live_bytes, size);
	return malloc(size);
}

static void *m_resize(void *p, size_t o, size_t n, void *ud)
{
	(void)ud;
	atomic_fetch_add(&live_bytes, n);
	atomic_fetch_sub(&live_bytes, o);
	return realloc(p, n);
}

static void m_release(void *p, size_t size, void *ud)
{
	(void)ud;
	if (p)
		atomic_fetch_sub(&live_bytes, size);
	free(p);
}

static void memory_per_lease(void)
{
	static const ipam_allocator counting = { m_alloc, m_resize, m_release, NULL };
	const long n = 60000;
	ipam_store *st;
	ipam_ctx *ctx;
	ipam_lease l;
	char owner[64], att[80];
	ipam_set_allocator(&counting);
	ctx = make_ctx(&st, 0, pool("v4", "10.2.0.0/16", NULL), NULL);
	size_t before = atomic_load(&live_bytes);
	for (long i = 0; i < n; i++) {
		snprintf(owner, sizeof(owner), "namespace-%ld/pod-name-5d8f7c9b6-%05lx", i % 50, i);
		snprintf(att, sizeof(att), "%016lx%016lx%016lx%016lx", i * 7919, i * 104729, i, ~i);
		ipam_request r = { .poolset = "net", .owner = owner, .ifname = "eth0", .attachment = att,
				   .node = "worker-node-07" };
		unsigned k = 1;
		if (ipam_allocate(ctx, &r, &l, &k) < 0)
			die("memory fill");
	}
	size_t after = atomic_load(&live_bytes);
	printf("  %ld leases (owner ~38 B, 64-hex container id): %.1f bytes per lease, "
	       "index and chains included (target <= 160)\n",
	       n, (double)(after - before) / (double)n);
	ipam_ctx_free(ctx);
	ipam_store_free(st);
	ipam_set_allocator(NULL);
}

/* The owner of lease `serial` with `extra` letters in its pod name. */
static void churn_owner_name(char *buf, size_t size, long serial, int extra)
{
	static const char letters[] = "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz"
				      "abcdefghijklmnopqrstuvwxyz";
	snprintf(buf, size, "namespace-%ld/pod-%.*s-%05lx", serial % 50, extra + 10, letters,
		 (unsigned long)serial);
}

static void churn_att_name(char *buf, size_t size, long serial)
{
	unsigned long i = (unsigned long)serial;
	snprintf(buf, size, "%016lx%016lx%016lx%016lx", i * 7919, i * 104729, i, ~i);
}

static uint64_t mem_rng = 88172645463325252ull;
static uint64_t mem_rand(void)
{
	mem_rng ^= mem_rng << 13;
	mem_rng ^= mem_rng >> 7;
	mem_rng ^= mem_rng << 17;
	return mem_rng;
}

/* The extra letters of a pod name: 0-19 at random (drift 0), or growing by
 * one letter every 1/120 of the first half of the churn up to 60 and then
 * staying there (drift 1: pods come back with longer names). */
static int churn_extra(int drift, long step, long steps)
{
	if (!drift)
		return (int)(mem_rand() % 20);
	return step >= steps / 2 ? 60 : (int)(60 * step / (steps / 2));
}

/* Bytes per lease of n leases in a fresh store, names as the churn's last. */
static double fresh_fill(long n, int drift)
{
	ipam_store *st;
	ipam_ctx *ctx = make_ctx(&st, 0, pool("v4", "10.2.0.0/16", NULL), NULL);
	char owner[128], att[80];
	ipam_lease l;
	size_t before = atomic_load(&live_bytes);
	double b;

	for (long i = 0; i < n; i++) {
		churn_owner_name(owner, sizeof(owner), i, churn_extra(drift, 1, 1));
		churn_att_name(att, sizeof(att), i);
		ipam_request r = { .poolset = "net", .owner = owner, .ifname = "eth0", .attachment = att,
				   .node = "worker-node-07" };
		unsigned k = 1;
		if (ipam_allocate(ctx, &r, &l, &k) < 0)
			die("fresh fill");
	}
	b = (double)(atomic_load(&live_bytes) - before) / (double)n;
	ipam_ctx_free(ctx);
	ipam_store_free(st);
	return b;
}

/* n leases, then `steps` times: release one at random, allocate a new one. */
static void memory_after_churn(int drift)
{
	static const ipam_allocator counting = { m_alloc, m_resize, m_release, NULL };
	enum { N = 60000 };
	static char att[N][72];
	const long steps = 1000000;
	ipam_store *st;
	ipam_ctx *ctx;
	ipam_lease l;
	char owner[128];
	long serial = 0;
	size_t before;
	double churned;

	ipam_set_allocator(&counting);
	ctx = make_ctx(&st, 0, pool("v4", "10.2.0.0/16", NULL), NULL);
	before = atomic_load(&live_bytes);
	for (long step = -N; step < steps; step++) {
		long i = step < 0 ? step + N : (long)(mem_rand() % N);
		if (step >= 0 && ipam_release_attachment(ctx, "net", att[i], 0) != 1)
			die("churn release");
		churn_owner_name(owner, sizeof(owner), serial,
				 step < 0 ? churn_extra(0, 0, 1) : churn_extra(drift, step, steps));
		churn_att_name(att[i], sizeof(att[i]), serial++);
		ipam_request r = { .poolset = "net", .owner = owner, .ifname = "eth0", .attachment = att[i],
				   .node = "worker-node-07" };
		unsigned k = 1;
		if (ipam_allocate(ctx, &r, &l, &k) < 0)
			die("churn allocate");
	}
	churned = (double)(atomic_load(&live_bytes) - before) / N;
	ipam_ctx_free(ctx);
	ipam_store_free(st);
	printf("  %d leases after %ld releases and allocations, %s: %.1f bytes per lease; "
	       "a fresh fill with the same names %.1f\n",
	       N, steps,
	       drift ? "pod names growing by 60 letters over the first half"
		     : "pod names of 10-29 letters at random",
	       churned, fresh_fill(N, drift));
	ipam_set_allocator(NULL);
}

int main(int argc, char **argv)
{
	double api[5], raw[5], real[5], low[5], low_real[5];
	/* "api [N]", "api-real [N]", "floor [N]", "floor-real [N]", "index [N]":
	 * one side of section 1 once, N iterations (default 20 000), for
	 * instruction counts under a profiler:
	 * valgrind --tool=callgrind --toggle-collect='api_churn*' bench-ctx api
	 * (floor_churn for the floor model, index_churn for the index). */
	if (argc > 1 && (strcmp(argv[1], "api") == 0 || strcmp(argv[1], "api-real") == 0 ||
			 strcmp(argv[1], "floor") == 0 || strcmp(argv[1], "floor-real") == 0 ||
			 strcmp(argv[1], "index") == 0)) {
		long n = argc > 2 ? atol(argv[2]) : 20000;
		int realistic = strchr(argv[1], '-') != NULL;
		if (n <= 0)
			n = 20000;
		api_iters = index_iters = n;
		if (argv[1][0] == 'a')
			printf("public API %.1f ns per allocate+release (%ld iterations%s)\n",
			       api_99(realistic), n, realistic ? ", realistic names" : "");
		else if (argv[1][0] == 'f')
			printf("floor model %.1f ns per allocate+release (%ld iterations%s)\n",
			       floor_99(realistic), n, realistic ? ", realistic names" : "");
		else
			printf("raw index %.1f ns per allocate+release (%ld iterations)\n", index_99(), n);
		return 0;
	}
	/* "memory": section 3 alone. */
	if (argc > 1 && strcmp(argv[1], "memory") == 0) {
		memory_per_lease();
		memory_after_churn(0);
		memory_after_churn(1);
		return 0;
	}
	/* "threads": section 2 alone. */
	if (argc > 1 && strcmp(argv[1], "threads") == 0) {
		threads_section();
		return 0;
	}
	printf("libipam %s, allocator %s\n", ipam_version(), ipam_default_allocator_name());
	printf("1. allocate+release, one thread, /16 at 99 %% use (median of 5):\n");
	for (int i = 0; i < 5; i++) {
		raw[i] = index_99();
		api[i] = api_99(0);
		real[i] = api_99(1);
		low[i] = floor_99(0);
		low_real[i] = floor_99(1);
	}
	qsort(api, 5, sizeof(double), cmp_double);
	qsort(raw, 5, sizeof(double), cmp_double);
	qsort(real, 5, sizeof(double), cmp_double);
	qsort(low, 5, sizeof(double), cmp_double);
	qsort(low_real, 5, sizeof(double), cmp_double);
	printf("  raw index %8.1f ns   public API %8.1f ns   ratio %.2fx (target <= 3x)\n", raw[2],
	       api[2], api[2] / raw[2]);
	printf("  the API with realistic names (38-byte owner, 64-hex container id): %.1f ns, %.2fx\n",
	       real[2], real[2] / raw[2]);
	printf("  floor model (bench/floor_model.c: the least work of the contract, no library "
	       "around it): %.1f ns, %.2fx; realistic names %.1f ns, %.2fx\n",
	       low[2], low[2] / raw[2], low_real[2], low_real[2] / raw[2]);
	printf("2. one 1000-address pool, threads allocating and releasing (median of %d, range):\n",
	       ROUNDS);
	threads_section();
	printf("3. memory:\n");
	memory_per_lease();
	memory_after_churn(0);
	memory_after_churn(1);
	return 0;
}
