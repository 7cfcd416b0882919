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

#endif /* IPAM_STORE_INTERNAL_H */
