/* SPDX-License-Identifier: MIT */
/* An out-of-tree program built only with `pkg-config --cflags --libs ipam`. */
#include <stdio.h>
#include <string.h>

#include <ipam/ipam.h>

int main(void)
{
	ipam_addr a;
	char buf[IPAM_ADDR_STRLEN];

	if (strcmp(ipam_version(), "") == 0 || ipam_version_number() != IPAM_VERSION_NUMBER) {
		fprintf(stderr, "header/library version mismatch\n");
		return 1;
	}
	if (ipam_addr_parse("2001:0db8:0:0:0:0:0:1", &a) < 0 ||
	    ipam_addr_format(&a, buf, sizeof(buf)) < 0 || strcmp(buf, "2001:db8::1") != 0) {
		fprintf(stderr, "unexpected: %s\n", ipam_last_error_message());
		return 1;
	}
	printf("consumer linked libipam %s: %s\n", ipam_version(), buf);
	return 0;
}
