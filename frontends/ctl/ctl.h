/* SPDX-License-Identifier: MIT */
#ifndef IPAMCTL_CTL_H
#define IPAMCTL_CTL_H

/*
 * ipamctl: the operator's command line over any libipam store. Shared
 * declarations of the command modules. One process per invocation, one
 * thread; everything the commands print goes through out.c so that tables,
 * colour and JSON follow one set of rules.
 */

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include <ipam/ipam.h>

#include "source.h"

/* Exit codes (documented in ipamctl(1) and `ipamctl help`). */
enum {
	CTL_EXIT_OK = 0,
	CTL_EXIT_FAIL = 1,      /* the operation failed, or check found problems */
	CTL_EXIT_USAGE = 2,     /* bad arguments or bad input (file, JSON, address) */
	CTL_EXIT_REFUSED = 3,   /* a destructive command without --yes / not confirmed */
	CTL_EXIT_NOTFOUND = 4,  /* nothing matched (address, owner, attachment) */
	CTL_EXIT_STORE = 5      /* the store cannot be opened or is damaged */
};

/* Options: one bit each, so a command can say which ones it accepts. */
enum ctl_opt {
	O_STORE, O_CONFIG, O_SET, O_JSON, O_COLOR, O_YES, O_POOL, O_OWNER, O_IFNAME,
	O_NODE, O_STATE, O_OLDER, O_ATTACH, O_GEN, O_NOTE, O_VALID, O_PODS, O_NODES,
	O_EXPIRED, O_HOLD, O_APPLY, O_MINAGE, O_GRACE, O_ONEPASS, O_MAX, O_ALL,
	O_FORMAT, O_OUTPUT, O_NOQUAR, O_COUNT
};
#define OPT(x) (UINT64_C(1) << (x))

typedef struct ctl_args {
	uint64_t seen; /* OPT() bits of the options given */
	const char *store, *config, *set, *pool, *owner, *ifname, *node, *state;
	const char *attachment, *note, *valid, *pods, *nodes, *format, *output;
	int64_t older_than, hold, min_age, grace; /* seconds */
	uint64_t generation;
	unsigned max;
	int json, yes, expired, apply, one_pass, all, no_quarantine;
	int color; /* resolved: 1 colour escapes on stdout */
	int argc;  /* positional arguments after the command */
	char **argv;
} ctl_args;

typedef struct ctl_command {
	const char *name;
	int (*run)(ctl_args *a);
	uint64_t opts; /* accepted options besides the global ones */
	int min_args, max_args;
	const char *synopsis;
	const char *help;
} ctl_command;

/* ---- out.c: printing ------------------------------------------------------ */

/* One-line error "ipamctl: ..." on stderr; returns code. */
int ctl_err(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* As ctl_err, appending the library's last error detail (or strerror). */
int ctl_err_ipam(int code, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

typedef struct ctl_table ctl_table;
ctl_table *ctl_table_new(unsigned ncols, const char *const *headers);
/* Add a row of ncols cells; a cell may carry colour (applied only if on). */
void ctl_table_add(ctl_table *t, const char *const *cells, const char *const *colors);
void ctl_table_print(ctl_table *t, FILE *f, int color);
void ctl_table_free(ctl_table *t);

/* "45s", "3m", "2h", "5d" (rounded down); "-" for a negative age. */
void ctl_fmt_age(int64_t seconds, char *buf, size_t n);
/* Exact below 100000, else "1.2M", "18.4E", "3.4e+38". */
void ctl_fmt_count(ipam_u128 v, char *buf, size_t n);
/* "2026-11-26T21:04:05Z", or "-" for 0. */
void ctl_fmt_time(int64_t t, char *buf, size_t n);
double ctl_u128_double(ipam_u128 v);
/* Colour escape for a lease state ("" when none). */
const char *ctl_state_color(ipam_lease_state s);
#define CTL_RESET "\033[0m"
#define CTL_BOLD "\033[1m"
#define CTL_RED "\033[31m"
#define CTL_GREEN "\033[32m"

/* "10m" / "30s" / "2h" / "1d" / "90" (seconds); -1 if malformed. */
int64_t ctl_parse_duration(const char *s);

/* Lease <-> JSON (the export format's lease object). */
json_t *ctl_lease_json(const ipam_lease *l);
/* Fill *l from o; 0 or -EINVAL with a message in err. */
int ctl_lease_from_json(json_t *o, ipam_lease *l, char *err, size_t n);
json_t *ctl_u128_json(ipam_u128 v);
/* Print a JSON document on stdout (indented, sorted as built). */
void ctl_json_print(json_t *doc);

/* The records of set matching f, sorted by pool name and address; free
 * *out. 0 or a library code. */
int ctl_collect_leases(ipam_ctx *ctx, const char *set, const ipam_lease_filter *f, ipam_lease **out,
		       size_t *n);

/* Parse an address; on failure print a one-line error and return -1. */
int ctl_parse_addr(const char *text, ipam_addr *out);

/* ---- the commands ------------------------------------------------------------ */
int ctl_cmd_pools(ctl_args *a);
int ctl_cmd_leases(ctl_args *a);
int ctl_cmd_show(ctl_args *a);
int ctl_cmd_stats(ctl_args *a);
int ctl_cmd_reserve(ctl_args *a);
int ctl_cmd_unreserve(ctl_args *a);
int ctl_cmd_release(ctl_args *a);
int ctl_cmd_gc(ctl_args *a);
int ctl_cmd_check(ctl_args *a);
int ctl_cmd_compact(ctl_args *a);
int ctl_cmd_export(ctl_args *a);
int ctl_cmd_import(ctl_args *a);
int ctl_cmd_import_host_local(ctl_args *a);

/* Open the source named by --store/--config (all sets, or --set). A failure
 * has been reported; returns a CTL_EXIT_* code. */
int ctl_open(ctl_args *a, ctl_source *src, unsigned flags);

/* The set holding addr among the open sets (its index), or -1 with an
 * error printed. */
int ctl_set_for_addr(ctl_source *src, const ipam_addr *addr);
/* The single set a command acts on (--set, or the only one), or -1. */
int ctl_one_set(ctl_source *src, ctl_args *a);

#endif /* IPAMCTL_CTL_H */
