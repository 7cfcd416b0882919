/* SPDX-License-Identifier: MIT */
/*
 * ipam-churn: the 1000-pod churn benchmark (bench/churn/README in
 * /work/shared/SCENARIOS.md terms), shared declarations.
 *
 * Structure, one concept per file:
 *   args.c    command line
 *   arena.c   the shared-memory arena (pods, work queue, counters) that
 *             threads and forked worker processes use alike
 *   cluster.c pod identities, the API-server stand-in, phase transitions,
 *             the GC oracle
 *   worker.c  the runtime: ADD / DEL with retry and backoff
 *   gcloop.c  periodic and on-exhaustion GC
 *   check.c   invariants
 *   run.c     one back end: store, context, workers, phases, sampling
 *   report.c  tables, CSV, plot
 *   main.c    one forked child per back end, side-by-side results
 *   cni.c     the cni:PATH back end: one exec of a CNI IPAM plugin per ADD,
 *             DEL and GC, as a runtime calls it
 *   cnistore.c  (with jansson) ipam-cni's file store opened through the
 *             library for the invariants
 *   etcd.c    (with the etcd store) etcd:ENDPOINTS, and etcd-launch: a
 *             throwaway etcd started and stopped here
 */
#ifndef CHURN_H
#define CHURN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <ipam/ipam.h>

#define CHURN_SET "churn"
#define CHURN_NS "churn"
#define CHURN_MAX_RUNS 16
#define CHURN_MAX_WORKERS 64

enum phase { PH_CREATE = 0, PH_REBUILD, PH_POWEROFF, PH_DELETE, PH_COUNT };

enum backend_kind { BK_MEMORY = 0, BK_FILE, BK_FILE_PROCS, BK_CNI, BK_ETCD, BK_ETCD_LAUNCH };

enum oracle_kind { OR_POD = 0, OR_SANDBOX };

struct run_spec {
	enum backend_kind kind;
	char dir[512]; /* file: directory; cni: plugin path; etcd: endpoints */
	int coarse;
	char prefix[96]; /* etcd key prefix (set by run_backend) */
	char label[64]; /* "memory/fine" */
	char tag[64];   /* file-name safe: "r0-memory-fine" */
};

struct config {
	unsigned pods, nodes, workers;
	int dual;
	double ratio;
	uint64_t pool_size; /* pods * ratio, per family */
	unsigned gc_interval_ms, gc_min_gap_ms;
	int64_t gc_min_age_s, gc_grace_s;
	int gc_two_obs;
	enum oracle_kind oracle;
	unsigned phases; /* bit per enum phase */
	unsigned del_delay_ms;
	double lost_dels;
	ipam_durability durability;
	unsigned phase_timeout_s;
	unsigned check_ms, tick_ms;
	unsigned retry_base_ms, retry_max_ms;
	uint64_t seed;
	const char *csv_dir;
	const char *plot_file;
	int quiet;
	unsigned nruns;
	struct run_spec runs[CHURN_MAX_RUNS];
};

/* Parse argv into *c. Returns 0, 1 for --help (printed), or 2 after
 * printing a one-line error. */
int churn_args(struct config *c, int argc, char **argv);

/* ---- results, written by a run's process into shared memory ------------------ */

struct phase_result {
	int ran;
	int ok;            /* completed within the timeout */
	int status;        /* as struct run_result's, for this phase */
	double wall_ms;
	unsigned pods_done; /* pods Running (gone, for delete) at the end */
	uint64_t adds, leases, conflicts, lib_retries, gave_up;
	uint64_t retries, exh_waits, gc_passes, reclaims, rebinds, releases, stale;
	double p50_us, p99_us;
	long maxrss_kb;
	uint64_t checks, skipped_checks;
};

struct run_result {
	int status; /* 0 ok, 1 invariant violated, 2 error, 3 a phase timed out,
		     * 4 skipped (etcd-launch without an etcd binary) */
	char why[256];
	struct phase_result ph[PH_COUNT];
};

/* ---- the shared arena ------------------------------------------------------------ */

enum pod_state { POD_NONE = 0, POD_PENDING, POD_RUNNING };

