/* SPDX-License-Identifier: MIT */
#ifndef IPAM_RECORD_H
#define IPAM_RECORD_H

/*
 * The compact in-memory form of a lease record, as the view keeps it: one
 * block of the view's record heap (lease/heap.c) holding the fixed fields,
 * the optional wide fields and the strings back to back, named by a 32-bit
 * id and linked by id into the view's three hash chains (by address, by
 * owner, by attachment). Records are immutable once linked: a change builds
 * a new record and swaps it in under the view's write lock, so a reader
 * holding the read lock always sees a whole record.
 *
 * Memory per lease is the figure this layout is for (bench-ctx: target 160
 * bytes with the indexes): 32-bit links, ifname and node interned (a node
 * has thousands of leases and one name), a container id of 64 lowercase hex
 * digits kept as its 32 bytes, times as 32-bit seconds, and the fields most
 * records do not need (high half of an IPv6 address, times outside
 * 1970-2106, a TTL, a suspect time) present only when set.
 */

#include <stdint.h>
#include <string.h>

#include <ipam/lease.h>

#include "internal.h"
#include "u128.h"

enum { IPAM__LINK_ADDR = 0, IPAM__LINK_OWNER = 1, IPAM__LINK_ATTACH = 2, IPAM__NLINKS = 3 };

/* A record's id in its view's heap; 0 is none. */
typedef uint32_t ipam__rid;

/* Optional 64-bit words after the header, in this order. */
#define IPAM__REC_ADDR_HI 0x01u /* the address's high 64 bits (IPv6) */
#define IPAM__REC_TIMES64 0x02u /* created and updated as int64 (2 words) */
#define IPAM__REC_EXPIRES 0x04u
#define IPAM__REC_SUSPECT 0x08u
/* The attachment is 64 lowercase hex digits, kept as their 32 bytes. */
#define IPAM__REC_ATTACH_HEX 0x10u

struct ipam__rec {
	ipam__rid next[IPAM__NLINKS];
	ipam__rid self;
	uint64_t addr_lo;
	uint64_t generation;
	uint32_t created, updated; /* unix seconds, unless IPAM__REC_TIMES64 */
	uint32_t ifname, node;     /* interned strings (view's intern table) */
	uint16_t pool;
	uint8_t state; /* ipam_lease_state */
	uint8_t flags; /* IPAM__REC_* */
	uint8_t units; /* 8-byte units of the block */
	uint8_t owner_len;
	uint8_t attach_len; /* of the text */
	uint8_t nattrs;
	/* optional words, then owner\0, then the attachment (text\0, or 32
	 * bytes), then nattrs x (key\0 value\0) */
	char data[];
};

_Static_assert(sizeof(struct ipam__rec) == 56, "record header grew");

#define IPAM__REC_MAX_BYTES                                                                    \
	(sizeof(struct ipam__rec) + 5 * 8 + IPAM_OWNER_MAX + 1 + IPAM_ATTACHMENT_MAX + 1 +     \
	 IPAM_ATTRS_MAX * (IPAM_ATTR_KEY_MAX + IPAM_ATTR_VALUE_MAX + 2))
_Static_assert(IPAM__REC_MAX_BYTES <= 255 * 8, "a record must fit 255 units");

static inline unsigned ipam__rec_words(unsigned flags)
{
	return (flags & IPAM__REC_ADDR_HI ? 1u : 0u) + (flags & IPAM__REC_TIMES64 ? 2u : 0u) +
	       (flags & IPAM__REC_EXPIRES ? 1u : 0u) + (flags & IPAM__REC_SUSPECT ? 1u : 0u);
}

/* The optional word for `bit`, 0 if absent. */
static inline uint64_t ipam__rec_word(const struct ipam__rec *r, unsigned bit, unsigned k)
{
	uint64_t w;

	if (!(r->flags & bit))
		return 0;
	memcpy(&w, r->data + 8 * (ipam__rec_words(r->flags & (bit - 1)) + k), 8);
	return w;
}

