/* SPDX-License-Identifier: MIT */
#ifndef IPAM_POOL_INTERNAL_H
#define IPAM_POOL_INTERNAL_H

#include <stddef.h>

#include <ipam/pool.h>

#include "internal.h"

/* A growable array of fixed-size items, allocated through ipam__alloc. */
struct ipam__vec {
	void *items;
	unsigned count;
	unsigned cap;
};

#define VEC_AT(v, type, i) (((type *)(v).items)[i])

struct ipam__route {
	ipam_prefix dst;
	ipam_addr gw; /* family 0: none */
};

/* A field owned through a pointer must be made again in ipam__pool_clone(),
 * which copies the struct whole first. */
struct ipam_pool {
	char name[IPAM_NAME_MAX + 1];
	ipam_prefix subnet;
	ipam_addr gateway; /* family 0: none */
	ipam_range default_range; /* used when ranges.count == 0 */
	struct ipam__vec ranges;   /* ipam_range */
	struct ipam__vec excludes; /* ipam_range */
	struct ipam__vec routes;   /* struct ipam__route */
	struct ipam__vec dns;      /* ipam_addr */
	struct ipam__vec search;   /* char * */
	char *dns_domain;
	unsigned vlan;
	unsigned flags;
	ipam_index_kind index_kind;
	uint64_t bitmap_max;
	ipam_policy policy;
	uint32_t quarantine_seconds;
	uint32_t quarantine_allocations;
	unsigned quarantine_flags;
};

/*
 * The addresses a pool may hand out: its ranges minus its exclusions and its
 * gateway, as ranges sorted by address, disjoint and with adjacent ones
 * merged. *out is allocated with ipam__alloc (release with
 * ipam__release(*out, *n * sizeof(ipam_range))); *n may be 0.
 */
int ipam__pool_allocatable(const ipam_pool *p, ipam_range **out, size_t *n);

/* Pools a set holds at most. */
#define IPAM__POOLSET_MAX_POOLS 64

/* A deep copy of a pool, or of a set and its pools: 0 or -ENOMEM. */
int ipam__pool_clone(const ipam_pool *p, ipam_pool **out);
int ipam__poolset_clone(const ipam_poolset *s, ipam_poolset **out);
/* 1 if two pools (two sets: the same pools in the same order) hand out
 * addresses alike: name, subnet, gateway, ranges, exclusions, flags, index,
 * policy and quarantine compared; routes, DNS and VLAN, which no lease
 * depends on, are not. */
int ipam__pool_same(const ipam_pool *a, const ipam_pool *b);
int ipam__poolset_same(const ipam_poolset *a, const ipam_poolset *b);

#endif /* IPAM_POOL_INTERNAL_H */
