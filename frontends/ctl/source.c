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

#if IPAMCTL_HAVE_ETCD
#include "ipam_etcd.h"
#endif

#define DEF_SUFFIX ".conf.json"

int ctl_have_etcd(void)
{
	return IPAMCTL_HAVE_ETCD;
}

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

/* One "?key=value" setting of an etcd store. */
static int etcd_param(ctl_store_spec *sp, const char *k, const char *v, char *err, size_t n)
{
	struct ipam_netconf_etcd *e = &sp->etcd;
	struct { const char *name; char *dst; size_t size; } paths[] = {
		{ "ca", e->ca_file, sizeof(e->ca_file) },
		{ "cert", e->cert_file, sizeof(e->cert_file) },
		{ "key", e->key_file, sizeof(e->key_file) },
		{ "password-file", e->password_file, sizeof(e->password_file) },
	};
	char *end;
	unsigned long u;

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		if (strcmp(k, paths[i].name) != 0)
			continue;
		if (strlen(v) >= paths[i].size || !*v)
			return fail(err, n, -EINVAL, "etcd store: %s='%s' is empty or too long", k, v);
		memcpy(paths[i].dst, v, strlen(v) + 1);
		return 0;
	}
	if (strcmp(k, "prefix") == 0) {
		size_t l = strlen(v);
		if (v[0] != '/' || l >= sizeof(e->prefix) || strspn(v, "/") == l)
			return fail(err, n, -EINVAL,
				    "etcd store: prefix='%s' must start with '/' and name a directory "
				    "below the root", v);
		memcpy(e->prefix, v, l + 1);
		while (l > 1 && e->prefix[l - 1] == '/')
			e->prefix[--l] = '\0';
		return 0;
	}
	if (strcmp(k, "user") == 0) {
		if (!*v || strlen(v) >= sizeof(e->username))
			return fail(err, n, -EINVAL, "etcd store: user='%s' is empty or too long", v);
		memcpy(e->username, v, strlen(v) + 1);
		return 0;
	}
	if (strcmp(k, "block-size") == 0 || strcmp(k, "timeout-ms") == 0) {
		errno = 0;
		u = strtoul(v, &end, 10);
		if (errno || *end || !*v)
			return fail(err, n, -EINVAL, "etcd store: %s='%s' is not a number", k, v);
		if (k[0] == 'b' && u != 64 && u != 128 && u != 256)
			return fail(err, n, -EINVAL, "etcd store: block-size=%lu is not 64, 128 or 256", u);
		if (k[0] == 't' && (u < 100 || u > 600000))
			return fail(err, n, -EINVAL, "etcd store: timeout-ms=%lu is not within 100-600000", u);
		*(k[0] == 'b' ? &e->block_size : &e->timeout_ms) = (unsigned)u;
		return 0;
	}
	return fail(err, n, -EINVAL,
		    "etcd store: unknown setting '%s' (prefix, block-size, ca, cert, key, user, "
		    "password-file, timeout-ms)", k);
}

/* location = "URL[,URL...][?k=v&k=v]": endpoints into etcd.endpoints (a URL
 * without a scheme is http://), settings into the rest. */
