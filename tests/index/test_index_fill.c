/* SPDX-License-Identifier: MIT */
/*
 * Pathological fills and the rules around them: only the last address free,
 * alternating free/used, a /64 with a million taken addresses, uniformity of
 * the random policy, the reuse quarantine (soft, hard, stickiness, counts of
 * allocations), exact-request errors with their messages, and out-of-memory
 * at every allocation being clean.
 */
#include <stdbool.h>
#include <stdlib.h>

#include "idx_util.h"

static ipam__index *make(const char *subnet, ipam_index_kind kind, ipam_policy pol)
{
	ipam_pool *p = iu_pool(subnet);
	ipam__index *idx;

	IU_EQ(ipam_pool_set_index(p, kind, 0), 0);
	IU_EQ(ipam_pool_set_policy(p, pol), 0);
	idx = iu_index(p);
	ipam_pool_free(p);
	return idx;
}

static ipam__u128 alloc_ord(ipam__index *idx, uint64_t owner, const ipam_addr *hint, int64_t now)
{
	ipam_addr a;
	int r = ipam__index_alloc(idx, owner, hint, now, &a);
	IU_MSG(r == 0, "alloc: %d %s", r, ipam_last_error_message());
	return iu_ord(idx, &a);
}

static void take_all(ipam__index *idx)
{
	ipam__u128 n = iu_counts(idx).total;
	for (ipam__u128 i = 0; i < n; i++) {
		ipam_addr a = iu_at(idx, i);
		IU_EQ(ipam__index_take(idx, &a), 0);
	}
}

/* Only the last address free, for each policy and both kinds: found, and
 * then -ENOSPC. /12 bitmap (a million addresses), /18 sparse. */
START_TEST(test_only_last_free)
{
	static const char *const subnets[] = { "10.0.0.0/12", "10.0.0.0/18" };
	ipam_index_kind kind = _i % 2 ? IPAM_INDEX_SPARSE : IPAM_INDEX_BITMAP;
	ipam_policy pol = (ipam_policy)(_i / 2);
	ipam__index *idx = make(subnets[_i % 2], kind, pol);
	ipam__u128 n = iu_counts(idx).total;
	ipam_addr last = iu_at(idx, n - 1), a;

	take_all(idx);
	IU_EQ(ipam__index_alloc(idx, 1, NULL, 0, &a), -ENOSPC);
	for (int round = 0; round < 3; round++) {
		IU_EQ(ipam__index_untake(idx, &last), 0);
		IU_TRUE(alloc_ord(idx, 1, NULL, 0) == n - 1);
		IU_EQ(ipam__index_alloc(idx, 1, NULL, 0, &a), -ENOSPC);
	}
	ipam__index_free(idx);
}
END_TEST

/* Every other address free: each policy hands out exactly the free ones. */
START_TEST(test_alternating)
{
	ipam_index_kind kind = _i % 2 ? IPAM_INDEX_SPARSE : IPAM_INDEX_BITMAP;
	ipam_policy pol = (ipam_policy)(_i / 2);
	ipam__index *idx = make("10.0.0.0/16", kind, pol);
	ipam__u128 n = iu_counts(idx).total, prev = 0;
	ipam_addr a;

	take_all(idx);
	for (ipam__u128 i = 0; i < n; i += 2) {
		a = iu_at(idx, i);
		IU_EQ(ipam__index_untake(idx, &a), 0);
	}
	for (ipam__u128 k = 0; k < (n + 1) / 2; k++) {
		ipam__u128 o = alloc_ord(idx, 1, NULL, 0);
		IU_TRUE(o % 2 == 0);
		if (pol != IPAM_POLICY_RANDOM)
			IU_TRUE(k == 0 || o > prev); /* ascending: cursor and lowest agree */
		prev = o;
	}
	IU_EQ(ipam__index_alloc(idx, 1, NULL, 0, &a), -ENOSPC);
	IU_TRUE(iu_counts(idx).used == n);
	ipam__index_free(idx);
}
END_TEST

