/* SPDX-License-Identifier: MIT */
/*
 * What the etcd store writes: block values (the lease records of one block
 * of a pool, as JSON) and the names of its keys. docs/etcd-layout.md is
 * the reference; this file and that page change together.
 *
 * A block value is {"v":1,"leases":[...]}, leases sorted by address. A
 * lease without "gen" was written by the commit that wrote the value, so
 * its generation is the key's mod_revision: a commit cannot know its own
 * revision before etcd assigns it. When a later commit rewrites the block,
 * the untouched leases get their generation written out.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd_internal.h"

#define FORMAT_VERSION 1

void ipam_etcd__block_fini(struct ipam_etcd__block *b)
{
	free(b->l);
	memset(b, 0, sizeof(*b));
}

int ipam_etcd__block_find(const struct ipam_etcd__block *b, const ipam_addr *a, unsigned *pos)
{
	unsigned lo = 0, hi = b->n;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		int c = ipam_addr_cmp(&b->l[mid].addr, a);
		if (c == 0) {
			if (pos)
				*pos = mid;
			return (int)mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (pos)
		*pos = lo;
	return -1;
}

int ipam_etcd__block_put(struct ipam_etcd__block *b, const ipam_lease *l)
{
	unsigned pos;
	int at = ipam_etcd__block_find(b, &l->addr, &pos);

	if (at >= 0) {
		b->l[at] = *l;
		return 0;
	}
	if (b->n == b->cap) {
		unsigned cap = b->cap ? b->cap * 2 : 8;
		ipam_lease *n = realloc(b->l, (size_t)cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		b->l = n;
		b->cap = cap;
	}
	memmove(&b->l[pos + 1], &b->l[pos], (size_t)(b->n - pos) * sizeof(*b->l));
	b->l[pos] = *l;
	b->n++;
	return 0;
}

void ipam_etcd__block_del(struct ipam_etcd__block *b, const ipam_addr *a)
{
	int at = ipam_etcd__block_find(b, a, NULL);

	if (at < 0)
		return;
	memmove(&b->l[at], &b->l[at + 1], (size_t)(b->n - (unsigned)at - 1) * sizeof(*b->l));
	b->n--;
}

/* ---- keys ------------------------------------------------------------------------------ */

ipam_u128 ipam_etcd__block_index(const ipam_pool *p, const ipam_addr *a, unsigned shift)
{
	const ipam_prefix *net = ipam_pool_subnet(p);
	ipam_u128 off = { 0, 0 };

	if (shift == 0 ||
	    ipam_u128_sub(ipam_u128_make(a->hi, a->lo), ipam_u128_make(net->addr.hi, net->addr.lo),
			  &off) < 0)
		return ipam_u128_make(0, 0);
	off.lo = (off.lo >> shift) | (off.hi << (64 - shift));
	off.hi >>= shift;
	return off;
}

static char *join(const char *a, const char *b, const char *c, const char *d, const char *e)
{
	size_t n = strlen(a) + strlen(b) + strlen(c) + strlen(d) + strlen(e) + 1;
	char *s = malloc(n);

	if (s)
		snprintf(s, n, "%s%s%s%s%s", a, b, c, d, e);
	return s;
}

char *ipam_etcd__block_key(const char *base, const ipam_pool *p, unsigned shift, ipam_u128 idx)
{
	char hex[40];

	if (shift == 0)
		return join(base, "pools/", ipam_pool_name(p), "", "");
	snprintf(hex, sizeof(hex), "/%016llx%016llx", (unsigned long long)idx.hi,
		 (unsigned long long)idx.lo);
	return join(base, "blocks/", ipam_pool_name(p), hex, "");
}

