/* SPDX-License-Identifier: MIT */
/*
 * compact, export, import.
 *
 * Export writes every record of every pool set, every field included, with
 * the set's definition. Import loads such a document into pool sets that
 * hold no records, keeping every field exactly, generation included: the
 * records are committed through the store's own commit method with
 * IPAM_OP_F_KEEP_GENERATION (as a store replaying its log does), not through
 * ipam_allocate(), which would give each record a new generation, owner
 * index and times. The commits carry preconditions "no record at this
 * address" and "no bound lease of this owner", so an import racing with an
 * allocation fails instead of overwriting it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"

/* Ops per commit: well below the file store's limit of 4096. */
#define IMPORT_CHUNK 1024

int ctl_cmd_compact(ctl_args *a)
{
	ctl_source src;
	int r;

	if ((r = ctl_open(a, &src, 0)))
		return r;
	for (unsigned i = 0; i < src.nsets; i++) {
		r = ipam_store_file_compact(src.store, src.sets[i].name);
		if (r == -ENOTSUP) {
			r = ctl_err(CTL_EXIT_USAGE, "compact: the store is not a file store");
			goto out;
		}
		if (r < 0) {
			r = ctl_err_ipam(CTL_EXIT_FAIL, r, "compact %s", src.sets[i].name);
			goto out;
		}
		printf("compacted %s\n", src.sets[i].name);
	}
	r = CTL_EXIT_OK;
out:
	ctl_source_close(&src);
	return r;
}

static json_t *export_set(ctl_source *src, unsigned i, int *err)
{
	ipam_lease *v = NULL;
	size_t n = 0;
	json_t *leases = json_array();

	/* Sorted, so two exports of one state differ only in their time. */
	*err = ctl_collect_leases(src->ctx, src->sets[i].name, NULL, &v, &n);
	for (size_t k = 0; *err == 0 && k < n; k++)
		if (json_array_append_new(leases, ctl_lease_json(&v[k])) < 0)
			*err = -ENOMEM;
	free(v);
	return leases;
}

int ctl_cmd_export(ctl_args *a)
{
	json_t *sets = json_array(), *doc;
	ctl_source src;
	FILE *out = stdout;
	int r;

	if ((r = ctl_open(a, &src, 0))) {
		json_decref(sets);
		return r;
	}
	for (unsigned i = 0; i < src.nsets; i++) {
		json_t *leases = export_set(&src, i, &r);
		if (r < 0) {
			json_decref(leases);
			json_decref(sets);
			ctl_source_close(&src);
			return ctl_err_ipam(CTL_EXIT_FAIL, r, "export %s", src.sets[i].name);
		}
		json_array_append_new(sets, json_pack("{s:s,s:O,s:o}", "name", src.sets[i].name,
						      "definition", src.sets[i].def, "leases", leases));
	}
	doc = json_pack("{s:s,s:i,s:I,s:o}", "format", "ipamctl-export", "version", 1, "exported_at",
			(json_int_t)time(NULL), "sets", sets);
	if (a->output && strcmp(a->output, "-") != 0 && !(out = fopen(a->output, "w"))) {
		json_decref(doc);
		ctl_source_close(&src);
		return ctl_err(CTL_EXIT_USAGE, "%s: %s", a->output, strerror(errno));
	}
	r = json_dumpf(doc, out, JSON_INDENT(1)) < 0 || fputc('\n', out) == EOF;
	if (out != stdout && fclose(out) != 0)
		r = 1;
	json_decref(doc);
	ctl_source_close(&src);
	return r ? ctl_err(CTL_EXIT_FAIL, "export: write failed") : CTL_EXIT_OK;
}

/* ---- import ------------------------------------------------------------------------- */

struct import_set {
	unsigned src_index;
	ipam_lease *leases;
	size_t n;
};

static int count_one(void *ud, const ipam_lease *l)
{
	(void)l;
	(*(size_t *)ud)++;
	return 0;
}

static int pool_index(const ipam_poolset *set, const char *name)
{
	for (unsigned i = 0; i < ipam_poolset_count(set); i++)
		if (strcmp(ipam_pool_name(ipam_poolset_pool(set, i)), name) == 0)
			return (int)i;
	return -1;
}

