/* SPDX-License-Identifier: MIT */
/*
 * Opening a store and its pool sets (see source.h). Built for one short
 * process: everything is read once at start, nothing is cached across runs.
 *
 * Configurations and stored definitions are read by the front ends' shared
 * parser (frontends/common/ipam_config.h), so ipamctl names pools exactly as
 * ipam-cni does and opens the same files.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "source.h"

#define DEF_SUFFIX ".conf.json"

static int fail(char *err, size_t n, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t n, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
	return code;
}

int ctl_store_spec_parse(const char *text, ctl_store_spec *out, char *err, size_t n)
{
	const char *loc;

	memset(out, 0, sizeof(*out));
	if (!text || !*text)
		return fail(err, n, -EINVAL, "empty store");
	if (strncmp(text, "file:", 5) == 0) {
		out->kind = CTL_STORE_FILE;
		loc = text + 5;
	} else if (strncmp(text, "etcd:", 5) == 0) {
		out->kind = CTL_STORE_ETCD;
		loc = text + 5;
	} else if (text[0] == '/' || text[0] == '.') {
		out->kind = CTL_STORE_FILE;
		loc = text;
	} else {
		return fail(err, n, -EINVAL, "unknown store '%s' (expected file:DIR or etcd:ENDPOINTS)",
			    text);
	}
	if (!*loc)
		return fail(err, n, -EINVAL, "store '%s' names no location", text);
	if (strlen(loc) >= sizeof(out->location))
		return fail(err, n, -ENAMETOOLONG, "store location too long");
	memcpy(out->location, loc, strlen(loc) + 1);
	return 0;
}

/* ---- configuration -> pool set ---------------------------------------------- */

static int lib_fail(char *err, size_t n, int r, const char *what)
{
	const char *m = ipam_last_error_message();
	return fail(err, n, r, "%s: %s", what, *m ? m : ipam_strerror(r));
}

int ctl_netconf_from_config(json_t *conf, ipam_netconf **out, char *err, size_t n)
{
	ipam_netconf_error ne;

	memset(&ne, 0, sizeof(ne));
	if (!json_is_object(conf))
		return fail(err, n, -EINVAL, "configuration is not a JSON object");
	if (ipam_netconf_from_json(conf, out, &ne) < 0)
		return fail(err, n, -EINVAL, "%s", ne.msg);
	return 0;
}

int ctl_poolset_from_config(json_t *conf, ipam_poolset **out, char *store_hint, size_t hn,
			    char *err, size_t n)
{
	ipam_netconf *c = NULL;
	int rc = ctl_netconf_from_config(conf, &c, err, n);

	if (rc < 0)
		return rc;
	if (store_hint && hn)
		if (snprintf(store_hint, hn, "%s:%s", c->store_type, c->store_dir) < 0)
			store_hint[0] = '\0'; /* a hint only: truncation is harmless */
	*out = ipam_netconf_take_set(c);
	ipam_netconf_free(c);
	return 0;
}

/* ---- definitions -------------------------------------------------------------- */

static int add_def(ctl_source *src, json_t *def, char *err, size_t n)
{
	ipam_poolset *set = NULL;
	ctl_set *grown;
	int rc = ctl_poolset_from_config(def, &set, NULL, 0, err, n);

	if (rc < 0)
		return rc;
	for (unsigned i = 0; i < src->nsets; i++)
		if (strcmp(src->sets[i].name, ipam_poolset_name(set)) == 0) {
			rc = fail(err, n, -EEXIST, "pool set '%s' is defined twice",
				  ipam_poolset_name(set));
			ipam_poolset_free(set);
			return rc;
		}
	grown = realloc(src->sets, (src->nsets + 1) * sizeof(*grown));
	if (!grown) {
		ipam_poolset_free(set);
		return fail(err, n, -ENOMEM, "out of memory");
	}
	src->sets = grown;
	memset(&grown[src->nsets], 0, sizeof(*grown));
	snprintf(grown[src->nsets].name, sizeof(grown[0].name), "%s", ipam_poolset_name(set));
	grown[src->nsets].def = json_incref(def);
	src->nsets++;
	ipam_poolset_free(set);
	return 0;
}

static json_t *load_json(const char *path, char *err, size_t n)
{
	json_error_t je;
	json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);

	if (!j) {
		FILE *f = fopen(path, "r");
		if (!f)
			fail(err, n, -errno, "%s: %s", path, strerror(errno));
		else
			fail(err, n, -EINVAL, "%s:%d: malformed JSON: %s", path, je.line, je.text);
		if (f)
			fclose(f);
	}
	return j;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every DIR/<set>.conf.json, in name order. */
static int load_stored_defs(ctl_source *src, char *err, size_t n)
{
	DIR *d = opendir(src->spec.location);
	struct dirent *e;
	char **names = NULL, path[8192];
	size_t cnt = 0, sl = strlen(DEF_SUFFIX);
	int rc = 0;

	if (!d)
		return fail(err, n, -errno, "store %s: %s", src->spec.location, strerror(errno));
	while ((e = readdir(d)) && rc == 0) {
		size_t len = strlen(e->d_name);
		char **g;
		if (len <= sl || strcmp(e->d_name + len - sl, DEF_SUFFIX) != 0 || e->d_name[0] == '.')
			continue;
		g = realloc(names, (cnt + 1) * sizeof(*g));
		if (!g || !(g[cnt] = strdup(e->d_name))) {
			names = g ? g : names;
			rc = fail(err, n, -ENOMEM, "out of memory");
			break;
		}
		names = g;
		cnt++;
	}
	closedir(d);
	if (rc == 0 && cnt == 0)
		rc = fail(err, n, -ENOENT, "store %s holds no pool set definitions (*%s); give --config",
			  src->spec.location, DEF_SUFFIX);
	if (cnt)
		qsort(names, cnt, sizeof(*names), name_cmp);
	for (size_t i = 0; i < cnt && rc == 0; i++) {
		json_t *j;
		snprintf(path, sizeof(path), "%s/%s", src->spec.location, names[i]);
		if (!(j = load_json(path, err, n))) {
			rc = -EINVAL;
			break;
		}
		rc = add_def(src, j, err, n);
		json_decref(j);
		if (rc < 0) {
			char tmp[512];
			snprintf(tmp, sizeof(tmp), "%s", err);
			fail(err, n, rc, "%s: %s", path, tmp);
		}
	}
	for (size_t i = 0; i < cnt; i++)
		free(names[i]);
	free(names);
	return rc;
}

