/* SPDX-License-Identifier: MIT */
/*
 * Read-only commands: pools, leases, show, stats. They open the store,
 * read the views through the public lookups and print; nothing is written.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"

static double percent(ipam_u128 part, ipam_u128 total)
{
	double t = ctl_u128_double(total);
	return t > 0 ? 100.0 * ctl_u128_double(part) / t : 0.0;
}

static void pool_range_text(const ipam_pool *p, char *buf, size_t n)
{
	char pfx[IPAM_PREFIX_STRLEN];

	ipam_prefix_format(ipam_pool_subnet(p), pfx, sizeof(pfx));
	snprintf(buf, n, "%s", pfx);
}

int ctl_cmd_pools(ctl_args *a)
{
	static const char *const hdr[] = { "SET", "POOL", "SUBNET", "TOTAL", "USED", "QUARANTINED",
					   "RESERVED", "FREE", "USE%" };
	ctl_source src;
	ctl_table *t = NULL;
	json_t *arr = NULL;
	int r = ctl_open(a, &src, 0);

	if (r)
		return r;
	if (a->json)
		arr = json_array();
	else
		t = ctl_table_new(9, hdr);
	for (unsigned i = 0; i < src.nsets; i++) {
		const ipam_poolset *set = ipam_ctx_poolset(src.ctx, src.sets[i].name);
		for (unsigned k = 0; k < ipam_poolset_count(set); k++) {
			const ipam_pool *p = ipam_poolset_pool(set, k);
			ipam_pool_stats st;
			ipam_u128 inuse;
			char c[6][48], subnet[IPAM_PREFIX_STRLEN], pct[16];
			if ((r = ipam_pool_stats_get(src.ctx, src.sets[i].name, ipam_pool_name(p), &st)) < 0) {
				r = ctl_err_ipam(CTL_EXIT_FAIL, r, "pool %s", ipam_pool_name(p));
				goto out;
			}
			pool_range_text(p, subnet, sizeof(subnet));
			ipam_u128_add(st.used, st.quarantined, &inuse);
			snprintf(pct, sizeof(pct), "%.1f%%", percent(inuse, st.total));
			if (arr) {
				json_array_append_new(arr, json_pack(
					"{s:s,s:s,s:s,s:o,s:o,s:o,s:I,s:o,s:f,s:I}", "set", src.sets[i].name,
					"pool", ipam_pool_name(p), "subnet", subnet, "total",
					ctl_u128_json(st.total), "used", ctl_u128_json(st.used),
					"quarantined", ctl_u128_json(st.quarantined), "reserved",
					(json_int_t)st.reserved, "free", ctl_u128_json(st.free),
					"percent_used", percent(inuse, st.total),
					"version", (json_int_t)st.version));
				continue;
			}
			ctl_fmt_count(st.total, c[0], sizeof(c[0]));
			ctl_fmt_count(st.used, c[1], sizeof(c[1]));
			ctl_fmt_count(st.quarantined, c[2], sizeof(c[2]));
			ctl_fmt_count(ipam_u128_make(0, st.reserved), c[3], sizeof(c[3]));
			ctl_fmt_count(st.free, c[4], sizeof(c[4]));
			{
				const char *row[] = { src.sets[i].name, ipam_pool_name(p), subnet, c[0], c[1],
						      c[2], c[3], c[4], pct };
				const char *col[] = { NULL, NULL, NULL, NULL, NULL, NULL, NULL,
						      st.free.hi == 0 && st.free.lo == 0 ? CTL_RED : NULL,
						      NULL };
				ctl_table_add(t, row, col);
			}
		}
	}
	if (arr) {
		ctl_json_print(arr);
		arr = NULL;
	} else {
		ctl_table_print(t, stdout, a->color);
	}
	r = CTL_EXIT_OK;
out:
	json_decref(arr);
	ctl_table_free(t);
	ctl_source_close(&src);
	return r;
}

/* ---- leases ---------------------------------------------------------------------- */

struct listing {
	ctl_args *a;
	const char *set;
	ctl_table *t;
	json_t *arr;
	int64_t now;
	unsigned count;
};

static const char *const lease_hdr[] = { "SET", "POOL", "ADDRESS", "STATE", "OWNER", "IFNAME",
					 "NODE", "AGE", "GEN" };

