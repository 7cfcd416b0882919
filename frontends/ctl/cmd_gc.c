/* SPDX-License-Identifier: MIT */
/*
 * gc: one garbage-collection pass per pool set with the oracle chosen on
 * the command line. A dry run unless --apply: the library judges and
 * reports exactly as it would act, and commits nothing.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <ipam_k8s.h>

#include "ctl.h"

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0, n = 0, got;

	if (!f) {
		ctl_err(0, "%s: %s", path, strerror(errno));
		return NULL;
	}
	do {
		if (n + 4096 + 1 > cap) {
			char *g = realloc(buf, cap = 2 * cap + 8192);
			if (!g) {
				free(buf);
				fclose(f);
				ctl_err(0, "out of memory");
				return NULL;
			}
			buf = g;
		}
		got = fread(buf + n, 1, 4096, f);
		n += got;
	} while (got > 0);
	if (ferror(f)) {
		ctl_err(0, "%s: read error", path);
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[n] = 0;
	*len = n;
	return buf;
}

/* CNI GC input: the network config carrying cni.dev/valid-attachments (or
 * the 1.1.0 spelling cni.dev/attachments), at the top or in runtimeConfig. */
static int load_attachments_json(ipam_gc_oracle *o, const char *path, const char *text, size_t len)
{
	json_error_t je;
	json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je), *list = NULL, *e;
	size_t i;
	int r = 0;

	if (!doc)
		return ctl_err(-EINVAL, "%s:%d: malformed JSON: %s", path, je.line, je.text);
	if (json_is_array(doc))
		list = doc;
	if (!list)
		list = json_object_get(doc, "cni.dev/valid-attachments");
	if (!list)
		list = json_object_get(doc, "cni.dev/attachments");
	if (!list)
		list = json_object_get(json_object_get(doc, "runtimeConfig"), "cni.dev/valid-attachments");
	if (!json_is_array(list)) {
		json_decref(doc);
		return ctl_err(-EINVAL, "%s: no \"cni.dev/valid-attachments\" list", path);
	}
	json_array_foreach(list, i, e) {
		json_t *cid = json_object_get(e, "containerID"), *ifn = json_object_get(e, "ifname");
		if (!json_is_string(cid) || (ifn && !json_is_string(ifn))) {
			r = ctl_err(-EINVAL, "%s: attachment %zu needs a \"containerID\" string", path, i);
			break;
		}
		if ((r = ipam_gc_attachments_add(o, json_string_value(cid),
						 ifn ? json_string_value(ifn) : NULL)) < 0) {
			ctl_err_ipam(0, r, "%s: attachment %zu", path, i);
			break;
		}
	}
	json_decref(doc);
	return r < 0 ? -EINVAL : 0;
}

static int load_attachments(ipam_gc_oracle *o, const char *path)
{
	size_t len, lineno = 0;
	char *text = slurp(path, &len), *p, *save = NULL, *line;
	int r = 0;

	if (!text)
		return -EINVAL;
	for (p = text; *p && isspace((unsigned char)*p); p++)
		;
	if (*p == '{' || *p == '[') {
		r = load_attachments_json(o, path, text, len);
		free(text);
		return r;
	}
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *end = line + strlen(line), *slash;
		lineno++;
		while (*line == ' ' || *line == '\t')
			line++;
		while (end > line && isspace((unsigned char)end[-1]))
			*--end = 0;
		if (!*line || *line == '#')
			continue;
		slash = strchr(line, '/');
		if (slash)
			*slash++ = 0;
		if (!*line || (slash && (!*slash || strchr(slash, '/')))) {
			r = ctl_err(-EINVAL, "%s:%zu: expected containerid[/ifname]", path, lineno);
			break;
		}
		if ((r = ipam_gc_attachments_add(o, line, slash)) < 0) {
			ctl_err_ipam(0, r, "%s:%zu", path, lineno);
			break;
		}
	}
	free(text);
	return r < 0 ? -EINVAL : 0;
}