/* Parse and check one set of the document against the open source. */
static int prepare_set(ctl_source *src, json_t *js, struct import_set *is, const char *path)
{
	json_t *leases = json_object_get(js, "leases");
	const char *name = json_string_value(json_object_get(js, "name"));
	const ipam_poolset *set;
	char err[512];
	size_t existing = 0;
	int r;

	if (!name || !json_is_array(leases))
		return ctl_err(CTL_EXIT_USAGE, "%s: a set without \"name\" or \"leases\"", path);
	is->src_index = src->nsets;
	for (unsigned i = 0; i < src->nsets; i++)
		if (strcmp(src->sets[i].name, name) == 0)
			is->src_index = i;
	if (is->src_index == src->nsets)
		return ctl_err(CTL_EXIT_USAGE, "%s: pool set '%s' is not defined in the target store", path,
			       name);
	set = ipam_ctx_poolset(src->ctx, name);
	if ((r = ipam_foreach_lease(src->ctx, name, NULL, count_one, &existing)) < 0)
		return ctl_err_ipam(CTL_EXIT_FAIL, r, "import: listing %s", name);
	if (existing)
		return ctl_err(CTL_EXIT_FAIL, "import: pool set %s holds %zu records; import needs an empty one",
			       name, existing);
	is->n = json_array_size(leases);
	is->leases = calloc(is->n ? is->n : 1, sizeof(*is->leases));
	if (!is->leases)
		return ctl_err(CTL_EXIT_FAIL, "out of memory");
	for (size_t k = 0; k < is->n; k++) {
		ipam_lease *l = &is->leases[k];
		const ipam_pool *p;
		if (ctl_lease_from_json(json_array_get(leases, k), l, err, sizeof(err)) < 0)
			return ctl_err(CTL_EXIT_USAGE, "%s: set %s, lease %zu: %s", path, name, k, err);
		if (!(p = ipam_poolset_find(set, l->pool)))
			return ctl_err(CTL_EXIT_USAGE, "%s: set %s, lease %zu: no pool '%s'", path, name, k,
				       l->pool);
		if (!ipam_pool_is_allocatable(p, &l->addr))
			return ctl_err(CTL_EXIT_USAGE, "%s: set %s, lease %zu: address outside pool %s", path,
				       name, k, l->pool);
	}
	return 0;
}

