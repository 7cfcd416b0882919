/* SPDX-License-Identifier: MIT */
/*
 * The ADD result, in the version the configuration asked for:
 *   0.3.0, 0.3.1, 0.4.0: ips[] entries carry "version": "4" / "6";
 *   1.0.0, 1.1.0: they do not.
 * IPAM plugins leave out "interfaces" and the ips' "interface" index (the
 * calling plugin fills them in). "routes" are the configured ones, as given;
 * "dns" is always present ({} when no resolvConf is configured), as
 * host-local prints it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cni.h"

static void add_words(json_t *arr, char *rest)
{
	char *save = NULL;

	for (char *w = strtok_r(rest, " \t\r\n", &save); w; w = strtok_r(NULL, " \t\r\n", &save))
		json_array_append_new(arr, json_string(w));
}

/* resolv.conf's nameserver, domain, search and options lines, as host-local
 * reads them (the first word after "nameserver"/"domain", every word after
 * "search"/"options"; comments start with '#' or ';'). */
static int parse_resolv_conf(const char *path, json_t *dns, ipam_netconf_error *err)
{
	FILE *f = fopen(path, "re");
	json_t *ns = json_array(), *search = json_array(), *opts = json_array();
	char line[1024];

	if (!f) {
		int e = errno;
		json_decref(ns);
		json_decref(search);
		json_decref(opts);
		return ipam_netconf_fail(err, IPAM_CNI_ERR_IO, "ipam.resolvConf",
					 "ipam.resolvConf: cannot read %.200s: %s", path, strerror(e));
	}
	while (fgets(line, sizeof(line), f)) {
		char *save = NULL, *key = strtok_r(line, " \t\r\n", &save);
		char *rest = save;
		if (!key || key[0] == '#' || key[0] == ';' || !rest)
			continue;
		if (strcmp(key, "nameserver") == 0 || strcmp(key, "domain") == 0) {
			char *val = strtok_r(NULL, " \t\r\n", &save);
			if (!val)
				continue;
			if (key[0] == 'n')
				json_array_append_new(ns, json_string(val));
			else
				json_object_set_new(dns, "domain", json_string(val));
		} else if (strcmp(key, "search") == 0) {
			add_words(search, rest);
		} else if (strcmp(key, "options") == 0) {
			add_words(opts, rest);
		}
	}
	fclose(f);
	if (json_array_size(ns))
		json_object_set(dns, "nameservers", ns);
	if (json_array_size(search))
		json_object_set(dns, "search", search);
	if (json_array_size(opts))
		json_object_set(dns, "options", opts);
	json_decref(ns);
	json_decref(search);
	json_decref(opts);
	return 0;
}

static json_t *addr_str(const ipam_addr *a)
{
	char buf[IPAM_ADDR_STRLEN];

	ipam_addr_format(a, buf, sizeof(buf));
	return json_string(buf);
}

static json_t *ip_entry(const cni_call *call, const ipam_pool *p, const ipam_lease *l)
{
	char buf[IPAM_PREFIX_STRLEN];
	ipam_prefix pf;
	json_t *o = json_object();

	ipam_prefix_make(&l->addr, ipam_pool_subnet(p)->len, &pf);
	ipam_prefix_format(&pf, buf, sizeof(buf));
	if (call->version < CNI_V100)
		json_object_set_new(o, "version", json_string(l->addr.family == IPAM_AF_INET ? "4" : "6"));
	json_object_set_new(o, "address", json_string(buf));
	if (ipam_pool_gateway(p))
		json_object_set_new(o, "gateway", addr_str(ipam_pool_gateway(p)));
	return o;
}

static json_t *routes_json(const ipam_netconf *c)
{
	json_t *a = json_array();

	for (unsigned i = 0; i < c->nroutes; i++) {
		char buf[IPAM_PREFIX_STRLEN];
		json_t *o = json_object();
		ipam_prefix_format(&c->routes[i].dst, buf, sizeof(buf));
		json_object_set_new(o, "dst", json_string(buf));
		if (c->routes[i].gw.family)
			json_object_set_new(o, "gw", addr_str(&c->routes[i].gw));
		json_array_append_new(a, o);
	}
	return a;
}

int cni_result_build(const cni_call *call, const ipam_poolset *set, const ipam_lease *leases,
		     unsigned n, json_t **out, ipam_netconf_error *err)
{
	const ipam_netconf *c = call->conf;
	json_t *res = json_object(), *ips = json_array(), *dns = json_object();

	*out = NULL;
	if (!res || !ips || !dns)
		goto oom;
	json_object_set_new(res, "cniVersion", json_string(cni_versions[call->version]));
	json_object_set_new(res, "ips", ips);
	/* One address per group, in group order (host-local's order). */
	for (unsigned g = 0; g < c->ngroups; g++) {
		for (unsigned i = 0; i < n; i++) {
			const ipam_pool *p = ipam_poolset_find(set, leases[i].pool);
			if (p && ipam_netconf_pool_group(c, set, leases[i].pool) == (int)g)
				json_array_append_new(ips, ip_entry(call, p, &leases[i]));
		}
	}
	if (c->nroutes)
		json_object_set_new(res, "routes", routes_json(c));
	if (c->resolv_conf[0] && parse_resolv_conf(c->resolv_conf, dns, err) < 0) {
		json_decref(dns);
		json_decref(res);
		return -1;
	}
	json_object_set_new(res, "dns", dns);
	*out = res;
	return 0;
oom:
	json_decref(res);
	json_decref(ips);
	json_decref(dns);
	return ipam_netconf_fail(err, IPAM_CNI_ERR_INTERNAL, "", "out of memory");
}