static int make_oracle(ctl_args *a, ipam_gc_oracle **o)
{
	int r;

	if (!!a->valid + !!a->pods + a->expired != 1)
		return ctl_err(CTL_EXIT_USAGE,
			       "gc needs one of --valid-attachments, --pods-json, --expired");
	if (a->nodes && !a->pods)
		return ctl_err(CTL_EXIT_USAGE, "--nodes-json goes with --pods-json");
	if ((a->seen & OPT(O_HOLD)) && !a->expired)
		return ctl_err(CTL_EXIT_USAGE, "--hold goes with --expired");
	if (a->valid) {
		if ((r = ipam_gc_attachments_new(o)) < 0)
			return ctl_err_ipam(CTL_EXIT_FAIL, r, "oracle");
		if (load_attachments(*o, a->valid) < 0)
			return CTL_EXIT_USAGE;
		return 0;
	}
	if (a->expired) {
		if ((r = ipam_gc_expiry_new(o, a->hold)) < 0)
			return ctl_err_ipam(CTL_EXIT_FAIL, r, "oracle");
		return 0;
	}
	if ((r = ipam_k8s_oracle_new(o, NULL)) < 0)
		return ctl_err_ipam(CTL_EXIT_FAIL, r, "oracle");
	if ((r = ipam_k8s_oracle_load_pods_file(*o, a->pods)) < 0)
		return ctl_err(CTL_EXIT_USAGE, "%s: %s", a->pods, ipam_k8s_last_error_message());
	if (a->nodes && (r = ipam_k8s_oracle_load_nodes_file(*o, a->nodes)) < 0)
		return ctl_err(CTL_EXIT_USAGE, "%s: %s", a->nodes, ipam_k8s_last_error_message());
	return 0;
}

/* The policy for set i: authoritative lists act at once; a pod list lags
 * behind reality, so it keeps the configuration's (or library's) min age
 * and two observations. Options override either. */
static void make_policy(ctl_args *a, ctl_source *src, unsigned i, ipam_gc_policy *p)
{
	ipam_netconf *c = NULL;
	char err[256];

	ipam_gc_policy_init(p);
	if (a->pods && ctl_netconf_from_config(src->sets[i].def, &c, err, sizeof(err)) == 0) {
		p->min_age = c->gc_min_age;
		p->grace = c->gc_grace;
		p->two_observations = c->gc_grace > 0;
		ipam_netconf_free(c);
	}
	if (!a->pods) {
		p->min_age = 0;
		p->two_observations = 0;
		p->grace = 0;
	}
	if (a->seen & OPT(O_MINAGE))
		p->min_age = a->min_age;
	if (a->seen & OPT(O_GRACE)) {
		p->grace = a->grace;
		p->two_observations = 1;
	}
	if (a->one_pass)
		p->two_observations = 0;
	if (a->seen & OPT(O_MAX))
		p->max_reclaims = a->max;
	p->dry_run = !a->apply;
	p->no_quarantine = a->no_quarantine;
	p->dead_node_suspects = a->nodes != NULL;
	p->report_alive = a->all;
	p->pool = a->pool;
}

static void print_report(ctl_args *a, const char *set, const ipam_gc_report *rep, ctl_table *t)
{
	for (unsigned i = 0; i < rep->nentries; i++) {
		const ipam_gc_entry *e = &rep->entries[i];
		char addr[IPAM_ADDR_STRLEN], outcome[48];
		const char *col = e->outcome == IPAM_GC_RECLAIMED ? CTL_RED
				  : e->outcome == IPAM_GC_KEPT_ALIVE ? CTL_GREEN : NULL;
		ipam_addr_format(&e->addr, addr, sizeof(addr));
		snprintf(outcome, sizeof(outcome), "%s%s", e->dry_run ? "would be " : "",
			 ipam_gc_outcome_name(e->outcome));
		{
			const char *row[] = { set, e->pool, addr, e->owner, e->ifname, e->attachment,
					      outcome, e->reason };
			const char *cols[] = { NULL, NULL, NULL, NULL, NULL, NULL, col, NULL };
			ctl_table_add(t, row, cols);
		}
	}
	(void)a;
}

static json_t *report_json(const char *set, const ipam_gc_report *rep)
{
	json_t *counts = json_object(), *entries = json_array();

	for (int o = 0; o < IPAM_GC_OUTCOMES; o++)
		json_object_set_new(counts, ipam_gc_outcome_name((ipam_gc_outcome)o),
				    json_integer((json_int_t)rep->counts[o]));
	for (unsigned i = 0; i < rep->nentries; i++) {
		const ipam_gc_entry *e = &rep->entries[i];
		char addr[IPAM_ADDR_STRLEN];
		ipam_addr_format(&e->addr, addr, sizeof(addr));
		json_array_append_new(entries, json_pack(
			"{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:s,s:b,s:s}", "pool", e->pool, "address", addr,
			"owner", e->owner, "ifname", e->ifname, "attachment", e->attachment, "node",
			e->node, "generation", (json_int_t)e->generation, "outcome",
			ipam_gc_outcome_name(e->outcome), "dry_run", e->dry_run, "reason", e->reason));
	}
	return json_pack("{s:s,s:o,s:I,s:I,s:b,s:o}", "set", set, "counts", counts, "judged",
			 (json_int_t)rep->judged, "duration_us", (json_int_t)rep->duration_us,
			 "stopped", rep->stopped, "entries", entries);
}