static int commit_set(ctl_source *src, struct import_set *is)
{
	const char *name = src->sets[is->src_index].name;
	ipam_poolset *set = NULL;
	ipam_view *view = NULL;
	ipam_op *ops = calloc(IMPORT_CHUNK, sizeof(*ops));
	ipam_cond *conds = calloc(2 * IMPORT_CHUNK, sizeof(*conds));
	char err[512];
	int r;

	if (!ops || !conds) {
		r = ctl_err(CTL_EXIT_FAIL, "out of memory");
		goto out;
	}
	if ((r = ctl_source_poolset(src, is->src_index, &set, err, sizeof(err))) < 0) {
		r = ctl_err(CTL_EXIT_FAIL, "%s", err);
		goto out;
	}
	if ((r = src->store->ops->attach(src->store, set, &view)) < 0) {
		r = ctl_err_ipam(CTL_EXIT_STORE, r, "import: attach %s", name);
		goto out;
	}
	for (size_t done = 0; done < is->n;) {
		unsigned nops = 0, nconds = 0;
		ipam_txn txn;
		uint64_t rev;
		struct timespec ts;
		for (; done < is->n && nops < IMPORT_CHUNK; done++, nops++) {
			const ipam_lease *l = &is->leases[done];
			ipam_op *op = &ops[nops];
			memset(op, 0, sizeof(*op));
			op->kind = IPAM_OP_PUT;
			op->pool = (unsigned)pool_index(set, l->pool);
			op->lease = *l;
			op->flags = IPAM_OP_F_KEEP_GENERATION;
			memset(&conds[nconds], 0, sizeof(conds[0]));
			conds[nconds].kind = IPAM_COND_ADDR;
			conds[nconds].pool = op->pool;
			conds[nconds++].addr = l->addr;
			if (l->state == IPAM_LEASE_BOUND || l->state == IPAM_LEASE_SUSPECT) {
				memset(&conds[nconds], 0, sizeof(conds[0]));
				conds[nconds].kind = IPAM_COND_OWNER;
				conds[nconds].pool = op->pool;
				conds[nconds].owner = op->lease.owner;
				conds[nconds++].ifname = op->lease.ifname;
			}
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		txn.ops = ops;
		txn.nops = nops;
		txn.conds = conds;
		txn.nconds = nconds;
		txn.now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
		ipam_clear_error();
		r = src->store->ops->commit(src->store, view, &txn, &rev);
		if (r < 0) {
			r = ctl_err_ipam(r == -EINVAL || r == -ENAMETOOLONG ? CTL_EXIT_USAGE : CTL_EXIT_FAIL, r,
					 "import into %s (records %zu..%zu)%s", name, done - nops, done - 1,
					 done > nops ? "; earlier records were committed" : "");
			goto out;
		}
	}
	/* The file store replays its log giving each record its commit's
	 * revision: only a snapshot keeps the imported generations. */
	if (src->spec.kind == CTL_STORE_FILE &&
	    (r = ipam_store_file_compact(src->store, name)) < 0) {
		r = ctl_err_ipam(CTL_EXIT_FAIL, r, "import into %s: compaction", name);
		goto out;
	}
	r = 0;
out:
	if (view)
		src->store->ops->detach(src->store, view);
	ipam_poolset_free(set);
	free(ops);
	free(conds);
	return r;
}

int ctl_cmd_import(ctl_args *a)
{
	const char *path = a->argv[0];
	json_error_t je;
	json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je), *sets;
	struct import_set *is = NULL;
	size_t nsets = 0, total = 0;
	ctl_source src;
	char err[512];
	int r;

	if (!doc)
		return ctl_err(CTL_EXIT_USAGE, "%s:%d: %s", path, je.line, je.text);
	sets = json_object_get(doc, "sets");
	if (!json_is_object(doc) || !json_is_array(sets) ||
	    !json_is_string(json_object_get(doc, "format")) ||
	    strcmp(json_string_value(json_object_get(doc, "format")), "ipamctl-export") != 0) {
		json_decref(doc);
		return ctl_err(CTL_EXIT_USAGE, "%s: not an ipamctl export", path);
	}
	if (json_integer_value(json_object_get(doc, "version")) != 1) {
		json_decref(doc);
		return ctl_err(CTL_EXIT_USAGE, "%s: export format version is not 1", path);
	}
	if ((r = ctl_open(a, &src, 0))) {
		json_decref(doc);
		return r;
	}
	nsets = json_array_size(sets);
	is = calloc(nsets ? nsets : 1, sizeof(*is));
	r = is ? 0 : ctl_err(CTL_EXIT_FAIL, "out of memory");
	/* Everything is checked before anything is written. */
	for (size_t i = 0; i < nsets && r == 0; i++) {
		r = prepare_set(&src, json_array_get(sets, i), &is[i], path);
		for (size_t k = 0; k < i && r == 0; k++)
			if (is[k].src_index == is[i].src_index)
				r = ctl_err(CTL_EXIT_USAGE, "%s: pool set %s appears twice", path,
					    src.sets[is[i].src_index].name);
	}
	if (r == 0) {
		/* Attach each set alone, straight to the store. */
		ctl_source_detach(&src);
		for (size_t i = 0; i < nsets && r == 0; i++) {
			r = commit_set(&src, &is[i]);
			total += r == 0 ? is[i].n : 0;
		}
	}
	if (r == 0 && (r = ctl_source_attach(&src, 0, err, sizeof(err))) < 0)
		r = ctl_err(CTL_EXIT_STORE, "after import: %s", err);
	for (size_t i = 0; i < nsets && r == 0; i++) {
		const char *name = src.sets[is[i].src_index].name;
		if ((r = ipam_verify(src.ctx, name)) < 0)
			r = ctl_err_ipam(CTL_EXIT_FAIL, r, "after import, %s", name);
	}
	if (r == 0)
		printf("imported %zu records into %zu pool set%s\n", total, nsets, nsets == 1 ? "" : "s");
	for (size_t i = 0; is && i < nsets; i++)
		free(is[i].leases);
	free(is);
	json_decref(doc);
	ctl_source_close(&src);
	return r;
}
