/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the address layer's parsers: addresses, prefixes
 * under every flag combination, ranges. Any input must give 0 or a negative
 * code; whatever parses must format and parse back to the same value, and
 * its canonical text must be a fixed point. A mismatch aborts (a finding).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ipam/addr.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_addr(const ipam_addr *a)
{
	char buf[IPAM_ADDR_STRLEN], buf2[IPAM_ADDR_STRLEN];
	ipam_addr b;
	int n = ipam_addr_format(a, buf, sizeof(buf));

	if (n < 0 || ipam_addr_parse(buf, &b) < 0 || ipam_addr_cmp(a, &b) != 0)
		abort();
	if (ipam_addr_format(&b, buf2, sizeof(buf2)) != n || strcmp(buf, buf2) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	static const unsigned flags[] = {
		IPAM_PREFIX_STRICT, IPAM_PREFIX_MASK, IPAM_PREFIX_KEEP_HOST,
		IPAM_PREFIX_BARE_ADDR, IPAM_PREFIX_MASK | IPAM_PREFIX_BARE_ADDR, 0xffu,
	};
	ipam_addr a;
	ipam_prefix p;
	ipam_range r;

	if (ipam_addr_parse_n(s, size, &a) == 0)
		check_addr(&a);
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		if (ipam_prefix_parse_n(s, size, flags[i], &p) == 0) {
			char buf[IPAM_PREFIX_STRLEN];
			ipam_prefix q;
			check_addr(&p.addr);
			if (ipam_prefix_format(&p, buf, sizeof(buf)) < 0 ||
			    ipam_prefix_parse(buf, IPAM_PREFIX_KEEP_HOST, &q) < 0 ||
			    ipam_addr_cmp(&p.addr, &q.addr) != 0 || p.len != q.len)
				abort();
			r = ipam_prefix_range(&p);
			if (!ipam_prefix_contains(&p, &r.first) || !ipam_prefix_contains(&p, &r.last))
				abort();
		}
	}
	if (ipam_range_parse_n(s, size, &r) == 0) {
		char buf[IPAM_RANGE_STRLEN];
		ipam_range q;
		ipam_u128 off;
		check_addr(&r.first);
		check_addr(&r.last);
		if (ipam_range_format(&r, buf, sizeof(buf)) < 0 || ipam_range_parse(buf, &q) < 0 ||
		    ipam_addr_cmp(&r.first, &q.first) || ipam_addr_cmp(&r.last, &q.last))
			abort();
		if (ipam_range_offset(&r, &r.last, &off) < 0 || ipam_range_at(&r, off, &a) < 0 ||
		    ipam_addr_cmp(&a, &r.last) != 0)
			abort();
	}
	return 0;
}
