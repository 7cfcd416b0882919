/* SPDX-License-Identifier: MIT */
#ifndef IPAM_LEASE_H
#define IPAM_LEASE_H

/*
 * The lease record: the ownership of one address. There is one record per
 * leased address and the address's bit in the free-space index changes in
 * the same commit as its record, so the two never drift apart.
 *
 * ipam_lease is the public, self-contained copy of a record that lookups
 * fill in and stores receive in commits. Its strings are NUL-terminated and
 * bounded by the IPAM_*_MAX limits below; requests with longer strings are
 * refused with -ENAMETOOLONG.
 */

#include <stdint.h>

#include <ipam/addr.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IPAM_OWNER_MAX 253      /* "namespace/pod", a DHCP client id, a container id */
#define IPAM_IFNAME_MAX 15      /* IFNAMSIZ - 1 */
#define IPAM_ATTACHMENT_MAX 255 /* the runtime's handle: container id (+ ifname) */
#define IPAM_NODE_MAX 63
#define IPAM_ATTR_KEY_MAX 31
#define IPAM_ATTR_VALUE_MAX 127
#define IPAM_ATTRS_MAX 8

typedef enum ipam_lease_state {
	IPAM_LEASE_BOUND = 1,       /* held by its owner */
	IPAM_LEASE_QUARANTINED = 2, /* released; waits out the reuse delay */
	IPAM_LEASE_RESERVED = 3,    /* pinned by an operator */
	IPAM_LEASE_SUSPECT = 4      /* bound, but GC has seen its owner dead once */
} ipam_lease_state;

typedef struct ipam_attr {
	char key[IPAM_ATTR_KEY_MAX + 1];
	char value[IPAM_ATTR_VALUE_MAX + 1];
} ipam_attr;

typedef struct ipam_lease {
	char pool[64];                             /* pool name within the set */
	ipam_addr addr;                            /* the leased address */
	char owner[IPAM_OWNER_MAX + 1];            /* stable identity */
	char ifname[IPAM_IFNAME_MAX + 1];          /* (owner, ifname) is unique per pool */
	char attachment[IPAM_ATTACHMENT_MAX + 1];  /* sandbox/container handle */
	char node[IPAM_NODE_MAX + 1];              /* where the owner runs */
	uint64_t generation; /* bumped on every change; a store revision */
	ipam_lease_state state;
	int64_t created;       /* unix seconds */
	int64_t updated;       /* unix seconds of the last change */
	int64_t expires;       /* unix seconds; 0: never (no TTL) */
	int64_t suspect_since; /* unix seconds; 0: not suspect */
	unsigned nattrs;
	ipam_attr attrs[IPAM_ATTRS_MAX];
} ipam_lease;

/* Text for a state ("bound", ...), or "unknown". */
const char *ipam_lease_state_name(ipam_lease_state s);

#ifdef __cplusplus
}
#endif

#endif /* IPAM_LEASE_H */
