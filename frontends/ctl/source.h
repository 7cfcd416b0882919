/* SPDX-License-Identifier: MIT */
#ifndef IPAMCTL_SOURCE_H
#define IPAMCTL_SOURCE_H

/*
 * Where ipamctl's state comes from: a store plus the pool sets defined in it.
 *
 * Two ways to name it:
 * - `--store SPEC`: a store URL. `file:DIR` is a file store; its pool sets
 *   are the definitions stored next to it (`DIR/<set>.conf.json`, written
 *   by ipam-cni). `etcd:URL[,URL...][?KEY=VALUE&...]` is the etcd store
 *   (keys: prefix, block-size, ca, cert, key, user, password-file,
 *   timeout-ms; a URL without a scheme is http://); its pool sets are the
 *   definitions ipam-cni keeps under `<prefix>/<set>/definition`. In a
 *   build without the etcd store it is refused with "not built".
 * - `--config FILE`: the CNI network configuration ipam-cni reads; it
 *   names the pool set, its pools and the store. `--store` given as well
 *   overrides the store it names.
 *
 * Ownership: a ctl_source owns the store, the context and a JSON copy of
 * each definition (so a fresh ipam_poolset can be built again, e.g. to
 * attach a set to the store directly for an import).
 */

#include <jansson.h>

#include <ipam/ipam.h>

#include "ipam_config.h"

typedef enum ctl_store_kind {
	CTL_STORE_NONE = 0,
	CTL_STORE_FILE,
	CTL_STORE_ETCD
} ctl_store_kind;

typedef struct ctl_store_spec {
	ctl_store_kind kind;
	char location[4096]; /* file: the directory; etcd: the endpoint list */
	struct ipam_netconf_etcd etcd; /* etcd: every setting (endpoints too) */
} ctl_store_spec;

/* 1 if ipamctl was built with the etcd store. */
int ctl_have_etcd(void);

/* Parse "file:DIR" (or a bare path, taken as a directory),
 * "etcd:URL,...[?KEY=VALUE&...]". 0, or -EINVAL with a one-line message in
 * err. */
int ctl_store_spec_parse(const char *text, ctl_store_spec *out, char *err, size_t n);

typedef struct ctl_set {
	char name[IPAM_NAME_MAX + 1];
	json_t *def;       /* the definition it is built from (owned) */
	int attached;      /* attached to src->ctx */
	int open_err;      /* negative code if attaching failed */
	char open_msg[512];
} ctl_set;

typedef struct ctl_source {
	ctl_store_spec spec;
	ipam_store *store;
	ipam_ctx *ctx;
	unsigned nsets;
	ctl_set *sets;
	char config_path[4096]; /* --config, "" if none */
} ctl_source;

/* Flags of ctl_source_open(). */
#define CTL_SRC_TOLERANT 1u /* record sets that fail to attach instead of failing */
#define CTL_SRC_NO_ATTACH 2u /* load definitions and open the store only */

/*
 * Open the store and definitions named by store_arg / config_arg (either
 * may be NULL, not both), keep only set `only` if non-NULL, and attach the
 * sets to a new context. Returns 0, or a negative code with a one-line
 * message in err (nothing is left open).
 */
int ctl_source_open(ctl_source *src, const char *store_arg, const char *config_arg,
		    const char *only, unsigned flags, char *err, size_t n);

/* Attach every set not attached yet (a new context if there is none). */
int ctl_source_attach(ctl_source *src, unsigned flags, char *err, size_t n);

/* Free the context (detaching every set); the store stays open. */
void ctl_source_detach(ctl_source *src);

/* Build a fresh pool set from the definition of set i. */
int ctl_source_poolset(const ctl_source *src, unsigned i, ipam_poolset **out, char *err,
		       size_t n);

/* Build a pool set from a CNI network configuration (or its ipam section)
 * in memory; *store_hint receives the store it names ("" if none). */
int ctl_poolset_from_config(json_t *conf, ipam_poolset **out, char *store_hint, size_t hn,
			    char *err, size_t n);

/* The shared parser's definition of conf, or -EINVAL with its message. */
int ctl_netconf_from_config(json_t *conf, ipam_netconf **out, char *err, size_t n);

void ctl_source_close(ctl_source *src);

#endif /* IPAMCTL_SOURCE_H */
