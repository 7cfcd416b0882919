/* SPDX-License-Identifier: MIT */
#ifndef IPAM_CNI_H
#define IPAM_CNI_H

/*
 * ipam-cni internals: one process per CNI call. cni_main.c reads the
 * environment and stdin and prints the answer; cni_request.c parses what a
 * call carries besides the network (CNI_ARGS, requested addresses,
 * prevResult, valid attachments); cni_verbs.c runs the verbs against
 * libipam; cni_result.c builds results in the version asked for.
 *
 * Every function reports failure as -1 with an ipam_netconf_error whose
 * code is the CNI error code to print. The parsers (cni_request.c) touch no
 * files and no store, so the fuzz target runs them in-process.
 */
#include <jansson.h>

#include <ipam/ipam.h>

#include "ipam_config.h"

/* Spec versions answered, oldest first; index = cni_version value. */
enum { CNI_V030 = 0, CNI_V031, CNI_V040, CNI_V100, CNI_V110, CNI_NVERSIONS };
extern const char *const cni_versions[CNI_NVERSIONS];

/* Index of a supported version text, or -1. */
int cni_version_index(const char *v);

/* Most exact addresses one call may request. */
#define CNI_MAX_IPS IPAM_NETCONF_MAX_POOLS

typedef struct cni_env {
	const char *command;     /* CNI_COMMAND */
	const char *containerid; /* CNI_CONTAINERID */
	const char *netns;       /* CNI_NETNS */
	const char *ifname;      /* CNI_IFNAME */
	const char *args;        /* CNI_ARGS */
} cni_env;

typedef struct cni_args {
	char pod_namespace[IPAM_OWNER_MAX + 1];
	char pod_name[IPAM_OWNER_MAX + 1];
	char pod_uid[IPAM_ATTR_VALUE_MAX + 1];
	unsigned nips; /* requested addresses: CNI_ARGS IP=, args.cni.ips, runtimeConfig.ips */
	ipam_addr ips[CNI_MAX_IPS];
} cni_args;

/* CNI_ARGS ("K=V;K=V") into a: K8S_POD_NAMESPACE, K8S_POD_NAME, K8S_POD_UID
 * and IP (one address or a comma-separated list). Other keys are ignored.
 * Code 4 on a malformed pair or address. */
int cni_parse_env_args(const char *s, cni_args *a, ipam_netconf_error *err);

/* args.cni.ips and runtimeConfig.ips of the network configuration, appended
 * to a->ips (duplicates dropped). runtimeConfig.ipRanges is refused (code
 * 2): a network's pools are fixed by its configuration. */
int cni_parse_request_ips(const json_t *root, cni_args *a, ipam_netconf_error *err);

/* The addresses of prevResult.ips[] (code 7 if prevResult is missing or
 * malformed). *n: room on entry, count on return. */
int cni_parse_prev_ips(const json_t *root, ipam_addr *out, unsigned *n, ipam_netconf_error *err);

/* cni.dev/valid-attachments (or the 1.1.0 tag's cni.dev/attachments) into
 * the oracle: every {containerID, ifname} entry. Code 7 if neither key is
 * present or an entry is malformed. */
int cni_parse_attachments(const json_t *root, ipam_gc_oracle *oracle, ipam_netconf_error *err);

/* Checks of the runtime's identifiers (code 4, naming the variable). */
int cni_check_containerid(const char *id, ipam_netconf_error *err);
int cni_check_ifname(const char *ifname, ipam_netconf_error *err);

/* One call, parsed. */
typedef struct cni_call {
	cni_env env;
	int version;          /* CNI_V* of the configuration */
	json_t *root;         /* the network configuration */
	ipam_netconf *conf;
	cni_args args;
} cni_call;

/* The store of ipam.store (cni_store.c): file, or etcd when built with it
 * (else code 2). */
int cni_store_is_etcd(const ipam_netconf *c);

/* Make libipam allocate from a per-process arena (cni_arena.c); not in
 * sanitizer builds. */
void cni_arena_install(void);
/* 1 when the arena is in use: the process's memory is one unit that exit
 * returns, so the session need not free its state record by record. */
int cni_arena_active(void);
/* The arena's blocks (size known on release; ud unused). */
void *cni_arena_alloc(size_t size, void *ud);
void cni_arena_release(void *ptr, size_t size, void *ud);

/* The musl build (IPAM_CNI_ETCD_HANDOVER): exec ipam-cni-etcd beside this
 * program with the same environment and `in` as its stdin (cni_handover.c).
 * Returns only on failure, -1 with err set. */
int cni_handover_etcd(const char *in, size_t len, ipam_netconf_error *err);
int cni_store_open(const ipam_netconf *c, const ipam_file_store_scope *scope, ipam_store **out,
		   ipam_netconf_error *err);
/* The normalised definition: <dir>/<name>.conf.json (file) or
 * <prefix>/<name>/definition (etcd), written when it changed. */
int cni_store_save_definition(ipam_store *st, const ipam_netconf *c, const ipam_poolset *set,
			      ipam_netconf_error *err);
/* The pool set of the definition kept with the store for network c (the
 * last one an ADD went through with), or NULL if none can be read. */
ipam_poolset *cni_store_saved_set(const ipam_netconf *c);
/* The store library's own message about failure r ("" if none). */
const char *cni_store_detail(const ipam_netconf *c, int r);

/* The verbs. ADD sets *result (the JSON to print); the others print
 * nothing on success. */
int cni_cmd_add(cni_call *call, json_t **result, ipam_netconf_error *err);
int cni_cmd_del(cni_call *call, ipam_netconf_error *err);
int cni_cmd_check(cni_call *call, ipam_netconf_error *err);
int cni_cmd_gc(cni_call *call, ipam_netconf_error *err);
int cni_cmd_status(cni_call *call, ipam_netconf_error *err);

/* The ADD result in version v: ips (one lease per group, in group order),
 * routes, dns (from resolv.conf, if configured). */
int cni_result_build(const cni_call *call, const ipam_poolset *set, const ipam_lease *leases,
		     unsigned n, json_t **out, ipam_netconf_error *err);

#endif
