/* SPDX-License-Identifier: MIT */
/*
 * Encoding and parsing of the file store's snapshot and log files. Built
 * for input that may be torn by a crash or damaged on disk: every length is
 * checked against what remains, every record against its XXH3 checksum, and
 * every decoded lease against the same limits as the API before anything is
 * handed on. Integers are little-endian; the checksum's seed is 0, pinned
 * by format version 1.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hash.h"
#include "lease/record.h"
#include "store/file_format.h"

static const char magic_snap[8] = { 'I', 'P', 'A', 'M', 'S', 'N', 'P', '\n' };
static const char magic_log[8] = { 'I', 'P', 'A', 'M', 'L', 'O', 'G', '\n' };

/* ---- encoding ------------------------------------------------------------------- */

void ipam__buf_fini(struct ipam__buf *b)
{
	ipam__release(b->p, b->cap);
	memset(b, 0, sizeof(*b));
}

static void put(struct ipam__buf *b, const void *p, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		uint8_t *np;
		while (cap < b->len + n)
			cap *= 2;
		np = ipam__resize(b->p, b->cap, cap);
		if (!np) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

void ipam__ff_put_u8(struct ipam__buf *b, uint8_t v)
{
	put(b, &v, 1);
}

void ipam__ff_put_u32(struct ipam__buf *b, uint32_t v)
{
	uint8_t x[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
	put(b, x, 4);
}

void ipam__ff_put_u64(struct ipam__buf *b, uint64_t v)
{
	ipam__ff_put_u32(b, (uint32_t)v);
	ipam__ff_put_u32(b, (uint32_t)(v >> 32));
}

static void put_str8(struct ipam__buf *b, const char *s)
{
	size_t n = strlen(s);
	ipam__ff_put_u8(b, (uint8_t)n);
	put(b, s, n);
}

static void put_str16(struct ipam__buf *b, const char *s)
{
	size_t n = strlen(s);
	ipam__ff_put_u8(b, (uint8_t)n);
	ipam__ff_put_u8(b, (uint8_t)(n >> 8));
	put(b, s, n);
}

void ipam__ff_header(struct ipam__buf *b, enum ipam__ff_kind kind, uint64_t revision)
{
	size_t start = b->len;
	put(b, kind == IPAM__FF_SNAPSHOT ? magic_snap : magic_log, 8);
	ipam__ff_put_u32(b, IPAM__FF_VERSION);
	ipam__ff_put_u32(b, 0); /* flags */
	ipam__ff_put_u64(b, revision);
	if (!b->oom)
		ipam__ff_put_u64(b, ipam__hash(b->p + start, 24, 0));
}

size_t ipam__ff_record_begin(struct ipam__buf *b, enum ipam__ff_type type)
{
	size_t start = b->len;
	ipam__ff_put_u32(b, 0); /* length, patched by _end */
	ipam__ff_put_u32(b, (uint32_t)type);
	return start;
}

void ipam__ff_record_end(struct ipam__buf *b, size_t start)
{
	uint32_t n;

	if (b->oom)
		return;
	n = (uint32_t)(b->len - start - 4);
	b->p[start] = (uint8_t)n;
	b->p[start + 1] = (uint8_t)(n >> 8);
	b->p[start + 2] = (uint8_t)(n >> 16);
	b->p[start + 3] = (uint8_t)(n >> 24);
	ipam__ff_put_u64(b, ipam__hash(b->p + start, b->len - start, 0));
}

void ipam__ff_put_lease(struct ipam__buf *b, const ipam_lease *l)
{
	uint8_t a[16];

	memset(a, 0, sizeof(a));
	ipam_addr_to_bytes(&l->addr, a);
	put_str8(b, l->pool);
	ipam__ff_put_u8(b, l->addr.family);
	put(b, a, 16);
	ipam__ff_put_u64(b, l->generation);
	ipam__ff_put_u8(b, (uint8_t)l->state);
	ipam__ff_put_u64(b, (uint64_t)l->created);
	ipam__ff_put_u64(b, (uint64_t)l->updated);
	ipam__ff_put_u64(b, (uint64_t)l->expires);
	ipam__ff_put_u64(b, (uint64_t)l->suspect_since);
	put_str16(b, l->owner);
	put_str8(b, l->ifname);
	put_str16(b, l->attachment);
	put_str8(b, l->node);
	ipam__ff_put_u8(b, (uint8_t)l->nattrs);
	for (unsigned i = 0; i < l->nattrs; i++) {
		put_str8(b, l->attrs[i].key);
		put_str8(b, l->attrs[i].value);
	}
}

/* ---- parsing -------------------------------------------------------------------- */

struct rd {
	const uint8_t *p;
	size_t len, off;
	int bad;
};

static uint64_t get(struct rd *r, unsigned n)
{
	uint64_t v = 0;

	if (r->bad || r->len - r->off < n) {
		r->bad = 1;
		return 0;
	}
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)r->p[r->off + i] << (8 * i);
	r->off += n;
	return v;
}

/* A string of at most size-1 bytes, without NUL or control bytes. */
static void get_str(struct rd *r, unsigned lenbytes, char *dst, size_t size)
{
	size_t n = (size_t)get(r, lenbytes);

	if (r->bad || n >= size || r->len - r->off < n) {
		r->bad = 1;
		dst[0] = '\0';
		return;
	}
	memcpy(dst, r->p + r->off, n);
	dst[n] = '\0';
	if (memchr(dst, '\0', n))
		r->bad = 1;
	r->off += n;
}

/* Unix seconds a lease may carry: far enough for any real date, small
 * enough that milliseconds fit in 64 bits. */
#define TIME_MAX (INT64_MAX / 1000 - 1)

static int time_ok(int64_t t)
{
	return t >= -TIME_MAX && t <= TIME_MAX;
}

/* A lease; `full`: all fields are checked (a PUT), else only what a
 * DELETE uses (pool and address). */
static void get_lease(struct rd *r, ipam_lease *l, int full)
{
	uint8_t a[16];
	int family;

	memset(l, 0, offsetof(ipam_lease, attrs));
	get_str(r, 1, l->pool, sizeof(l->pool));
	family = (int)get(r, 1);
	if (r->bad || r->len - r->off < 16) {
		r->bad = 1;
		return;
	}
	memcpy(a, r->p + r->off, 16);
	r->off += 16;
	if (ipam_addr_from_bytes(family, a, &l->addr) < 0 ||
	    (family == IPAM_AF_INET && (a[4] | a[5] | a[6] | a[7] | a[8] | a[9] | a[10] | a[11] |
					a[12] | a[13] | a[14] | a[15]))) {
		r->bad = 1;
		return;
	}
	l->generation = get(r, 8);
	l->state = (ipam_lease_state)get(r, 1);
	l->created = (int64_t)get(r, 8);
	l->updated = (int64_t)get(r, 8);
	l->expires = (int64_t)get(r, 8);
	l->suspect_since = (int64_t)get(r, 8);
	get_str(r, 2, l->owner, sizeof(l->owner));
	get_str(r, 1, l->ifname, sizeof(l->ifname));
	get_str(r, 2, l->attachment, sizeof(l->attachment));
	get_str(r, 1, l->node, sizeof(l->node));
	l->nattrs = (unsigned)get(r, 1);
	if (l->nattrs > IPAM_ATTRS_MAX) {
		r->bad = 1;
		return;
	}
	for (unsigned i = 0; i < l->nattrs && !r->bad; i++) {
		get_str(r, 1, l->attrs[i].key, sizeof(l->attrs[i].key));
		get_str(r, 1, l->attrs[i].value, sizeof(l->attrs[i].value));
	}
	if (!r->bad && full &&
	    (ipam__lease_check(l) < 0 || !time_ok(l->created) || !time_ok(l->updated) ||
	     !time_ok(l->expires) || !time_ok(l->suspect_since)))
		r->bad = 1;
	if (!r->bad && !full && !l->pool[0])
		r->bad = 1;
}

static int corrupt(size_t off, const char *why)
{
	return ipam__fail(-EBADMSG, "file", NULL, "corrupt record at offset %zu: %s", off, why);
}

/* One record's payload (type known, checksum verified). */
static int parse_payload(struct rd *r, uint32_t type, enum ipam__ff_kind kind, size_t off,
			 const struct ipam__ff_handler *h, struct ipam__ff_result *res)
{
	if (kind == IPAM__FF_SNAPSHOT && type == IPAM__FF_LEASE) {
		ipam_lease l;
		get_lease(r, &l, 1);
		if (r->bad || r->off != r->len)
			return corrupt(off, "malformed lease");
		return h->lease ? h->lease(h->ud, &l) : 0;
	}
	if (kind == IPAM__FF_SNAPSHOT && type == IPAM__FF_END) {
		uint64_t count = get(r, 8), rev = get(r, 8);
		if (r->bad || r->off != r->len)
			return corrupt(off, "malformed end record");
		res->ended = 1;
		return h->end ? h->end(h->ud, count, rev) : 0;
	}
	if (kind == IPAM__FF_LOG && type == IPAM__FF_COMMIT) {
		uint64_t rev = get(r, 8);
		int64_t now = (int64_t)get(r, 8);
		uint32_t nops = (uint32_t)get(r, 4);
		ipam_op one, *ops = &one;
		int e = 0;

		if (r->bad || nops == 0 || nops > IPAM__FF_MAX_OPS || nops > (r->len - r->off) / 40)
			return corrupt(off, "malformed commit header");
		if (nops > 1) {
			ops = ipam__calloc(nops, sizeof(*ops));
			if (!ops)
				return ipam__fail_code(-ENOMEM);
		}
		for (uint32_t i = 0; i < nops && !r->bad; i++) {
			ops[i].kind = (ipam_op_kind)get(r, 1);
			if (ops[i].kind != IPAM_OP_PUT && ops[i].kind != IPAM_OP_DELETE)
				r->bad = 1;
			ops[i].flags = 0;
			get_lease(r, &ops[i].lease, ops[i].kind == IPAM_OP_PUT);
		}
		if (r->bad || r->off != r->len)
			e = corrupt(off, "malformed commit");
		else if (h->commit)
			e = h->commit(h->ud, rev, now, ops, nops);
		if (ops != &one)
			ipam__release(ops, nops * sizeof(*ops));
		return e;
	}
	return corrupt(off, "record type not valid in this file");
}

static int parse_header(const uint8_t *data, size_t len, enum ipam__ff_kind kind,
			struct ipam__ff_result *res)
{
	struct rd hr = { data, len, 8, 0 };
	uint32_t version;

	if (len < IPAM__FF_HEADER_SIZE)
		return ipam__fail(-EBADMSG, "file", NULL, "too short for a header (%zu bytes)", len);
	if (memcmp(data, kind == IPAM__FF_SNAPSHOT ? magic_snap : magic_log, 8) != 0)
		return ipam__fail(-EPROTO, "file", NULL, "not a libipam %s file (bad magic)",
				  kind == IPAM__FF_SNAPSHOT ? "snapshot" : "log");
	version = (uint32_t)get(&hr, 4);
	(void)get(&hr, 4);
	res->header_revision = get(&hr, 8);
	if (get(&hr, 8) != ipam__hash(data, 24, 0))
		return ipam__fail(-EBADMSG, "file", NULL, "header checksum mismatch");
	if (version != IPAM__FF_VERSION)
		return ipam__fail(-EPROTO, "file", NULL,
				  "format version %u; this library reads version %d", version,
				  IPAM__FF_VERSION);
	return 0;
}

int ipam__ff_parse_records(const uint8_t *data, size_t len, enum ipam__ff_kind kind, size_t base,
			   const struct ipam__ff_handler *h, struct ipam__ff_result *res)
{
	size_t off = 0;

	res->good_end = base;
	res->torn = 0;
	while (off < len) {
		struct rd r = { data, len, off, 0 };
		uint32_t n = (uint32_t)get(&r, 4), type;
		int e;

		if (r.bad) { /* not even a whole length field: torn */
			res->torn = 1;
			return 0;
		}
		if (n < 4 || n > IPAM__FF_MAX_RECORD) {
			/* An impossible length. A crash while appending leaves the
			 * unwritten part of the last record as zeros; anything
			 * else is damage, and what follows it cannot be read. */
			for (size_t i = off; i < len; i++)
				if (data[i] != 0)
					return corrupt(base + off, "impossible record length");
			res->torn = 1;
			return 0;
		}
		if (len - off - 4 < (size_t)n + 8) { /* runs past the end: torn */
			res->torn = 1;
			return 0;
		}
		{
			struct rd cr = { data, len, off + 4 + n, 0 };
			if (get(&cr, 8) != ipam__hash(data + off, 4 + (size_t)n, 0)) {
				if (off + 4 + n + 8 == len) { /* the very last record: torn */
					res->torn = 1;
					return 0;
				}
				return corrupt(base + off, "checksum mismatch");
			}
		}
		type = (uint32_t)get(&r, 4);
		{
			struct rd pr = { data, off + 4 + n, off + 8, 0 };
			e = parse_payload(&pr, type, kind, base + off, h, res);
		}
		if (e < 0)
			return e;
		off += 4 + (size_t)n + 8;
		res->good_end = base + off;
	}
	return 0;
}

int ipam__ff_parse(const uint8_t *data, size_t len, enum ipam__ff_kind kind,
		   const struct ipam__ff_handler *h, struct ipam__ff_result *res)
{
	int r;

	memset(res, 0, sizeof(*res));
	r = parse_header(data, len, kind, res);
	if (r < 0)
		return r;
	return ipam__ff_parse_records(data + IPAM__FF_HEADER_SIZE, len - IPAM__FF_HEADER_SIZE, kind,
				      IPAM__FF_HEADER_SIZE, h, res);
}
