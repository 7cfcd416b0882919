/* SPDX-License-Identifier: MIT */
#ifndef IPAM_RECORD_H
#define IPAM_RECORD_H

/*
 * The compact in-memory form of a lease record, as the view keeps it: one
 * block holding the fixed fields and the strings back to back (its own
 * allocation, or a piece of the view's load arena), linked
 * into the view's three hash chains (by address, by owner, by attachment).
 * Records are immutable once linked: a change builds a new record and swaps
 * it in under the view's write lock, so a reader holding the read lock
 * always sees a whole record.
 */

#include <stdint.h>

#include <ipam/lease.h>

#include "internal.h"
#include "u128.h"

enum { IPAM__LINK_ADDR = 0, IPAM__LINK_OWNER = 1, IPAM__LINK_ATTACH = 2, IPAM__NLINKS = 3 };

struct ipam__rec {
	struct ipam__rec *next[IPAM__NLINKS];
	ipam__u128 addr;      /* address value; family from the pool */
	uint64_t generation;
	uint64_t owner_tag;   /* seeded hash of (owner, ifname): quarantine owner */
	int64_t created, updated, expires, suspect_since;
	uint32_t size;        /* bytes of this allocation */
	uint16_t pool;
	uint8_t state;        /* ipam_lease_state */
	uint8_t nattrs;
	uint8_t family;
	uint8_t owner_len, ifname_len, attach_len, node_len;
	uint8_t in_arena;     /* allocated from the view's load arena, not alone */
	/* owner\0 ifname\0 attachment\0 node\0 then nattrs × (key\0 value\0) */
	char data[];
};

static inline const char *ipam__rec_owner(const struct ipam__rec *r)
{
	return r->data;
}
static inline const char *ipam__rec_ifname(const struct ipam__rec *r)
{
	return r->data + r->owner_len + 1;
}
static inline const char *ipam__rec_attach(const struct ipam__rec *r)
{
	return r->data + r->owner_len + r->ifname_len + 2;
}
static inline const char *ipam__rec_node(const struct ipam__rec *r)
{
	return r->data + r->owner_len + r->ifname_len + r->attach_len + 3;
}

/* 1 for states that hold the address for their owner (bound, suspect). */
static inline int ipam__state_is_bound(unsigned s)
{
	return s == IPAM_LEASE_BOUND || s == IPAM_LEASE_SUSPECT;
}

/* Check the strings and sizes of a public record: 0 or -ENAMETOOLONG /
 * -EINVAL with the field named. */
int ipam__lease_check(const ipam_lease *l);

/*
 * A lease as the file decoder found it: strings are counted and point into
 * the file image (no NUL); attrs is the encoded list, nattrs × (u8 length,
 * key, u8 length, value). Built only by the decoder, which has checked
 * everything ipam__lease_check() checks.
 */
struct ipam__lease_ref {
	ipam_addr addr;
	uint64_t generation;
	int64_t created, updated, expires, suspect_since;
	unsigned state, nattrs;
	const char *pool, *owner, *ifname, *attach, *node;
	const uint8_t *attrs;
	size_t attrs_len;
	uint8_t pool_len, ifname_len, node_len;
	uint16_t owner_len, attach_len;
};

/* Bytes of the record for a lease ref (see ipam__rec_fill_ref). */
static inline size_t ipam__rec_size_ref(const struct ipam__lease_ref *l)
{
	/* Each string gets a NUL; each attr string's length byte becomes one. */
	return sizeof(struct ipam__rec) + (size_t)l->owner_len + l->ifname_len + l->attach_len +
	       l->node_len + 4 + l->attrs_len;
}

/* Fill r (ipam__rec_size_ref(l) bytes) from a ref; links zeroed, owner_tag
 * and in_arena left to the caller. */
void ipam__rec_fill_ref(struct ipam__rec *r, const struct ipam__lease_ref *l, unsigned pool);

/* The public form of a ref (pool name, strings NUL-terminated). */
void ipam__lease_from_ref(const struct ipam__lease_ref *l, ipam_lease *out);

/* A new record from a public one (pool index given, generation as given).
 * -ENOMEM. Links are zeroed. */
int ipam__rec_new(struct ipam__rec **out, const ipam_lease *l, unsigned pool);
/* Free a record made by ipam__rec_new(); one from the view's load arena
 * stays until the view is reset or freed. */
void ipam__rec_free(struct ipam__rec *r);

/* Copy a public record field by field: strings up to their NUL and the
 * nattrs attributes, not the whole (about 2 KB) struct. */
void ipam__lease_copy(ipam_lease *dst, const ipam_lease *src);

/* Fill a public record (pool name given). */
void ipam__rec_export(const struct ipam__rec *r, const char *pool_name, ipam_lease *out);

/* Bounded copy into a fixed field: -ENAMETOOLONG if src does not fit. */
int ipam__copy_field(char *dst, size_t size, const char *src, const char *field);

#endif /* IPAM_RECORD_H */
