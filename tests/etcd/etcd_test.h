/* SPDX-License-Identifier: MIT */
#ifndef IPAM_ETCD_TEST_H
#define IPAM_ETCD_TEST_H

/*
 * Helpers of the etcd store suites: one etcd per suite (started in the
 * parent process by an unchecked fixture, so it is stopped even when a test
 * crashes), stores under fresh prefixes, pool sets, and raw access to keys
 * through the store's own HTTP layer.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ipam/ipam.h>

#include "etcd_internal.h"
#include "etcd_launch.h"
#include "testutil.h"

static struct fx_etcd et_etcd;

static inline void et_start_plain(void)
{
	ck_assert_msg(fx_etcd_start(&et_etcd, 0) == 0, "could not start etcd");
}

static inline void et_start_tls(void)
{
	ck_assert_msg(fx_etcd_start(&et_etcd, 1) == 0, "could not start etcd with TLS");
}

static inline void et_stop(void)
{
	fx_etcd_destroy(&et_etcd);
}

/* Exit 77 (skipped) when there is no etcd to test against. */
static inline void et_require_etcd(void)
{
	if (!fx_etcd_binary()) {
		printf("SKIP: no etcd binary (/usr/bin/etcd, or set IPAM_ETCD_BIN): install "
		       "etcd-server to run the etcd store tests\n");
		exit(77);
	}
}

/* A prefix no other test uses. */
static inline void et_prefix(char *buf, size_t size, const char *what)
{
	static unsigned n;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(buf, size, "/t/%s-%ld-%ld-%u", what, (long)getpid(), (long)ts.tv_nsec, n++);
}

static inline ipam_store *et_store_opts(const char *prefix, int coarse, unsigned block,
					const char *endpoints)
{
	ipam_etcd_options o;
	ipam_store *st = NULL;

	ipam_etcd_options_init(&o);
	o.endpoints = endpoints ? endpoints : et_etcd.url;
	o.prefix = prefix;
	o.coarse = coarse;
	o.block_size = block;
	o.connect_timeout_ms = 300;
	o.request_timeout_ms = 2000;
	ck_assert_msg(ipam_store_etcd_new(&st, &o) == 0, "%s", ipam_etcd_last_error_message());
	return st;
}

static inline ipam_store *et_store(const char *prefix, int coarse)
{
	return et_store_opts(prefix, coarse, 0, NULL);
}

static inline ipam_pool *et_pool(const char *name, const char *subnet)
{
	ipam_pool *p = NULL;
	ck_assert_msg(ipam_pool_new_str(&p, name, subnet) == 0, "%s", ipam_last_error_message());
	return p;
}

/* A dual-stack set "net": v4 in v4net, v6 in v6net (NULL: v4 only). */
static inline ipam_poolset *et_set(const char *v4net, const char *v6net)
{
	ipam_poolset *s = NULL;
	ck_assert_int_eq(ipam_poolset_new(&s, "net"), 0);
	ck_assert_int_eq(ipam_poolset_add(s, et_pool("v4", v4net)), 0);
	if (v6net)
		ck_assert_int_eq(ipam_poolset_add(s, et_pool("v6", v6net)), 0);
	return s;
}

static inline ipam_ctx *et_ctx(ipam_store *st, const char *node, const char *v4net,
			       const char *v6net)
{
	ipam_ctx_options o;
	ipam_ctx *ctx = NULL;

	ipam_ctx_options_init(&o);
	o.node = node;
	o.backoff_base_us = 100;
	o.backoff_max_us = 5000;
	ck_assert_int_eq(ipam_ctx_new(&ctx, st, &o), 0);
	ck_assert_msg(ipam_ctx_add_poolset(ctx, et_set(v4net, v6net)) == 0, "%s / %s",
		      ipam_last_error_message(), ipam_etcd_last_error_message());
	return ctx;
}

static inline ipam_request et_req(const char *owner, const char *attachment)
{
	ipam_request r;
	memset(&r, 0, sizeof(r));
	r.poolset = "net";
	r.owner = owner;
	r.ifname = "eth0";
	r.attachment = attachment;
	return r;
}

/* Raw access to etcd, through the store's HTTP layer. */
static inline ipam_etcd__client *et_client(void)
{
	ipam_etcd_options o;
	ipam_etcd__client *c = NULL;

	ipam_etcd_options_init(&o);
	o.endpoints = et_etcd.url;
	ck_assert_int_eq(ipam_etcd__client_new(&c, &o), 0);
	return c;
}

/* Keys under prefix (with their values and mod_revisions). */
static inline struct ipam_etcd__kvs et_range(const char *prefix)
{
	ipam_etcd__client *c = et_client();
	struct ipam_etcd__kvs kvs;
	char *end = ipam_etcd__prefix_end(prefix);

	ck_assert_int_eq(ipam_etcd__range(c, prefix, end, 0, &kvs), 0);
	free(end);
	ipam_etcd__client_free(c);
	return kvs;
}

static inline void et_put(const char *key, const char *value)
{
	ipam_etcd__client *c = et_client();
	struct ipam_etcd__txn t;
	int64_t rev;
	int ok;

	ipam_etcd__txn_init(&t);
	ipam_etcd__txn_put(&t, key, value, strlen(value));
	ck_assert_int_eq(ipam_etcd__txn_run(c, &t, &ok, &rev), 0);
	ck_assert(ok);
	ipam_etcd__txn_fini(&t);
	ipam_etcd__client_free(c);
}

static inline const struct ipam_etcd__kv *et_find(const struct ipam_etcd__kvs *k, const char *key)
{
	for (size_t i = 0; i < k->n; i++)
		if (strcmp(k->v[i].key, key) == 0)
			return &k->v[i];
	return NULL;
}

#endif /* IPAM_ETCD_TEST_H */