int ctl_source_poolset(const ctl_source *src, unsigned i, ipam_poolset **out, char *err, size_t n)
{
	return ctl_poolset_from_config(src->sets[i].def, out, NULL, 0, err, n);
}

static int open_store(ctl_source *src, char *err, size_t n)
{
	ipam_file_store_options fo;
	int rc;

	switch (src->spec.kind) {
	case CTL_STORE_FILE:
		ipam_file_store_options_init(&fo);
		rc = ipam_store_file_new(&src->store, src->spec.location, &fo);
		if (rc < 0)
			return lib_fail(err, n, rc, src->spec.location);
		return 0;
	case CTL_STORE_ETCD:
		return fail(err, n, -ENOTSUP, "etcd store: not built into this ipamctl");
	case CTL_STORE_NONE:
		break;
	}
	return fail(err, n, -EINVAL, "no store given (--store file:DIR or --config FILE)");
}

int ctl_source_attach(ctl_source *src, unsigned flags, char *err, size_t n)
{
	int rc;

	if (!src->ctx && (rc = ipam_ctx_new(&src->ctx, src->store, NULL)) < 0)
		return lib_fail(err, n, rc, "context");
	for (unsigned i = 0; i < src->nsets; i++) {
		ipam_poolset *set = NULL;
		ctl_set *s = &src->sets[i];
		if (s->attached)
			continue;
		rc = ctl_source_poolset(src, i, &set, s->open_msg, sizeof(s->open_msg));
		if (rc == 0) {
			ipam_clear_error();
			rc = ipam_ctx_add_poolset(src->ctx, set);
			if (rc < 0) {
				const char *m = ipam_last_error_message();
				snprintf(s->open_msg, sizeof(s->open_msg), "%s", *m ? m : ipam_strerror(rc));
				ipam_poolset_free(set);
			}
		}
		if (rc < 0) {
			s->open_err = rc;
			if (!(flags & CTL_SRC_TOLERANT))
				return fail(err, n, rc, "pool set %s: %s", s->name, s->open_msg);
			continue;
		}
		s->attached = 1;
		s->open_err = 0;
	}
	return 0;
}

void ctl_source_detach(ctl_source *src)
{
	src->ctx = ipam_ctx_free(src->ctx);
	for (unsigned i = 0; i < src->nsets; i++)
		src->sets[i].attached = 0;
}

int ctl_source_open(ctl_source *src, const char *store_arg, const char *config_arg,
		    const char *only, unsigned flags, char *err, size_t n)
{
	char hint[4096] = "";
	int rc = 0;

	memset(src, 0, sizeof(*src));
	if (!store_arg && !config_arg)
		return fail(err, n, -EINVAL, "no store given (--store file:DIR or --config FILE)");
	if (config_arg) {
		json_t *conf = load_json(config_arg, err, n);
		ipam_poolset *set = NULL;
		if (!conf)
			return -EINVAL;
		snprintf(src->config_path, sizeof(src->config_path), "%s", config_arg);
		rc = ctl_poolset_from_config(conf, &set, hint, sizeof(hint), err, n);
		ipam_poolset_free(set);
		if (rc == 0)
			rc = add_def(src, conf, err, n);
		json_decref(conf);
		if (rc < 0) {
			ctl_source_close(src);
			return rc;
		}
	}
	if (store_arg) {
		rc = ctl_store_spec_parse(store_arg, &src->spec, err, n);
	} else if (strncmp(hint, "file:", 5) == 0 || strncmp(hint, "etcd:", 5) == 0) {
		rc = ctl_store_spec_parse(hint, &src->spec, err, n);
	} else {
		rc = fail(err, n, -EINVAL, "%s names an unknown store '%s'; give --store", config_arg, hint);
	}
	if (rc == 0)
		rc = open_store(src, err, n);
	if (rc == 0 && !config_arg)
		rc = load_stored_defs(src, err, n);
	if (rc == 0 && only) {
		unsigned k = 0;
		for (unsigned i = 0; i < src->nsets; i++) {
			if (strcmp(src->sets[i].name, only) == 0)
				src->sets[k++] = src->sets[i];
			else
				json_decref(src->sets[i].def);
		}
		src->nsets = k;
		if (!k)
			rc = fail(err, n, -ENOENT, "no pool set named '%s'", only);
	}
	if (rc == 0 && !(flags & CTL_SRC_NO_ATTACH))
		rc = ctl_source_attach(src, flags, err, n);
	if (rc < 0)
		ctl_source_close(src);
	return rc;
}

void ctl_source_close(ctl_source *src)
{
	ctl_source_detach(src);
	src->store = ipam_store_free(src->store);
	for (unsigned i = 0; i < src->nsets; i++)
		json_decref(src->sets[i].def);
	free(src->sets);
	src->sets = NULL;
	src->nsets = 0;
}
