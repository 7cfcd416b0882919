/* SPDX-License-Identifier: MIT */
/*
 * The normalised definition: written as a network configuration that reads
 * back into the same pools (every range with rangeStart, rangeEnd and
 * gateway spelled out), and kept next to the store as <name>.conf.json.
 *
 * Saving happens on every ADD of ipam-cni, so it first compares: when the
 * file already holds the same text nothing is written (one small read).
 * A changed definition is written to a temporary file, synced, renamed over
 * the old one and the directory synced, so a reader sees the old or the new
 * file, never a mix.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipam_config.h"
#include "netconf_internal.h"

static json_t *addr_json(const ipam_addr *a)
{
	char buf[IPAM_ADDR_STRLEN];

	if (ipam_addr_format(a, buf, sizeof(buf)) < 0)
		return NULL;
	return json_string(buf);
}

static json_t *prefix_json(const ipam_prefix *p)
{
	char buf[IPAM_PREFIX_STRLEN];

	if (ipam_prefix_format(p, buf, sizeof(buf)) < 0)
		return NULL;
	return json_string(buf);
}

static int add_pool_ranges(json_t *set, const ipam_pool *p)
{
	for (unsigned k = 0; k < ipam_pool_range_count(p); k++) {
		const ipam_range *r = ipam_pool_range(p, k);
		json_t *o = json_object();
		if (!o || json_array_append_new(set, o) < 0)
			return -1;
		json_object_set_new(o, "subnet", prefix_json(ipam_pool_subnet(p)));
		json_object_set_new(o, "rangeStart", addr_json(&r->first));
		json_object_set_new(o, "rangeEnd", addr_json(&r->last));
		if (ipam_pool_gateway(p))
			json_object_set_new(o, "gateway", addr_json(ipam_pool_gateway(p)));
	}
	return 0;
}

static json_t *ranges_json(const ipam_netconf *c, const ipam_poolset *set, json_t *excl)
{
	json_t *ranges = json_array();

	for (unsigned g = 0; ranges && g < c->ngroups; g++) {
		json_t *rs = json_array();
		if (!rs || json_array_append_new(ranges, rs) < 0)
			goto fail;
		for (unsigned i = 0; i < c->npools; i++) {
			const ipam_pool *p = ipam_poolset_pool(set, i);
			if (c->pool_group[i] != g)
				continue;
			if (add_pool_ranges(rs, p) < 0)
				goto fail;
			for (unsigned k = 0; k < ipam_pool_exclude_count(p); k++) {
				char buf[IPAM_RANGE_STRLEN];
				ipam_range_format(ipam_pool_exclude(p, k), buf, sizeof(buf));
				json_array_append_new(excl, json_string(buf));
			}
		}
	}
	return ranges;
fail:
	json_decref(ranges);
	return NULL;
}

static json_t *routes_json(const ipam_netconf *c)
{
	json_t *a = json_array();

	for (unsigned i = 0; a && i < c->nroutes; i++) {
		json_t *o = json_object();
		json_array_append_new(a, o);
		json_object_set_new(o, "dst", prefix_json(&c->routes[i].dst));
		if (c->routes[i].gw.family)
			json_object_set_new(o, "gw", addr_json(&c->routes[i].gw));
	}
	return a;
}

static const char *const policy_names[] = { "next-fit", "lowest", "random" };
static const char *const durability_names[] = { "fsync", "group", "none" };

/* An inline etcd password is never written back: the definition is kept
 * where other tools read it (next to the store, or in etcd itself). */
