/* SPDX-License-Identifier: MIT */
/*
 * The etcd back ends. etcd:ENDPOINTS uses a running cluster; etcd-launch
 * starts a throwaway single-member etcd on free loopback ports with a
 * temporary data directory (with the tests' launcher,
 * tests/etcd/etcd_launch.c), and stops and removes it at the end. The etcd process gets
 * SIGKILL if the run process dies first. Without the etcd store built in,
 * both refuse.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "churn.h"

#ifdef CHURN_HAVE_ETCD
#include <curl/curl.h>

#include "etcd_launch.h"
#include "ipam_etcd.h"

int churn_etcd_store(const char *endpoints, const char *prefix, ipam_store **out, char *why,
		     size_t size)
{
	ipam_etcd_options o;
	int r;
	ipam_etcd_options_init(&o);
	o.endpoints = endpoints;
	o.prefix = prefix;
	r = ipam_store_etcd_new(out, &o);
	if (r < 0)
		snprintf(why, size, "etcd store %s: %s: %s", endpoints, ipam_errname(r),
			 ipam_last_error_message());
	return r;
}

/* The launcher the etcd tests use (tests/etcd/etcd_launch.c), without TLS. */
struct churn_etcd {
	struct fx_etcd fx;
};

void churn_etcd_stop(struct churn_etcd *e)
{
	if (!e)
		return;
	fx_etcd_destroy(&e->fx);
	free(e);
}

int churn_etcd_launch(struct churn_etcd **out, char *url, size_t urlsize, char *why, size_t size)
{
	struct churn_etcd *e;

	*out = NULL;
	if (!fx_etcd_binary()) {
		snprintf(why, size, "no etcd binary (/usr/bin/etcd or IPAM_ETCD_BIN)");
		return 1;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		snprintf(why, size, "out of memory");
		return -1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (fx_etcd_start(&e->fx, 0) < 0) {
		snprintf(why, size, "etcd did not start (its reason is on stderr)");
		churn_etcd_stop(e);
		return -1;
	}
	snprintf(url, urlsize, "%s", e->fx.url);
	*out = e;
	return 0;
}

#else /* !CHURN_HAVE_ETCD */

int churn_etcd_store(const char *endpoints, const char *prefix, ipam_store **out, char *why,
		     size_t size)
{
	(void)endpoints;
	(void)prefix;
	*out = NULL;
	snprintf(why, size, "this ipam-churn was built without the etcd store");
	return -ENOTSUP;
}

int churn_etcd_launch(struct churn_etcd **out, char *url, size_t urlsize, char *why, size_t size)
{
	(void)url;
	(void)urlsize;
	*out = NULL;
	snprintf(why, size, "this ipam-churn was built without the etcd store");
	return -1;
}

void churn_etcd_stop(struct churn_etcd *e)
{
	(void)e;
}

#endif