static int parse_etcd_spec(ctl_store_spec *sp, char *err, size_t n)
{
	struct ipam_netconf_etcd *e = &sp->etcd;
	char buf[sizeof(sp->location)], *q, *save = NULL, *tok;
	size_t len = 0;
	int r;

	memset(e, 0, sizeof(*e));
	snprintf(e->prefix, sizeof(e->prefix), "%s", IPAM_NETCONF_ETCD_DEFAULT_PREFIX);
	e->block_size = 128;
	e->timeout_ms = IPAM_NETCONF_ETCD_DEFAULT_TIMEOUT_MS;
	memcpy(buf, sp->location, sizeof(buf));
	q = strchr(buf, '?');
	if (q)
		*q++ = '\0';
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int scheme = strncmp(tok, "http://", 7) == 0 || strncmp(tok, "https://", 8) == 0;
		if (strstr(tok, "://") && !scheme)
			return fail(err, n, -EINVAL, "etcd store: '%s' is not an http:// or https:// URL",
				    tok);
		if (len + strlen(tok) + 9 >= sizeof(e->endpoints))
			return fail(err, n, -ENAMETOOLONG, "etcd store: endpoint list too long");
		len += (size_t)snprintf(e->endpoints + len, sizeof(e->endpoints) - len, "%s%s%s",
					len ? "," : "", scheme ? "" : "http://", tok);
	}
	if (!len)
		return fail(err, n, -EINVAL, "etcd store: no endpoint (etcd:http://HOST:2379[,...])");
	save = NULL;
	for (tok = q ? strtok_r(q, "&", &save) : NULL; tok; tok = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(tok, '=');
		if (!eq)
			return fail(err, n, -EINVAL, "etcd store: setting '%s' is not KEY=VALUE", tok);
		*eq = '\0';
		if ((r = etcd_param(sp, tok, eq + 1, err, n)) < 0)
			return r;
	}
	if (!e->cert_file[0] != !e->key_file[0])
		return fail(err, n, -EINVAL, "etcd store: cert= and key= go together");
	if (!!e->username[0] != !!e->password_file[0])
		return fail(err, n, -EINVAL, "etcd store: user= and password-file= go together");
	return 0;
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
	if (out->kind == CTL_STORE_ETCD)
		return parse_etcd_spec(out, err, n);
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

#if IPAMCTL_HAVE_ETCD
static int open_etcd(ctl_source *src, char *err, size_t n)
{
	const struct ipam_netconf_etcd *e = &src->spec.etcd;
	ipam_netconf_error ne;
	ipam_etcd_options o;
	char password[sizeof(e->password)];
	int rc;

	memset(&ne, 0, sizeof(ne));
	if (ipam_netconf_etcd_password(e, password, sizeof(password), &ne) < 0)
		return fail(err, n, -EINVAL, "%s", ne.msg);
	ipam_etcd_options_init(&o);
	o.endpoints = e->endpoints;
	o.prefix = e->prefix;
	o.block_size = e->block_size;
	o.ca_file = e->ca_file[0] ? e->ca_file : NULL;
	o.cert_file = e->cert_file[0] ? e->cert_file : NULL;
	o.key_file = e->key_file[0] ? e->key_file : NULL;
	o.user = e->username[0] ? e->username : NULL;
	o.password = e->username[0] ? password : NULL;
	o.request_timeout_ms = e->timeout_ms;
	o.connect_timeout_ms = e->timeout_ms < 1000 ? e->timeout_ms : 1000;
	rc = ipam_store_etcd_new(&src->store, &o);
	memset(password, 0, sizeof(password));
	if (rc < 0)
		return fail(err, n, rc, "etcd store %s: %s", e->endpoints,
			    ipam_etcd_last_error_message());
	return 0;
}

