/* SPDX-License-Identifier: MIT */
/*
 * A CNI network configuration into an ipam_netconf: the network name, the
 * range sets (netconf_ranges.c), routes, and the settings that are not
 * pools. Every refusal names its field; nothing is half-built on failure.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipam_config.h"
#include "netconf_internal.h"

static int parse_routes(ipam_netconf *c, const json_t *ipam, ipam_netconf_error *err)
{
	const json_t *routes = json_object_get(ipam, "routes");
	char field[64];
	size_t i;
	json_t *rt;

	if (!routes || json_is_null(routes))
		return 0;
	if (!json_is_array(routes))
		return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, "ipam.routes",
					 "ipam.routes must be an array of {\"dst\", \"gw\"}");
	if (json_array_size(routes) > IPAM_NETCONF_MAX_ROUTES)
		return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, "ipam.routes",
					 "ipam.routes: more than %d routes", IPAM_NETCONF_MAX_ROUTES);
	json_array_foreach(routes, i, rt) {
		ipam_netconf_route *r = &c->routes[c->nroutes];
		const char *s;
		int rc;

		snprintf(field, sizeof(field), "ipam.routes[%zu]", i);
		if (!json_is_object(rt))
			return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, field,
						 "%s must be an object with a \"dst\"", field);
		snprintf(field, sizeof(field), "ipam.routes[%zu].dst", i);
		if (nc__get_string(rt, "dst", field, 1, &s, err) < 0)
			return -1;
		/* Host bits are kept and printed back, as host-local does. */
		rc = ipam_prefix_parse(s, IPAM_PREFIX_KEEP_HOST, &r->dst);
		if (rc < 0)
			return nc__lib_fail(err, rc, field, s);
		snprintf(field, sizeof(field), "ipam.routes[%zu].gw", i);
		if (nc__get_string(rt, "gw", field, 0, &s, err) < 0)
			return -1;
		memset(&r->gw, 0, sizeof(r->gw));
		if (s && *s) {
			rc = ipam_addr_parse(s, &r->gw);
			if (rc < 0)
				return nc__lib_fail(err, rc, field, s);
			if (r->gw.family != r->dst.addr.family)
				return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, field,
							 "%s \"%.64s\" is not of the family of dst",
							 field, s);
		}
		c->nroutes++;
	}
	return 0;
}

/* ipam.store.endpoints: an array of URLs or one comma-separated string;
 * each http:// or https://, without spaces or commas. */
static int parse_endpoints(ipam_netconf *c, const json_t *st, ipam_netconf_error *err)
{
	static const char field[] = "ipam.store.endpoints";
	const json_t *v = json_object_get(st, "endpoints");
	char list[sizeof(c->etcd.endpoints)];
	char *save = NULL, *tok;
	size_t len = 0;
	unsigned n = 0;

	list[0] = '\0';
	if (!v || json_is_null(v))
		return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, field,
					 "%s is missing: the etcd store needs its client URLs "
					 "([\"http://127.0.0.1:2379\", ...] or a comma-separated "
					 "string)", field);
	if (json_is_string(v)) {
		const char *s;
		if (nc__get_string(st, "endpoints", field, 1, &s, err) < 0 ||
		    nc__copy(list, sizeof(list), s, field, err) < 0)
			return -1;
	} else if (json_is_array(v)) {
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e) {
			const char *s = json_string_value(e);
			size_t l = s ? strlen(s) : 0;
			if (!s || l != json_string_length(e) || strchr(s, ','))
				return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, field,
							 "%s[%zu] must be one URL (a string without "
							 "commas)", field, i);
			if (len + l + 2 > sizeof(list))
				return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, field,
							 "%s is too long (at most %zu bytes in all)",
							 field, sizeof(list) - 1);
			len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", len ? "," : "", s);
		}
	} else {
		return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, field,
					 "%s must be an array of URLs or a comma-separated string",
					 field);
	}
	/* Check each URL and rebuild the list without empty entries. */
	len = 0;
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		const char *host;
		if (strncmp(tok, "http://", 7) == 0)
			host = tok + 7;
		else if (strncmp(tok, "https://", 8) == 0)
			host = tok + 8;
		else
			return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, field,
						 "%s: \"%.200s\" is not an http:// or https:// URL",
						 field, tok);
		if (!*host || *host == '/')
			return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, field,
						 "%s: \"%.200s\" names no host", field, tok);
		for (const char *p = tok; *p; p++)
			if ((unsigned char)*p <= ' ' || *p == 0x7f)
				return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, field,
							 "%s: \"%.200s\" contains a space or a "
							 "control character", field, tok);
		if (++n > IPAM_NETCONF_ETCD_MAX_ENDPOINTS)
			return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, field,
						 "%s: more than %d endpoints", field,
						 IPAM_NETCONF_ETCD_MAX_ENDPOINTS);
		len += (size_t)snprintf(c->etcd.endpoints + len, sizeof(c->etcd.endpoints) - len,
					"%s%s", len ? "," : "", tok);
	}
	if (!n)
		return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, field, "%s names no endpoint",
					 field);
	return 0;
}