static void report_prometheus(const char *set, const ipam_gc_report *rep, int first, int dry)
{
	if (first)
		printf("# HELP ipam_gc_leases_total Leases per outcome of this ipamctl gc pass.\n"
		       "# TYPE ipam_gc_leases_total counter\n");
	for (int o = 0; o < IPAM_GC_OUTCOMES; o++)
		printf("ipam_gc_leases_total{set=\"%s\",outcome=\"%s\",dry_run=\"%d\"} %" PRIu64 "\n",
		       set, ipam_gc_outcome_name((ipam_gc_outcome)o), dry, rep->counts[o]);
	printf("ipam_gc_judged_total{set=\"%s\"} %" PRIu64 "\n", set, rep->judged);
	printf("ipam_gc_duration_seconds{set=\"%s\"} %.6f\n", set, (double)rep->duration_us / 1e6);
}

int ctl_cmd_gc(ctl_args *a)
{
	static const char *const hdr[] = { "SET", "POOL", "ADDRESS", "OWNER", "IFNAME", "ATTACHMENT",
					   "OUTCOME", "REASON" };
	const char *fmt = a->format ? a->format : (a->json ? "json" : "table");
	int prom = strcmp(fmt, "prometheus") == 0, json = strcmp(fmt, "json") == 0;
	ipam_gc_oracle *o = NULL;
	uint64_t total[IPAM_GC_OUTCOMES] = { 0 };
	ctl_table *t = NULL;
	json_t *sets = NULL;
	ctl_source src;
	int r, failed = 0;

	if (!prom && !json && strcmp(fmt, "table") != 0)
		return ctl_err(CTL_EXIT_USAGE, "--format: '%s' is not table, json or prometheus", fmt);
	if ((r = make_oracle(a, &o))) {
		ipam_gc_oracle_free(o);
		return r;
	}
	if ((r = ctl_open(a, &src, 0))) {
		ipam_gc_oracle_free(o);
		return r;
	}
	if (json)
		sets = json_array();
	else if (!prom)
		t = ctl_table_new(8, hdr);
	for (unsigned i = 0; i < src.nsets; i++) {
		ipam_gc_policy p;
		ipam_gc_report *rep = NULL;
		if (a->pool && !ipam_poolset_find(ipam_ctx_poolset(src.ctx, src.sets[i].name), a->pool))
			continue;
		make_policy(a, &src, i, &p);
		r = ipam_gc(src.ctx, src.sets[i].name, o, &p, &rep);
		if (r < 0) {
			ctl_err_ipam(0, r, "gc of %s%s", src.sets[i].name,
				     rep && rep->stopped ? " stopped by the oracle" : "");
			failed = 1;
		}
		if (rep) {
			for (int k = 0; k < IPAM_GC_OUTCOMES; k++)
				total[k] += rep->counts[k];
			if (json)
				json_array_append_new(sets, report_json(src.sets[i].name, rep));
			else if (prom)
				report_prometheus(src.sets[i].name, rep, i == 0, !a->apply);
			else
				print_report(a, src.sets[i].name, rep, t);
		}
		ipam_gc_report_free(rep);
	}
	if (json) {
		ctl_json_print(json_pack("{s:b,s:o}", "dry_run", !a->apply, "sets", sets));
		sets = NULL;
	} else if (!prom) {
		ctl_table_print(t, stdout, a->color);
		printf("%s%" PRIu64 " reclaimed, %" PRIu64 " marked suspect, %" PRIu64 " in grace, %" PRIu64
		       " alive, %" PRIu64 " too young, %" PRIu64 " no verdict, %" PRIu64 " conflicts\n",
		       a->apply ? "" : "dry run (use --apply to act): would be ",
		       total[IPAM_GC_RECLAIMED], total[IPAM_GC_MARKED_SUSPECT], total[IPAM_GC_IN_GRACE],
		       total[IPAM_GC_KEPT_ALIVE], total[IPAM_GC_TOO_YOUNG], total[IPAM_GC_NO_VERDICT],
		       total[IPAM_GC_CONFLICT]);
	}
	json_decref(sets);
	ctl_table_free(t);
	ctl_source_close(&src);
	ipam_gc_oracle_free(o);
	return failed ? CTL_EXIT_FAIL : CTL_EXIT_OK;
}
