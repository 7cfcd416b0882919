/* SPDX-License-Identifier: MIT */
/*
 * ipamctl's entry point: global options, the command table with each
 * command's help, and the helpers every command uses to open its source.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"

#define GLOBAL_OPTS (OPT(O_STORE) | OPT(O_CONFIG) | OPT(O_SET) | OPT(O_COLOR))
#define FILTER_OPTS (OPT(O_POOL) | OPT(O_OWNER) | OPT(O_NODE) | OPT(O_STATE) | OPT(O_OLDER))

static const ctl_command commands[] = {
	{ "pools", ctl_cmd_pools, OPT(O_JSON), 0, 0, "pools [--json]",
	  "Every pool of every pool set: allocatable addresses (total), used (bound,\n"
	  "suspect and reserved), quarantined, reserved, free, and the share in use." },
	{ "leases", ctl_cmd_leases, OPT(O_JSON) | FILTER_OPTS, 0, 0,
	  "leases [--pool P] [--owner O] [--node N] [--state S[,S]] [--older-than DUR] [--json]",
	  "List lease records, filtered. States: bound, quarantined, reserved, suspect.\n"
	  "--older-than keeps records created longer ago than DUR (90, 30s, 10m, 2h, 1d)." },
	{ "show", ctl_cmd_show, OPT(O_JSON), 1, 1, "show ADDRESS|OWNER [--json]",
	  "The full record(s) of an address, or every lease of an owner (or, failing\n"
	  "that, of an attachment): generation, state, times, attributes. Exit 4 if\n"
	  "nothing matches." },
	{ "reserve", ctl_cmd_reserve, OPT(O_NOTE), 1, 1, "reserve ADDRESS [--note TEXT]",
	  "Pin a free address so that it is never handed out. The note becomes the\n"
	  "record's owner (default \"ipamctl\"). Exit 1 if it is leased or not\n"
	  "allocatable." },
	{ "unreserve", ctl_cmd_unreserve, 0, 1, 1, "unreserve ADDRESS",
	  "Free an address pinned with reserve. Exit 4 if it is not reserved." },
	{ "release", ctl_cmd_release,
	  OPT(O_YES) | OPT(O_OWNER) | OPT(O_IFNAME) | OPT(O_ATTACH) | OPT(O_GEN) | OPT(O_JSON), 0, 1,
	  "release ADDRESS | --owner O [--ifname I] | --attachment A [--generation G]  --yes",
	  "Release leases (they enter their pool's quarantine). Destructive: needs --yes,\n"
	  "or a typed \"yes\" when stdin is a terminal; otherwise refused with exit 3.\n"
	  "--generation pins the release to a record's generation (compare-and-release).\n"
	  "Exit 4 if nothing was released." },
	{ "gc", ctl_cmd_gc,
	  OPT(O_VALID) | OPT(O_PODS) | OPT(O_NODES) | OPT(O_EXPIRED) | OPT(O_HOLD) | OPT(O_APPLY) |
		  OPT(O_MINAGE) | OPT(O_GRACE) | OPT(O_ONEPASS) | OPT(O_MAX) | OPT(O_ALL) |
		  OPT(O_JSON) | OPT(O_FORMAT) | OPT(O_POOL) | OPT(O_NOQUAR),
	  0, 0,
	  "gc (--valid-attachments FILE | --pods-json FILE [--nodes-json FILE] | --expired [--hold DUR])\n"
	  "   [--apply] [--min-age DUR] [--grace DUR] [--one-pass] [--max N] [--all] [--json|--format prometheus]",
	  "Garbage-collect zombie leases. DRY RUN unless --apply: the report says what\n"
	  "would happen. Oracles:\n"
	  "  --valid-attachments FILE  one \"containerid[/ifname]\" per line (# comments), or\n"
	  "                            a CNI GC config with cni.dev/valid-attachments. The\n"
	  "                            list is authoritative: reclaimed at once (min-age 0,\n"
	  "                            one pass) unless --min-age/--grace say otherwise.\n"
	  "  --pods-json FILE          kubectl get pods -A -o json; with --nodes-json, leases\n"
	  "                            of dead nodes count as dead. Two observations: first\n"
	  "                            pass marks suspects, a later one after --grace reclaims.\n"
	  "  --expired [--hold DUR]    leases whose TTL ran out more than DUR ago.\n"
	  "--one-pass reclaims at first sight; --max caps reclaims; --all lists live leases\n"
	  "too; --format prometheus prints the pass's counters by outcome." },
	{ "check", ctl_cmd_check, OPT(O_JSON), 0, 0, "check [--json]",
	  "Verify the store: every pool set's files load (checksums, framing), the\n"
	  "library's consistency check (ipam_verify), owner and attachment lookups agree\n"
	  "with the records, no address is leased by two pool sets. On etcd, every owner\n"
	  "key under <prefix>/<set>/owners/ names a bound record of that owner (else\n"
	  "orphan-owner-key) and every bound record has one. Each finding is one line;\n"
	  "exit 1 if there is any." },
	{ "compact", ctl_cmd_compact, 0, 0, 0, "compact",
	  "Write a new snapshot of each pool set of a file store and empty its log." },
	{ "export", ctl_cmd_export, OPT(O_OUTPUT), 0, 0, "export [-o FILE]",
	  "Every lease record of every pool set as JSON (format in ipamctl(1))." },
	{ "import", ctl_cmd_import, 0, 1, 1, "import FILE",
	  "Load an export into pool sets that hold no records: every field is kept,\n"
	  "generation included. Refused if a target set is not empty." },
	{ "import-host-local", ctl_cmd_import_host_local, OPT(O_NODE) | OPT(O_JSON), 1, 1,
	  "import-host-local DIR [--node N]",
	  "Migrate host-local's leases (DIR holds one file per IP: container id, then\n"
	  "ifname) into the pool set of --config: each becomes a bound lease owned by the\n"
	  "container id with attachment = container id, in the pool holding the IP. The\n"
	  "addresses of one container and ifname are taken in one commit. Existing\n"
	  "identical leases are kept (re-running is harmless)." },
	{ "stats", ctl_cmd_stats, OPT(O_FORMAT) | OPT(O_JSON), 0, 0,
	  "stats [--format table|json|prometheus]",
	  "Pool gauges (size, used, free, quarantined, reserved), lease counts by state,\n"
	  "and this process's counters (see ipamctl(1): they are process-local)." },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct option long_opts[] = {
	{ "store", required_argument, NULL, O_STORE },
	{ "config", required_argument, NULL, O_CONFIG },
	{ "set", required_argument, NULL, O_SET },
	{ "json", no_argument, NULL, O_JSON },
	{ "color", optional_argument, NULL, O_COLOR },
	{ "no-color", no_argument, NULL, 1000 },
	{ "yes", no_argument, NULL, O_YES },
	{ "pool", required_argument, NULL, O_POOL },
	{ "owner", required_argument, NULL, O_OWNER },
	{ "ifname", required_argument, NULL, O_IFNAME },
	{ "node", required_argument, NULL, O_NODE },
	{ "state", required_argument, NULL, O_STATE },
	{ "older-than", required_argument, NULL, O_OLDER },
	{ "attachment", required_argument, NULL, O_ATTACH },
	{ "generation", required_argument, NULL, O_GEN },
	{ "note", required_argument, NULL, O_NOTE },
	{ "valid-attachments", required_argument, NULL, O_VALID },
	{ "pods-json", required_argument, NULL, O_PODS },
	{ "nodes-json", required_argument, NULL, O_NODES },
	{ "expired", no_argument, NULL, O_EXPIRED },
	{ "hold", required_argument, NULL, O_HOLD },
	{ "apply", no_argument, NULL, O_APPLY },
	{ "min-age", required_argument, NULL, O_MINAGE },
	{ "grace", required_argument, NULL, O_GRACE },
	{ "one-pass", no_argument, NULL, O_ONEPASS },
	{ "max", required_argument, NULL, O_MAX },
	{ "all", no_argument, NULL, O_ALL },
	{ "format", required_argument, NULL, O_FORMAT },
	{ "output", required_argument, NULL, O_OUTPUT },
	{ "no-quarantine", no_argument, NULL, O_NOQUAR },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static const char exit_codes[] =
	"Exit codes: 0 success; 1 the operation failed or check found problems;\n"
	"2 usage error or invalid input (arguments, files, JSON, an address outside\n"
	"every pool); 3 refused: destructive command without --yes or confirmation;\n"
	"4 not found; 5 the store cannot be opened or is damaged.\n";

static void usage(FILE *f)
{
	fputs("usage: ipamctl (--store file:DIR | --store etcd:URL[,URL...][?K=V&...] | --config FILE)\n"
	      "               [--set NAME] COMMAND [ARGS]\n"
	      "       ipamctl help [COMMAND]\n\nCommands:\n", f);
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %s\n", commands[i].synopsis);
	fputs("\nGlobal options: --store file:DIR (the store, with the pool set definitions\n"
	      "kept next to it), --config FILE (a CNI network configuration; names the\n"
	      "store), --set NAME (one pool set), --color[=auto|always|never], --no-color.\n"
	      "Colour is used only on a terminal and never when NO_COLOR is set.\n\n", f);
	fputs("etcd store: --store 'etcd:URL[,URL...][?KEY=VALUE&...]' (quote it: & is special\n"
	      "to the shell). A URL without a scheme is http://. Pool sets: the definitions\n"
	      "ipam-cni keeps at <prefix>/<set>/definition, or --config FILE. Settings:\n"
	      "  prefix=/ipam  block-size=64|128|256 (default 128)  timeout-ms=5000\n"
	      "  ca=FILE cert=FILE key=FILE (TLS)  user=NAME password-file=FILE (auth)\n", f);
	if (!ctl_have_etcd())
		fputs("(this ipamctl was built without the etcd store: etcd: is refused)\n", f);
	fputc('\n', f);
	fputs(exit_codes, f);
}

static const ctl_command *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static int help(const char *name)
{
	const ctl_command *c;

	if (!name) {
		usage(stdout);
		return CTL_EXIT_OK;
	}
	if (!(c = find_command(name)))
		return ctl_err(CTL_EXIT_USAGE, "no command '%s' (see ipamctl help)", name);
	printf("usage: ipamctl [--store file:DIR | --store etcd:URL,...[?K=V&...] | --config FILE]\n"
	       "               [--set NAME] %s\n\n%s\n\n%s",
	       c->synopsis, c->help, exit_codes);
	return CTL_EXIT_OK;
}

static int set_duration(const char *name, const char *v, int64_t *out)
{
	*out = ctl_parse_duration(v);
	if (*out < 0)
		return ctl_err(CTL_EXIT_USAGE, "--%s: '%s' is not a duration (90, 30s, 10m, 2h, 1d)",
			       name, v);
	return 0;
}

static int parse_number(const char *name, const char *v, uint64_t max, uint64_t *out)
{
	char *end;

	errno = 0;
	if (*v < '0' || *v > '9')
		return ctl_err(CTL_EXIT_USAGE, "--%s: '%s' is not a number", name, v);
	*out = strtoull(v, &end, 10);
	if (errno || *end || *out > max)
		return ctl_err(CTL_EXIT_USAGE, "--%s: '%s' is not a number up to %" PRIu64, name, v, max);
	return 0;
}

static int take_opt(ctl_args *a, int c, const char *v)
{
	uint64_t u = 0;
	int r = 0;

	switch (c) {
	case O_STORE: a->store = v; break;
	case O_CONFIG: a->config = v; break;
	case O_SET: a->set = v; break;
	case O_JSON: a->json = 1; break;
	case O_COLOR:
		if (!v || strcmp(v, "auto") == 0)
			a->color = -1;
		else if (strcmp(v, "always") == 0)
			a->color = 1;
		else if (strcmp(v, "never") == 0)
			a->color = 0;
		else
			r = ctl_err(CTL_EXIT_USAGE, "--color: '%s' is not auto, always or never", v);
		break;
	case O_YES: a->yes = 1; break;
	case O_POOL: a->pool = v; break;
	case O_OWNER: a->owner = v; break;
	case O_IFNAME: a->ifname = v; break;
	case O_NODE: a->node = v; break;
	case O_STATE: a->state = v; break;
	case O_OLDER: r = set_duration("older-than", v, &a->older_than); break;
	case O_ATTACH: a->attachment = v; break;
	case O_GEN: r = parse_number("generation", v, UINT64_MAX, &a->generation); break;
	case O_NOTE: a->note = v; break;
	case O_VALID: a->valid = v; break;
	case O_PODS: a->pods = v; break;
	case O_NODES: a->nodes = v; break;
	case O_EXPIRED: a->expired = 1; break;
	case O_HOLD: r = set_duration("hold", v, &a->hold); break;
	case O_APPLY: a->apply = 1; break;
	case O_MINAGE: r = set_duration("min-age", v, &a->min_age); break;
	case O_GRACE: r = set_duration("grace", v, &a->grace); break;
	case O_ONEPASS: a->one_pass = 1; break;
	case O_MAX:
		r = parse_number("max", v, UINT32_MAX, &u);
		a->max = (unsigned)u;
		break;
	case O_ALL: a->all = 1; break;
	case O_FORMAT: a->format = v; break;
	case O_OUTPUT: a->output = v; break;
	case O_NOQUAR: a->no_quarantine = 1; break;
	default: r = CTL_EXIT_USAGE; break;
	}
	if (c >= 0 && c < O_COUNT)
		a->seen |= OPT(c);
	return r;
}

static const char *opt_name(int c)
{
	for (const struct option *o = long_opts; o->name; o++)
		if (o->val == c)
			return o->name;
	return "?";
}

int main(int argc, char **argv)
{
	ctl_args a;
	const ctl_command *cmd;
	int c, r;

	memset(&a, 0, sizeof(a));
	a.color = -1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+hyVo:", long_opts, NULL)) != -1 || optind < argc) {
		if (c == -1) {
			/* A positional argument: keep it and go on (options may
			 * follow the command and its arguments). */
			argv[a.argc++] = argv[optind++];
			continue;
		}
		switch (c) {
		case 'h':
			usage(stdout);
			return CTL_EXIT_OK;
		case 'V':
			printf("ipamctl (libipam %s)\n", ipam_version());
			return CTL_EXIT_OK;
		case 'y': c = O_YES; break;
		case 'o': c = O_OUTPUT; break;
		case 1000:
			a.color = 0;
			continue;
		case '?':
			return ctl_err(CTL_EXIT_USAGE, "unknown or incomplete option '%s' (see ipamctl help)",
				       argv[optind - 1]);
		default: break;
		}
		if ((r = take_opt(&a, c, optarg)) != 0)
			return r;
	}
	if (a.argc == 0) {
		usage(stderr);
		return CTL_EXIT_USAGE;
	}
	if (strcmp(argv[0], "help") == 0)
		return a.argc > 2 ? ctl_err(CTL_EXIT_USAGE, "help takes one command") : help(a.argc > 1 ? argv[1] : NULL);
	if (!(cmd = find_command(argv[0])))
		return ctl_err(CTL_EXIT_USAGE, "unknown command '%s' (see ipamctl help)", argv[0]);
	for (int o = 0; o < O_COUNT; o++)
		if ((a.seen & OPT(o)) && !((cmd->opts | GLOBAL_OPTS) & OPT(o)))
			return ctl_err(CTL_EXIT_USAGE, "%s does not take --%s (see ipamctl help %s)",
				       cmd->name, opt_name(o), cmd->name);
	if (a.argc - 1 < cmd->min_args || a.argc - 1 > cmd->max_args)
		return ctl_err(CTL_EXIT_USAGE, "usage: ipamctl %s", cmd->synopsis);
	if (a.color < 0) {
		const char *nc = getenv("NO_COLOR");
		a.color = isatty(STDOUT_FILENO) && !(nc && *nc);
	} else if (a.color > 0 && getenv("NO_COLOR") && *getenv("NO_COLOR")) {
		a.color = 0;
	}
	a.argv = argv + 1;
	a.argc--;
	return cmd->run(&a);
}

