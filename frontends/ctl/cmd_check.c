/* SPDX-License-Identifier: MIT */
/*
 * check: integrity verification. Every pool set is loaded afresh from the
 * store (for a file store that re-reads the snapshot and log and verifies
 * every record's framing and checksum), then:
 * - ipam_verify(): the free-space index agrees with the records, its counts
 *   with a recount, no (pool, owner, ifname) holds two bound leases;
 * - the owner and attachment lookups agree with the records both ways (an
 *   index entry pointing at a record that is not there is an orphan);
 * - no address is leased in two pool sets (sets are validated one by one,
 *   so two sets with overlapping subnets can hand out one address twice).
 * - on the etcd store (block mode), every owner index key
 *   <prefix>/<set>/owners/<pool>/<owner>/<ifname> names an address whose
 *   record is bound (or suspect) to that owner and interface in that pool
 *   (else "orphan-owner-key": a commit that never happens again will
 *   compare it), and every bound or suspect record has its owner key
 *   ("owner-key-missing"). Listed with ipam_etcd_list().
 * Findings are collected, not stopped at: each is one line.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

#if IPAMCTL_HAVE_ETCD
#include "ipam_etcd.h"
#endif

struct finding_list {
	json_t *arr;
	unsigned n;
	int json;
};

static void finding(struct finding_list *fl, const char *set, const char *kind, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void finding(struct finding_list *fl, const char *set, const char *kind, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fl->n++;
	if (fl->json)
		json_array_append_new(fl->arr, json_pack("{s:s,s:s,s:s}", "set", set, "kind", kind,
							 "message", msg));
	else
		printf("%s: %s: %s\n", set, kind, msg);
}

struct seen_addr {
	ipam_addr addr;
	unsigned set;
	char pool[64];
};

struct walk {
	ctl_source *src;
	unsigned set;
	struct finding_list *fl;
	struct seen_addr *seen;
	size_t nseen, cap;
	ipam_lease *buf; /* lookup scratch */
};

#define LOOKUP_MAX 64

static int same_record(const ipam_lease *a, const ipam_lease *b)
{
	return ipam_addr_cmp(&a->addr, &b->addr) == 0 && strcmp(a->pool, b->pool) == 0 &&
	       a->generation == b->generation;
}

static void check_lookups(struct walk *w, const ipam_lease *l)
{
	const char *sn = w->src->sets[w->set].name;
	char addr[IPAM_ADDR_STRLEN];
	unsigned n = LOOKUP_MAX;
	int found = 0, r;

	ipam_addr_format(&l->addr, addr, sizeof(addr));
	r = ipam_lookup_owner(w->src->ctx, sn, l->owner, l->ifname, w->buf, &n);
	if (r < 0 && r != -ENOENT) {
		finding(w->fl, sn, "lookup", "owner lookup of %s failed: %s", l->owner, ipam_strerror(r));
		return;
	}
	for (unsigned i = 0; r >= 0 && i < n && i < LOOKUP_MAX; i++) {
		ipam_lease at;
		found |= same_record(&w->buf[i], l);
		if (ipam_lookup_addr(w->src->ctx, sn, &w->buf[i].addr, &at) < 0 ||
		    !same_record(&at, &w->buf[i]) || strcmp(at.owner, l->owner) != 0) {
			char a2[IPAM_ADDR_STRLEN];
			ipam_addr_format(&w->buf[i].addr, a2, sizeof(a2));
			finding(w->fl, sn, "orphan-owner",
				"owner %s/%s is indexed at %s, which holds no such record", l->owner,
				l->ifname, a2);
		}
	}
	if (!found)
		finding(w->fl, sn, "owner-index", "%s (%s) is bound to %s/%s but the owner lookup misses it",
			addr, l->pool, l->owner, l->ifname);
	if (!l->attachment[0])
		return;
	n = LOOKUP_MAX;
	found = 0;
	r = ipam_lookup_attachment(w->src->ctx, sn, l->attachment, w->buf, &n);
	for (unsigned i = 0; r >= 0 && i < n && i < LOOKUP_MAX; i++)
		found |= same_record(&w->buf[i], l);
	if (!found && n <= LOOKUP_MAX)
		finding(w->fl, sn, "attachment-index",
			"%s (%s) has attachment %s but the attachment lookup misses it", addr, l->pool,
			l->attachment);
}

static int visit(void *ud, const ipam_lease *l)
{
	struct walk *w = ud;

	if (w->nseen == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 1024;
		struct seen_addr *g = realloc(w->seen, cap * sizeof(*g));
		if (!g)
			return -ENOMEM;
		w->seen = g;
		w->cap = cap;
	}
	w->seen[w->nseen].addr = l->addr;
	w->seen[w->nseen].set = w->set;
	memcpy(w->seen[w->nseen].pool, l->pool, sizeof(l->pool));
	w->nseen++;
	if (l->state == IPAM_LEASE_BOUND || l->state == IPAM_LEASE_SUSPECT)
		check_lookups(w, l);
	return 0;
}

