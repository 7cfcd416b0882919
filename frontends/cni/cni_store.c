/* SPDX-License-Identifier: MIT */
/*
 * The store a network's configuration names (ipam.store): the file store,
 * or the etcd store when ipam-cni is built with it (IPAM_CNI_HAVE_ETCD: the
 * etcd library and libcurl are linked in; without it a configuration asking
 * for etcd is refused with code 2, "built without etcd").
 *
 * The normalised definition is kept where ipamctl looks for it: next to a
 * file store as <dir>/<name>.conf.json, and in etcd under
 * <prefix>/<name>/definition (written only when it changed: one read per
 * ADD otherwise).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cni.h"

#if IPAM_CNI_HAVE_ETCD
#include "ipam_etcd.h"
#endif

int cni_store_is_etcd(const ipam_netconf *c)
{
	return strcmp(c->store_type, "etcd") == 0;
}

const char *cni_store_detail(const ipam_netconf *c, int r)
{
#if IPAM_CNI_HAVE_ETCD
	ipam_error_info e;
	/* Only the etcd library's own record of this very failure. */
	if (c && cni_store_is_etcd(c) && r < 0 && ipam_etcd_last_error(&e) == r)
		return ipam_etcd_last_error_message();
#else
	(void)c;
	(void)r;
#endif
	return "";
}

#if IPAM_CNI_HAVE_ETCD
static int open_etcd(const ipam_netconf *c, ipam_store **out, ipam_netconf_error *err)
{
	ipam_etcd_options o;
	char password[sizeof(c->etcd.password)];
	int r;

	if (ipam_netconf_etcd_password(&c->etcd, password, sizeof(password), err) < 0)
		return -1;
	ipam_etcd_options_init(&o);
	o.endpoints = c->etcd.endpoints;
	o.prefix = c->etcd.prefix;
	o.block_size = c->etcd.block_size;
	o.ca_file = c->etcd.ca_file[0] ? c->etcd.ca_file : NULL;
	o.cert_file = c->etcd.cert_file[0] ? c->etcd.cert_file : NULL;
	o.key_file = c->etcd.key_file[0] ? c->etcd.key_file : NULL;
	o.user = c->etcd.username[0] ? c->etcd.username : NULL;
	o.password = c->etcd.username[0] ? password : NULL;
	o.request_timeout_ms = c->etcd.timeout_ms;
	o.connect_timeout_ms = c->etcd.timeout_ms < 1000 ? c->etcd.timeout_ms : 1000;
	r = ipam_store_etcd_new(out, &o);
	memset(password, 0, sizeof(password));
	if (r < 0)
		return ipam_netconf_fail(err, r == -ENOMEM ? IPAM_CNI_ERR_INTERNAL : IPAM_CNI_ERR_CONFIG,
					 "ipam.store", "cannot use the etcd store: %s",
					 ipam_etcd_last_error_message());
	return 0;
}
#endif

int cni_store_open(const ipam_netconf *c, const ipam_file_store_scope *scope, ipam_store **out,
		   ipam_netconf_error *err)
{
	ipam_file_store_options fo;
	int r;

	*out = NULL;
	if (cni_store_is_etcd(c)) {
#if IPAM_CNI_HAVE_ETCD
		return open_etcd(c, out, err);
#else
		return ipam_netconf_fail(err, IPAM_CNI_ERR_UNSUPPORTED, "ipam.store.type",
					 "ipam.store.type \"etcd\": this ipam-cni was built without "
					 "etcd (the etcd store needs libcurl at build time)");
#endif
	}
	ipam_file_store_options_init(&fo);
	fo.durability = c->durability;
	fo.scope = scope;
	r = ipam_store_file_new(out, c->store_dir, &fo);
	if (r < 0)
		return ipam_netconf_fail(err, r == -ENOMEM ? IPAM_CNI_ERR_INTERNAL : IPAM_CNI_ERR_IO,
					 "ipam.store.dir", "cannot open the store: %s (%s)",
					 *ipam_last_error_message() ? ipam_last_error_message()
								    : ipam_strerror(r),
					 ipam_errname(r));
	return 0;
}

int cni_store_save_definition(ipam_store *st, const ipam_netconf *c, const ipam_poolset *set,
			      ipam_netconf_error *err)
{
	if (!cni_store_is_etcd(c))
		return ipam_netconf_save(c, set, c->store_dir, err);
#if IPAM_CNI_HAVE_ETCD
	{
		char key[IPAM_NAME_MAX + sizeof(IPAM_NETCONF_ETCD_DEFINITION) + 2];
		char *text = ipam_netconf_dump(c, set), *old = NULL;
		size_t len, olen = 0;
		int r;

		if (!text)
			return ipam_netconf_fail(err, IPAM_CNI_ERR_INTERNAL, "", "out of memory");
		len = strlen(text);
		snprintf(key, sizeof(key), "%s/%s", c->name, IPAM_NETCONF_ETCD_DEFINITION);
		r = ipam_etcd_get(st, key, &old, &olen, NULL);
		if (r == 0 && olen == len && memcmp(old, text, len) == 0)
			r = 1; /* unchanged */
		else if (r == 0 || r == -ENOENT)
			r = ipam_etcd_put(st, key, text, len);
		free(old);
		free(text);
		if (r < 0)
			return ipam_netconf_fail(err, r == -EAGAIN ? IPAM_CNI_ERR_AGAIN : IPAM_CNI_ERR_IO,
						 "ipam.store", "cannot keep the definition in etcd: %s",
						 ipam_etcd_last_error_message());
		return 0;
	}
#else
	(void)st;
	return 0;
#endif
}

ipam_poolset *cni_store_saved_set(const ipam_netconf *c)
{
	ipam_netconf *saved = NULL;
	ipam_netconf_error e;
	ipam_poolset *set = NULL;

	if (!cni_store_is_etcd(c)) {
		if (ipam_netconf_load(c->store_dir, c->name, &saved, &e) < 0)
			return NULL;
	} else {
#if IPAM_CNI_HAVE_ETCD
		char key[IPAM_NAME_MAX + sizeof(IPAM_NETCONF_ETCD_DEFINITION) + 2];
		ipam_store *st = NULL;
		char *text = NULL;
		size_t len = 0;
		if (open_etcd(c, &st, &e) < 0)
			return NULL;
		snprintf(key, sizeof(key), "%s/%s", c->name, IPAM_NETCONF_ETCD_DEFINITION);
		if (ipam_etcd_get(st, key, &text, &len, NULL) == 0)
			(void)ipam_netconf_parse(text, len, &saved, &e);
		free(text);
		ipam_store_free(st);
#endif
	}
	if (saved && strcmp(saved->name, c->name) == 0)
		set = ipam_netconf_take_set(saved);
	ipam_netconf_free(saved);
	return set;
}
