/* SPDX-License-Identifier: MIT */
/*
 * ipam-cni's musl build is static and has no HTTP client: a network whose
 * ipam.store.type is "etcd" is handed to ipam-cni-etcd, the same plugin
 * built against glibc with the etcd store, installed beside it. The
 * environment stays as it is; the network configuration, already read
 * from stdin, becomes the new program's stdin through a memory file.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cni.h"

#define ETCD_PLUGIN "ipam-cni-etcd"

extern char **environ;

int cni_handover_etcd(const char *in, size_t len, ipam_netconf_error *err)
{
	char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - sizeof(ETCD_PLUGIN) - 1);
	char *slash;
	int fd;

	if (n <= 0)
		return ipam_netconf_fail(err, IPAM_CNI_ERR_IO, "ipam.store.type",
					 "ipam.store.type \"etcd\" is served by %s beside this "
					 "program, but this program's path is unknown (/proc/self/exe: %s)",
					 ETCD_PLUGIN, strerror(errno));
	path[n] = '\0';
	slash = strrchr(path, '/');
	memcpy(slash ? slash + 1 : path, ETCD_PLUGIN, sizeof(ETCD_PLUGIN));
	if (access(path, X_OK) < 0)
		return ipam_netconf_fail(err, IPAM_CNI_ERR_UNSUPPORTED, "ipam.store.type",
					 "ipam.store.type \"etcd\" is served by %s, which is not "
					 "installed beside ipam-cni (%s: %s)", ETCD_PLUGIN, path,
					 strerror(errno));
	fd = memfd_create("ipam-cni-stdin", 0);
	if (fd < 0)
		return ipam_netconf_fail(err, IPAM_CNI_ERR_IO, "stdin",
					 "cannot hand the configuration to %s: memfd_create: %s",
					 ETCD_PLUGIN, strerror(errno));
	for (size_t off = 0; off < len;) {
		ssize_t w = write(fd, in + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			close(fd);
			return ipam_netconf_fail(err, IPAM_CNI_ERR_IO, "stdin",
						 "cannot hand the configuration to %s: %s",
						 ETCD_PLUGIN, strerror(errno));
		}
		off += (size_t)w;
	}
	if (lseek(fd, 0, SEEK_SET) != 0 || dup2(fd, 0) < 0) {
		close(fd);
		return ipam_netconf_fail(err, IPAM_CNI_ERR_IO, "stdin",
					 "cannot hand the configuration to %s: %s", ETCD_PLUGIN,
					 strerror(errno));
	}
	close(fd);
	{
		char *argv[] = { path, NULL };
		execve(path, argv, environ);
	}
	/* stdin is the memory file now: nothing else reads it. */
	return ipam_netconf_fail(err, IPAM_CNI_ERR_IO, "ipam.store.type",
				 "cannot run %s (%s): %s", path, ETCD_PLUGIN, strerror(errno));
}