/* An optional absolute path into dst. */
static int get_path(const json_t *st, const char *key, const char *field, char *dst, size_t size,
		    ipam_netconf_error *err)
{
	const char *s;

	if (nc__get_string(st, key, field, 0, &s, err) < 0)
		return -1;
	if (!s || !*s)
		return 0;
	if (s[0] != '/')
		return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, field,
					 "%s \"%.200s\" must be an absolute path", field, s);
	return nc__copy(dst, size, s, field, err);
}

static int parse_etcd(ipam_netconf *c, const json_t *st, ipam_netconf_error *err)
{
	static const char *const file_only[] = { "dir", "durability" };
	uint64_t u;
	const char *s;
	size_t n;

	for (size_t i = 0; i < sizeof(file_only) / sizeof(file_only[0]); i++)
		if (json_object_get(st, file_only[i]))
			return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, "ipam.store",
						 "ipam.store.%s applies to the file store only; remove "
						 "it with \"type\": \"etcd\"", file_only[i]);
	if (parse_endpoints(c, st, err) < 0)
		return -1;
	if (nc__get_string(st, "prefix", "ipam.store.prefix", 0, &s, err) < 0)
		return -1;
	if (!s)
		s = IPAM_NETCONF_ETCD_DEFAULT_PREFIX;
	if (s[0] != '/')
		return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, "ipam.store.prefix",
					 "ipam.store.prefix \"%.200s\" must start with '/'", s);
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, "ipam.store.prefix",
						 "ipam.store.prefix \"%.200s\" contains a space or a "
						 "control character", s);
	if (nc__copy(c->etcd.prefix, sizeof(c->etcd.prefix), s, "ipam.store.prefix", err) < 0)
		return -1;
	n = strlen(c->etcd.prefix);
	while (n > 1 && c->etcd.prefix[n - 1] == '/')
		c->etcd.prefix[--n] = '\0';
	if (n == 1)
		return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, "ipam.store.prefix",
					 "ipam.store.prefix \"%.200s\" must name a directory below "
					 "the root (e.g. \"/ipam\")", s);
	u = 128;
	if (nc__get_uint(st, "blockSize", "ipam.store.blockSize", 256, &u, err) < 0)
		return -1;
	if (u != 64 && u != 128 && u != 256)
		return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, "ipam.store.blockSize",
					 "ipam.store.blockSize %llu is not one of 64, 128, 256",
					 (unsigned long long)u);
	c->etcd.block_size = (unsigned)u;
	if (get_path(st, "caFile", "ipam.store.caFile", c->etcd.ca_file, sizeof(c->etcd.ca_file),
		     err) < 0 ||
	    get_path(st, "certFile", "ipam.store.certFile", c->etcd.cert_file,
		     sizeof(c->etcd.cert_file), err) < 0 ||
	    get_path(st, "keyFile", "ipam.store.keyFile", c->etcd.key_file,
		     sizeof(c->etcd.key_file), err) < 0 ||
	    get_path(st, "passwordFile", "ipam.store.passwordFile", c->etcd.password_file,
		     sizeof(c->etcd.password_file), err) < 0)
		return -1;
	if (!c->etcd.cert_file[0] != !c->etcd.key_file[0])
		return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG,
					 c->etcd.cert_file[0] ? "ipam.store.keyFile"
							      : "ipam.store.certFile",
					 "ipam.store.certFile and ipam.store.keyFile go together: "
					 "%s is missing",
					 c->etcd.cert_file[0] ? "keyFile" : "certFile");
	if (nc__get_string(st, "username", "ipam.store.username", 0, &s, err) < 0 ||
	    (s && nc__copy(c->etcd.username, sizeof(c->etcd.username), s, "ipam.store.username",
			   err) < 0))
		return -1;
	if (nc__get_string(st, "password", "ipam.store.password", 0, &s, err) < 0 ||
	    (s && nc__copy(c->etcd.password, sizeof(c->etcd.password), s, "ipam.store.password",
			   err) < 0))
		return -1;
	if (c->etcd.password[0] && c->etcd.password_file[0])
		return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, "ipam.store.password",
					 "ipam.store.password and ipam.store.passwordFile are "
					 "exclusive: give one");
	if (c->etcd.username[0] && !c->etcd.password[0] && !c->etcd.password_file[0])
		return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, "ipam.store.password",
					 "ipam.store.username needs ipam.store.password or "
					 "ipam.store.passwordFile");
	if (!c->etcd.username[0] && (c->etcd.password[0] || c->etcd.password_file[0]))
		return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, "ipam.store.username",
					 "ipam.store.username is missing: a password needs a user");
	u = IPAM_NETCONF_ETCD_DEFAULT_TIMEOUT_MS;
	if (nc__get_uint(st, "timeoutMs", "ipam.store.timeoutMs", 600000, &u, err) < 0)
		return -1;
	if (u < 100)
		return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, "ipam.store.timeoutMs",
					 "ipam.store.timeoutMs %llu is below 100 (milliseconds)",
					 (unsigned long long)u);
	c->etcd.timeout_ms = (unsigned)u;
	return 0;
}

