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

void ipam__ff_put_zeros(struct ipam__buf *b, size_t n)
{
	static const uint8_t zeros[256];

	while (n && !b->oom) {
		size_t k = n < sizeof(zeros) ? n : sizeof(zeros);
		put(b, zeros, k);
		n -= k;
	}
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

/* Little-endian loads of 1, 2, 4 or 8 bytes, as single loads (a byte loop
 * is not always turned into one: it showed at the top of the loader's
 * profile). */
static inline uint64_t le(const uint8_t *p, unsigned n)
{
	uint64_t v8;
	uint32_t v4;
	uint16_t v2;

	switch (n) {
	case 1:
		return p[0];
	case 2:
		memcpy(&v2, p, 2);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		v2 = __builtin_bswap16(v2);
#endif
		return v2;
	case 4:
		memcpy(&v4, p, 4);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		v4 = __builtin_bswap32(v4);
#endif
		return v4;
	case 8:
		memcpy(&v8, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		v8 = __builtin_bswap64(v8);
#endif
		return v8;
	default:
		v8 = 0;
		for (unsigned i = 0; i < n; i++)
			v8 |= (uint64_t)p[i] << (8 * i);
		return v8;
	}
}

/* A big-endian 8-byte load (an address half in network order). */
static inline uint64_t be64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
#if __BYTE_ORDER__ != __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

/* n is a constant at every call, so each one compiles to a load. */
static inline uint64_t get(struct rd *r, unsigned n)
{
	uint64_t v;

	if (r->bad || r->len - r->off < n) {
		r->bad = 1;
		return 0;
	}
	v = le(r->p + r->off, n);
	r->off += n;
	return v;
}

static int bytes_clean(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] == 0x7f)
			return 0;
	return 1;
}

/* No control byte (below 0x20, or 0x7f; so no NUL either), eight bytes at
 * a time: a word with such a byte is looked at again byte by byte. */
static int word_clean(const uint8_t *p)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	uint64_t x, y;

	memcpy(&x, p, 8);
	y = x ^ (0x7f * ones);
	return !((((x - 0x20 * ones) & ~x) | ((y - ones) & ~y)) & highs) || bytes_clean(p, 8);
}

static int text_clean(const uint8_t *p, size_t n)
{
	size_t i = 0;

	if (n < 8)
		return bytes_clean(p, n);
	for (; i + 8 <= n; i += 8)
		if (!word_clean(p + i))
			return 0;
	return i == n || word_clean(p + n - 8); /* the tail, overlapping */
}

/* A string of at most max bytes: without control bytes (`text` 1), without
 * NUL (0), or unchecked (2: a lazy lease, checked later if used). Returns
 * its start, NULL when bad. */
static inline const char *get_str(struct rd *r, unsigned lenbytes, size_t max, int text,
				  size_t *n_out)
{
	size_t n = (size_t)get(r, lenbytes);
	const uint8_t *p = r->p + r->off;

	if (r->bad || n > max || r->len - r->off < n ||
	    (text == 1 ? !text_clean(p, n) : text == 0 && memchr(p, '\0', n) != NULL)) {
		r->bad = 1;
		*n_out = 0;
		return NULL;
	}
	r->off += n;
	*n_out = n;
	return (const char *)p;
}

/* Unix seconds a lease may carry: far enough for any real date, small
 * enough that milliseconds fit in 64 bits. */
#define TIME_MAX (INT64_MAX / 1000 - 1)

static int time_ok(int64_t t)
{
	return t >= -TIME_MAX && t <= TIME_MAX;
}

/*
 * A lease; `full` 1: every field is checked as ipam__lease_check() and the
 * API do (a PUT, a snapshot record); 2 (lazy): the same but the text of
 * owner, ifname, attachment, node and attributes, which
 * ipam__ff_lease_ref_check() does later; 0: only what a DELETE uses (pool
 * and address; the other strings must still be free of NUL bytes).
 */