static json_t *store_json(const ipam_netconf *c)
{
	json_t *st, *eps;
	char list[sizeof(c->etcd.endpoints)], *save = NULL;

	if (strcmp(c->store_type, "etcd") != 0)
		return json_pack("{s:s, s:s, s:s}", "type", c->store_type, "dir", c->store_dir,
				 "durability", durability_names[c->durability]);
	eps = json_array();
	snprintf(list, sizeof(list), "%s", c->etcd.endpoints);
	for (char *t = strtok_r(list, ",", &save); eps && t; t = strtok_r(NULL, ",", &save))
		json_array_append_new(eps, json_string(t));
	st = json_pack("{s:s, s:o, s:s, s:i, s:i}", "type", "etcd", "endpoints", eps, "prefix",
		       c->etcd.prefix, "blockSize", (int)c->etcd.block_size, "timeoutMs",
		       (int)c->etcd.timeout_ms);
	if (!st)
		return NULL;
	if (c->etcd.ca_file[0])
		json_object_set_new(st, "caFile", json_string(c->etcd.ca_file));
	if (c->etcd.cert_file[0])
		json_object_set_new(st, "certFile", json_string(c->etcd.cert_file));
	if (c->etcd.key_file[0])
		json_object_set_new(st, "keyFile", json_string(c->etcd.key_file));
	if (c->etcd.username[0])
		json_object_set_new(st, "username", json_string(c->etcd.username));
	if (c->etcd.password_file[0])
		json_object_set_new(st, "passwordFile", json_string(c->etcd.password_file));
	return st;
}

json_t *ipam_netconf_to_json(const ipam_netconf *c, const ipam_poolset *set)
{
	json_t *root, *ipam, *excl, *ranges;

	if (!c || !(set = set ? set : c->set))
		return NULL;
	root = json_pack("{s:i, s:s, s:s}", "ipamConfVersion", IPAM_NETCONF_FORMAT, "cniVersion",
			 "1.1.0", "name", c->name);
	ipam = json_pack("{s:s}", "type", "ipam-cni");
	excl = json_array();
	ranges = ranges_json(c, set, excl);
	if (!root || !ipam || !excl || !ranges)
		goto fail;
	json_object_set_new(root, "ipam", ipam);
	json_object_set_new(ipam, "ranges", ranges);
	ranges = NULL;
	if (json_array_size(excl))
		json_object_set(ipam, "exclude", excl);
	json_object_set_new(ipam, "routes", routes_json(c));
	if (c->resolv_conf[0])
		json_object_set_new(ipam, "resolvConf", json_string(c->resolv_conf));
	json_object_set_new(ipam, "store", store_json(c));
	json_object_set_new(ipam, "allocationPolicy", json_string(policy_names[c->policy]));
	json_object_set_new(ipam, "reuseDelay", json_integer(c->reuse_delay));
	json_object_set_new(ipam, "reuseDelayHard", json_boolean(c->reuse_hard));
	json_object_set_new(ipam, "owner",
			    json_string(c->owner_mode == IPAM_NETCONF_OWNER_CONTAINER ? "container"
										      : "pod"));
	if (c->node[0])
		json_object_set_new(ipam, "node", json_string(c->node));
	json_object_set_new(ipam, "gc", json_pack("{s:I, s:I}", "minAge", (json_int_t)c->gc_min_age,
						  "grace", (json_int_t)c->gc_grace));
	json_decref(excl);
	return root;
fail:
	json_decref(root);
	json_decref(ipam);
	json_decref(excl);
	json_decref(ranges);
	return NULL;
}

