/* SPDX-License-Identifier: MIT */
/* The error table, the per-thread error detail, the version, the injectable
 * allocator and an out-of-memory sweep over building pools and pool sets:
 * fail the Nth allocation for every N until the whole sequence succeeds;
 * every failure must be a clean -ENOMEM with nothing leaked (ASan build). */
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <ipam/ipam.h>

#include "testutil.h"

START_TEST(table)
{
#define CHECK_ENTRY(name, text)                                  \
	ck_assert_str_eq(ipam_strerror(-name), text);            \
	ck_assert_str_eq(ipam_strerror(name), text);             \
	ck_assert_str_eq(ipam_errname(-name), #name);
	IPAM_ERRNO_MAP(CHECK_ENTRY)
#undef CHECK_ENTRY
	ck_assert_str_eq(ipam_strerror(0), "success");
	ck_assert_str_eq(ipam_strerror(-99999), "unknown error");
	ck_assert_str_eq(ipam_errname(-99999), "UNKNOWN");
	ck_assert_str_eq(ipam_strerror(-ENOSPC), "no free address in pool");
	ck_assert_str_eq(ipam_strerror(INT_MIN), "unknown error"); /* not negatable */
	ck_assert_str_eq(ipam_errname(INT_MIN), "UNKNOWN");
	ck_assert_str_eq(ipam_strerror(INT_MAX), "unknown error");
	/* A message of up to the record's size is kept whole. */
	char why[300];
	memset(why, 'w', sizeof(why) - 1);
	why[sizeof(why) - 1] = '\0';
	ck_assert_int_eq(ipam_error_set(-EINVAL, "f", NULL, "%s!", why), -EINVAL);
	ck_assert_ptr_nonnull(strstr(ipam_last_error_message(), "w!"));
}
END_TEST

START_TEST(version)
{
	char want[32];
	snprintf(want, sizeof(want), "%d.%d.%d", IPAM_VERSION_MAJOR, IPAM_VERSION_MINOR,
		 IPAM_VERSION_PATCH);
	ck_assert_str_eq(ipam_version(), want);
	ck_assert_uint_eq(ipam_version_number(), IPAM_VERSION_NUMBER);
}
END_TEST

static void *other_thread(void *arg)
{
	ipam_addr a;
	(void)arg;
	ipam_addr_parse("999.1.1.1", &a);
	return NULL;
}

START_TEST(last_error_per_thread)
{
	ipam_addr a;
	ipam_error_info e;
	pthread_t t;
	ipam_clear_error();
	ck_assert_int_eq(ipam_last_error(&e), 0);
	ck_assert_str_eq(ipam_last_error_message(), "");
	ck_assert_int_eq(ipam_addr_parse("1.2.3", &a), -EINVAL);
	ck_assert_int_eq(pthread_create(&t, NULL, other_thread, NULL), 0);
	pthread_join(t, NULL);
	ck_assert_int_eq(ipam_last_error(&e), -EINVAL);
	ck_assert_str_eq(e.field, "address");
	ck_assert_str_eq(e.value, "1.2.3");
	ck_assert_ptr_nonnull(strstr(e.message, "1.2.3"));
	/* A success leaves the record alone. */
	ck_assert_int_eq(ipam_addr_parse("1.2.3.4", &a), 0);
	ck_assert_int_eq(ipam_last_error(NULL), -EINVAL);
	/* Control bytes in a hostile value never reach the message. */
	ck_assert_int_eq(ipam_addr_parse("1.2\x1b[31m.3", &a), -EINVAL);
	ck_assert_ptr_null(strchr(ipam_last_error_message(), '\x1b'));
	/* Over-long values are truncated, the message stays terminated. */
	char big[1000];
	memset(big, '1', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	ck_assert_int_eq(ipam_addr_parse(big, &a), -EINVAL);
	ipam_last_error(&e);
	ck_assert(strlen(e.message) < sizeof(e.message));
	ck_assert(strlen(e.value) < sizeof(e.value));
}
END_TEST

/* ---- allocator injection --------------------------------------------------- */

static long alloc_budget = -1; /* allocations left before failing; -1: no limit */
static long live_allocs;
static size_t live_bytes;

static void *fail_alloc(size_t size, void *ud)
{
	(void)ud;
	if (alloc_budget == 0)
		return NULL;
	if (alloc_budget > 0)
		alloc_budget--;
	live_allocs++;
	live_bytes += size;
	return malloc(size);
}

static void *fail_resize(void *ptr, size_t old_size, size_t new_size, void *ud)
{
	(void)ud;
	if (alloc_budget == 0)
		return NULL;
	if (alloc_budget > 0)
		alloc_budget--;
	if (!ptr)
		live_allocs++;
	live_bytes += new_size - old_size;
	return realloc(ptr, new_size);
}

static void fail_release(void *ptr, size_t size, void *ud)
{
	(void)ud;
	if (!ptr)
		return;
	live_allocs--;
	live_bytes -= size;
	free(ptr);
}

static const ipam_allocator failing = { fail_alloc, fail_resize, fail_release, NULL };

START_TEST(set_allocator)
{
	ipam_allocator bad = { NULL, fail_resize, fail_release, NULL };
	ck_assert_int_eq(ipam_set_allocator(&bad), -EINVAL);
	ck_assert_int_eq(ipam_set_allocator(&failing), 0);
	ipam_pool *p = NULL;
	live_allocs = 0;
	live_bytes = 0;
	ck_assert_int_eq(ipam_pool_new_str(&p, "p", "10.0.0.0/24"), 0);
	ck_assert_int_gt(live_allocs, 0);
	ipam_pool_free(p);
	ck_assert_int_eq(live_allocs, 0);
	ck_assert_uint_eq(live_bytes, 0); /* sizes given back match sizes taken */
	ck_assert_int_eq(ipam_set_allocator(NULL), 0);
	ck_assert(strcmp(ipam_default_allocator_name(), "jemalloc") == 0 ||
		  strcmp(ipam_default_allocator_name(), "libc") == 0);
}
END_TEST

/* One whole pool-set construction; returns 0 or the first error. On error
 * everything built so far is freed. */
static int build_everything(void)
{
	ipam_poolset *s = NULL;
	ipam_pool *p4 = NULL, *p6 = NULL;
	ipam_range r;
	ipam_addr gw, dns;
	ipam_prefix dst;
	ipam_u128 cap;
	int e;

	if ((e = ipam_poolset_new(&s, "net")) < 0)
		return e;
	if ((e = ipam_pool_new_str(&p4, "v4", "10.0.0.0/24")) < 0)
		goto out;
	ipam_range_parse("10.0.0.10-10.0.0.100", &r);
	if ((e = ipam_pool_add_range(p4, &r)) < 0)
		goto out;
	ipam_range_parse("10.0.0.150-10.0.0.200", &r);
	if ((e = ipam_pool_add_range(p4, &r)) < 0)
		goto out;
	for (int i = 0; i < 9; i++) {
		r.first = r.last = ipam_addr_v4(0x0a000014u + (uint32_t)i * 3);
		if ((e = ipam_pool_add_exclude(p4, &r)) < 0)
			goto out;
	}
	ipam_addr_parse("10.0.0.1", &gw);
	if ((e = ipam_pool_set_gateway(p4, &gw)) < 0)
		goto out;
	ipam_prefix_parse("0.0.0.0/0", 0, &dst);
	for (int i = 0; i < 6; i++)
		if ((e = ipam_pool_add_route(p4, &dst, &gw)) < 0)
			goto out;
	ipam_addr_parse("10.0.0.53", &dns);
	if ((e = ipam_pool_add_dns_server(p4, &dns)) < 0)
		goto out;
	if ((e = ipam_pool_set_dns_domain(p4, "example.org")) < 0)
		goto out;
	for (int i = 0; i < 6; i++)
		if ((e = ipam_pool_add_dns_search(p4, "svc.example.org")) < 0)
			goto out;
	if ((e = ipam_pool_capacity(p4, &cap)) < 0)
		goto out;
	if ((e = ipam_pool_new_str(&p6, "v6", "2001:db8::/64")) < 0)
		goto out;
	if ((e = ipam_poolset_add(s, p4)) < 0)
		goto out;
	p4 = NULL;
	if ((e = ipam_poolset_add(s, p6)) < 0)
		goto out;
	p6 = NULL;
	e = 0;
out:
	ipam_pool_free(p4);
	ipam_pool_free(p6);
	ipam_poolset_free(s);
	return e;
}

START_TEST(oom_sweep)
{
	long n;
	int e = -ENOMEM;
	ck_assert_int_eq(ipam_set_allocator(&failing), 0);
	for (n = 0; n < 10000 && e == -ENOMEM; n++) {
		alloc_budget = n;
		live_allocs = 0;
		live_bytes = 0;
		e = build_everything();
		ck_assert_msg(e == 0 || e == -ENOMEM, "N=%ld: %s", n, ipam_strerror(e));
		ck_assert_msg(live_allocs == 0 && live_bytes == 0, "N=%ld: leaked %ld blocks", n,
			      live_allocs);
	}
	ck_assert_int_eq(e, 0);
	ck_assert_int_gt(n, 10); /* the sweep really failed allocations */
	alloc_budget = -1;
	ck_assert_int_eq(ipam_set_allocator(NULL), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("error");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, table);
	tcase_add_test(tc, version);
	tcase_add_test(tc, last_error_per_thread);
	tcase_add_test(tc, set_allocator);
	tcase_add_test(tc, oom_sweep);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