#if IPAMCTL_HAVE_ETCD
/* ifname as the etcd store writes it in an owner key: '/' and '%' escaped. */
static void escape_ifname(const char *in, char *out, size_t n)
{
	size_t k = 0;

	for (; *in && k + 4 < n; in++) {
		if (*in == '/' || *in == '%')
			k += (size_t)snprintf(out + k, n - k, "%%%02X", (unsigned char)*in);
		else
			out[k++] = *in;
	}
	out[k] = '\0';
}

static void unescape_ifname(const char *in, char *out, size_t n)
{
	size_t k = 0;

	for (; *in && k + 1 < n; in++) {
		if (in[0] == '%' && in[1] && in[2]) {
			char hex[3] = { in[1], in[2], 0 };
			out[k++] = (char)strtol(hex, NULL, 16);
			in += 2;
		} else {
			out[k++] = *in;
		}
	}
	out[k] = '\0';
}

struct owner_walk {
	struct finding_list *fl;
	const char *set;
	ipam_etcd_kv *kv;
	size_t n;
	size_t skip; /* strlen("<set>/owners/") */
};

static int key_cmp(const void *a, const void *b)
{
	return strcmp(((const ipam_etcd_kv *)a)->key, ((const ipam_etcd_kv *)b)->key);
}

/* Every bound or suspect record has its owner key. */
static int visit_owner_key(void *ud, const ipam_lease *l)
{
	struct owner_walk *ow = ud;
	char esc[3 * IPAM_IFNAME_MAX + 1], key[1024];
	ipam_etcd_kv probe;
	char addr[IPAM_ADDR_STRLEN];

	if (l->state != IPAM_LEASE_BOUND && l->state != IPAM_LEASE_SUSPECT)
		return 0;
	escape_ifname(l->ifname, esc, sizeof(esc));
	snprintf(key, sizeof(key), "%s/owners/%s/%s/%s", ow->set, l->pool, l->owner, esc);
	probe.key = key;
	if (ow->n && bsearch(&probe, ow->kv, ow->n, sizeof(*ow->kv), key_cmp))
		return 0;
	ipam_addr_format(&l->addr, addr, sizeof(addr));
	finding(ow->fl, ow->set, "owner-key-missing",
		"%s (%s) is %s to %s/%s but etcd has no owner key %s", addr, l->pool,
		ipam_lease_state_name(l->state), l->owner, l->ifname, key);
	return 0;
}

/* The owner index keys of set against its records (see the top). */
static void check_etcd_owner_keys(ctl_source *src, const char *set, struct finding_list *fl)
{
	struct owner_walk ow = { fl, set, NULL, 0, 0 };
	char prefix[IPAM_NAME_MAX + 16], *layout = NULL;
	int r;

	snprintf(prefix, sizeof(prefix), "%s/layout", set);
	if (ipam_etcd_get(src->store, prefix, &layout, NULL, NULL) == 0 &&
	    strstr(layout, "\"pools\"")) {
		free(layout); /* coarse mode keeps no owner keys */
		return;
	}
	free(layout);
	snprintf(prefix, sizeof(prefix), "%s/owners/", set);
	ow.skip = strlen(prefix);
	r = ipam_etcd_list(src->store, prefix, 0, &ow.kv, &ow.n);
	if (r < 0) {
		finding(fl, set, "etcd", "cannot list %s: %s", prefix, ipam_etcd_last_error_message());
		return;
	}
	for (size_t i = 0; i < ow.n; i++) {
		const char *rest = ow.kv[i].key + ow.skip, *slash = strchr(rest, '/');
		const char *last = strrchr(rest, '/');
		char pool[IPAM_NAME_MAX + 1], owner[IPAM_OWNER_MAX + 1], ifname[IPAM_IFNAME_MAX + 1];
		const char *why = NULL;
		ipam_lease l;
		ipam_addr a;
		size_t pl, ol;

		if (!slash || slash == last || (pl = (size_t)(slash - rest)) > IPAM_NAME_MAX ||
		    (ol = (size_t)(last - slash - 1)) > IPAM_OWNER_MAX) {
			finding(fl, set, "orphan-owner-key", "etcd key %s is not an owner key "
				"(<pool>/<owner>/<ifname>)", ow.kv[i].key);
			continue;
		}
		memcpy(pool, rest, pl);
		pool[pl] = '\0';
		memcpy(owner, slash + 1, ol);
		owner[ol] = '\0';
		unescape_ifname(last + 1, ifname, sizeof(ifname));
		if (ipam_addr_parse(ow.kv[i].value, &a) < 0)
			why = "its value is not an address";
		else if (ipam_lookup_addr(src->ctx, set, &a, &l) < 0)
			why = "that address has no record";
		else if (l.state != IPAM_LEASE_BOUND && l.state != IPAM_LEASE_SUSPECT)
			why = "that record is not bound";
		else if (strcmp(l.pool, pool) != 0 || strcmp(l.owner, owner) != 0 ||
			 strcmp(l.ifname, ifname) != 0)
			why = "that record belongs to another pool, owner or interface";
		if (why)
			finding(fl, set, "orphan-owner-key",
				"etcd key %s names %.64s for %s/%s in pool %s, but %s", ow.kv[i].key,
				ow.kv[i].value, owner, ifname, pool, why);
	}
	if (ow.n)
		qsort(ow.kv, ow.n, sizeof(*ow.kv), key_cmp);
	ipam_foreach_lease(src->ctx, set, NULL, visit_owner_key, &ow);
	ipam_etcd_kv_free(ow.kv, ow.n);
}
#endif