char *ipam_etcd__owner_key(const char *base, const char *pool, const char *owner,
			   const char *ifname)
{
	char esc[3 * IPAM_IFNAME_MAX + 2], *o = esc, *s;
	size_t n = 0;

	/* The interface name is the last component: its '/' and '%' are
	 * escaped so that an owner "a/b" with "c" and "a" with "b/c" differ. */
	for (const char *i = ifname; *i && n < IPAM_IFNAME_MAX; i++, n++) {
		if (*i == '/' || *i == '%') {
			o += sprintf(o, "%%%02X", (unsigned char)*i);
		} else {
			*o++ = *i;
		}
	}
	*o = '\0';
	s = join(base, "owners/", pool, "/", owner);
	if (s) {
		char *full = join(s, "/", esc, "", "");
		free(s);
		s = full;
	}
	return s;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int ipam_etcd__block_key_parse(const char *rest, unsigned shift, char *pool, size_t pool_size,
			       ipam_u128 *idx)
{
	const char *slash = strchr(rest, '/');
	size_t n = slash ? (size_t)(slash - rest) : strlen(rest);

	*idx = ipam_u128_make(0, 0);
	if (n == 0 || n >= pool_size)
		return -EBADMSG;
	memcpy(pool, rest, n);
	pool[n] = '\0';
	if (shift == 0)
		return slash ? -EBADMSG : 0;
	if (!slash || strlen(slash + 1) != 32)
		return -EBADMSG;
	for (int i = 0; i < 32; i++) {
		int v = hexval(slash[1 + i]);
		if (v < 0)
			return -EBADMSG;
		if (i < 16)
			idx->hi = idx->hi << 4 | (uint64_t)v;
		else
			idx->lo = idx->lo << 4 | (uint64_t)v;
	}
	return 0;
}

/* ---- values --------------------------------------------------------------------------- */

/* Well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
 * above U+10FFFF), as jansson requires of a string. */
static int utf8_ok(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	while (*s) {
		unsigned c = *s++, n, min, cp;
		if (c < 0x80)
			continue;
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1, min = 0x80, cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2, min = 0x800, cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3, min = 0x10000, cp = c & 0x07;
		} else {
			return 0;
		}
		for (unsigned i = 0; i < n; i++, s++) {
			if ((*s & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (*s & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
	}
	return 1;
}

int ipam_etcd__lease_utf8(const ipam_lease *l)
{
	const char *bad = !utf8_ok(l->owner)	    ? "owner"
			  : !utf8_ok(l->ifname)	    ? "ifname"
			  : !utf8_ok(l->attachment) ? "attachment"
			  : !utf8_ok(l->node)	    ? "node"
						    : NULL;

	for (unsigned i = 0; !bad && i < l->nattrs && i < IPAM_ATTRS_MAX; i++)
		if (!utf8_ok(l->attrs[i].key) || !utf8_ok(l->attrs[i].value))
			bad = "attrs";
	if (bad)
		return ipam_etcd__fail(-EINVAL, bad, NULL,
				       "not UTF-8: the etcd store keeps leases as JSON text");
	return 0;
}

static int put_str(json_t *o, const char *name, const char *v)
{
	return *v ? json_object_set_new(o, name, json_string(v)) : 0;
}

static int put_int(json_t *o, const char *name, int64_t v)
{
	return v ? json_object_set_new(o, name, json_integer((json_int_t)v)) : 0;
}

static json_t *lease_json(const ipam_lease *l)
{
	char addr[IPAM_ADDR_STRLEN];
	json_t *o = json_object(), *attrs;
	int r = 0;

	if (!o)
		return NULL;
	ipam_addr_format(&l->addr, addr, sizeof(addr));
	r |= json_object_set_new(o, "addr", json_string(addr));
	r |= put_str(o, "owner", l->owner);
	r |= put_str(o, "ifname", l->ifname);
	r |= put_str(o, "attachment", l->attachment);
	r |= put_str(o, "node", l->node);
	r |= json_object_set_new(o, "state", json_string(ipam_lease_state_name(l->state)));
	r |= put_int(o, "gen", (int64_t)l->generation);
	r |= put_int(o, "created", l->created);
	r |= put_int(o, "updated", l->updated);
	r |= put_int(o, "expires", l->expires);
	r |= put_int(o, "suspect_since", l->suspect_since);
	if (l->nattrs) {
		attrs = json_array();
		r |= json_object_set_new(o, "attrs", attrs);
		for (unsigned i = 0; attrs && i < l->nattrs && i < IPAM_ATTRS_MAX; i++)
			r |= json_array_append_new(attrs, json_pack("[ss]", l->attrs[i].key,
								     l->attrs[i].value));
	}
	if (r) {
		json_decref(o);
		return NULL;
	}
	return o;
}

char *ipam_etcd__block_encode(const struct ipam_etcd__block *b)
{
	json_t *arr = json_array(), *doc = json_pack("{s:i, s:o}", "v", FORMAT_VERSION, "leases", arr);
	char *text = NULL;
	int bad = !doc;

	for (unsigned i = 0; !bad && i < b->n; i++)
		bad = json_array_append_new(arr, lease_json(&b->l[i])) < 0;
	if (!bad)
		text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	return text;
}

struct dec {
	const char *key;
	unsigned i;
};

static int bad(const struct dec *d, const char *why)
{
	return ipam_etcd__fail(-EBADMSG, "etcd key", d->key, "lease %u: %s", d->i, why);
}

static int get_str(const struct dec *d, json_t *o, const char *name, char *dst, size_t size)
{
	json_t *v = json_object_get(o, name);
	const char *s;

	dst[0] = '\0';
	if (!v)
		return 0;
	s = json_string_value(v);
	if (!s)
		return bad(d, "a string field is not a string");
	if (strlen(s) >= size)
		return bad(d, "a string field is too long");
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}

static int get_int(const struct dec *d, json_t *o, const char *name, int64_t *dst)
{
	json_t *v = json_object_get(o, name);

	*dst = 0;
	if (!v)
		return 0;
	if (!json_is_integer(v))
		return bad(d, "a number field is not an integer");
	*dst = (int64_t)json_integer_value(v);
	if (*dst > INT64_MAX / 1000 || *dst < INT64_MIN / 1000)
		return bad(d, "a time is out of range");
	return 0;
}

/* One lease of a block value into l: 0, 1 for a wait to drop (see the end),
 * or a negative code with a message. */
static int decode_lease(const struct dec *d, json_t *o, const ipam_pool *p, ipam_lease *l,
			int64_t mod_rev)
{
	const char *addr = json_string_value(json_object_get(o, "addr"));
	const char *state = json_string_value(json_object_get(o, "state"));
	json_t *gen = json_object_get(o, "gen"), *attrs = json_object_get(o, "attrs");
	int r = 0;

	memset(l, 0, sizeof(*l));
	if (!json_is_object(o))
		return bad(d, "not an object");
	snprintf(l->pool, sizeof(l->pool), "%s", ipam_pool_name(p));
	if (!addr || ipam_addr_parse(addr, &l->addr) < 0)
		return bad(d, "missing or malformed \"addr\"");
	l->state = 0;
	for (int s = IPAM_LEASE_BOUND; state && s <= IPAM_LEASE_SUSPECT; s++)
		if (strcmp(state, ipam_lease_state_name((ipam_lease_state)s)) == 0)
			l->state = (ipam_lease_state)s;
	if (!l->state)
		return bad(d, "missing or unknown \"state\"");
	if (gen && (!json_is_integer(gen) || json_integer_value(gen) <= 0))
		return bad(d, "\"gen\" is not a positive integer");
	l->generation = gen ? (uint64_t)json_integer_value(gen) : (uint64_t)mod_rev;
	r = get_str(d, o, "owner", l->owner, sizeof(l->owner));
	if (!r)
		r = get_str(d, o, "ifname", l->ifname, sizeof(l->ifname));
	if (!r)
		r = get_str(d, o, "attachment", l->attachment, sizeof(l->attachment));
	if (!r)
		r = get_str(d, o, "node", l->node, sizeof(l->node));
	if (!r)
		r = get_int(d, o, "created", &l->created);
	if (!r)
		r = get_int(d, o, "updated", &l->updated);
	if (!r)
		r = get_int(d, o, "expires", &l->expires);
	if (!r)
		r = get_int(d, o, "suspect_since", &l->suspect_since);
	if (r)
		return r;
	if (attrs && (!json_is_array(attrs) || json_array_size(attrs) > IPAM_ATTRS_MAX))
		return bad(d, "\"attrs\" is not an array of at most 8 pairs");
	for (size_t i = 0; i < json_array_size(attrs); i++) {
		json_t *pair = json_array_get(attrs, i);
		const char *k = json_string_value(json_array_get(pair, 0));
		const char *v = json_string_value(json_array_get(pair, 1));
		if (json_array_size(pair) != 2 || !k || !v || strlen(k) > IPAM_ATTR_KEY_MAX ||
		    strlen(v) > IPAM_ATTR_VALUE_MAX)
			return bad(d, "an attribute is not a [key, value] pair of short strings");
		memcpy(l->attrs[i].key, k, strlen(k) + 1);
		memcpy(l->attrs[i].value, v, strlen(v) + 1);
		l->nattrs++;
	}
	if (l->state == IPAM_LEASE_QUARANTINED) {
		/* A wait before reuse that the pool (defined anew) no longer
		 * keeps, having no quarantine or not handing the address out,
		 * is dropped: the address is free, as the other stores load it. */
		uint32_t qs = 0, qa = 0;
		ipam_pool_quarantine(p, &qs, &qa, NULL);
		if ((!qs && !qa) || ipam_pool_is_allocatable(p, &l->addr) != 1)
			return 1;
	}
	if (ipam_pool_is_allocatable(p, &l->addr) != 1) {
		return ipam_etcd__fail(-EINVAL, "etcd key", d->key,
				       "lease %u: the lease of %s at %s is not allocatable in pool %s "
				       "as now defined",
				       d->i, l->owner, addr, ipam_pool_name(p));
	}
	return 0;
}

/* Parse a block value: its document and its "leases" array, or -EBADMSG. */
static int load_block(const char *key, const char *val, size_t len, json_t **doc, json_t **leases)
{
	json_error_t err;

	*doc = json_loadb(val, len, JSON_REJECT_DUPLICATES, &err);
	if (!*doc)
		return ipam_etcd__fail(-EBADMSG, "etcd key", key, "not JSON: %s", err.text);
	*leases = json_object_get(*doc, "leases");
	if (json_integer_value(json_object_get(*doc, "v")) != FORMAT_VERSION ||
	    !json_is_array(*leases)) {
		json_decref(*doc);
		return ipam_etcd__fail(-EBADMSG, "etcd key", key,
				       "not a version %d block value ({\"v\":1,\"leases\":[...]})",
				       FORMAT_VERSION);
	}
	return 0;
}

int ipam_etcd__block_decode(const ipam_pool *p, unsigned shift, ipam_u128 idx, const char *key,
			    const char *val, size_t len, int64_t mod_rev, struct ipam_etcd__block *out)
{
	struct dec d = { key, 0 };
	json_t *doc, *leases;
	ipam_lease *l;
	int r;

	memset(out, 0, sizeof(*out));
	if (len == 0)
		return 0;
	if ((r = load_block(key, val, len, &doc, &leases)) < 0)
		return r;
	l = malloc(sizeof(*l));
	if (!l) {
		json_decref(doc);
		return ipam_etcd__fail(-ENOMEM, NULL, NULL, NULL);
	}
	for (size_t i = 0; r == 0 && i < json_array_size(leases); i++) {
		char addr[IPAM_ADDR_STRLEN];
		ipam_u128 at;
		d.i = (unsigned)i;
		r = decode_lease(&d, json_array_get(leases, i), p, l, mod_rev);
		if (r == 1) { /* dropped */
			r = 0;
			continue;
		}
		if (r)
			break;
		at = ipam_etcd__block_index(p, &l->addr, shift);
		if ((at.hi != idx.hi || at.lo != idx.lo) && l->state == IPAM_LEASE_QUARANTINED)
			continue; /* a wait, as decode_lease() drops those it cannot place */
		if (at.hi != idx.hi || at.lo != idx.lo)
			r = ipam_etcd__fail(-EBADMSG, "etcd key", key,
					    "lease %u: %s is in another block of pool %s (blocks "
					    "count from the subnet's first address, which may not move)",
					    d.i, ipam_addr_format(&l->addr, addr, sizeof(addr)) < 0 ? "?" : addr,
					    ipam_pool_name(p));
		else if (ipam_etcd__block_find(out, &l->addr, NULL) >= 0)
			r = bad(&d, "two leases for one address");
		else if (ipam_etcd__block_put(out, l) < 0)
			r = ipam_etcd__fail(-ENOMEM, NULL, NULL, NULL);
	}
	free(l);
	json_decref(doc);
	if (r)
		ipam_etcd__block_fini(out);
	return r;
}

int ipam_etcd__block_gone(const char *key, const char *pool, const char *val, size_t len)
{
	json_t *doc, *leases;
	int r;

	if (len == 0)
		return 0;
	if ((r = load_block(key, val, len, &doc, &leases)) < 0)
		return r;
	for (size_t i = 0; r == 0 && i < json_array_size(leases); i++) {
		json_t *o = json_array_get(leases, i);
		const char *state = json_string_value(json_object_get(o, "state"));
		const char *owner = json_string_value(json_object_get(o, "owner"));
		const char *addr = json_string_value(json_object_get(o, "addr"));
		if (state && strcmp(state, ipam_lease_state_name(IPAM_LEASE_QUARANTINED)) == 0)
			continue;
		r = ipam_etcd__fail(-EINVAL, "etcd key", key,
				    "etcd has a lease of %.64s at %.64s in pool %s, which the pool set "
				    "no longer defines",
				    owner ? owner : "?", addr ? addr : "?", pool);
	}
	json_decref(doc);
	return r;
}

/* ---- gateway answers ------------------------------------------------------------------ */

void ipam_etcd__kvs_free(struct ipam_etcd__kvs *k)
{
	for (size_t i = 0; i < k->n; i++) {
		free(k->v[i].key);
		free(k->v[i].value);
	}
	free(k->v);
	memset(k, 0, sizeof(*k));
}

int64_t ipam_etcd__json_i64(json_t *o, const char *name)
{
	json_t *v = json_object_get(o, name);

	if (json_is_integer(v))
		return (int64_t)json_integer_value(v);
	if (json_is_string(v))
		return strtoll(json_string_value(v), NULL, 10);
	return 0;
}

static int kv_from_json(json_t *j, struct ipam_etcd__kv *kv)
{
	const char *k = json_string_value(json_object_get(j, "key"));
	const char *v = json_string_value(json_object_get(j, "value"));
	int r;

	memset(kv, 0, sizeof(*kv));
	if (!k)
		return ipam_etcd__fail(-EBADMSG, "etcd", NULL, "range answer: a kv without a key");
	r = ipam_etcd__b64_decode(k, &kv->key, &kv->klen);
	if (r == 0)
		r = ipam_etcd__b64_decode(v ? v : "", &kv->value, &kv->vlen);
	if (r < 0)
		return ipam_etcd__fail(r, "etcd", k, "range answer: bad base64");
	kv->mod_rev = ipam_etcd__json_i64(j, "mod_revision");
	/* Every key etcd holds was written at a revision: generations of
	 * leases without one are taken from it. */
	if (kv->mod_rev <= 0) {
		free(kv->key);
		free(kv->value);
		memset(kv, 0, sizeof(*kv));
		return ipam_etcd__fail(-EBADMSG, "etcd", k, "range answer: a kv without a positive "
				       "mod_revision");
	}
	return 0;
}

int ipam_etcd__range_answer(json_t *resp, const char *key, struct ipam_etcd__kvs *out)
{
	json_t *kvs = json_object_get(resp, "kvs");
	int r = 0;

	memset(out, 0, sizeof(*out));
	out->revision = ipam_etcd__json_i64(json_object_get(resp, "header"), "revision");
	if (json_array_size(kvs)) {
		out->v = calloc(json_array_size(kvs), sizeof(*out->v));
		if (!out->v)
			r = ipam_etcd__fail(-ENOMEM, NULL, NULL, NULL);
	}
	for (size_t i = 0; r == 0 && i < json_array_size(kvs); i++) {
		r = kv_from_json(json_array_get(kvs, i), &out->v[i]);
		out->n++;
	}
	if (r == 0 && out->revision <= 0)
		r = ipam_etcd__fail(-EIO, "etcd", key, "range answer without a header revision");
	if (r < 0)
		ipam_etcd__kvs_free(out);
	return r;
}
