/* SPDX-License-Identifier: MIT */
/*
 * Commands that change leases one by one: reserve, unreserve, release.
 * Each is one library call (one optimistic commit, retried by the library).
 * release is destructive: it needs --yes, or a typed "yes" on a terminal.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"

/* 0 if confirmed, CTL_EXIT_REFUSED otherwise (reported). */
static int confirm(ctl_args *a, const char *what)
{
	char line[32];

	if (a->yes)
		return 0;
	if (!isatty(STDIN_FILENO))
		return ctl_err(CTL_EXIT_REFUSED, "refusing to %s without --yes (stdin is not a terminal)",
			       what);
	fprintf(stderr, "About to %s. Type \"yes\" to go on: ", what);
	fflush(stderr);
	if (!fgets(line, sizeof(line), stdin) || strcmp(line, "yes\n") != 0)
		return ctl_err(CTL_EXIT_REFUSED, "not confirmed; nothing changed");
	return 0;
}

static int addr_cmd(ctl_args *a, ctl_source *src, ipam_addr *addr, int *set)
{
	int r;

	if (ctl_parse_addr(a->argv[0], addr) < 0)
		return CTL_EXIT_USAGE;
	if ((r = ctl_open(a, src, 0)))
		return r;
	if ((*set = ctl_set_for_addr(src, addr)) < 0) {
		ctl_source_close(src);
		return CTL_EXIT_USAGE;
	}
	return 0;
}

int ctl_cmd_reserve(ctl_args *a)
{
	ctl_source src;
	ipam_addr addr;
	int set, r = addr_cmd(a, &src, &addr, &set);

	if (r)
		return r;
	r = ipam_reserve(src.ctx, src.sets[set].name, &addr, a->note ? a->note : "ipamctl");
	if (r == -EEXIST)
		r = ctl_err(CTL_EXIT_FAIL, "%s is leased; release it first", a->argv[0]);
	else if (r == -EACCES)
		r = ctl_err(CTL_EXIT_FAIL, "%s is never handed out (excluded, gateway)", a->argv[0]);
	else if (r < 0)
		r = ctl_err_ipam(r == -ENAMETOOLONG || r == -EINVAL ? CTL_EXIT_USAGE : CTL_EXIT_FAIL, r,
				 "reserve %s", a->argv[0]);
	else
		printf("reserved %s in %s\n", a->argv[0], src.sets[set].name);
	ctl_source_close(&src);
	return r;
}

int ctl_cmd_unreserve(ctl_args *a)
{
	ctl_source src;
	ipam_addr addr;
	int set, r = addr_cmd(a, &src, &addr, &set);

	if (r)
		return r;
	r = ipam_unreserve(src.ctx, src.sets[set].name, &addr);
	if (r == -ENOENT)
		r = ctl_err(CTL_EXIT_NOTFOUND, "%s is not reserved", a->argv[0]);
	else if (r < 0)
		r = ctl_err_ipam(CTL_EXIT_FAIL, r, "unreserve %s", a->argv[0]);
	else
		printf("unreserved %s in %s\n", a->argv[0], src.sets[set].name);
	ctl_source_close(&src);
	return r;
}

int ctl_cmd_release(ctl_args *a)
{
	int by_addr = a->argc == 1, by_owner = a->owner != NULL, by_att = a->attachment != NULL;
	char what[600];
	ctl_source src;
	ipam_addr addr;
	int r, total = 0, set = -1;

	if (by_addr + by_owner + by_att != 1)
		return ctl_err(CTL_EXIT_USAGE, "release takes exactly one of ADDRESS, --owner, --attachment");
	if (a->ifname && !by_owner)
		return ctl_err(CTL_EXIT_USAGE, "--ifname goes with --owner");
	if ((a->seen & OPT(O_GEN)) && by_owner)
		return ctl_err(CTL_EXIT_USAGE, "--generation goes with ADDRESS or --attachment");
	if (by_addr && ctl_parse_addr(a->argv[0], &addr) < 0)
		return CTL_EXIT_USAGE;
	if ((r = ctl_open(a, &src, 0)))
		return r;
	if (by_addr && (set = ctl_set_for_addr(&src, &addr)) < 0) {
		r = CTL_EXIT_USAGE;
		goto out;
	}
	if (by_addr)
		snprintf(what, sizeof(what), "release %s", a->argv[0]);
	else
		snprintf(what, sizeof(what), "release every lease of %s %s%s%s",
			 by_owner ? "owner" : "attachment", by_owner ? a->owner : a->attachment,
			 a->ifname ? " on " : "", a->ifname ? a->ifname : "");
	if ((r = confirm(a, what)))
		goto out;
	for (unsigned i = 0; i < src.nsets; i++) {
		const char *sn = src.sets[i].name;
		if (by_addr && (int)i != set)
			continue;
		if (by_addr)
			r = ipam_release_addr(src.ctx, sn, &addr, a->generation);
		else if (by_owner)
			r = ipam_release_owner(src.ctx, sn, a->owner, a->ifname);
		else
			r = ipam_release_attachment(src.ctx, sn, a->attachment, a->generation);
		if (r < 0) {
			r = ctl_err_ipam(r == -ENAMETOOLONG || r == -EINVAL ? CTL_EXIT_USAGE : CTL_EXIT_FAIL,
					 r, "%s", what);
			goto out;
		}
		total += r;
	}
	if (total == 0) {
		r = ctl_err(CTL_EXIT_NOTFOUND, "nothing to release for %s%s",
			    by_addr ? a->argv[0] : (by_owner ? a->owner : a->attachment),
			    by_addr ? " (free, reserved, or another generation)" : "");
		goto out;
	}
	if (a->json)
		printf("{\"released\": %d}\n", total);
	else
		printf("released %d lease%s\n", total, total == 1 ? "" : "s");
	r = CTL_EXIT_OK;
out:
	ctl_source_close(&src);
	return r;
}