static int addr_order(const void *a, const void *b)
{
	const struct seen_addr *x = a, *y = b;
	int c = ipam_addr_cmp(&x->addr, &y->addr);
	return c ? c : (x->set > y->set) - (x->set < y->set);
}

int ctl_cmd_check(ctl_args *a)
{
	struct finding_list fl = { NULL, 0, a->json };
	struct walk w;
	ctl_source src;
	unsigned checked = 0;
	int r;

	memset(&w, 0, sizeof(w));
	if ((r = ctl_open(a, &src, CTL_SRC_TOLERANT)))
		return r;
	if (fl.json)
		fl.arr = json_array();
	w.src = &src;
	w.fl = &fl;
	w.buf = calloc(LOOKUP_MAX, sizeof(*w.buf));
	if (!w.buf) {
		ctl_source_close(&src);
		return ctl_err(CTL_EXIT_FAIL, "out of memory");
	}
	for (unsigned i = 0; i < src.nsets; i++) {
		const char *sn = src.sets[i].name;
		if (!src.sets[i].attached) {
			finding(&fl, sn, src.sets[i].open_err == -EBADMSG ? "damaged" : "load", "%s (%s)",
				src.sets[i].open_msg, ipam_errname(src.sets[i].open_err));
			continue;
		}
		checked++;
		ipam_clear_error();
		if ((r = ipam_verify(src.ctx, sn)) < 0) {
			const char *m = ipam_last_error_message();
			finding(&fl, sn, "verify", "%s", *m ? m : ipam_strerror(r));
		}
		w.set = i;
		if ((r = ipam_foreach_lease(src.ctx, sn, NULL, visit, &w)) < 0)
			finding(&fl, sn, "walk", "cannot list the records: %s", ipam_strerror(r));
#if IPAMCTL_HAVE_ETCD
		if (src.spec.kind == CTL_STORE_ETCD)
			check_etcd_owner_keys(&src, sn, &fl);
#endif
	}
	if (w.nseen > 1) {
		qsort(w.seen, w.nseen, sizeof(*w.seen), addr_order);
		for (size_t i = 1; i < w.nseen; i++) {
			char addr[IPAM_ADDR_STRLEN];
			if (ipam_addr_cmp(&w.seen[i].addr, &w.seen[i - 1].addr) != 0)
				continue;
			ipam_addr_format(&w.seen[i].addr, addr, sizeof(addr));
			finding(&fl, src.sets[w.seen[i].set].name, "duplicate",
				"%s is leased in pool %s/%s and in pool %s/%s", addr,
				src.sets[w.seen[i - 1].set].name, w.seen[i - 1].pool,
				src.sets[w.seen[i].set].name, w.seen[i].pool);
		}
	}
	if (fl.json) {
		ctl_json_print(json_pack("{s:b,s:I,s:I,s:o}", "ok", fl.n == 0, "sets", (json_int_t)src.nsets,
					 "leases", (json_int_t)w.nseen, "findings", fl.arr));
	} else if (fl.n == 0) {
		printf("ok: %u pool set%s, %zu records, no findings\n", checked, checked == 1 ? "" : "s",
		       w.nseen);
	} else {
		fprintf(stderr, "ipamctl: check: %u finding%s\n", fl.n, fl.n == 1 ? "" : "s");
	}
	free(w.seen);
	free(w.buf);
	ctl_source_close(&src);
	return fl.n ? CTL_EXIT_FAIL : CTL_EXIT_OK;
}