static int parse_store(ipam_netconf *c, const json_t *ipam, ipam_netconf_error *err)
{
	const json_t *st = json_object_get(ipam, "store");
	const char *s;

	snprintf(c->store_type, sizeof(c->store_type), "file");
	c->durability = IPAM_DURABILITY_FSYNC;
	if (nc__get_string(ipam, "dataDir", "ipam.dataDir", 0, &s, err) < 0)
		return -1;
	if (nc__copy(c->store_dir, sizeof(c->store_dir), s && *s ? s : IPAM_NETCONF_DEFAULT_DIR,
		     "ipam.dataDir", err) < 0)
		return -1;
	if (c->store_dir[0] != '/')
		return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, "ipam.dataDir",
					 "ipam.dataDir \"%.200s\" must be an absolute path",
					 c->store_dir);
	if (!st || json_is_null(st))
		return 0;
	if (!json_is_object(st))
		return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, "ipam.store",
					 "ipam.store must be an object {\"type\", ...}");
	if (nc__get_string(st, "type", "ipam.store.type", 0, &s, err) < 0)
		return -1;
	if (s && strcmp(s, "etcd") == 0) {
		snprintf(c->store_type, sizeof(c->store_type), "etcd");
		return parse_etcd(c, st, err);
	}
	if (s && strcmp(s, "file") != 0) {
		if (strcmp(s, "memory") == 0)
			return ipam_netconf_fail(err, IPAM_CNI_ERR_UNSUPPORTED, "ipam.store.type",
						 "ipam.store.type \"memory\" is not supported (a "
						 "process per call keeps nothing in memory; use "
						 "\"file\" or \"etcd\")");
		return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, "ipam.store.type",
					 "ipam.store.type \"%.64s\" is unknown (use \"file\" or "
					 "\"etcd\")", s);
	}
	if (nc__get_string(st, "dir", "ipam.store.dir", 0, &s, err) < 0)
		return -1;
	if (s && *s && nc__copy(c->store_dir, sizeof(c->store_dir), s, "ipam.store.dir", err) < 0)
		return -1;
	if (nc__get_string(st, "durability", "ipam.store.durability", 0, &s, err) < 0)
		return -1;
	if (!s || strcmp(s, "fsync") == 0)
		c->durability = IPAM_DURABILITY_FSYNC;
	else if (strcmp(s, "group") == 0)
		c->durability = IPAM_DURABILITY_GROUP;
	else if (strcmp(s, "none") == 0)
		c->durability = IPAM_DURABILITY_NONE;
	else
		return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, "ipam.store.durability",
					 "ipam.store.durability \"%.64s\" is not one of fsync, "
					 "group, none", s);
	if (c->store_dir[0] != '/')
		return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, "ipam.store.dir",
					 "ipam.store.dir \"%.200s\" must be an absolute path",
					 c->store_dir);
	return 0;
}