/* ---- helpers shared by the commands ---------------------------------------------- */

int ctl_open(ctl_args *a, ctl_source *src, unsigned flags)
{
	char err[1024];
	int r = ctl_source_open(src, a->store, a->config, a->set, flags, err, sizeof(err));

	if (r == 0)
		return CTL_EXIT_OK;
	ctl_err(0, "%s", err);
	if (!a->store && !a->config)
		return CTL_EXIT_USAGE;
	/* Bad arguments or files are the caller's; the rest is the store's. */
	return r == -EINVAL || r == -ENAMETOOLONG || r == -ENOTSUP ? CTL_EXIT_USAGE : CTL_EXIT_STORE;
}

int ctl_set_for_addr(ctl_source *src, const ipam_addr *addr)
{
	char t[IPAM_ADDR_STRLEN];

	for (unsigned i = 0; i < src->nsets; i++) {
		const ipam_poolset *s = ipam_ctx_poolset(src->ctx, src->sets[i].name);
		if (s && ipam_poolset_find_addr(s, addr))
			return (int)i;
	}
	ipam_addr_format(addr, t, sizeof(t));
	ctl_err(0, "%s is outside every pool", t);
	return -1;
}

int ctl_one_set(ctl_source *src, ctl_args *a)
{
	if (src->nsets == 1)
		return 0;
	ctl_err(0, "the store holds %u pool sets; choose one with --set", src->nsets);
	(void)a;
	return -1;
}
