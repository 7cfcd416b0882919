/* SPDX-License-Identifier: MIT */
#ifndef IPAM_ETCD_FIXTURE_H
#define IPAM_ETCD_FIXTURE_H

/*
 * The etcd branch of the store-contract fixture (tests/ctx_fixture.h's
 * fx_store() with IPAM_TEST_STORE=etcd): a store on the etcd named by
 * IPAM_ETCD_ENDPOINTS (tests/etcd/etcd_run.c starts one and sets it), under
 * a prefix of its own so that stores made by one test never see another's
 * leases. IPAM_ETCD_COARSE=1 selects the one-key-per-pool mode and
 * IPAM_ETCD_BLOCK the block size.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "ipam_etcd.h"

static inline ipam_store *fx_etcd_store(void)
{
	static unsigned count;
	const char *ep = getenv("IPAM_ETCD_ENDPOINTS"), *coarse = getenv("IPAM_ETCD_COARSE");
	const char *block = getenv("IPAM_ETCD_BLOCK");
	ipam_etcd_options o;
	ipam_store *st = NULL;
	struct timespec ts;
	char prefix[96];

	ck_assert_msg(ep && *ep, "IPAM_TEST_STORE=etcd needs IPAM_ETCD_ENDPOINTS (run it "
				 "through etcd-run)");
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(prefix, sizeof(prefix), "/ipam-test/%ld-%ld-%u", (long)getpid(), (long)ts.tv_nsec,
		 count++);
	ipam_etcd_options_init(&o);
	o.endpoints = ep;
	o.prefix = prefix;
	o.coarse = coarse && *coarse == '1';
	if (block && *block)
		o.block_size = (unsigned)atoi(block);
	ck_assert_msg(ipam_store_etcd_new(&st, &o) == 0, "%s", ipam_etcd_last_error_message());
	return st;
}

#endif /* IPAM_ETCD_FIXTURE_H */