/* A /64 (sparse) with a million taken addresses: next-fit, then random and
 * lowest on top, membership, memory per taken address, full drain. */
START_TEST(test_v6_million)
{
	long n = tu_scale(1000000);
	ipam__index *idx = make("fd00:1::/64", IPAM_INDEX_AUTO, IPAM_POLICY_NEXT_FIT);
	struct ipam__index_counts c;
	ipam_addr a;
	size_t bytes;

	IU_EQ(ipam__index_kind(idx), IPAM_INDEX_SPARSE);
	ipam__index_seed(idx, 42);
	for (long i = 0; i < n; i++)
		IU_TRUE(alloc_ord(idx, 1, NULL, 0) == (ipam__u128)i);
	IU_EQ(ipam__index_set_policy(idx, IPAM_POLICY_RANDOM), 0);
	for (int i = 0; i < 10000; i++)
		IU_TRUE(alloc_ord(idx, 1, NULL, 0) >= (ipam__u128)n);
	IU_EQ(ipam__index_set_policy(idx, IPAM_POLICY_LOWEST), 0);
	a = iu_at(idx, 777);
	IU_EQ(ipam__index_release(idx, &a, 1, 0), 0);
	IU_TRUE(alloc_ord(idx, 1, NULL, 0) == 777);
	IU_TRUE(alloc_ord(idx, 1, NULL, 0) == (ipam__u128)n);
	c = iu_counts(idx);
	IU_TRUE(c.used == (ipam__u128)n + 10001);
	IU_TRUE(c.free == c.total - c.used);
	bytes = ipam__index_bytes(idx);
	printf("sparse /64: %.1f bytes per taken address\n", (double)bytes / (double)n);
	IU_TRUE(bytes <= 32 * (size_t)(n + 10001) + 4096);
	for (long i = 0; i <= n; i++) {
		a = iu_at(idx, (ipam__u128)i);
		IU_EQ(ipam__index_is_taken(idx, &a), 1);
		IU_EQ(ipam__index_release(idx, &a, 1, 0), 0);
	}
	IU_TRUE(iu_counts(idx).used == 10000);
	ipam__index_free(idx);
}
END_TEST

/* random: each of 8 free addresses about equally often. */
START_TEST(test_random_uniform)
{
	ipam_index_kind kind = _i ? IPAM_INDEX_SPARSE : IPAM_INDEX_BITMAP;
	ipam__index *idx = make("10.0.0.0/27", kind, IPAM_POLICY_RANDOM);
	long rounds = tu_scale(80000), hits[32] = { 0 };
	ipam__u128 n = iu_counts(idx).total; /* 30 */

	ipam__index_seed(idx, tu_seed("random-uniform"));
	take_all(idx);
	for (ipam__u128 i = 3; i < n; i += 4) {
		ipam_addr a = iu_at(idx, i);
		IU_EQ(ipam__index_untake(idx, &a), 0);
	}
	for (long r = 0; r < rounds; r++) {
		ipam__u128 o = alloc_ord(idx, 1, NULL, 0);
		ipam_addr a = iu_at(idx, o);
		hits[o]++;
		IU_EQ(ipam__index_release(idx, &a, 1, 0), 0);
	}
	for (ipam__u128 i = 0; i < n; i++) {
		if (i % 4 != 3)
			IU_EQ(hits[i], 0);
		else /* expected rounds/7 each: a loose bound (10-20 sigma) that still
		      * catches the +50 % of "next free after a random point" */
			IU_MSG(labs(hits[i] - rounds / 7) < rounds / 7 / 5 + 50,
				      "ordinal %d: %ld of %ld", (int)i, hits[i], rounds);
	}
	ipam__index_free(idx);
}
END_TEST

/* ---- quarantine ---------------------------------------------------------------- */