struct pod {
	int state;       /* enum pod_state; NONE: the pod does not exist */
	unsigned gen;    /* name generation (rebuild makes new pods) */
	unsigned inc;    /* sandbox incarnation */
	unsigned epoch;  /* bumped on every change of this record */
	int terminating; /* a DEL for its last sandbox is queued */
	ipam_addr addr[2];
};

enum job_kind { JOB_ADD = 1, JOB_DEL = 2 };

struct job {
	int64_t due_ns;
	uint64_t seq;
	int kind;
	unsigned slot, gen, inc, attempts;
	int counted; /* a DEL that the delete phase waits for */
};

struct arena {
	pthread_mutex_t mu; /* pods, queue, inflight (process-shared) */
	pthread_cond_t qcond;
	pthread_cond_t gccond;
	int quit;
	int gc_kick;
	int fatal;
	char fatal_msg[256];
	unsigned running, pending_dels, inflight;
	int64_t last_change_ns; /* when running or pending_dels last changed */
	uint64_t seq;
	/* runtime counters */
	_Atomic uint64_t adds, retries, exh_waits, releases, stale;
	_Atomic uint64_t gc_passes, reclaims, gc_conflicts;
	_Atomic unsigned lat_n;
	/* ctx counters of each worker process (file-procs) */
	ipam_ctx_stats wstats[CHURN_MAX_WORKERS];
	long wrss_kb[CHURN_MAX_WORKERS];
	_Atomic unsigned ready;
	/* variable parts (offsets from the arena start) */
	unsigned npods, qcap, qlen, latcap;
	size_t size;
	struct pod *pods;
	struct job *queue;
	double *lat;
};