static int list_one(void *ud, const ipam_lease *l)
{
	struct listing *ls = ud;
	char addr[IPAM_ADDR_STRLEN], age[16], gen[24];

	ls->count++;
	if (ls->arr) {
		json_t *o = ctl_lease_json(l);
		json_object_set_new(o, "set", json_string(ls->set));
		json_array_append_new(ls->arr, o);
		return 0;
	}
	ipam_addr_format(&l->addr, addr, sizeof(addr));
	ctl_fmt_age(ls->now - l->created, age, sizeof(age));
	snprintf(gen, sizeof(gen), "%" PRIu64, l->generation);
	{
		const char *row[] = { ls->set, l->pool, addr, ipam_lease_state_name(l->state), l->owner,
				      l->ifname, l->node[0] ? l->node : "-", age, gen };
		const char *col[] = { NULL, NULL, NULL, ctl_state_color(l->state), NULL, NULL, NULL,
				      NULL, NULL };
		ctl_table_add(ls->t, row, col);
	}
	return 0;
}

static int parse_states(const char *text, unsigned *out)
{
	char buf[128], *save = NULL, *tok;

	*out = 0;
	if (!text)
		return 0;
	snprintf(buf, sizeof(buf), "%s", text);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int found = 0;
		for (int s = IPAM_LEASE_BOUND; s <= IPAM_LEASE_SUSPECT; s++)
			if (strcmp(tok, ipam_lease_state_name((ipam_lease_state)s)) == 0) {
				*out |= 1u << s;
				found = 1;
			}
		if (!found)
			return ctl_err(-1, "--state: '%s' is not bound, quarantined, reserved or suspect",
				       tok);
	}
	return 0;
}

int ctl_cmd_leases(ctl_args *a)
{
	ipam_lease_filter f;
	struct listing ls;
	ctl_source src;
	int r;

	memset(&f, 0, sizeof(f));
	memset(&ls, 0, sizeof(ls));
	if (parse_states(a->state, &f.states) < 0)
		return CTL_EXIT_USAGE;
	if ((r = ctl_open(a, &src, 0)))
		return r;
	ls.a = a;
	ls.now = (int64_t)time(NULL);
	f.pool = a->pool;
	f.owner = a->owner;
	f.node = a->node;
	if (a->seen & OPT(O_OLDER))
		f.older_than = ls.now - a->older_than;
	if (a->json)
		ls.arr = json_array();
	else
		ls.t = ctl_table_new(9, lease_hdr);
	if (a->pool) {
		int found = 0;
		for (unsigned i = 0; i < src.nsets; i++)
			found |= ipam_poolset_find(ipam_ctx_poolset(src.ctx, src.sets[i].name), a->pool) != NULL;
		if (!found) {
			r = ctl_err(CTL_EXIT_NOTFOUND, "no pool named '%s'", a->pool);
			goto out;
		}
	}
	for (unsigned i = 0; i < src.nsets; i++) {
		if (a->pool && !ipam_poolset_find(ipam_ctx_poolset(src.ctx, src.sets[i].name), a->pool))
			continue;
		ipam_lease *v = NULL;
		size_t n = 0;
		ls.set = src.sets[i].name;
		r = ctl_collect_leases(src.ctx, ls.set, &f, &v, &n);
		for (size_t k = 0; r == 0 && k < n; k++)
			list_one(&ls, &v[k]);
		free(v);
		if (r < 0) {
			r = ctl_err_ipam(CTL_EXIT_FAIL, r, "listing %s", ls.set);
			goto out;
		}
	}
	if (ls.arr) {
		ctl_json_print(ls.arr);
		ls.arr = NULL;
	} else {
		ctl_table_print(ls.t, stdout, a->color);
	}
	r = CTL_EXIT_OK;
out:
	json_decref(ls.arr);
	ctl_table_free(ls.t);
	ctl_source_close(&src);
	return r;
}

/* ---- show -------------------------------------------------------------------------- */