static ipam__index *make_q(const char *subnet, uint32_t sec, uint32_t allocs, unsigned flags)
{
	ipam_pool *p = iu_pool(subnet);
	ipam__index *idx;

	IU_EQ(ipam_pool_set_policy(p, IPAM_POLICY_LOWEST), 0);
	IU_EQ(ipam_pool_set_quarantine(p, sec, allocs, flags), 0);
	idx = iu_index(p);
	ipam_pool_free(p);
	return idx;
}

START_TEST(test_quarantine_time)
{
	ipam__index *idx = make_q("10.0.0.0/29", 30, 0, 0); /* 6 addresses */
	ipam_addr a0 = iu_at(idx, 0);

	IU_TRUE(alloc_ord(idx, 7, NULL, 0) == 0);
	IU_EQ(ipam__index_release(idx, &a0, 7, 1000), 0);
	IU_EQ(ipam__index_state(idx, &a0), IPAM__ADDR_QUARANTINED);
	IU_TRUE(iu_counts(idx).quarantined == 1 && iu_counts(idx).free == 5);
	IU_EQ(ipam__index_release(idx, &a0, 7, 1000), -ENOENT);
	/* another owner gets something else, even asking for it as a hint */
	IU_TRUE(alloc_ord(idx, 8, &a0, 2000) == 1);
	IU_EQ(ipam__index_alloc_exact(idx, &a0, 8, 2000), -EBUSY);
	ck_assert_ptr_nonnull(strstr(ipam_last_error_message(), "10.0.0.1"));
	/* anonymous owners never match */
	IU_TRUE(alloc_ord(idx, 0, &a0, 2000) == 2);
	/* the delay passes at exactly 31000 ms */
	IU_EQ(ipam__index_expire(idx, 30999), 0);
	IU_EQ(ipam__index_expire(idx, 31000), 1);
	IU_EQ(ipam__index_state(idx, &a0), IPAM__ADDR_FREE);
	IU_TRUE(alloc_ord(idx, 9, NULL, 31000) == 0);
	ipam__index_free(idx);
}
END_TEST

START_TEST(test_quarantine_sticky_owner)
{
	ipam__index *idx = make_q("10.0.0.0/29", 3600, 0, 0);
	ipam_addr a3 = iu_at(idx, 3);

	IU_EQ(ipam__index_alloc_exact(idx, &a3, 5, 0), 0);
	IU_EQ(ipam__index_release(idx, &a3, 5, 10), 0);
	/* its previous owner takes it back at once, by hint or exactly */
	IU_TRUE(alloc_ord(idx, 5, &a3, 20) == 3);
	IU_TRUE(iu_counts(idx).quarantined == 0 && iu_counts(idx).used == 1);
	IU_EQ(ipam__index_release(idx, &a3, 5, 30), 0);
	IU_EQ(ipam__index_alloc_exact(idx, &a3, 5, 40), 0);
	ipam__index_free(idx);
}
END_TEST

START_TEST(test_quarantine_allocations)
{
	ipam__index *idx = make_q("10.0.0.0/28", 0, 3, 0); /* 14 addresses */
	ipam_addr a0 = iu_at(idx, 0);

	IU_TRUE(alloc_ord(idx, 1, NULL, 0) == 0);
	IU_EQ(ipam__index_release(idx, &a0, 1, 0), 0);
	for (int k = 1; k <= 3; k++) /* three other allocations */
		IU_TRUE(alloc_ord(idx, 2, NULL, 0) == (ipam__u128)k);
	IU_EQ(ipam__index_state(idx, &a0), IPAM__ADDR_QUARANTINED);
	IU_TRUE(alloc_ord(idx, 2, NULL, 0) == 0); /* the fourth sees it free */
	ipam__index_free(idx);
}
END_TEST

/* Soft: a 1:1 pool never refuses; the oldest quarantined goes first.
 * Hard: -ENOSPC until the delay has passed. */