static int parse_policies(ipam_netconf *c, const json_t *ipam, ipam_netconf_error *err)
{
	const json_t *gc = json_object_get(ipam, "gc");
	uint64_t u;
	const char *s;

	if (nc__get_string(ipam, "allocationPolicy", "ipam.allocationPolicy", 0, &s, err) < 0)
		return -1;
	if (!s || strcmp(s, "next-fit") == 0)
		c->policy = IPAM_POLICY_NEXT_FIT;
	else if (strcmp(s, "lowest") == 0)
		c->policy = IPAM_POLICY_LOWEST;
	else if (strcmp(s, "random") == 0)
		c->policy = IPAM_POLICY_RANDOM;
	else
		return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, "ipam.allocationPolicy",
					 "ipam.allocationPolicy \"%.64s\" is not one of next-fit, "
					 "lowest, random", s);
	/* Default: a soft 60 s quarantine. Besides its own purpose (no
	 * stale ARP or conntrack state for a new owner), it keeps a process
	 * per call from handing back the address just released, which
	 * host-local's round robin also avoids. */
	u = IPAM_NETCONF_DEFAULT_REUSE_DELAY;
	if (nc__get_uint(ipam, "reuseDelay", "ipam.reuseDelay", UINT32_MAX, &u, err) < 0)
		return -1;
	c->reuse_delay = (uint32_t)u;
	if (nc__get_bool(ipam, "reuseDelayHard", "ipam.reuseDelayHard", &c->reuse_hard, err) < 0)
		return -1;
	if (nc__get_string(ipam, "owner", "ipam.owner", 0, &s, err) < 0)
		return -1;
	if (!s || strcmp(s, "pod") == 0)
		c->owner_mode = IPAM_NETCONF_OWNER_POD;
	else if (strcmp(s, "container") == 0)
		c->owner_mode = IPAM_NETCONF_OWNER_CONTAINER;
	else
		return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, "ipam.owner",
					 "ipam.owner \"%.64s\" is not one of pod, container", s);
	if (nc__get_string(ipam, "node", "ipam.node", 0, &s, err) < 0)
		return -1;
	if (s && nc__copy(c->node, sizeof(c->node), s, "ipam.node", err) < 0)
		return -1;
	if (nc__get_string(ipam, "resolvConf", "ipam.resolvConf", 0, &s, err) < 0)
		return -1;
	if (s && nc__copy(c->resolv_conf, sizeof(c->resolv_conf), s, "ipam.resolvConf", err) < 0)
		return -1;
	c->gc_min_age = 60;
	c->gc_grace = 30;
	if (!gc || json_is_null(gc))
		return 0;
	if (!json_is_object(gc))
		return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, "ipam.gc",
					 "ipam.gc must be an object {\"minAge\", \"grace\"}");
	u = (uint64_t)c->gc_min_age;
	if (nc__get_uint(gc, "minAge", "ipam.gc.minAge", INT32_MAX, &u, err) < 0)
		return -1;
	c->gc_min_age = (int64_t)u;
	u = (uint64_t)c->gc_grace;
	if (nc__get_uint(gc, "grace", "ipam.gc.grace", INT32_MAX, &u, err) < 0)
		return -1;
	c->gc_grace = (int64_t)u;
	return 0;
}

