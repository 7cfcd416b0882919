/* SPDX-License-Identifier: MIT */
#ifndef IPAM_FILE_FORMAT_H
#define IPAM_FILE_FORMAT_H

/*
 * The file store's on-disk format (docs/file-format.md): encoding and a
 * parser over a buffer that trusts nothing in it. The parser is what the
 * loader uses and what the fuzz target drives.
 */

#include <stddef.h>
#include <stdint.h>

#include <ipam/lease.h>
#include <ipam/store.h>

#include "internal.h"
#include "lease/record.h"

#define IPAM__FF_VERSION 1
#define IPAM__FF_HEADER_SIZE 32
#define IPAM__FF_MAX_RECORD (16u << 20) /* bytes of type + payload */
#define IPAM__FF_MAX_OPS 4096

enum ipam__ff_kind { IPAM__FF_SNAPSHOT = 1, IPAM__FF_LOG = 2 };
enum ipam__ff_type { IPAM__FF_LEASE = 1, IPAM__FF_COMMIT = 2, IPAM__FF_END = 3 };

/* A growable byte buffer for encoding. */
struct ipam__buf {
	uint8_t *p;
	size_t len, cap;
	int oom; /* set on allocation failure; every append becomes a no-op */
};

void ipam__buf_fini(struct ipam__buf *b);
void ipam__ff_header(struct ipam__buf *b, enum ipam__ff_kind kind, uint64_t revision);
/* Append one framed record; `begin` returns the payload start to pass to
 * `end` after the payload was appended. */
size_t ipam__ff_record_begin(struct ipam__buf *b, enum ipam__ff_type type);
void ipam__ff_record_end(struct ipam__buf *b, size_t start);
void ipam__ff_put_lease(struct ipam__buf *b, const ipam_lease *l);
void ipam__ff_put_u64(struct ipam__buf *b, uint64_t v);
void ipam__ff_put_u32(struct ipam__buf *b, uint32_t v);
void ipam__ff_put_u8(struct ipam__buf *b, uint8_t v);
void ipam__ff_put_zeros(struct ipam__buf *b, size_t n);

/* What the parser found; callbacks return 0 to go on or a negative code to
 * stop. Leases and commits are fully validated before they are passed on. */
struct ipam__ff_handler {
	void *ud;
	int (*lease)(void *ud, const ipam_lease *l);
	int (*commit)(void *ud, uint64_t revision, int64_t now_ms, const ipam_op *ops, unsigned nops);
	int (*end)(void *ud, uint64_t count, uint64_t revision);
	/* If set, snapshot leases go here instead of to `lease`, with their
	 * strings still in the image (no copy into an ipam_lease). */
	int (*lease_ref)(void *ud, const struct ipam__lease_ref *l);
	/* If set, commits go here instead of to `commit`, with ops the
	 * callback may change (pool and flags, say) before applying them. */
	int (*commit_mut)(void *ud, uint64_t revision, int64_t now_ms, ipam_op *ops, unsigned nops);
	/* With lease_ref: check only the structure, addresses, state and
	 * times of snapshot leases, not the text of their strings; the
	 * callback runs ipam__ff_lease_ref_check() on a lease before it uses
	 * its strings (a partial load leaves most leases as addresses). */
	int lazy_refs;
	/* With lazy_refs: called with a snapshot lease read up to its
	 * attachment (pool, address, generation, state, times unchecked,
	 * owner, ifname, attachment; no node or attributes). 1: the lease
	 * was dealt with and the rest of its record is not read (its
	 * checksum was verified); 0: read on, then lease_ref; < 0: stop. */
	int (*lease_skip)(void *ud, const struct ipam__lease_ref *head);
};

/* The text checks a lazy lease_ref skipped: 0 or -EBADMSG. */
int ipam__ff_lease_ref_check(const struct ipam__lease_ref *l);

struct ipam__ff_result {
	uint64_t header_revision;
	size_t good_end;  /* offset just past the last complete, valid record */
	int torn;         /* the bytes after good_end are an incomplete last record */
	int reserved;     /* a log: the bytes after good_end are zeros kept for later records */
	int ended;        /* a snapshot's end record was seen */
};

/*
 * Parse a whole file image: header, then records. Returns 0 (res filled; a
 * torn tail is reported, not an error), -EBADMSG for corruption before the
 * end (the message names the offset), -EPROTO for a newer version or
 * another kind of file, -ENOMEM, or a callback's code.
 */
int ipam__ff_parse(const uint8_t *data, size_t len, enum ipam__ff_kind kind,
		   const struct ipam__ff_handler *h, struct ipam__ff_result *res);

/* Records only, from a buffer that starts at file offset `base` (a record
 * boundary): for reading what was appended since the last look. */
int ipam__ff_parse_records(const uint8_t *data, size_t len, enum ipam__ff_kind kind, size_t base,
			   const struct ipam__ff_handler *h, struct ipam__ff_result *res);

#endif /* IPAM_FILE_FORMAT_H */