START_TEST(test_quarantine_soft_hard)
{
	bool hard = _i;
	ipam__index *idx = make_q("10.0.0.0/29", 60, 0, hard ? IPAM_QUARANTINE_HARD : 0);
	ipam_addr a;

	for (int k = 0; k < 6; k++)
		IU_TRUE(alloc_ord(idx, 1, NULL, 0) == (ipam__u128)k);
	for (int k = 5; k >= 0; k--) {
		a = iu_at(idx, (ipam__u128)k);
		IU_EQ(ipam__index_release(idx, &a, 1, 105 - k), 0);
	}
	if (hard) {
		IU_EQ(ipam__index_alloc(idx, 2, NULL, 1000, &a), -ENOSPC);
		ck_assert_ptr_nonnull(strstr(ipam_last_error_message(), "quarantine"));
		IU_TRUE(alloc_ord(idx, 2, NULL, 60100) == 5); /* only it expired */
	} else {
		for (int k = 5; k >= 0; k--) /* released 5 first: oldest first */
			IU_TRUE(alloc_ord(idx, 2, NULL, 1000) == (ipam__u128)k);
		IU_EQ(ipam__index_alloc(idx, 2, NULL, 1000, &a), -ENOSPC);
	}
	ipam__index_free(idx);
}
END_TEST

/* take/untake on quarantined addresses leave the quarantine. */
START_TEST(test_quarantine_direct_marks)
{
	ipam__index *idx = make_q("10.0.0.0/29", 60, 0, 0);
	ipam_addr a = iu_at(idx, 2), b = iu_at(idx, 4);

	IU_EQ(ipam__index_take(idx, &a), 0);
	IU_EQ(ipam__index_take(idx, &a), -EEXIST);
	IU_EQ(ipam__index_take(idx, &b), 0);
	IU_EQ(ipam__index_release(idx, &a, 1, 0), 0);
	IU_EQ(ipam__index_release(idx, &b, 1, 0), 0);
	IU_EQ(ipam__index_take(idx, &a), 0);
	IU_EQ(ipam__index_untake(idx, &b), 0);
	IU_EQ(ipam__index_untake(idx, &b), -ENOENT);
	IU_TRUE(iu_counts(idx).quarantined == 0 && iu_counts(idx).used == 1);
	ipam__index_free(idx);
}
END_TEST

/* ---- errors ------------------------------------------------------------------ */

START_TEST(test_errors)
{
	ipam_pool *p = iu_pool("192.168.0.0/24");
	ipam_range ex = iu_range("192.168.0.100-192.168.0.109");
	ipam_addr gw = iu_addr("192.168.0.1"), a = iu_addr("192.168.0.105"), out;
	ipam_addr v6 = iu_addr("fd00::1"), far = iu_addr("192.168.1.1");
	ipam__index *idx;
	ipam_error_info e;

	iu_add_exclude(p, &ex);
	IU_EQ(ipam_pool_set_gateway(p, &gw), 0);
	idx = iu_index(p);
	ipam_pool_free(p);
	IU_TRUE(iu_counts(idx).total == 254 - 11);
	IU_EQ(ipam__index_alloc_exact(idx, &a, 1, 0), -EACCES);
	ipam_last_error(&e);
	IU_EQ(e.code, -EACCES);
	ck_assert_str_eq(e.value, "192.168.0.105");
	ck_assert_ptr_nonnull(strstr(e.message, "excluded"));
	IU_EQ(ipam__index_alloc_exact(idx, &far, 1, 0), -ERANGE);
	ck_assert_ptr_nonnull(strstr(ipam_last_error_message(), "192.168.1.1"));
	IU_EQ(ipam__index_alloc_exact(idx, &v6, 1, 0), -ERANGE);
	IU_EQ(ipam__index_release(idx, &gw, 1, 0), -EACCES);
	IU_EQ(ipam__index_alloc(idx, 1, &v6, 0, &out), -EINVAL);
	IU_EQ(ipam__index_alloc(idx, 1, NULL, 0, NULL), -EINVAL);
	IU_EQ(ipam__index_alloc(NULL, 1, NULL, 0, &out), -EINVAL);
	IU_EQ(ipam__index_set_policy(idx, (ipam_policy)9), -EINVAL);
	/* a hint that is excluded is ignored, not an error */
	IU_EQ(ipam__index_alloc(idx, 1, &a, 0, &out), 0);
	ck_assert_str_eq(iu_fmt(&out, (char[IPAM_ADDR_STRLEN]){ 0 }), "192.168.0.2");
	ck_assert_ptr_null(ipam__index_free(NULL));
	ipam__index_free(idx);
}
END_TEST

