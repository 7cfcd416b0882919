/* SPDX-License-Identifier: MIT */
#ifndef IPAM_FRONTEND_CONFIG_H
#define IPAM_FRONTEND_CONFIG_H

/*
 * Network configuration shared by the front ends (ipam-cni, ipamctl): a CNI
 * network configuration, or the IPAM part of it, turned into a libipam pool
 * set plus the settings that are not pools (store, routes, resolv.conf, GC
 * policy, node name, owner mode).
 *
 * The accepted keys are host-local's (`ranges` of range sets, the older
 * single range directly in `ipam`, `routes`, `dataDir`, `resolvConf`) plus
 * the extensions documented in frontends/cni/README.md. One range set is one
 * *group* of pools: the CNI result carries one address per group. A range
 * set whose ranges lie in several subnets becomes one pool per subnet (a
 * libipam pool has one subnet); an ADD takes the address from the first pool
 * of the group with room, or from the pool where the owner already holds one.
 *
 * The normalised definition (every default made explicit) is itself a valid
 * configuration: ipam_netconf_to_json() writes it, ipam_netconf_from_json()
 * reads it back into an equal definition. ipam_netconf_save() keeps it next
 * to the store as <dir>/<name>.conf.json, so a tool can open the store later
 * without the runtime's configuration.
 *
 * Errors are reported in an ipam_netconf_error: a CNI error code (2
 * unsupported field, 5 I/O failure, 6 decode failure, 7 invalid network
 * configuration), the field's path ("ipam.ranges[0][1].subnet") and a full
 * sentence naming the field, the value and the problem. Nothing here prints,
 * exits, or keeps global state; every function may run on any thread.
 */

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <ipam/ipam.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Version of the persisted definition (the "ipamConfVersion" key). */
#define IPAM_NETCONF_FORMAT 1
/* Limits of one network. */
#define IPAM_NETCONF_MAX_POOLS 16 /* libipam allocates from at most 16 pools at once */
#define IPAM_NETCONF_MAX_ROUTES 64
/* Largest configuration accepted, in bytes. */
#define IPAM_NETCONF_MAX_INPUT ((size_t)1 << 20)
/* Where the file store lives when neither store.dir nor dataDir is given. */
#define IPAM_NETCONF_DEFAULT_DIR "/var/lib/cni/ipam-cni"

/* The etcd store (ipam.store.type "etcd"). */
#define IPAM_NETCONF_ETCD_MAX_ENDPOINTS 16
#define IPAM_NETCONF_ETCD_DEFAULT_PREFIX "/ipam"
#define IPAM_NETCONF_ETCD_DEFAULT_TIMEOUT_MS 5000
/* Key of a pool set's normalised definition, relative to the etcd prefix:
 * "<set>/definition" (docs/etcd-layout.md). */
#define IPAM_NETCONF_ETCD_DEFINITION "definition"

/* Quarantine of a released address (seconds, soft) unless reuseDelay says. */
#define IPAM_NETCONF_DEFAULT_REUSE_DELAY 60

/* CNI error codes used by the front ends (SPEC.md, "Error codes"). */
enum {
	IPAM_CNI_ERR_VERSION = 1,     /* incompatible CNI version */
	IPAM_CNI_ERR_UNSUPPORTED = 2, /* unsupported field in the network configuration */
	IPAM_CNI_ERR_UNKNOWN = 3,     /* container unknown or does not exist */
	IPAM_CNI_ERR_ENV = 4,         /* invalid necessary environment variables */
	IPAM_CNI_ERR_IO = 5,          /* I/O failure */
	IPAM_CNI_ERR_DECODE = 6,      /* failed to decode content */
	IPAM_CNI_ERR_CONFIG = 7,      /* invalid network configuration */
	IPAM_CNI_ERR_AGAIN = 11,      /* try again later */
	IPAM_CNI_ERR_STATUS = 50,     /* STATUS: the plugin cannot serve ADD */
	/* Plugin-specific codes (100 and up, as the specification allows). */
	IPAM_CNI_ERR_EXHAUSTED = 100, /* no free address in a pool */
	IPAM_CNI_ERR_ADDRESS = 101,   /* a requested address cannot be had */
	IPAM_CNI_ERR_CHECK = 102,     /* CHECK: leases differ from prevResult */
	IPAM_CNI_ERR_INTERNAL = 103   /* anything else (out of memory, ...) */
};

typedef struct ipam_netconf_error {
	int code;       /* IPAM_CNI_ERR_*; 0 when nothing failed */
	char field[96]; /* path of the offending field, "" if none */
	char msg[512];  /* full sentence */
} ipam_netconf_error;