static void show_text(const char *set, const ipam_lease *l, int color)
{
	char addr[IPAM_ADDR_STRLEN], t[4][32], age[16];
	int64_t now = (int64_t)time(NULL);

	ipam_addr_format(&l->addr, addr, sizeof(addr));
	ctl_fmt_time(l->created, t[0], sizeof(t[0]));
	ctl_fmt_time(l->updated, t[1], sizeof(t[1]));
	ctl_fmt_time(l->expires, t[2], sizeof(t[2]));
	ctl_fmt_time(l->suspect_since, t[3], sizeof(t[3]));
	ctl_fmt_age(now - l->created, age, sizeof(age));
	printf("%-14s%s%s%s\n", "address:", color ? CTL_BOLD : "", addr, color ? CTL_RESET : "");
	printf("%-14s%s / %s\n", "pool:", set, l->pool);
	printf("%-14s%s%s%s\n", "state:", color ? ctl_state_color(l->state) : "",
	       ipam_lease_state_name(l->state), color ? CTL_RESET : "");
	printf("%-14s%s\n", "owner:", l->owner);
	printf("%-14s%s\n", "ifname:", l->ifname[0] ? l->ifname : "-");
	printf("%-14s%s\n", "attachment:", l->attachment[0] ? l->attachment : "-");
	printf("%-14s%s\n", "node:", l->node[0] ? l->node : "-");
	printf("%-14s%" PRIu64 "\n", "generation:", l->generation);
	printf("%-14s%s (%s ago)\n", "created:", t[0], age);
	printf("%-14s%s\n", "updated:", t[1]);
	printf("%-14s%s\n", "expires:", l->expires ? t[2] : "never");
	printf("%-14s%s\n", "suspect since:", t[3]);
	for (unsigned i = 0; i < l->nattrs; i++)
		printf("%-14s%s=%s\n", i ? "" : "attributes:", l->attrs[i].key, l->attrs[i].value);
}

#define SHOW_MAX 64

int ctl_cmd_show(ctl_args *a)
{
	ipam_lease *found = calloc(SHOW_MAX, sizeof(*found));
	const char **sets = calloc(SHOW_MAX, sizeof(*sets));
	unsigned nfound = 0;
	ctl_source src;
	ipam_addr addr;
	int r, is_addr = ipam_addr_parse(a->argv[0], &addr) == 0;

	if (!found || !sets) {
		free(found);
		free(sets);
		return ctl_err(CTL_EXIT_FAIL, "out of memory");
	}
	if ((r = ctl_open(a, &src, 0))) {
		free(found);
		free(sets);
		return r;
	}
	if (is_addr) {
		int i = ctl_set_for_addr(&src, &addr);
		if (i < 0) {
			r = CTL_EXIT_USAGE;
			goto out;
		}
		r = ipam_lookup_addr(src.ctx, src.sets[i].name, &addr, &found[0]);
		if (r == 0) {
			sets[0] = src.sets[i].name;
			nfound = 1;
		} else if (r != -ENOENT) {
			r = ctl_err_ipam(CTL_EXIT_FAIL, r, "lookup");
			goto out;
		}
	} else {
		for (unsigned i = 0; i < src.nsets && nfound < SHOW_MAX; i++) {
			unsigned n = SHOW_MAX - nfound;
			r = ipam_lookup_owner(src.ctx, src.sets[i].name, a->argv[0], NULL, found + nfound, &n);
			if (r == 0 && n == 0) {
				n = SHOW_MAX - nfound;
				r = ipam_lookup_attachment(src.ctx, src.sets[i].name, a->argv[0],
							   found + nfound, &n);
			}
			if (r < 0 && r != -ENOENT) {
				r = ctl_err_ipam(CTL_EXIT_FAIL, r, "lookup");
				goto out;
			}
			if (r < 0)
				n = 0;
			if (n > SHOW_MAX - nfound)
				n = SHOW_MAX - nfound;
			for (unsigned k = 0; k < n; k++)
				sets[nfound + k] = src.sets[i].name;
			nfound += n;
		}
	}
	if (nfound == 0) {
		r = ctl_err(CTL_EXIT_NOTFOUND, "no lease for %s", a->argv[0]);
		goto out;
	}
	if (a->json) {
		json_t *arr = json_array();
		for (unsigned i = 0; i < nfound; i++) {
			json_t *o = ctl_lease_json(&found[i]);
			json_object_set_new(o, "set", json_string(sets[i]));
			json_array_append_new(arr, o);
		}
		ctl_json_print(arr);
	} else {
		for (unsigned i = 0; i < nfound; i++) {
			if (i)
				putchar('\n');
			show_text(sets[i], &found[i], a->color);
		}
	}
	r = CTL_EXIT_OK;
out:
	free(found);
	free(sets);
	ctl_source_close(&src);
	return r;
}

