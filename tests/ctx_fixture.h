/* SPDX-License-Identifier: MIT */
#ifndef IPAM_CTX_FIXTURE_H
#define IPAM_CTX_FIXTURE_H

/*
 * Shared set-up for the store-contract suites: a store of the kind named by
 * IPAM_TEST_STORE ("memory" by default), a context with an injected clock,
 * and pool-set builders. Every suite that includes this runs against each
 * store kind the test registration asks for.
 */
#include <stdarg.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <ipam/ipam.h>

#include "testutil.h"

#ifdef IPAM_TEST_HAVE_ETCD
#include "etcd/etcd_fixture.h"
#endif

/* Built with the example store of examples/journal-store.c (ctx-journal). */
#ifdef IPAM_TEST_JOURNAL_STORE
#include "journal-store.h"
#endif

static int64_t fx_now_ms = 1800000000000; /* a fixed, settable clock */

static inline int64_t fx_clock(void *ud)
{
	(void)ud;
	return __atomic_load_n(&fx_now_ms, __ATOMIC_RELAXED);
}

static inline void fx_advance(int64_t ms)
{
	__atomic_add_fetch(&fx_now_ms, ms, __ATOMIC_RELAXED);
}

static inline ipam_addr fx_addr(const char *s)
{
	ipam_addr a;
	ck_assert_msg(ipam_addr_parse(s, &a) == 0, "%s", s);
	return a;
}

static inline const char *fx_fmt(const ipam_addr *a, char *buf)
{
	ipam_addr_format(a, buf, IPAM_ADDR_STRLEN);
	return buf;
}

/* A pool; range may be NULL (the default range). */
static inline ipam_pool *fx_pool(const char *name, const char *subnet, const char *range,
				 const char *gateway)
{
	ipam_pool *p = NULL;
	ck_assert_msg(ipam_pool_new_str(&p, name, subnet) == 0, "%s", ipam_last_error_message());
	if (range) {
		ipam_range r;
		ck_assert_int_eq(ipam_range_parse(range, &r), 0);
		ck_assert_int_eq(ipam_pool_add_range(p, &r), 0);
	}
	if (gateway) {
		ipam_addr gw = fx_addr(gateway);
		ck_assert_int_eq(ipam_pool_set_gateway(p, &gw), 0);
	}
	return p;
}

static int fx_rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Remove a scratch directory and everything in it. */
static inline void fx_rmtree(const char *dir)
{
	nftw(dir, fx_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh scratch directory (0700) under TMPDIR. */
static inline void fx_tmpdir(char *buf, size_t size)
{
	const char *t = getenv("TMPDIR");
	snprintf(buf, size, "%s/ipam-test-XXXXXX", t && *t ? t : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(buf));
}

#define FX_MAX_DIRS 16
static char fx_dirs[FX_MAX_DIRS][256];
static int fx_ndirs;

/* A store of the kind IPAM_TEST_STORE names: "memory" (default),
 * "file" (a new directory, durability none: the contract, not the disk,
 * is under test here; the file suite covers syncing) or "journal" (the
 * embedder's store of examples/journal-store.c, journal in a new directory;
 * only in executables built with IPAM_TEST_JOURNAL_STORE). */
static inline ipam_store *fx_store(void)
{
	ipam_store *st = NULL;
	const char *kind = getenv("IPAM_TEST_STORE");
	if (!kind || strcmp(kind, "memory") == 0) {
		ck_assert_int_eq(ipam_store_memory_new(&st), 0);
	} else if (strcmp(kind, "file") == 0) {
		ipam_file_store_options o;
		ck_assert_int_lt(fx_ndirs, FX_MAX_DIRS);
		fx_tmpdir(fx_dirs[fx_ndirs], sizeof(fx_dirs[0]));
		ipam_file_store_options_init(&o);
		o.durability = IPAM_DURABILITY_NONE;
		o.compact_bytes = 64 * 1024; /* compact often */
		ck_assert_msg(ipam_store_file_new(&st, fx_dirs[fx_ndirs], &o) == 0, "%s",
			      ipam_last_error_message());
		fx_ndirs++;
	} else if (strcmp(kind, "etcd") == 0) {
#ifdef IPAM_TEST_HAVE_ETCD
		st = fx_etcd_store();
#else
		ck_abort_msg("this test was built without the etcd store");
#endif
#ifdef IPAM_TEST_JOURNAL_STORE
	} else if (strcmp(kind, "journal") == 0) {
		char path[300];
		ck_assert_int_lt(fx_ndirs, FX_MAX_DIRS);
		fx_tmpdir(fx_dirs[fx_ndirs], sizeof(fx_dirs[0]));
		snprintf(path, sizeof(path), "%s/journal", fx_dirs[fx_ndirs++]);
		ck_assert_int_eq(journal_store_new(&st, path), 0);
#endif
	} else {
		ck_abort_msg("unknown IPAM_TEST_STORE %s", kind);
	}
	return st;
}

/* Free a store from fx_store() and remove the directories made. */
static inline void fx_store_free(ipam_store *st)
{
	ipam_store_free(st);
	while (fx_ndirs > 0)
		fx_rmtree(fx_dirs[--fx_ndirs]);
}

static inline ipam_ctx *fx_ctx(ipam_store *st, int coarse)
{
	ipam_ctx_options o;
	ipam_ctx *ctx = NULL;
	ipam_ctx_options_init(&o);
	o.clock = fx_clock;
	o.coarse = coarse;
	o.node = "node-1";
	o.backoff_base_us = 1;
	o.backoff_max_us = 50;
	ck_assert_int_eq(ipam_ctx_new(&ctx, st, &o), 0);
	return ctx;
}

/* Add a set named name with the given pools (NULL-terminated). */
static inline void fx_add_set(ipam_ctx *ctx, const char *name, ipam_pool *first, ...)
{
	ipam_poolset *s = NULL;
	va_list ap;
	ck_assert_int_eq(ipam_poolset_new(&s, name), 0);
	va_start(ap, first);
	for (ipam_pool *p = first; p; p = va_arg(ap, ipam_pool *))
		ck_assert_msg(ipam_poolset_add(s, p) == 0, "%s", ipam_last_error_message());
	va_end(ap);
	ck_assert_msg(ipam_ctx_add_poolset(ctx, s) == 0, "%s", ipam_last_error_message());
}

static inline ipam_request fx_req(const char *set, const char *owner, const char *attachment)
{
	ipam_request r;
	memset(&r, 0, sizeof(r));
	r.poolset = set;
	r.owner = owner;
	r.ifname = "eth0";
	r.attachment = attachment;
	return r;
}

static inline uint64_t fx_used(ipam_ctx *ctx, const char *set, const char *pool)
{
	ipam_pool_stats st;
	ck_assert_int_eq(ipam_pool_stats_get(ctx, set, pool, &st), 0);
	return st.used.lo;
}

#endif /* IPAM_CTX_FIXTURE_H */
