/* SPDX-License-Identifier: MIT */
#ifndef IPAM_STORE_INTERNAL_H
#define IPAM_STORE_INTERNAL_H

/* The one module through which the library calls a store (store.c). */

#include <ipam/store.h>

#include "internal.h"

int ipam__store_attach(ipam_store *st, const ipam_poolset *set, ipam_view **view);
int ipam__store_refresh(ipam_store *st, ipam_view *view);
int ipam__store_commit(ipam_store *st, ipam_view *view, const ipam_txn *txn, uint64_t *rev);
void ipam__store_detach(ipam_store *st, ipam_view *view);

struct ipam__dop;

/* 1 if st commits the library's own ops as they are (the memory store):
 * ipam__store_commit_dops() instead of ipam__store_commit(). */
int ipam__store_direct(const ipam_store *st);
int ipam__store_commit_dops(ipam_store *st, ipam_view *view, const struct ipam__dop *ops,
			    unsigned nops, const ipam_cond *conds, unsigned nconds, int64_t now_ms,
			    uint64_t decided_at, uint64_t *rev);

#endif /* IPAM_STORE_INTERNAL_H */