static void get_lease_head(struct rd *r, struct ipam__lease_ref *l, int mode)
{
	int text = mode == 1 ? 1 : mode == 2 ? 2 : 0;
	const uint8_t *a;
	size_t n;
	unsigned family;

	/* (A lazy pool name is matched against the set's names, which have
	 * no NUL, so it needs no scan either.) */
	l->pool = get_str(r, 1, sizeof(((ipam_lease *)0)->pool) - 1, mode == 2 ? 2 : 0, &n);
	l->pool_len = (uint8_t)n;
	family = (unsigned)get(r, 1);
	if (r->bad || r->len - r->off < 16) {
		r->bad = 1;
		return;
	}
	a = r->p + r->off;
	r->off += 16;
	memset(&l->addr, 0, sizeof(l->addr));
	if (family == IPAM_AF_INET) {
		if (le(a + 4, 4) | le(a + 8, 8)) {
			r->bad = 1;
			return;
		}
		l->addr.lo = ((uint64_t)a[0] << 24) | ((uint64_t)a[1] << 16) |
			     ((uint64_t)a[2] << 8) | a[3];
	} else if (family == IPAM_AF_INET6) {
		l->addr.hi = be64(a);
		l->addr.lo = be64(a + 8);
	} else {
		r->bad = 1;
		return;
	}
	l->addr.family = (uint8_t)family;
	if (r->len - r->off < 41) { /* generation, state, four times */
		r->bad = 1;
		return;
	}
	a = r->p + r->off;
	r->off += 41;
	l->generation = le(a, 8);
	l->state = a[8];
	l->created = (int64_t)le(a + 9, 8);
	l->updated = (int64_t)le(a + 17, 8);
	l->expires = (int64_t)le(a + 25, 8);
	l->suspect_since = (int64_t)le(a + 33, 8);
	l->owner = get_str(r, 2, IPAM_OWNER_MAX, text, &n);
	l->owner_len = (uint16_t)n;
	l->ifname = get_str(r, 1, IPAM_IFNAME_MAX, text, &n);
	l->ifname_len = (uint8_t)n;
	l->attach = get_str(r, 2, IPAM_ATTACHMENT_MAX, text, &n);
	l->attach_len = (uint16_t)n;
}

/* The rest of a lease after get_lease_head(): node, attributes, and the
 * checks that need the whole record. */
static void get_lease_tail(struct rd *r, struct ipam__lease_ref *l, int mode)
{
	int full = mode != 0, text = mode == 1 ? 1 : mode == 2 ? 2 : 0;
	size_t n;

	if (r->bad)
		return;
	l->node = get_str(r, 1, IPAM_NODE_MAX, text, &n);
	l->node_len = (uint8_t)n;
	l->nattrs = (unsigned)get(r, 1);
	if (r->bad || l->nattrs > IPAM_ATTRS_MAX) {
		r->bad = 1;
		return;
	}
	l->attrs = r->p + r->off;
	for (unsigned i = 0; i < l->nattrs && !r->bad; i++) {
		get_str(r, 1, sizeof(((ipam_attr *)0)->key) - 1, text, &n);
		if (full && n == 0)
			r->bad = 1;
		get_str(r, 1, sizeof(((ipam_attr *)0)->value) - 1, text, &n);
	}
	l->attrs_len = (size_t)(r->p + r->off - l->attrs);
	if (r->bad)
		return;
	if (full && (l->owner_len == 0 || l->state < IPAM_LEASE_BOUND ||
		     l->state > IPAM_LEASE_SUSPECT || !time_ok(l->created) || !time_ok(l->updated) ||
		     !time_ok(l->expires) || !time_ok(l->suspect_since)))
		r->bad = 1;
	if (!full && l->pool_len == 0)
		r->bad = 1;
}

static void get_lease(struct rd *r, struct ipam__lease_ref *l, int mode)
{
	get_lease_head(r, l, mode);
	get_lease_tail(r, l, mode);
}

