/* SPDX-License-Identifier: MIT */
/* A lower bound for the public API's allocate+release: see floor_model.c. */
#ifndef IPAM_BENCH_FLOOR_MODEL_H
#define IPAM_BENCH_FLOOR_MODEL_H

#include <stddef.h>

#include <ipam/ipam.h>

struct floor_model;

/* A model over one pool (the caller keeps it), hash chains of `buckets`
 * heads (rounded up to a power of two). 0 or a negative errno. */
int floor_model_new(struct floor_model **out, ipam_pool *pool, const char *node, size_t buckets);
void floor_model_free(struct floor_model *f);
/* 0 and the lease; -EEXIST if (owner, ifname) holds one; -ENOSPC; -EINVAL,
 * -ENAMETOOLONG for a bad string; -ENOMEM. */
int floor_model_allocate(struct floor_model *f, const char *owner, const char *ifname,
			 const char *attachment, ipam_lease *out);
/* 1 if the attachment's lease was released, 0 if it has none. */
int floor_model_release(struct floor_model *f, const char *attachment);

#endif
