/* SPDX-License-Identifier: MIT */
/*
 * ipam-cni's store, read through the library for the invariants: the
 * definition the plugin saved (<dataDir>/<name>.conf.json, read with
 * ipam_netconf_load()) and its file store in the same directory. This
 * process only reads (ipam_foreach_lease, ipam_verify, pool stats); each
 * call refreshes the view from the files the plugin processes write.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "churn.h"
#include "ipam_config.h"

int cni_store_open(const char *dir, const char *name, ipam_store **st, ipam_ctx **ctx, char *why,
		   size_t size)
{
	char path[600];
	ipam_netconf *nc = NULL;
	ipam_netconf_error err = { 0 };
	ipam_file_store_options fo;
	ipam_poolset *set;
	int r;

	*st = NULL;
	*ctx = NULL;
	snprintf(path, sizeof(path), "%s/%s.conf.json", dir, name);
	if (access(path, R_OK) != 0)
		return 1;
	if (ipam_netconf_load(dir, name, &nc, &err) < 0) {
		snprintf(why, size, "%s: %s", path, err.msg);
		return -EINVAL;
	}
	ipam_file_store_options_init(&fo);
	fo.durability = IPAM_DURABILITY_NONE; /* never writes */
	if ((r = ipam_store_file_new(st, nc->store_dir, &fo)) < 0 ||
	    (r = ipam_ctx_new(ctx, *st, NULL)) < 0) {
		snprintf(why, size, "open %s: %s: %s", nc->store_dir, ipam_errname(r),
			 ipam_last_error_message());
		goto fail;
	}
	set = ipam_netconf_take_set(nc);
	if ((r = set ? ipam_ctx_add_poolset(*ctx, set) : -EINVAL) < 0) {
		ipam_poolset_free(set);
		snprintf(why, size, "load %s from %s: %s: %s", name, nc->store_dir, ipam_errname(r),
			 ipam_last_error_message());
		goto fail;
	}
	ipam_netconf_free(nc);
	return 0;
fail:
	*ctx = ipam_ctx_free(*ctx);
	*st = ipam_store_free(*st);
	ipam_netconf_free(nc);
	return r < 0 ? r : -EINVAL;
}