int ipam__ff_lease_ref_check(const struct ipam__lease_ref *l)
{
	const uint8_t *a = l->attrs, *end = l->attrs + l->attrs_len;
	int ok = text_clean((const uint8_t *)l->owner, l->owner_len) &&
		 text_clean((const uint8_t *)l->ifname, l->ifname_len) &&
		 text_clean((const uint8_t *)l->attach, l->attach_len) &&
		 text_clean((const uint8_t *)l->node, l->node_len);

	/* nattrs × (u8 length, key, u8 length, value), bounds checked by the
	 * parse that made l. */
	for (unsigned i = 0; ok && i < 2 * l->nattrs; i++) {
		size_t n = a < end ? *a : 0;
		ok = a < end && (size_t)(end - a - 1) >= n && text_clean(a + 1, n);
		a += 1 + n;
	}
	return ok ? 0 : ipam__fail_n(-EBADMSG, "file", l->owner, l->owner_len,
				     "corrupt lease record: a control byte in a string");
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
		struct ipam__lease_ref ref;
		int mode = h->lease_ref && h->lazy_refs ? 2 : 1;
		get_lease_head(r, &ref, mode);
		if (!r->bad && mode == 2 && h->lease_skip) {
			int s = h->lease_skip(h->ud, &ref);
			if (s != 0) /* left out (or an error): the rest is not read */
				return s < 0 ? s : 0;
		}
		get_lease_tail(r, &ref, mode);
		if (r->bad || r->off != r->len)
			return corrupt(off, "malformed lease");
		if (h->lease_ref)
			return h->lease_ref(h->ud, &ref);
		if (h->lease) {
			ipam_lease l;
			ipam__lease_from_ref(&ref, &l);
			return h->lease(h->ud, &l);
		}
		return 0;
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
			ops = ipam__alloc(nops * sizeof(*ops)); /* each one filled below */
			if (!ops)
				return ipam__fail_code(-ENOMEM);
		}
		for (uint32_t i = 0; i < nops && !r->bad; i++) {
			struct ipam__lease_ref ref;
			ops[i].kind = (ipam_op_kind)get(r, 1);
			if (ops[i].kind != IPAM_OP_PUT && ops[i].kind != IPAM_OP_DELETE)
				r->bad = 1;
			ops[i].pool = 0;
			ops[i].flags = 0;
			get_lease(r, &ref, ops[i].kind == IPAM_OP_PUT);
			if (!r->bad)
				ipam__lease_from_ref(&ref, &ops[i].lease);
		}
		if (r->bad || r->off != r->len)
			e = corrupt(off, "malformed commit");
		else if (h->commit_mut)
			e = h->commit_mut(h->ud, rev, now, ops, nops);
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

/* 1 if data[from, len) is all zero bytes. */
static int zeros(const uint8_t *data, size_t from, size_t len)
{
	for (size_t i = from; i < len; i++)
		if (data[i] != 0)
			return 0;
	return 1;
}

int ipam__ff_parse_records(const uint8_t *data, size_t len, enum ipam__ff_kind kind, size_t base,
			   const struct ipam__ff_handler *h, struct ipam__ff_result *res)
{
	size_t off = 0;

	res->good_end = base;
	res->torn = 0;
	res->reserved = 0;
	while (off < len) {
		struct rd r = { data, len, off, 0 };
		uint32_t n = (uint32_t)get(&r, 4), type;
		int e;

		if (r.bad) { /* not even a whole length field: torn */
			res->torn = !zeros(data, off, len) || kind != IPAM__FF_LOG;
			res->reserved = !res->torn;
			return 0;
		}
		if (n < 4 || n > IPAM__FF_MAX_RECORD) {
			/* An impossible length. A crash while appending leaves the
			 * unwritten part of the last record as zeros; anything
			 * else is damage, and what follows it cannot be read. A
			 * log's writer also keeps zeros after its last record,
			 * room for the next ones (docs/file-format.md): a zero
			 * length there is the end, not a torn record. */
			if (!zeros(data, off, len))
				return corrupt(base + off, "impossible record length");
			res->reserved = n == 0 && kind == IPAM__FF_LOG;
			res->torn = !res->reserved;
			return 0;
		}
		if (len - off - 4 < (size_t)n + 8) { /* runs past the end: torn */
			res->torn = 1;
			return 0;
		}
		{
			struct rd cr = { data, len, off + 4 + n, 0 };
			if (get(&cr, 8) != ipam__hash(data + off, 4 + (size_t)n, 0)) {
				/* The very last record, or (a log) the last one
				 * before the reserved zeros: torn. */
				if (off + 4 + n + 8 == len ||
				    (kind == IPAM__FF_LOG && zeros(data, off + 4 + n + 8, len))) {
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