/* 1 if path holds exactly text (len bytes), 0 otherwise. */
static int same_content(const char *path, const char *text, size_t len)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	char *buf;
	ssize_t n;
	int same = 0;

	if (fd < 0)
		return 0;
	buf = malloc(len + 1);
	if (buf) {
		n = read(fd, buf, len + 1);
		same = n == (ssize_t)len && memcmp(buf, text, len) == 0;
		free(buf);
	}
	close(fd);
	return same;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int write_atomic(const char *dir, const char *path, const char *text, size_t len)
{
	char tmp[PATH_MAX + 16];
	int fd, dfd, r = -1;

	/* A name of this process's own: plugins started at once for one
	 * network all write the definition, and must not rename (or unlink)
	 * each other's half-written copy. */
	snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (write_all(fd, text, len) == 0 && fsync(fd) == 0)
		r = 0;
	if (close(fd) < 0)
		r = -1;
	if (r == 0)
		r = rename(tmp, path);
	if (r < 0) {
		int e = errno;
		unlink(tmp);
		errno = e;
		return -1;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

char *ipam_netconf_dump(const ipam_netconf *c, const ipam_poolset *set)
{
	json_t *j = ipam_netconf_to_json(c, set);
	char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;

	json_decref(j);
	return text;
}

int ipam_netconf_etcd_password(const struct ipam_netconf_etcd *e, char *buf, size_t size,
			       ipam_netconf_error *err)
{
	FILE *f;
	size_t n;

	if (!size)
		return -1;
	buf[0] = '\0';
	if (!e->username[0])
		return 0;
	if (!e->password_file[0]) {
		snprintf(buf, size, "%s", e->password);
		return 0;
	}
	f = fopen(e->password_file, "re");
	if (!f)
		return ipam_netconf_fail(err, IPAM_CNI_ERR_IO, "ipam.store.passwordFile",
					 "cannot read ipam.store.passwordFile %.200s: %s",
					 e->password_file, strerror(errno));
	if (!fgets(buf, (int)size, f))
		buf[0] = '\0';
	fclose(f);
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	if (!n)
		return ipam_netconf_fail(err, IPAM_CNI_ERR_IO, "ipam.store.passwordFile",
					 "ipam.store.passwordFile %.200s is empty",
					 e->password_file);
	return 0;
}

int ipam_netconf_save(const ipam_netconf *c, const ipam_poolset *set, const char *dir,
		      ipam_netconf_error *err)
{
	char path[PATH_MAX];
	char *text = ipam_netconf_dump(c, set);
	size_t len;
	int r = 0;

	if (!text)
		return ipam_netconf_fail(err, IPAM_CNI_ERR_INTERNAL, "", "out of memory");
	len = strlen(text);
	if ((size_t)snprintf(path, sizeof(path), "%s/%s.conf.json", dir, c->name) >= sizeof(path))
		r = ipam_netconf_fail(err, IPAM_CNI_ERR_IO, "ipam.store.dir",
				      "store directory path too long");
	else if (!same_content(path, text, len) && write_atomic(dir, path, text, len) < 0)
		r = ipam_netconf_fail(err, IPAM_CNI_ERR_IO, "ipam.store.dir",
				      "cannot write %.200s: %s", path, strerror(errno));
	free(text);
	return r;
}

int ipam_netconf_load(const char *dir, const char *name, ipam_netconf **out,
		      ipam_netconf_error *err)
{
	char path[PATH_MAX];
	struct stat st;
	char *buf;
	ssize_t n;
	int fd, r;

	*out = NULL;
	if (ipam_name_check(name) < 0)
		return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, "name", "name \"%.64s\": %s",
					 name, nc__lib_reason());
	snprintf(path, sizeof(path), "%s/%s.conf.json", dir, name);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || (size_t)st.st_size > IPAM_NETCONF_MAX_INPUT) {
		int e = fd < 0 ? errno : EFBIG;
		if (fd >= 0)
			close(fd);
		return ipam_netconf_fail(err, IPAM_CNI_ERR_IO, "", "cannot read %.200s: %s", path,
					 strerror(e));
	}
	buf = malloc((size_t)st.st_size + 1);
	n = buf ? read(fd, buf, (size_t)st.st_size) : -1;
	close(fd);
	if (n != (ssize_t)st.st_size) {
		free(buf);
		return ipam_netconf_fail(err, IPAM_CNI_ERR_IO, "", "cannot read %.200s", path);
	}
	r = ipam_netconf_parse(buf, (size_t)n, out, err);
	free(buf);
	return r;
}
