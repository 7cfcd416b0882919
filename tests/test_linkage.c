/* SPDX-License-Identifier: MIT */
/* Linked against the shared libipam like any host program: the program's
 * malloc must still be the C library's (libipam uses jemalloc only through
 * mallocx/sdallocx), and the library must work through that arrangement. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ipam/ipam.h>

int main(void)
{
	Dl_info info;
	/* The definition the dynamic linker binds "malloc" to for this program. */
	void *m = dlsym(RTLD_DEFAULT, "malloc");
	ipam_pool *p = NULL;
	int rc = 0;

	if (!m || !dladdr(m, &info) || !info.dli_fname) {
		printf("FAIL: dladdr(malloc) found nothing\n");
		return 1;
	}
	printf("malloc comes from %s; libipam default allocator: %s\n", info.dli_fname,
	       ipam_default_allocator_name());
	if (!strstr(info.dli_fname, "libc.so") && !strstr(info.dli_fname, "libasan") &&
	    !strstr(info.dli_fname, "test-linkage")) {
		printf("FAIL: malloc was replaced by %s\n", info.dli_fname);
		rc = 1;
	}
	if (ipam_pool_new_str(&p, "p", "10.0.0.0/24") < 0) {
		printf("FAIL: %s\n", ipam_last_error_message());
		rc = 1;
	}
	ipam_pool_free(p);
	return rc;
}