struct arena *arena_new(const struct config *c);
void arena_free(struct arena *a);
void arena_lock(struct arena *a);
void arena_unlock(struct arena *a);
/* With the lock held: queue a job (wakes a worker). */
void queue_push_locked(struct arena *a, struct job *j);
/* Wait for a due job; marks it in flight. -1 when quitting. */
int queue_pop(struct arena *a, struct job *out);
/* Record a fatal error (first one wins) and wake everybody. */
void arena_fatal(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void arena_kick_gc(struct arena *a);

int64_t now_ns(void);
uint64_t mix64(uint64_t x);
/* Uniform in [0, 1) from a hash state. */
double unit_rand(uint64_t *state);

/* ---- cluster: identities, phases, oracle -------------------------------------- */

void pod_owner(unsigned slot, unsigned gen, char *buf, size_t size);
void pod_uid(const struct config *c, unsigned slot, unsigned gen, char *buf, size_t size);
void pod_sandbox(const struct config *c, unsigned slot, unsigned gen, unsigned inc, char *buf,
		 size_t size);
const char *pod_node(unsigned slot, unsigned nodes, char *buf, size_t size);
/* Parse an owner / sandbox back; 0 or -1. */
int parse_owner(const char *owner, unsigned *slot, unsigned *gen);
int parse_sandbox(const char *sb, unsigned *slot, unsigned *gen, unsigned *inc);

/* Start phase p (with the arena lock taken inside). Returns the pods it
 * concerns. */
unsigned cluster_start_phase(const struct config *c, struct arena *a, enum phase p, int64_t t0);
/* Pods that exist. */
unsigned cluster_existing(struct arena *a);

struct oracle_ud {
	const struct config *c;
	struct arena *a;
};
void cluster_oracle(ipam_gc_oracle *o, struct oracle_ud *ud);
void gc_policy(const struct config *c, ipam_gc_policy *p);

/* ---- runtime workers and GC ---------------------------------------------------- */

struct cni_backend;

struct worker_args {
	const struct config *c;
	struct arena *a;
	ipam_ctx *ctx;
	unsigned id;
	int publish_stats; /* file-procs: copy ctx stats to the arena */
	struct cni_backend *cni; /* cni: exec the plugin instead of ctx */
};
void worker_loop(struct worker_args *w);
void *worker_thread(void *arg);

struct gc_args {
	const struct config *c;
	struct arena *a;
	ipam_ctx *ctx;
	struct cni_backend *cni;
};
void *gc_thread(void *arg);
/* One pass now (outside the periodic loop): the library's GC on ctx, or
 * the plugin's GC verb (nothing when it has none). 0 or a negative code. */
int gc_pass(const struct config *c, struct arena *a, ipam_ctx *ctx, struct cni_backend *cni);

/* ---- cni:PATH ------------------------------------------------------------------- */

/* Probe the plugin (VERSION), make its data directory and configuration.
 * 0, or -1 with why. */
int cni_open(struct cni_backend **out, const struct config *c, const char *plugin, char *why,
	     size_t size);
/* Remove the data directory and free. Accepts NULL. */
void cni_close(struct cni_backend *b);
int cni_has_gc(const struct cni_backend *b);
const char *cni_datadir(const struct cni_backend *b);
const char *cni_version(const struct cni_backend *b);
/* One ADD for the pod's sandbox: 0 with out[f] per family (*n of them),
 * -ENOSPC (exhausted), -EAGAIN (try again), or another negative code with
 * cni_last_error(). */
int cni_add(struct cni_backend *b, unsigned slot, unsigned gen, unsigned inc, ipam_addr out[2],
	    unsigned *n);
int cni_del(struct cni_backend *b, unsigned slot, unsigned gen, unsigned inc);
/* The GC verb with every existing pod's current sandbox as valid. 0, 1
 * when the plugin has no GC, negative on failure. ADD and DEL wait. */
int cni_gc(struct cni_backend *b, struct arena *a);
const char *cni_last_error(void);
/* The library's view of the plugin's store, for the invariants: NULL until
 * the plugin saved its definition (<dataDir>/<name>.conf.json, ipam-cni),
 * or always without jansson. Opened lazily, kept until cni_close(). */
ipam_ctx *cni_check_ctx(struct cni_backend *b);
/* host-local: addresses reserved in <dataDir>/<name>/ (one file each), or
 * -1 if there is no such directory. */
int cni_leftover(const struct cni_backend *b);
/* Pool names per family in that store. */
const char *cni_pool_name(const struct cni_backend *b, unsigned f);
/* cnistore.c: open dir's <name>.conf.json and the file store; 1 if there
 * is no definition, 0, or negative with why. */
int cni_store_open(const char *dir, const char *name, ipam_store **st, ipam_ctx **ctx, char *why,
		   size_t size);

/* ---- etcd ----------------------------------------------------------------------- */

/* etcd.c: a store on endpoints under prefix; 0 or a negative code (why). */
int churn_etcd_store(const char *endpoints, const char *prefix, ipam_store **out, char *why,
		     size_t size);
/* Start a throwaway etcd; 0 with url (client URL) set, 1
 * when there is no etcd binary, -1 on failure (why). */
struct churn_etcd;
int churn_etcd_launch(struct churn_etcd **out, char *url, size_t urlsize, char *why, size_t size);
void churn_etcd_stop(struct churn_etcd *e);

/* ---- invariants ------------------------------------------------------------------- */

struct checker;
struct checker *checker_new(const struct config *c);
/* Pool names per family (default "v4", "v6"). */
void checker_pools(struct checker *k, const char *p0, const char *p1);
void checker_free(struct checker *k);
/* 0 clean, 1 violated (printed, with why), 2 skipped pods only; negative:
 * error. final: every existing pod must be Running. ctx NULL (a CNI
 * plugin whose store cannot be read): the runtime's records only. */
int check_invariants(struct checker *k, struct arena *a, ipam_ctx *ctx, int final, char *why,
		     size_t size, uint64_t *skipped);
/* After delete and a GC pass: nothing leased, every address free. */
int check_all_free(struct checker *k, ipam_ctx *ctx, char *why, size_t size);

/* ---- running one back end ------------------------------------------------------- */

int make_poolset(const struct config *c, ipam_poolset **out);
/* First address of family f's range (0: v4 pool "v4", 1: v6 pool "v6"). */
void pool_first(unsigned f, ipam_addr *out);
int run_backend(const struct config *c, const struct run_spec *rs, struct run_result *res);

/* ---- output ---------------------------------------------------------------------- */

extern const char *const phase_names[PH_COUNT];
void report_header(const struct config *c);
void report_tables(const struct config *c, const struct run_result *res);
/* Write one series as CSV (ms,running). */
int report_csv(const char *dir, const char *tag, enum phase p, const int64_t *ms,
	       const unsigned *running, unsigned n);
void report_plot(const struct config *c, const char *csv_dir);

#endif /* CHURN_H */
