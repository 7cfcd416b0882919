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

enum backend_kind { BK_MEMORY = 0, BK_FILE, BK_FILE_PROCS };

enum oracle_kind { OR_POD = 0, OR_SANDBOX };

struct run_spec {
	enum backend_kind kind;
	char dir[512];
	int coarse;
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
	int status; /* 0 ok, 1 invariant violated, 2 error, 3 a phase timed out */
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

struct worker_args {
	const struct config *c;
	struct arena *a;
	ipam_ctx *ctx;
	unsigned id;
	int publish_stats; /* file-procs: copy ctx stats to the arena */
};
void worker_loop(struct worker_args *w);
void *worker_thread(void *arg);

struct gc_args {
	const struct config *c;
	struct arena *a;
	ipam_ctx *ctx;
};
void *gc_thread(void *arg);
/* One pass now (outside the periodic loop). 0 or a negative code. */
int gc_pass(const struct config *c, struct arena *a, ipam_ctx *ctx);

/* ---- invariants ------------------------------------------------------------------- */

struct checker;
struct checker *checker_new(const struct config *c);
void checker_free(struct checker *k);
/* 0 clean, 1 violated (printed, with why), 2 skipped pods only; negative:
 * error. final: every existing pod must be Running. */
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
