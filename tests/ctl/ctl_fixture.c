/* SPDX-License-Identifier: MIT */
/*
 * Test helper for the ipamctl tests: prepares a file store through the
 * library, as ipam-cni would leave it.
 *
 *   ctl-fixture populate CONFIG N   N dual-stack owners "ns/pod-i" (attachment
 *                                   "cid-i", node "node-(i%3)", a pod-uid
 *                                   attribute), every 5th released (quarantined),
 *                                   owner 0 with a 60 s TTL; saves the
 *                                   definition next to the store
 *   ctl-fixture release-att CONFIG FILE   release each attachment listed
 *                                   (one per line); print how many were freed
 *   ctl-fixture fill CONFIG N       allocate N new owners "new-i"; fail on any
 *                                   address already leased to another owner
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ipam/ipam.h>

#include "ipam_config.h"

static ipam_store *store;
static ipam_ctx *ctx;
static char setname[IPAM_NAME_MAX + 1];

static int die(const char *what, int r)
{
	fprintf(stderr, "ctl-fixture: %s: %s (%s)\n", what, ipam_strerror(r), ipam_last_error_message());
	exit(1);
}

static void open_config(const char *path)
{
	ipam_netconf_error err;
	ipam_netconf *c = NULL;
	ipam_file_store_options fo;
	json_error_t je;
	json_t *j = json_load_file(path, 0, &je);
	ipam_poolset *set;
	int r;

	if (!j || ipam_netconf_from_json(j, &c, &err) < 0) {
		fprintf(stderr, "ctl-fixture: %s: bad config\n", path);
		exit(1);
	}
	json_decref(j);
	ipam_file_store_options_init(&fo);
	fo.durability = IPAM_DURABILITY_NONE;
	if ((r = ipam_store_file_new(&store, c->store_dir, &fo)) < 0)
		die("store", r);
	if (ipam_netconf_save(c, NULL, c->store_dir, &err) < 0) {
		fprintf(stderr, "ctl-fixture: save: %s\n", err.msg);
		exit(1);
	}
	snprintf(setname, sizeof(setname), "%s", c->name);
	set = ipam_netconf_take_set(c);
	ipam_netconf_free(c);
	if ((r = ipam_ctx_new(&ctx, store, NULL)) < 0 || (r = ipam_ctx_add_poolset(ctx, set)) < 0)
		die("open", r);
}

static void populate(int n)
{
	for (int i = 0; i < n; i++) {
		char owner[64], att[64], node[32];
		ipam_attr attr;
		ipam_lease out[4];
		unsigned nout = 4;
		ipam_request req;
		int r;
		snprintf(owner, sizeof(owner), "ns/pod-%d", i);
		snprintf(att, sizeof(att), "cid-%d", i);
		snprintf(node, sizeof(node), "node-%d", i % 3);
		memset(&attr, 0, sizeof(attr));
		snprintf(attr.key, sizeof(attr.key), "k8s.pod.uid");
		snprintf(attr.value, sizeof(attr.value), "uid-%d", i);
		memset(&req, 0, sizeof(req));
		req.poolset = setname;
		req.owner = owner;
		req.ifname = "eth0";
		req.attachment = att;
		req.node = node;
		req.attrs = &attr;
		req.nattrs = 1;
		req.ttl = i == 0 ? 60 : 0;
		if ((r = ipam_allocate(ctx, &req, out, &nout)) < 0)
			die("allocate", r);
		if (i % 5 == 4 && (r = ipam_release_attachment(ctx, setname, att, 0)) < 0)
			die("release", r);
	}
}

static void release_list(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[512];
	int total = 0;

	if (!f)
		die(path, -errno);
	while (fgets(line, sizeof(line), f)) {
		int r;
		line[strcspn(line, "\n")] = 0;
		if (!*line)
			continue;
		if ((r = ipam_release_attachment(ctx, setname, line, 0)) < 0)
			die("release", r);
		total += r;
	}
	fclose(f);
	printf("%d\n", total);
}

static void fill(int n)
{
	for (int i = 0; i < n; i++) {
		char owner[64];
		ipam_lease out[4];
		unsigned nout = 4;
		ipam_request req;
		int r;
		snprintf(owner, sizeof(owner), "new-%d", i);
		memset(&req, 0, sizeof(req));
		req.poolset = setname;
		req.owner = owner;
		req.ifname = "eth0";
		req.attachment = owner;
		if ((r = ipam_allocate(ctx, &req, out, &nout)) < 0)
			die("allocate", r);
		for (unsigned k = 0; k < nout; k++)
			if (strcmp(out[k].owner, owner) != 0)
				die("collision", -EEXIST);
	}
	printf("%d\n", n);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: ctl-fixture populate|release-att|fill CONFIG ...\n");
		return 2;
	}
	open_config(argv[2]);
	if (strcmp(argv[1], "populate") == 0 && argc == 4)
		populate(atoi(argv[3]));
	else if (strcmp(argv[1], "release-att") == 0 && argc == 4)
		release_list(argv[3]);
	else if (strcmp(argv[1], "fill") == 0 && argc == 4)
		fill(atoi(argv[3]));
	else if (strcmp(argv[1], "save") != 0)
		return 2;
	ipam_ctx_free(ctx);
	ipam_store_free(store);
	return 0;
}
