/* SPDX-License-Identifier: MIT */
/*
 * Benchmark of the free-space index (lib/index): nanoseconds per
 * allocate+release at a steady fill, and bytes of memory per address.
 *
 * Two workloads, both at a constant fill: allocate by the pool's policy and
 * release that same address ("same"), or allocate and release a random
 * address in use ("random": the free addresses keep moving, as under pod
 * churn, and a first-fit scan has to walk past the used front of the pool).
 * Each figure is the median of RUNS timed runs after a warm-up, all in this
 * one process; the times include the benchmark's own bookkeeping.
 *
 * - /16 IPv4 pool at 50 % and 99 % use, bitmap index, each policy, beside a
 *   plain flat first-fit bitmap (scan words from the start; defined below)
 *   doing the same operations: the ratio is the figure that matters;
 * - /64 IPv6 pool with 1M taken addresses (sparse index), next-fit and
 *   random;
 * - memory, counted through an injected allocator: bits per address of the
 *   bitmap, bytes per taken address of the sparse index.
 *
 * Run: meson compile -C <builddir> bench-index && <builddir>/bench/bench-index
 * (or `meson test -C <builddir> --benchmark`); use buildtype=release.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ipam/ipam.h>

#include "index/index.h"

#define RUNS 5

/* ---- a counting allocator ------------------------------------------------ */

static size_t live_bytes;

static void *count_alloc(size_t size, void *ud)
{
	(void)ud;
	live_bytes += size;
	return malloc(size ? size : 1);
}

static void *count_resize(void *p, size_t old, size_t size, void *ud)
{
	(void)ud;
	live_bytes += size - old;
	return realloc(p, size ? size : 1);
}

static void count_release(void *p, size_t size, void *ud)
{
	(void)ud;
	if (p)
		live_bytes -= size;
	free(p);
}

/* ---- helpers --------------------------------------------------------------- */

static uint64_t rng_state = 0x1234567;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

static void die(const char *what, int r)
{
	fprintf(stderr, "bench-index: %s: %s (%s)\n", what, ipam_strerror(r),
		ipam_last_error_message());
	exit(1);
}

static ipam__index *make(const char *subnet, ipam_policy pol)
{
	ipam_pool *p = NULL;
	ipam__index *idx = NULL;
	int r;

	if ((r = ipam_pool_new_str(&p, "bench", subnet)) < 0 ||
	    (r = ipam_pool_set_policy(p, pol)) < 0 || (r = ipam__index_new(&idx, p)) < 0)
		die(subnet, r);
	ipam_pool_free(p);
	ipam__index_seed(idx, 99);
	return idx;
}

static inline size_t below(size_t n)
{
	return (size_t)(((ipam__u128)rnd() * n) >> 64);
}

/* Addresses in use, for "release a random used one": the low 64 bits only
 * (8 bytes each, as the flat comparison's array), the rest from `tmpl` (every
 * pool here lies within one 2^64-aligned block). */
struct used {
	uint64_t *v;
	size_t n;
	ipam_addr tmpl;
};

/* The two workloads, both keeping the fill constant:
 * SAME:  allocate by policy, release that address again;
 * CHURN: allocate by policy, release a random address in use (the free
 *        addresses move, as under pod churn; first-fit degrades here). */
enum pattern { SAME, CHURN };
static const char *const pattern_names[] = { "alloc+release same", "alloc+release random" };

/* ---- the index ---------------------------------------------------------- */

static void index_fill(ipam__index *idx, struct used *u, uint64_t target)
{
	struct ipam__index_counts c;
	uint64_t total, *perm;

	ipam__index_counts(idx, &c);
	total = (uint64_t)c.total;
	perm = malloc(total * sizeof(*perm)); /* random distinct ordinals */
	for (uint64_t i = 0; i < total; i++)
		perm[i] = i;
	for (uint64_t i = 0; i < target; i++) {
		uint64_t j = i + below(total - i), t = perm[i];
		ipam_addr a;
		int r;
		perm[i] = perm[j];
		perm[j] = t;
		ipam__index_address(idx, perm[i], &a);
		if ((r = ipam__index_take(idx, &a)) < 0)
			die("take", r);
		u->tmpl = a;
		u->v[u->n++] = a.lo;
	}
	free(perm);
}

static void index_run(ipam__index *idx, struct used *u, enum pattern pat, long ops)
{
	for (long k = 0; k < ops; k++) {
		ipam_addr a;
		int r = ipam__index_alloc(idx, 1, NULL, 0, &a);
		if (r < 0)
			die("alloc", r);
		if (pat == CHURN) {
			size_t j = below(u->n);
			u->v[u->n++] = a.lo;
			a.lo = u->v[j];
			u->v[j] = u->v[--u->n];
		}
		if ((r = ipam__index_release(idx, &a, 1, 0)) < 0)
			die("release", r);
	}
}

static double time_index(ipam__index *idx, struct used *u, enum pattern pat, long ops)
{
	double t[RUNS];

	index_run(idx, u, pat, ops); /* warm-up: reach the steady state */
	for (int i = 0; i < RUNS; i++) {
		double t0 = now_ns();
		index_run(idx, u, pat, ops);
		t[i] = (now_ns() - t0) / (double)ops;
	}
	return median(t, RUNS);
}

static double bench_index(const char *subnet, ipam_policy pol, double fill, enum pattern pat,
			  long ops)
{
	ipam__index *idx = make(subnet, pol);
	struct ipam__index_counts c;
	struct used u;
	double ns;

	ipam__index_counts(idx, &c);
	u.v = malloc(((size_t)c.total + 1) * sizeof(*u.v));
	u.n = 0;
	index_fill(idx, &u, (uint64_t)((double)c.total * fill));
	ns = time_index(idx, &u, pat, ops);
	free(u.v);
	ipam__index_free(idx);
	return ns;
}