/* ---- out of memory ---------------------------------------------------------------- */

static long oom_countdown = -1; /* fail when it reaches 0; -1: never */
static size_t oom_live;

static void *oom_alloc(size_t size, void *ud)
{
	(void)ud;
	if (oom_countdown >= 0 && oom_countdown-- == 0)
		return NULL;
	oom_live += size;
	return malloc(size ? size : 1);
}

static void *oom_resize(void *ptr, size_t old, size_t size, void *ud)
{
	(void)ud;
	if (oom_countdown >= 0 && oom_countdown-- == 0)
		return NULL;
	oom_live += size - old;
	return realloc(ptr, size ? size : 1);
}

static void oom_release(void *ptr, size_t size, void *ud)
{
	(void)ud;
	if (ptr)
		oom_live -= size;
	free(ptr);
}

/* Fail the Nth allocation for every N: building the index, then a sequence
 * of sparse allocations and quarantined releases. Each failure is -ENOMEM
 * with counts unchanged, and nothing leaks. */
START_TEST(test_oom)
{
	static const ipam_allocator oom = { oom_alloc, oom_resize, oom_release, NULL };
	ipam_pool *p = iu_pool("fd00::/64");
	ipam__index *idx;
	int r, failures = 0;

	IU_EQ(ipam_pool_set_quarantine(p, 10, 0, 0), 0);
	IU_EQ(ipam_pool_set_index(p, _i ? IPAM_INDEX_SPARSE : IPAM_INDEX_AUTO, 0), 0);
	IU_EQ(ipam_set_allocator(&oom), 0);
	for (long n = 0;; n++) {
		size_t before = oom_live;
		idx = NULL;
		oom_countdown = n;
		r = ipam__index_new(&idx, p);
		oom_countdown = -1;
		if (r == 0)
			break;
		IU_EQ(r, -ENOMEM);
		ck_assert_ptr_null(idx);
		IU_EQ(oom_live, before);
	}
	for (int k = 0; k < 400; k++) {
		struct ipam__index_counts c0 = iu_counts(idx), c1;
		ipam_addr a;
		oom_countdown = k % 3; /* fail one of the next few allocations */
		r = k % 4 == 3 ? ipam__index_release(idx, (a = iu_at(idx, (ipam__u128)k / 2), &a), 1, k)
			       : ipam__index_alloc(idx, 1, NULL, k, &a);
		oom_countdown = -1;
		c1 = iu_counts(idx);
		if (r == -ENOMEM) {
			failures++;
			IU_TRUE(c0.used == c1.used && c0.quarantined == c1.quarantined);
		} else {
			IU_MSG(r == 0 || r == -ENOENT, "op %d: %d", k, r);
		}
	}
	IU_TRUE(failures > 0);
	ipam__index_free(idx);
	IU_EQ(oom_live, 0);
	IU_EQ(ipam_set_allocator(NULL), 0);
	ipam_pool_free(p); /* made by the default allocator */
}
END_TEST

/* peek decides without changing anything; acquire applies; reserve makes
 * the following changes unable to fail even with every allocation failing. */