/* ---- stats ---------------------------------------------------------------------------- */

struct state_count {
	uint64_t n[IPAM_LEASE_SUSPECT + 1];
};

static int count_state(void *ud, const ipam_lease *l)
{
	struct state_count *c = ud;
	if ((unsigned)l->state <= IPAM_LEASE_SUSPECT)
		c->n[l->state]++;
	return 0;
}

static void prom_u128(const char *metric, const char *set, const char *pool, ipam_u128 v)
{
	char buf[IPAM_U128_STRLEN];
	ipam_u128_format(v, buf, sizeof(buf));
	printf("%s{set=\"%s\",pool=\"%s\"} %s\n", metric, set, pool, buf);
}

static void prom_help(const char *metric, const char *type, const char *help)
{
	printf("# HELP %s %s\n# TYPE %s %s\n", metric, help, metric, type);
}

static const struct {
	const char *metric, *help;
} pool_metrics[] = {
	{ "ipam_pool_size_addresses", "Allocatable addresses of the pool." },
	{ "ipam_pool_used_addresses", "Addresses bound, suspect or reserved." },
	{ "ipam_pool_free_addresses", "Addresses free to hand out." },
	{ "ipam_pool_quarantined_addresses", "Released addresses waiting out the reuse delay." },
	{ "ipam_pool_reserved_addresses", "Addresses pinned by an operator." },
	{ "ipam_pool_version", "Commits that touched the pool (store revision counter)." },
};