/* ---- the naive comparison: one flat bitmap, first-fit scan -------------- */

struct flat {
	uint64_t *w; /* bit set = taken */
	uint64_t n, words;
};

static uint64_t flat_first_fit(const struct flat *f)
{
	for (uint64_t i = 0; i < f->words; i++)
		if (~f->w[i]) {
			uint64_t b = i * 64 + (uint64_t)__builtin_ctzll(~f->w[i]);
			if (b < f->n)
				return b;
		}
	return UINT64_MAX;
}

static double bench_flat(uint64_t n, double fill, enum pattern pat, long ops)
{
	struct flat f = { calloc((n + 63) / 64, sizeof(uint64_t)), n, (n + 63) / 64 };
	uint64_t *used = malloc((n + 1) * sizeof(uint64_t)), nused = 0;
	uint64_t *perm = malloc(n * sizeof(*perm)), target = (uint64_t)((double)n * fill);
	double t[RUNS];

	for (uint64_t i = 0; i < n; i++)
		perm[i] = i;
	for (uint64_t i = 0; i < target; i++) {
		uint64_t j = i + below(n - i), x = perm[i];
		perm[i] = perm[j];
		perm[j] = x;
		f.w[perm[i] / 64] |= UINT64_C(1) << (perm[i] % 64);
		used[nused++] = perm[i];
	}
	for (int i = -1; i < RUNS; i++) { /* i = -1: warm-up */
		double t0 = now_ns();
		for (long k = 0; k < ops; k++) {
			uint64_t b = flat_first_fit(&f);
			if (b == UINT64_MAX)
				die("flat", -ENOSPC);
			f.w[b / 64] |= UINT64_C(1) << (b % 64);
			if (pat == CHURN) {
				size_t j = below(nused);
				used[nused++] = b;
				b = used[j];
				used[j] = used[--nused];
			}
			f.w[b / 64] &= ~(UINT64_C(1) << (b % 64));
		}
		if (i >= 0)
			t[i] = (now_ns() - t0) / (double)ops;
	}
	free(perm);
	free(used);
	free(f.w);
	return median(t, RUNS);
}

/* ---- main ------------------------------------------------------------------ */

int main(void)
{
	static const ipam_allocator counting = { count_alloc, count_resize, count_release, NULL };
	static const char *const names[] = { "next-fit", "lowest", "random" };
	static const double fills[] = { 0.50, 0.99 };
	long ops = 1000000, sparse_n = 1000000;
	const char *q = getenv("IPAM_BENCH_QUICK");

	if (q && *q && *q != '0')
		ops = 100000, sparse_n = 100000;
	ipam_set_allocator(&counting);
	printf("bench-index: ns per allocate+release, median of %d runs of %ld (flat: %ld);\n"
	       "allocator: counting wrapper over libc malloc\n",
	       RUNS, ops, ops / 10);

	for (int pat = SAME; pat <= CHURN; pat++) {
		printf("-- %s\n", pattern_names[pat]);
		for (size_t fi = 0; fi < 2; fi++) {
			double flat = bench_flat(65534, fills[fi], (enum pattern)pat, ops / 10);
			for (int pol = 0; pol < 3; pol++) {
				double ns = bench_index("10.0.0.0/16", (ipam_policy)pol, fills[fi],
							(enum pattern)pat, ops);
				printf("bitmap /16 %3.0f%% used  %-8s %7.1f ns   flat first-fit %8.1f ns"
				       "   ratio %6.1fx\n",
				       fills[fi] * 100, names[pol], ns, flat, flat / ns);
			}
		}
	}

	/* Sparse: a /64 with sparse_n taken addresses (taken by the policy). */
	for (int pol = 0; pol < 3; pol += 2) {
		ipam__index *idx = make("fd00:1::/64", (ipam_policy)pol);
		struct used u = { malloc(((size_t)sparse_n + 1) * sizeof(uint64_t)), 0, { 0, 0, 0 } };
		size_t before = live_bytes, bytes;
		double same, churn;

		for (long i = 0; i < sparse_n; i++) {
			int r = ipam__index_alloc(idx, 1, NULL, 0, &u.tmpl);
			if (r < 0)
				die("sparse alloc", r);
			u.v[u.n++] = u.tmpl.lo;
		}
		bytes = live_bytes - before;
		same = time_index(idx, &u, SAME, ops);
		churn = time_index(idx, &u, CHURN, ops);
		printf("sparse /64 %ld taken  %-8s same %6.1f ns  random %6.1f ns   "
		       "memory %.1f bytes per taken address\n",
		       sparse_n, names[pol], same, churn, (double)bytes / (double)sparse_n);
		free(u.v);
		ipam__index_free(idx);
	}

	/* Bitmap memory: /16 and a 2^24-address pool, everything counted. */
	static const char *const big[] = { "10.0.0.0/16", "10.0.0.0/8" };
	for (int i = 0; i < 2; i++) {
		size_t before = live_bytes;
		ipam__index *idx = make(big[i], IPAM_POLICY_NEXT_FIT);
		struct ipam__index_counts c;
		ipam__index_counts(idx, &c);
		printf("bitmap %-12s memory %.3f bits per address, everything the index "
		       "allocated (%zu bytes for %" PRIu64 " addresses)\n",
		       big[i], (double)(live_bytes - before) * 8 / (double)(uint64_t)c.total,
		       live_bytes - before, (uint64_t)c.total);
		ipam__index_free(idx);
	}
	ipam_set_allocator(NULL);
	return 0;
}
