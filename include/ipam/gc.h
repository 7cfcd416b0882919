/* SPDX-License-Identifier: MIT */
#ifndef IPAM_GC_H
#define IPAM_GC_H

/*
 * Garbage collection of zombie addresses: leases whose owner is gone (the
 * pod was deleted and its DEL lost, its node lost power, the runtime
 * crashed between steps).
 *
 * A pass copies the bound leases of a pool set, asks a liveness *oracle*
 * about each (alive, dead or unknown) outside every lock, then acts:
 * - dead for the first time: the lease is marked suspect (persisted in the
 *   lease, so short-lived processes such as a CNI plugin can run passes);
 * - dead again, suspect for at least `grace`: reclaimed;
 * - alive while suspect: the mark is cleared.
 * Every action is an ordinary commit pinned to the generation the oracle
 * judged, so a lease rebound or renewed meanwhile is left alone (reported
 * as a conflict). An action takes the judged lease together with its
 * siblings (the owner's leases of the same ifname and attachment in the
 * other pools, changed by the same commits), so a dual-stack owner never
 * keeps one family and loses the other. Leases younger than `min_age` are never touched: their
 * pod may not be visible to the oracle yet.
 *
 * Oracle contract: it is called from the thread running ipam_gc(), never
 * with a library lock held; it may be slow; it may call the library's
 * read functions (lookups, iteration, statistics) but not its writes,
 * which fail with -EDEADLK from inside an oracle call. If an oracle
 * function returns an error, the pass stops: nothing further is changed
 * and the report says what was done before.
 */

#include <stddef.h>
#include <stdint.h>

#include <ipam/ctx.h>
#include <ipam/lease.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IPAM_GC_ORACLE_VERSION 1

typedef enum ipam_gc_verdict {
	IPAM_GC_ALIVE = 0,
	IPAM_GC_DEAD = 1,
	IPAM_GC_UNKNOWN = 2 /* no opinion: the lease is left as it is */
} ipam_gc_verdict;

typedef struct ipam_gc_oracle {
	int version; /* IPAM_GC_ORACLE_VERSION */
	const char *name;
	void *ud;
	/* ---- version 1 ---- */
	/* Judge one lease at unix time now: a verdict, or a negative code
	 * that stops the pass. Used when judge_batch is NULL. */
	int (*judge)(void *ud, const ipam_lease *lease, int64_t now);
	/* Judge n leases at once into verdicts[]: 0 or a negative code. */
	int (*judge_batch)(void *ud, const ipam_lease *leases, unsigned n, int *verdicts, int64_t now);
	/* Optional: 1 if the node is alive, 0 if dead, negative to stop. With
	 * policy.dead_node_suspects a dead node's leases count as dead. */
	int (*node_alive)(void *ud, const char *node, int64_t now);
	/* Optional: free what the oracle holds (ipam_gc_oracle_free). */
	void (*destroy)(void *ud);
} ipam_gc_oracle;

struct ipam_gc_entry;

typedef struct ipam_gc_policy {
	size_t size;             /* sizeof(ipam_gc_policy) */
	int64_t min_age;         /* seconds; younger leases are never touched */
	int two_observations;    /* mark suspect first, reclaim on a later pass */
	int64_t grace;           /* seconds a lease stays suspect before reclaim */
	unsigned max_reclaims;   /* reclaim actions per pass (an owner's leases
				  * of one attachment are one action); 0: none */
	int64_t time_budget_ms;  /* per pass; 0: no limit */
	int dry_run;             /* judge and report, change nothing */
	int no_quarantine;       /* reclaimed addresses skip the pool's quarantine */
	int dead_node_suspects;  /* leases on a dead node count as dead */
	/* Leases per judge_batch call (default 256). A call may get more: the
	 * leases of one hash bucket are judged together, never split. */
	unsigned batch;
	const char *pool;        /* one pool only; NULL: every pool of the set */
	int report_alive;        /* list kept-alive leases too (else only counted) */
	/* Optional, called for each lease acted on or skipped, for metrics. */
	void (*on_event)(void *ud, const struct ipam_gc_entry *e);
	void *event_ud;
} ipam_gc_policy;

/* Defaults: min_age 60 s, two observations with a 30 s grace, batches of
 * 256, no limits, not a dry run. */
void ipam_gc_policy_init(ipam_gc_policy *p);

typedef enum ipam_gc_outcome {
	IPAM_GC_RECLAIMED = 0,
	IPAM_GC_KEPT_ALIVE,
	IPAM_GC_MARKED_SUSPECT,
	IPAM_GC_CLEARED_SUSPECT,
	IPAM_GC_IN_GRACE,      /* suspect and dead, grace not over */
	IPAM_GC_TOO_YOUNG,
	IPAM_GC_NO_VERDICT,    /* the oracle said unknown */
	IPAM_GC_SKIPPED_BUDGET,
	IPAM_GC_CONFLICT,      /* changed while judged: left alone */
	IPAM_GC_OUTCOMES
} ipam_gc_outcome;

/* Short name of an outcome ("reclaimed", ...). */
const char *ipam_gc_outcome_name(ipam_gc_outcome o);

typedef struct ipam_gc_entry {
	char pool[64];
	ipam_addr addr;
	char owner[IPAM_OWNER_MAX + 1];
	char ifname[IPAM_IFNAME_MAX + 1];
	char attachment[IPAM_ATTACHMENT_MAX + 1];
	char node[IPAM_NODE_MAX + 1];
	uint64_t generation; /* as judged */
	ipam_gc_outcome outcome;
	int dry_run;         /* the outcome is what would have happened */
	char reason[128];
} ipam_gc_entry;

typedef struct ipam_gc_report {
	uint64_t counts[IPAM_GC_OUTCOMES];
	uint64_t judged;       /* leases given to the oracle */
	uint64_t oracle_calls; /* judge or judge_batch calls */
	int64_t duration_us;
	int stopped;           /* the oracle stopped the pass (error code in status) */
	int status;
	unsigned nentries;
	ipam_gc_entry *entries;
	unsigned cap_entries; /* private */
} ipam_gc_report;

/*
 * Run one pass over set with oracle and policy (NULL: defaults). *report
 * (optional) receives the report, to free with ipam_gc_report_free().
 * Returns 0, the oracle's error if it stopped the pass, or another negative
 * code (then nothing was changed).
 */
int ipam_gc(ipam_ctx *ctx, const char *set, const ipam_gc_oracle *oracle,
	    const ipam_gc_policy *policy, ipam_gc_report **report);

void ipam_gc_report_free(ipam_gc_report *r);

/* ---- built-in oracles ------------------------------------------------------ */

/*
 * The set of valid attachments, as CNI 1.1's GC passes it: a lease is alive
 * if its (attachment, ifname) is in the set, dead otherwise. Add entries
 * with ipam_gc_attachments_add() (ifname NULL: any interface).
 */
int ipam_gc_attachments_new(ipam_gc_oracle **out);
int ipam_gc_attachments_add(ipam_gc_oracle *o, const char *attachment, const char *ifname);

/*
 * Expiry (DHCP-like): a lease with a TTL is dead once expires + hold has
 * passed; during the hold it stays bound, so its last owner gets it back
 * (by renewing or asking again) and nobody else can have it. Leases
 * without a TTL are unknown to this oracle.
 */
int ipam_gc_expiry_new(ipam_gc_oracle **out, int64_t hold_seconds);

/* Free an oracle made by a constructor above. Accepts NULL. */
void ipam_gc_oracle_free(ipam_gc_oracle *o);

#ifdef __cplusplus
}
#endif

#endif /* IPAM_GC_H */