START_TEST(test_peek_acquire)
{
	static const ipam_allocator broken = { oom_alloc, oom_resize, oom_release, NULL };
	ipam__index *idx = make_q("10.0.0.0/29", 60, 0, _i ? IPAM_QUARANTINE_HARD : 0);
	ipam__u128 cursor = 0;
	uint64_t rng = 1;
	ipam_addr a, a3 = iu_at(idx, 3);

	ck_assert_int_eq(ipam__index_set_policy(idx, IPAM_POLICY_NEXT_FIT), 0);
	IU_EQ(ipam__index_peek(idx, 1, NULL, 0, &cursor, &rng, &a), 0);
	IU_TRUE(iu_ord(idx, &a) == 0 && cursor == 1);
	IU_EQ(ipam__index_peek(idx, 1, NULL, 0, &cursor, &rng, &a), 0);
	IU_TRUE(iu_ord(idx, &a) == 1 && cursor == 2);
	IU_TRUE(iu_counts(idx).used == 0);
	for (ipam__u128 i = 0; i < 6; i++) {
		a = iu_at(idx, i);
		IU_EQ(ipam__index_acquire(idx, &a, 0, true), 0);
	}
	IU_EQ(ipam__index_acquire(idx, &a, 0, true), -EEXIST);
	IU_EQ(ipam__index_peek(idx, 1, NULL, 0, &cursor, &rng, &a), -ENOSPC);
	for (ipam__u128 i = 0; i < 6; i++) {
		a = iu_at(idx, i);
		IU_EQ(ipam__index_release(idx, &a, i == 3 ? 5 : 1, (int64_t)i), 0);
	}
	/* the previous owner's hint, whatever the quarantine */
	IU_EQ(ipam__index_peek(idx, 5, &a3, 1000, &cursor, &rng, &a), 0);
	IU_TRUE(iu_addr_eq(&a, &a3));
	/* nothing free: soft gives the oldest, hard refuses until it expires */
	IU_EQ(ipam__index_peek(idx, 9, NULL, 1000, &cursor, &rng, &a), _i ? -ENOSPC : 0);
	if (!_i)
		IU_TRUE(iu_ord(idx, &a) == 0);
	IU_EQ(ipam__index_peek(idx, 9, NULL, 60000, &cursor, &rng, &a), 0);
	IU_TRUE(iu_ord(idx, &a) == 0);
	IU_TRUE(iu_counts(idx).quarantined == 6); /* peek expired nothing */
	/* acquire a quarantined address for someone else: the commit decided */
	IU_EQ(ipam__index_acquire(idx, &a3, 1000, false), 0);
	IU_TRUE(iu_counts(idx).quarantined == 5 && iu_counts(idx).used == 1);
	ipam__index_free(idx);

	/* reserve, then break the allocator: the promised changes still work */
	idx = make("fd00::/64", IPAM_INDEX_AUTO, IPAM_POLICY_NEXT_FIT);
	IU_EQ(ipam__index_reserve(idx, 200), 0);
	oom_countdown = 0;
	ck_assert_int_eq(ipam_set_allocator(&broken), 0);
	for (int k = 0; k < 200; k++) {
		oom_countdown = 0; /* every allocation fails */
		a = iu_at(idx, (ipam__u128)k * 7919);
		IU_EQ(ipam__index_take(idx, &a), 0);
		if (k % 3 == 0)
			IU_EQ(ipam__index_untake(idx, &a), 0);
	}
	oom_countdown = -1;
	ck_assert_int_eq(ipam_set_allocator(NULL), 0);
	ipam__index_free(idx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("index-fill");
	TCase *tc = tcase_create("fill");

	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, test_only_last_free, 0, 6);
	tcase_add_loop_test(tc, test_alternating, 0, 6);
	tcase_add_test(tc, test_v6_million);
	tcase_add_loop_test(tc, test_random_uniform, 0, 2);
	tcase_add_test(tc, test_quarantine_time);
	tcase_add_test(tc, test_quarantine_sticky_owner);
	tcase_add_test(tc, test_quarantine_allocations);
	tcase_add_loop_test(tc, test_quarantine_soft_hard, 0, 2);
	tcase_add_test(tc, test_quarantine_direct_marks);
	tcase_add_test(tc, test_errors);
	tcase_add_loop_test(tc, test_oom, 0, 2);
	tcase_add_loop_test(tc, test_peek_acquire, 0, 2);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