int ctl_cmd_stats(ctl_args *a)
{
	const char *fmt = a->format ? a->format : (a->json ? "json" : "table");
	int prom = strcmp(fmt, "prometheus") == 0, json = strcmp(fmt, "json") == 0;
	ctl_source src;
	static const char *const stats_hdr[] = { "SET", "POOL", "BOUND", "SUSPECT", "RESERVED",
						 "QUARANTINED", "FREE", "USE%" };
	ipam_ctx_stats cs;
	ctl_table *t = NULL;
	json_t *doc = NULL, *pools = NULL;
	int r;

	if (!prom && !json && strcmp(fmt, "table") != 0)
		return ctl_err(CTL_EXIT_USAGE, "--format: '%s' is not table, json or prometheus", fmt);
	if ((r = ctl_open(a, &src, 0)))
		return r;
	if (json) {
		doc = json_object();
		pools = json_array();
	}
	for (size_t m = 0; prom && m < sizeof(pool_metrics) / sizeof(pool_metrics[0]); m++) {
		prom_help(pool_metrics[m].metric, "gauge", pool_metrics[m].help);
		for (unsigned i = 0; i < src.nsets; i++) {
			const ipam_poolset *set = ipam_ctx_poolset(src.ctx, src.sets[i].name);
			for (unsigned k = 0; k < ipam_poolset_count(set); k++) {
				const char *pn = ipam_pool_name(ipam_poolset_pool(set, k));
				ipam_pool_stats st;
				ipam_u128 v[6];
				if (ipam_pool_stats_get(src.ctx, src.sets[i].name, pn, &st) < 0)
					continue;
				v[0] = st.total, v[1] = st.used, v[2] = st.free, v[3] = st.quarantined;
				v[4] = ipam_u128_make(0, st.reserved), v[5] = ipam_u128_make(0, st.version);
				prom_u128(pool_metrics[m].metric, src.sets[i].name, pn, v[m]);
			}
		}
	}
	if (prom)
		prom_help("ipam_leases", "gauge", "Lease records by state.");
	if (!prom && !json)
		t = ctl_table_new(8, stats_hdr);
	for (unsigned i = 0; i < src.nsets; i++) {
		const ipam_poolset *set = ipam_ctx_poolset(src.ctx, src.sets[i].name);
		for (unsigned k = 0; k < ipam_poolset_count(set); k++) {
			const char *pn = ipam_pool_name(ipam_poolset_pool(set, k));
			struct state_count c;
			ipam_lease_filter f;
			ipam_pool_stats st;
			ipam_u128 inuse;
			char free_s[48];
			memset(&c, 0, sizeof(c));
			memset(&f, 0, sizeof(f));
			f.pool = pn;
			if ((r = ipam_foreach_lease(src.ctx, src.sets[i].name, &f, count_state, &c)) < 0 ||
			    (r = ipam_pool_stats_get(src.ctx, src.sets[i].name, pn, &st)) < 0) {
				r = ctl_err_ipam(CTL_EXIT_FAIL, r, "pool %s", pn);
				goto out;
			}
			ipam_u128_add(st.used, st.quarantined, &inuse);
			if (prom) {
				for (int s = IPAM_LEASE_BOUND; s <= IPAM_LEASE_SUSPECT; s++)
					printf("ipam_leases{set=\"%s\",pool=\"%s\",state=\"%s\"} %" PRIu64 "\n",
					       src.sets[i].name, pn, ipam_lease_state_name((ipam_lease_state)s),
					       c.n[s]);
			} else if (json) {
				json_array_append_new(pools, json_pack(
					"{s:s,s:s,s:o,s:o,s:o,s:o,s:I,s:I,s:{s:I,s:I,s:I,s:I}}", "set",
					src.sets[i].name, "pool", pn, "size", ctl_u128_json(st.total), "used",
					ctl_u128_json(st.used), "free", ctl_u128_json(st.free), "quarantined",
					ctl_u128_json(st.quarantined), "reserved", (json_int_t)st.reserved,
					"version", (json_int_t)st.version, "leases",
					"bound", (json_int_t)c.n[IPAM_LEASE_BOUND],
					"suspect", (json_int_t)c.n[IPAM_LEASE_SUSPECT],
					"reserved", (json_int_t)c.n[IPAM_LEASE_RESERVED],
					"quarantined", (json_int_t)c.n[IPAM_LEASE_QUARANTINED]));
			} else {
				char num[4][24], pct[16];
				const char *row[8];
				for (int s = IPAM_LEASE_BOUND; s <= IPAM_LEASE_SUSPECT; s++)
					snprintf(num[s - 1], sizeof(num[0]), "%" PRIu64, c.n[s]);
				ctl_fmt_count(st.free, free_s, sizeof(free_s));
				snprintf(pct, sizeof(pct), "%.1f%%", percent(inuse, st.total));
				row[0] = src.sets[i].name, row[1] = pn, row[2] = num[0], row[3] = num[3];
				row[4] = num[2], row[5] = num[1], row[6] = free_s, row[7] = pct;
				ctl_table_add(t, row, NULL);
			}
		}
	}
	/* Counters of this process: ipamctl is a new process per call, so they
	 * count what this invocation did (opening the store included). */
	ipam_ctx_stats_get(src.ctx, &cs);
	if (t) {
		ctl_table_print(t, stdout, a->color);
		printf("process counters (this invocation): %" PRIu64 " allocations, %" PRIu64
		       " releases, %" PRIu64 " conflicts, %" PRIu64 " retries\n", cs.allocations,
		       cs.releases, cs.conflicts, cs.retries);
	}
	if (prom) {
		static const char *const names[] = { "allocations", "rebinds", "releases", "commits",
						     "conflicts", "retries", "exhausted", "gave_up" };
		const uint64_t vals[] = { cs.allocations, cs.rebinds, cs.releases, cs.commits,
					  cs.conflicts, cs.retries, cs.exhausted, cs.gave_up };
		for (size_t i = 0; i < 8; i++) {
			char m[64];
			snprintf(m, sizeof(m), "ipam_ctx_%s_total", names[i]);
			prom_help(m, "counter", "Process-local counter of this ipamctl invocation.");
			printf("%s %" PRIu64 "\n", m, vals[i]);
		}
	} else if (json) {
		json_object_set_new(doc, "pools", pools);
		json_object_set_new(doc, "process", json_pack(
			"{s:I,s:I,s:I,s:I,s:I,s:I}", "allocations", (json_int_t)cs.allocations,
			"releases", (json_int_t)cs.releases, "commits", (json_int_t)cs.commits,
			"conflicts", (json_int_t)cs.conflicts, "retries", (json_int_t)cs.retries,
			"exhausted", (json_int_t)cs.exhausted));
		pools = NULL;
		ctl_json_print(doc);
		doc = NULL;
	}
	r = CTL_EXIT_OK;
out:
	ctl_table_free(t);
	json_decref(pools);
	json_decref(doc);
	ctl_source_close(&src);
	return r;
}
