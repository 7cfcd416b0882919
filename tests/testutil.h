/* SPDX-License-Identifier: MIT */
#ifndef IPAM_TESTUTIL_H
#define IPAM_TESTUTIL_H

/*
 * Helpers shared by the Check suites: a seeded PRNG whose seed is printed
 * (and can be replayed with IPAM_TEST_SEED=N), and a runner that prints
 * Check's summary line and turns it into an exit code.
 */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline uint64_t tu_splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* The seed of this run: IPAM_TEST_SEED if set, else from the clock. */
static inline uint64_t tu_seed(const char *what)
{
	const char *env = getenv("IPAM_TEST_SEED");
	uint64_t seed;

	if (env && *env) {
		seed = strtoull(env, NULL, 0);
	} else {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		seed = (uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec;
	}
	printf("%s: seed=%" PRIu64 " (replay with IPAM_TEST_SEED=%" PRIu64 ")\n", what, seed, seed);
	fflush(stdout);
	return seed;
}

/* An allocator for out-of-memory sweeps: set *tu_budget() to n and the
 * n-th allocation or resize from then on fails (-1: none fails). Install
 * with ipam_set_allocator(&tu_failing_allocator). */
static inline long *tu_budget(void)
{
	static long budget = -1;
	return &budget;
}

static inline void *tu_fail_alloc(size_t size, void *ud)
{
	long *b = tu_budget();
	(void)ud;
	if (*b == 0)
		return NULL;
	if (*b > 0)
		(*b)--;
	return malloc(size);
}

static inline void *tu_fail_resize(void *p, size_t o, size_t n, void *ud)
{
	long *b = tu_budget();
	(void)ud;
	(void)o;
	if (*b == 0)
		return NULL;
	if (*b > 0)
		(*b)--;
	return realloc(p, n);
}

static inline void tu_fail_release(void *p, size_t size, void *ud)
{
	(void)ud;
	(void)size;
	free(p);
}

#define TU_FAILING_ALLOCATOR { tu_fail_alloc, tu_fail_resize, tu_fail_release, NULL }

/* IPAM_TEST_QUICK shortens loops (sanitizer builds), never to nothing. */
static inline long tu_scale(long n)
{
	const char *q = getenv("IPAM_TEST_QUICK");
	if (q && *q && *q != '0')
		return n / 8 > 0 ? n / 8 : 1;
	return n;
}

static inline int tu_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif /* IPAM_TESTUTIL_H */
