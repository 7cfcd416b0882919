/* SPDX-License-Identifier: MIT */
/*
 * import-host-local: take over the leases of a host-local dataDir so a node
 * switched from host-local to ipam-cni loses no address.
 *
 * host-local keeps one file per leased IP, named by the IP, holding the
 * container id on the first line and the ifname on the second (lines end
 * with "\r\n"; files of old versions have no second line), plus
 * last_reserved_ip.N (its round-robin cursor per range set) and a lock file.
 *
 * Each container id + ifname becomes one ipam_allocate() of exactly its
 * addresses (one per pool, so a dual-stack pair commits together): owner
 * and attachment = the container id, as ipam-cni records a container
 * without Kubernetes arguments. Allocation is idempotent, so a re-run after
 * a partial failure finishes the job without duplicates. Every file is read
 * and every address placed in a pool before anything is committed: a bad
 * file or an address outside the configuration changes nothing.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"

struct hl_entry {
	ipam_addr addr;
	char cid[IPAM_OWNER_MAX + 1];
	char ifname[IPAM_IFNAME_MAX + 1];
	const char *pool; /* in the pool set */
};

static int entry_order(const void *a, const void *b)
{
	const struct hl_entry *x = a, *y = b;
	int c = strcmp(x->cid, y->cid);
	if (!c)
		c = strcmp(x->ifname, y->ifname);
	return c ? c : ipam_addr_cmp(&x->addr, &y->addr);
}

/* Read one lease file (at most 4 KiB) into e. */
static int read_lease_file(int dfd, const char *dir, const char *name, struct hl_entry *e)
{
	char buf[4097], *nl, *ifn;
	ssize_t n;
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return ctl_err(-1, "%s/%s: %s", dir, name, strerror(errno));
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return ctl_err(-1, "%s/%s: %s", dir, name, strerror(errno));
	buf[n] = 0;
	nl = strpbrk(buf, "\r\n");
	ifn = nl ? nl + strspn(nl, "\r\n") : buf + n;
	if (nl)
		*nl = 0;
	ifn[strcspn(ifn, "\r\n")] = 0;
	if (!buf[0] || strlen(buf) > IPAM_OWNER_MAX || strlen(ifn) > IPAM_IFNAME_MAX)
		return ctl_err(-1, "%s/%s: expected a container id and an interface name", dir, name);
	memcpy(e->cid, buf, strlen(buf) + 1);
	/* host-local before v0.9 wrote no ifname: CNI's default. */
	snprintf(e->ifname, sizeof(e->ifname), "%s", ifn[0] ? ifn : "eth0");
	return 0;
}

