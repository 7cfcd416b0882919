/* SPDX-License-Identifier: MIT */
#ifndef IPAM_TEST_IDX_UTIL_H
#define IPAM_TEST_IDX_UTIL_H

/* Helpers shared by the index suites: pools from text, addresses from text,
 * ordinal <-> address shortcuts. Failing helpers fail the running test. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include <ipam/ipam.h>

#include "index/index.h"
#include "testutil.h"

/*
 * Check's ck_assert* record the location of every assertion that passes
 * (a write() per call), which dominates loops of millions of checks; these
 * only call into Check when they fail.
 */
#define IU_TRUE(c)                                                                        \
	do {                                                                              \
		if (!(c))                                                                 \
			ck_abort_msg("%s:%d: assertion failed: %s", __FILE__, __LINE__, #c); \
	} while (0)
#define IU_MSG(c, ...)                           \
	do {                                     \
		if (!(c))                        \
			ck_abort_msg(__VA_ARGS__); \
	} while (0)
#define IU_EQ(a, b)                                                                        \
	do {                                                                               \
		long long iu_x_ = (long long)(a), iu_y_ = (long long)(b);                  \
		if (iu_x_ != iu_y_)                                                        \
			ck_abort_msg("%s:%d: %s == %lld, expected %s == %lld", __FILE__, \
				     __LINE__, #a, iu_x_, #b, iu_y_);                      \
	} while (0)

static inline ipam_addr iu_addr(const char *text)
{
	ipam_addr a;
	IU_MSG(ipam_addr_parse(text, &a) == 0, "bad address %s", text);
	return a;
}

static inline ipam_range iu_range(const char *text)
{
	ipam_range r;
	IU_MSG(ipam_range_parse(text, &r) == 0, "bad range %s", text);
	return r;
}

/* A range first..first+count-1 (count >= 1). */
static inline ipam_range iu_span(const ipam_addr *first, uint64_t count)
{
	ipam_range r;
	r.first = *first;
	IU_EQ(ipam_addr_add(first, ipam_u128_make(0, count - 1), &r.last), 0);
	return r;
}

static inline ipam_addr iu_plus(const ipam_addr *a, uint64_t off)
{
	ipam_addr r;
	IU_EQ(ipam_addr_add(a, ipam_u128_make(0, off), &r), 0);
	return r;
}

static inline ipam_pool *iu_pool(const char *subnet)
{
	ipam_pool *p = NULL;
	int r = ipam_pool_new_str(&p, "idx", subnet);
	IU_MSG(r == 0, "pool %s: %d %s", subnet, r, ipam_last_error_message());
	return p;
}

static inline void iu_add_range(ipam_pool *p, const ipam_range *r)
{
	int e = ipam_pool_add_range(p, r);
	IU_MSG(e == 0, "add_range: %d %s", e, ipam_last_error_message());
}

static inline void iu_add_exclude(ipam_pool *p, const ipam_range *r)
{
	int e = ipam_pool_add_exclude(p, r);
	IU_MSG(e == 0, "add_exclude: %d %s", e, ipam_last_error_message());
}

static inline ipam__index *iu_index(const ipam_pool *p)
{
	ipam__index *idx = NULL;
	int r = ipam__index_new(&idx, p);
	IU_MSG(r == 0, "index_new: %d %s", r, ipam_last_error_message());
	return idx;
}

static inline ipam_addr iu_at(const ipam__index *idx, ipam__u128 ord)
{
	ipam_addr a;
	IU_EQ(ipam__index_address(idx, ord, &a), 0);
	return a;
}

static inline ipam__u128 iu_ord(const ipam__index *idx, const ipam_addr *a)
{
	ipam__u128 o = 0;
	IU_EQ(ipam__index_ordinal(idx, a, &o), 0);
	return o;
}

static inline int iu_addr_eq(const ipam_addr *a, const ipam_addr *b)
{
	return ipam_addr_cmp(a, b) == 0;
}

static inline const char *iu_fmt(const ipam_addr *a, char *buf)
{
	if (ipam_addr_format(a, buf, IPAM_ADDR_STRLEN) < 0)
		strcpy(buf, "?");
	return buf;
}

static inline struct ipam__index_counts iu_counts(const ipam__index *idx)
{
	struct ipam__index_counts c;
	ipam__index_counts(idx, &c);
	return c;
}

#endif /* IPAM_TEST_IDX_UTIL_H */