static inline ipam__u128 ipam__rec_addr(const struct ipam__rec *r)
{
	return ((ipam__u128)ipam__rec_word(r, IPAM__REC_ADDR_HI, 0) << 64) | r->addr_lo;
}
static inline int64_t ipam__rec_created(const struct ipam__rec *r)
{
	return r->flags & IPAM__REC_TIMES64 ? (int64_t)ipam__rec_word(r, IPAM__REC_TIMES64, 0)
					     : (int64_t)r->created;
}
static inline int64_t ipam__rec_updated(const struct ipam__rec *r)
{
	return r->flags & IPAM__REC_TIMES64 ? (int64_t)ipam__rec_word(r, IPAM__REC_TIMES64, 1)
					     : (int64_t)r->updated;
}
static inline int64_t ipam__rec_expires(const struct ipam__rec *r)
{
	return (int64_t)ipam__rec_word(r, IPAM__REC_EXPIRES, 0);
}
static inline int64_t ipam__rec_suspect_since(const struct ipam__rec *r)
{
	return (int64_t)ipam__rec_word(r, IPAM__REC_SUSPECT, 0);
}

static inline const char *ipam__rec_owner(const struct ipam__rec *r)
{
	return r->data + 8 * ipam__rec_words(r->flags);
}
/* The stored attachment: text with its NUL, or 32 bytes (ATTACH_HEX). */
static inline const uint8_t *ipam__rec_attach_raw(const struct ipam__rec *r)
{
	return (const uint8_t *)ipam__rec_owner(r) + r->owner_len + 1;
}
static inline size_t ipam__rec_attach_size(const struct ipam__rec *r)
{
	return r->flags & IPAM__REC_ATTACH_HEX ? 32 : (size_t)r->attach_len + 1;
}
/* The attributes: nattrs x (key\0 value\0). */
static inline const char *ipam__rec_attrs(const struct ipam__rec *r)
{
	return (const char *)ipam__rec_attach_raw(r) + ipam__rec_attach_size(r);
}

/* 1 if the attachment of r is key (key_len bytes). */
int ipam__rec_attach_eq(const struct ipam__rec *r, const char *key, size_t key_len);
/* 1 if two records have the same attachment. */
int ipam__rec_attach_same(const struct ipam__rec *a, const struct ipam__rec *b);
/* The attachment's text, NUL-terminated, into buf
 * (IPAM_ATTACHMENT_MAX + 1 bytes); returns buf. */
char *ipam__rec_attach_text(const struct ipam__rec *r, char *buf);
/* If s (len bytes) is 64 lowercase hex digits: its 32 bytes into out, 1.
 * With SSE2 16 digits a step; ipam__hex64_pack_digits() is the digit by
 * digit form every other host uses (and the tests compare). */
int ipam__hex64_pack(const char *s, size_t len, uint8_t out[32]);
int ipam__hex64_pack_digits(const char *s, size_t len, uint8_t out[32]);

/* 1 for states that hold the address for their owner (bound, suspect). */
static inline int ipam__state_is_bound(unsigned s)
{
	return s == IPAM_LEASE_BOUND || s == IPAM_LEASE_SUSPECT;
}

/* Check the strings and sizes of a public record: 0 or -ENAMETOOLONG /
 * -EINVAL with the field named. */
int ipam__lease_check(const ipam_lease *l);
/* The same for attributes, and for one string of a field of `size` bytes
 * (NUL included; required: must not be empty). */
int ipam__attrs_check(const ipam_attr *attrs, unsigned nattrs);
int ipam__text_check(const char *s, size_t size, const char *field, int required);
/* A request string (owner, ifname, attachment, node; ops.c): 0 and its
 * length; -ENAMETOOLONG past max bytes (*len: max + 1); -EINVAL for a
 * control byte (< 0x20 or 0x7f). Records nothing. */
int ipam__text_scan(const char *s, size_t max, size_t *len);

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

/* The public form of a ref (pool name, strings NUL-terminated). */
void ipam__lease_from_ref(const struct ipam__lease_ref *l, ipam_lease *out);

/* Copy a public record field by field: strings up to their NUL and the
 * nattrs attributes, not the whole (about 2 KB) struct. */
void ipam__lease_copy(ipam_lease *dst, const ipam_lease *src);

/* Bounded copy into a fixed field: -ENAMETOOLONG if src does not fit. */
int ipam__copy_field(char *dst, size_t size, const char *src, const char *field);

#endif /* IPAM_RECORD_H */