/* Policies into every pool, then the pools into a new set. */
static int build_set(ipam_netconf *c, struct nc_build *b, ipam_netconf_error *err)
{
	unsigned flags = c->reuse_hard ? IPAM_QUARANTINE_HARD : 0;
	int r = ipam_poolset_new(&c->set, c->name);

	if (r < 0)
		return nc__lib_fail(err, r, "name", c->name);
	for (unsigned i = 0; i < b->n; i++) {
		ipam_pool *p = b->pools[i];
		const char *path = b->path[i];
		if (ipam_pool_set_policy(p, c->policy) < 0 ||
		    ipam_pool_set_quarantine(p, c->reuse_delay, 0, flags) < 0)
			return nc__lib_fail(err, -EINVAL, path, NULL);
		r = ipam_poolset_add(c->set, p);
		if (r < 0)
			return nc__lib_fail(err, r, path, NULL);
		b->pools[i] = NULL; /* the set owns it now */
		c->pool_group[i] = b->group[i];
	}
	c->npools = b->n;
	c->ngroups = b->ngroups;
	b->n = 0;
	return 0;
}

int ipam_netconf_from_json(const json_t *netconf, ipam_netconf **out, ipam_netconf_error *err)
{
	struct nc_build b;
	const json_t *ipam;
	ipam_netconf *c;
	const char *name;
	int r;

	*out = NULL;
	if (!json_is_object(netconf))
		return ipam_netconf_fail(err, IPAM_CNI_ERR_DECODE, "",
					 "the network configuration must be a JSON object");
	if (nc__get_string(netconf, "name", "name", 1, &name, err) < 0)
		return -1;
	if (ipam_name_check(name) < 0)
		return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, "name",
					 "name \"%.64s\": %s (it names the store's files, so it "
					 "is refused rather than rewritten)", name, nc__lib_reason());
	ipam = json_object_get(netconf, "ipam");
	if (!json_is_object(ipam))
		return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, "ipam",
					 "ipam: the IPAM configuration object is missing");
	c = calloc(1, sizeof(*c));
	if (!c)
		return ipam_netconf_fail(err, IPAM_CNI_ERR_INTERNAL, "", "out of memory");
	memset(&b, 0, sizeof(b));
	snprintf(c->name, sizeof(c->name), "%s", name);
	r = parse_store(c, ipam, err);
	if (!r)
		r = parse_policies(c, ipam, err);
	if (!r)
		r = parse_routes(c, ipam, err);
	if (!r)
		r = nc__parse_ranges(&b, ipam, err);
	if (!r)
		r = nc__parse_excludes(&b, ipam, err);
	if (!r)
		r = build_set(c, &b, err);
	nc__build_free(&b);
	if (r < 0) {
		ipam_netconf_free(c);
		return -1;
	}
	*out = c;
	return 0;
}

int ipam_netconf_parse(const char *text, size_t len, ipam_netconf **out, ipam_netconf_error *err)
{
	json_error_t je;
	json_t *root;
	int r;

	*out = NULL;
	if (len > IPAM_NETCONF_MAX_INPUT)
		return ipam_netconf_fail(err, IPAM_CNI_ERR_DECODE, "",
					 "the configuration is %zu bytes, more than %zu", len,
					 IPAM_NETCONF_MAX_INPUT);
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return ipam_netconf_fail(err, IPAM_CNI_ERR_DECODE, "",
					 "cannot decode the configuration: %s (line %d, column %d)",
					 je.text, je.line, je.column);
	r = ipam_netconf_from_json(root, out, err);
	json_decref(root);
	return r;
}