/* Record an error (printf-style message); returns -1 for convenience. */
int ipam_netconf_fail(ipam_netconf_error *err, int code, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

typedef enum ipam_netconf_owner_mode {
	/* "namespace/name" when CNI_ARGS names a Kubernetes pod, else the
	 * container id (default). */
	IPAM_NETCONF_OWNER_POD = 0,
	/* Always the container id: no rebinding across sandboxes. */
	IPAM_NETCONF_OWNER_CONTAINER
} ipam_netconf_owner_mode;

typedef struct ipam_netconf_route {
	ipam_prefix dst; /* as given: host bits kept, as host-local prints them */
	ipam_addr gw;    /* family 0: none */
} ipam_netconf_route;

typedef struct ipam_netconf {
	char name[IPAM_NAME_MAX + 1]; /* network name = pool set name */
	ipam_poolset *set;            /* owned; NULL after ipam_netconf_take_set() */
	unsigned npools;              /* pools of set, in set order */
	unsigned ngroups;             /* range sets: one address each per ADD */
	unsigned pool_group[IPAM_NETCONF_MAX_POOLS]; /* group of pool i */
	/* store */
	char store_type[16];          /* "file" or "etcd" */
	char store_dir[PATH_MAX];     /* file: store.dir, else dataDir, else the default */
	ipam_durability durability;   /* file */
	struct ipam_netconf_etcd {    /* etcd (store_type "etcd") */
		char endpoints[1024]; /* comma-separated URLs, as ipam_etcd_options wants */
		char prefix[256];     /* "/ipam", without a trailing '/' */
		unsigned block_size;  /* 64, 128 or 256 */
		char ca_file[PATH_MAX], cert_file[PATH_MAX], key_file[PATH_MAX]; /* "" for none */
		char username[128];   /* "" for no authentication */
		char password[256];   /* given inline ("password"); never written back */
		char password_file[PATH_MAX]; /* or read from this file at open */
		unsigned timeout_ms;  /* whole-request timeout per endpoint */
	} etcd;
	/* result decoration */
	char resolv_conf[PATH_MAX];   /* "" for none */
	unsigned nroutes;
	ipam_netconf_route routes[IPAM_NETCONF_MAX_ROUTES];
	/* policies */
	char node[IPAM_NODE_MAX + 1]; /* "" for the host name */
	ipam_netconf_owner_mode owner_mode;
	int64_t gc_min_age;           /* seconds, for oracles that can lag (ipamctl) */
	int64_t gc_grace;             /* seconds; 0: reclaim on first sight */
	/* Pools as written (kept for the normalised definition). */
	ipam_policy policy;
	uint32_t reuse_delay;         /* quarantine seconds, 0: none */
	int reuse_hard;               /* IPAM_QUARANTINE_HARD */
} ipam_netconf;

/*
 * Build a definition from a network configuration object (the document a
 * CNI runtime writes on a plugin's stdin: "name", "cniVersion", "ipam", ...).
 * Keys outside "name" and "ipam" are not looked at; unknown keys inside
 * "ipam" are ignored, as host-local does. Returns 0 with *out set (free it
 * with ipam_netconf_free()), or -1 with *err filled.
 */
int ipam_netconf_from_json(const json_t *netconf, ipam_netconf **out, ipam_netconf_error *err);

/* As ipam_netconf_from_json() on len bytes of JSON text (at most
 * IPAM_NETCONF_MAX_INPUT; duplicate keys are refused as ambiguous). */
int ipam_netconf_parse(const char *text, size_t len, ipam_netconf **out, ipam_netconf_error *err);

/* Free a definition and the pool set it still owns. Accepts NULL. */
ipam_netconf *ipam_netconf_free(ipam_netconf *c);

/* Hand the pool set over (to ipam_ctx_add_poolset()); c keeps the rest. */
ipam_poolset *ipam_netconf_take_set(ipam_netconf *c);

/* Group of the pool named pool, or -1. */
int ipam_netconf_pool_group(const ipam_netconf *c, const ipam_poolset *set, const char *pool);

/*
 * The normalised definition as a network configuration object: every
 * range with its rangeStart, rangeEnd and gateway, the store, the policies.
 * Must be called before ipam_netconf_take_set(), or with the set that was
 * taken (set != NULL overrides c->set). NULL on out of memory.
 */
json_t *ipam_netconf_to_json(const ipam_netconf *c, const ipam_poolset *set);

/*
 * For the etcd store: the password (inline, or the first line of
 * passwordFile) into buf. 0 ("" if no username), or -1 with err (code 5
 * if the file cannot be read).
 */
int ipam_netconf_etcd_password(const struct ipam_netconf_etcd *e, char *buf, size_t size,
			       ipam_netconf_error *err);

/*
 * The normalised definition as text (what ipam_netconf_save() writes, and
 * what ipam-cni keeps under <prefix>/<set>/definition for the etcd store).
 * malloc'ed, or NULL on out of memory.
 */
char *ipam_netconf_dump(const ipam_netconf *c, const ipam_poolset *set);

/*
 * Write the normalised definition to <dir>/<name>.conf.json (0600, through
 * a temporary file, fsync and rename) unless the file already holds exactly
 * that text. 0, or -1 with err (code 5).
 */
int ipam_netconf_save(const ipam_netconf *c, const ipam_poolset *set, const char *dir,
		      ipam_netconf_error *err);

/* Read <dir>/<name>.conf.json back. 0, or -1 with err (5: cannot read; 6/7:
 * damaged or invalid). */
int ipam_netconf_load(const char *dir, const char *name, ipam_netconf **out,
		      ipam_netconf_error *err);

#ifdef __cplusplus
}
#endif

#endif /* IPAM_FRONTEND_CONFIG_H */