/* Every <prefix>/<set>/definition (written by ipam-cni), in name order. */
static int load_etcd_defs(ctl_source *src, char *err, size_t n)
{
	static const char suffix[] = "/" IPAM_NETCONF_ETCD_DEFINITION;
	ipam_etcd_kv *kv = NULL;
	size_t cnt = 0, sl = strlen(suffix);
	unsigned found = 0;
	int rc = ipam_etcd_list(src->store, "", IPAM_ETCD_KEYS_ONLY, &kv, &cnt);

	if (rc < 0)
		return fail(err, n, rc, "etcd store %s: %s", src->spec.etcd.endpoints,
			    ipam_etcd_last_error_message());
	for (size_t i = 0; i < cnt && rc == 0; i++) {
		size_t kl = strlen(kv[i].key);
		char *text = NULL;
		size_t tl = 0;
		json_error_t je;
		json_t *j;
		if (kl <= sl || strcmp(kv[i].key + kl - sl, suffix) != 0 ||
		    memchr(kv[i].key, '/', kl - sl))
			continue;
		rc = ipam_etcd_get(src->store, kv[i].key, &text, &tl, NULL);
		if (rc == -ENOENT) { /* deleted meanwhile */
			rc = 0;
			continue;
		}
		if (rc < 0) {
			fail(err, n, rc, "etcd key %s/%s: %s", src->spec.etcd.prefix, kv[i].key,
			     ipam_etcd_last_error_message());
			break;
		}
		j = json_loadb(text, tl, JSON_REJECT_DUPLICATES, &je);
		free(text);
		if (!j) {
			rc = fail(err, n, -EINVAL, "etcd key %s/%s: malformed JSON: %s",
				  src->spec.etcd.prefix, kv[i].key, je.text);
			break;
		}
		rc = add_def(src, j, err, n);
		json_decref(j);
		found++;
	}
	ipam_etcd_kv_free(kv, cnt);
	if (rc == 0 && !found)
		rc = fail(err, n, -ENOENT,
			  "etcd store %s holds no pool set definitions under %s/*/%s; give --config",
			  src->spec.etcd.endpoints, src->spec.etcd.prefix, IPAM_NETCONF_ETCD_DEFINITION);
	return rc;
}
#else
static int open_etcd(ctl_source *src, char *err, size_t n)
{
	(void)src;
	return fail(err, n, -ENOTSUP, "etcd store: not built into this ipamctl (needs libcurl)");
}

static int load_etcd_defs(ctl_source *src, char *err, size_t n)
{
	(void)src;
	return fail(err, n, -ENOTSUP, "etcd store: not built into this ipamctl");
}
#endif

/* The store library's detail of failure rc ("" if it has none). */
static const char *store_detail(const ctl_source *src, int rc)
{
#if IPAMCTL_HAVE_ETCD
	ipam_error_info e;
	if (src->spec.kind == CTL_STORE_ETCD && rc < 0 && ipam_etcd_last_error(&e) == rc)
		return ipam_etcd_last_error_message();
#else
	(void)src;
	(void)rc;
#endif
	return "";
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
		return open_etcd(src, err, n);
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
				const char *m = ipam_last_error_message(), *d = store_detail(src, rc);
				snprintf(s->open_msg, sizeof(s->open_msg), "%s%s%s",
					 *m ? m : ipam_strerror(rc), *d ? "; store: " : "", d);
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
	ipam_netconf *nc = NULL;
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
		if (rc == 0 && strncmp(hint, "etcd:", 5) == 0)
			rc = ctl_netconf_from_config(conf, &nc, err, n);
		if (rc == 0)
			rc = add_def(src, conf, err, n);
		json_decref(conf);
		if (rc < 0) {
			ipam_netconf_free(nc);
			ctl_source_close(src);
			return rc;
		}
	}
	if (store_arg) {
		rc = ctl_store_spec_parse(store_arg, &src->spec, err, n);
	} else if (nc) {
		/* The configuration's etcd settings, as ipam-cni uses them. */
		src->spec.kind = CTL_STORE_ETCD;
		src->spec.etcd = nc->etcd;
		snprintf(src->spec.location, sizeof(src->spec.location), "%s", nc->etcd.endpoints);
	} else if (strncmp(hint, "file:", 5) == 0) {
		rc = ctl_store_spec_parse(hint, &src->spec, err, n);
	} else {
		rc = fail(err, n, -EINVAL, "%s names an unknown store '%s'; give --store", config_arg, hint);
	}
	if (rc == 0)
		rc = open_store(src, err, n);
	nc = ipam_netconf_free(nc);
	if (rc == 0 && !config_arg)
		rc = src->spec.kind == CTL_STORE_ETCD ? load_etcd_defs(src, err, n)
						      : load_stored_defs(src, err, n);
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