static int read_data_dir(const char *dir, const ipam_poolset *set, struct hl_entry **out, size_t *nout)
{
	DIR *d;
	struct dirent *de;
	struct hl_entry *v = NULL;
	size_t n = 0, cap = 0;
	int r = 0;

	if (!(d = opendir(dir)))
		return ctl_err(-1, "%s: %s", dir, strerror(errno));
	while ((de = readdir(d)) && r == 0) {
		struct hl_entry e;
		const ipam_pool *p;
		struct stat st;
		memset(&e, 0, sizeof(e));
		if (de->d_name[0] == '.' || strcmp(de->d_name, "lock") == 0 ||
		    strncmp(de->d_name, "last_reserved_ip.", 17) == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (ipam_addr_parse(de->d_name, &e.addr) < 0) {
			fprintf(stderr, "ipamctl: %s/%s: not a host-local lease file, ignored\n", dir,
				de->d_name);
			continue;
		}
		if (!(p = ipam_poolset_find_addr(set, &e.addr))) {
			r = ctl_err(-1, "%s/%s: address outside every pool of %s", dir, de->d_name,
				    ipam_poolset_name(set));
			break;
		}
		e.pool = ipam_pool_name(p);
		if ((r = read_lease_file(dirfd(d), dir, de->d_name, &e)) < 0)
			break;
		if (n == cap) {
			struct hl_entry *g = realloc(v, (cap = cap ? 2 * cap : 256) * sizeof(*g));
			if (!g) {
				r = ctl_err(-1, "out of memory");
				break;
			}
			v = g;
		}
		v[n++] = e;
	}
	closedir(d);
	if (r < 0) {
		free(v);
		return r;
	}
	qsort(v, n, sizeof(*v), entry_order);
	*out = v;
	*nout = n;
	return 0;
}

static void default_node(ctl_args *a, ctl_source *src, char *node, size_t n)
{
	ipam_netconf *c = NULL;
	char err[128];

	node[0] = 0;
	if (a->node) {
		snprintf(node, n, "%s", a->node);
		return;
	}
	if (ctl_netconf_from_config(src->sets[0].def, &c, err, sizeof(err)) == 0) {
		snprintf(node, n, "%s", c->node);
		ipam_netconf_free(c);
	}
	if (!node[0] && gethostname(node, n) < 0)
		node[0] = 0;
	node[n - 1] = 0;
}

/* One container+ifname: entries v[0..k). Returns 0, or a CTL_EXIT code. */
static int import_group(ctl_source *src, const char *node, const struct hl_entry *v, size_t k,
			unsigned *kept)
{
	const char *pools[IPAM_NETCONF_MAX_POOLS];
	ipam_addr exact[IPAM_NETCONF_MAX_POOLS];
	ipam_lease got[IPAM_NETCONF_MAX_POOLS];
	unsigned nout = IPAM_NETCONF_MAX_POOLS;
	ipam_request req;
	unsigned before = IPAM_NETCONF_MAX_POOLS;
	int r;

	if (k > IPAM_NETCONF_MAX_POOLS)
		return ctl_err(CTL_EXIT_FAIL, "container %s: too many addresses", v[0].cid);
	for (size_t i = 0; i < k; i++) {
		for (size_t j = 0; j < i; j++)
			if (strcmp(v[i].pool, v[j].pool) == 0)
				return ctl_err(CTL_EXIT_FAIL,
					       "container %s/%s holds two addresses of pool %s; not imported",
					       v[0].cid, v[0].ifname, v[i].pool);
		pools[i] = v[i].pool;
		exact[i] = v[i].addr;
	}
	memset(&req, 0, sizeof(req));
	req.poolset = src->sets[0].name;
	req.owner = v[0].cid;
	req.ifname = v[0].ifname;
	req.attachment = v[0].cid;
	req.node = node[0] ? node : NULL;
	req.pools = pools;
	req.npools = (unsigned)k;
	req.exact = exact;
	req.nexact = (unsigned)k;
	/* Already there (a re-run): allocation returns it unchanged. */
	if (ipam_lookup_owner(src->ctx, req.poolset, req.owner, req.ifname, got, &before) < 0)
		before = 0;
	ipam_clear_error();
	r = ipam_allocate(src->ctx, &req, got, &nout);
	if (r < 0)
		return ctl_err_ipam(CTL_EXIT_FAIL, r, "container %s/%s", v[0].cid, v[0].ifname);
	for (unsigned i = 0; i < nout && i < k; i++) {
		if (ipam_addr_cmp(&got[i].addr, &exact[i]) != 0) {
			char want[IPAM_ADDR_STRLEN], has[IPAM_ADDR_STRLEN];
			ipam_addr_format(&exact[i], want, sizeof(want));
			ipam_addr_format(&got[i].addr, has, sizeof(has));
			return ctl_err(CTL_EXIT_FAIL, "container %s/%s already holds %s, not %s",
				       v[0].cid, v[0].ifname, has, want);
		}
	}
	*kept += before;
	return 0;
}

int ctl_cmd_import_host_local(ctl_args *a)
{
	char dir[4096], node[IPAM_NODE_MAX + 1];
	struct hl_entry *v = NULL;
	size_t n = 0, groups = 0, failed = 0;
	unsigned kept = 0;
	const ipam_poolset *set;
	ctl_source src;
	struct stat st;
	int r;

	if ((r = ctl_open(a, &src, 0)))
		return r;
	if (ctl_one_set(&src, a) < 0) {
		ctl_source_close(&src);
		return CTL_EXIT_USAGE;
	}
	set = ipam_ctx_poolset(src.ctx, src.sets[0].name);
	/* host-local keeps a network's files in dataDir/<network name>. */
	snprintf(dir, sizeof(dir), "%s/%s", a->argv[0], src.sets[0].name);
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		snprintf(dir, sizeof(dir), "%s", a->argv[0]);
	if (read_data_dir(dir, set, &v, &n) < 0) {
		ctl_source_close(&src);
		return CTL_EXIT_USAGE;
	}
	default_node(a, &src, node, sizeof(node));
	for (size_t i = 0; i < n;) {
		size_t k = 1;
		while (i + k < n && strcmp(v[i + k].cid, v[i].cid) == 0 &&
		       strcmp(v[i + k].ifname, v[i].ifname) == 0)
			k++;
		if (import_group(&src, node, v + i, k, &kept) != 0)
			failed++;
		groups++;
		i += k;
	}
	if (a->json)
		printf("{\"addresses\": %zu, \"attachments\": %zu, \"already_present\": %u, \"failed\": %zu}\n",
		       n, groups, kept, failed);
	else
		printf("imported %zu address%s of %zu container interface%s from %s into %s"
		       " (%u already present, %zu failed)\n", n, n == 1 ? "" : "es", groups,
		       groups == 1 ? "" : "s", dir, src.sets[0].name, kept, failed);
	free(v);
	ctl_source_close(&src);
	return failed ? CTL_EXIT_FAIL : CTL_EXIT_OK;
}
