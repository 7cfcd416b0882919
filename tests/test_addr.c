/* SPDX-License-Identifier: MIT */
/* The address layer: parsing, RFC 5952 formatting, prefixes, ranges,
 * 128-bit arithmetic, against known vectors, hostile input and the C
 * library's inet_pton as an independent oracle for random addresses. */
#include <arpa/inet.h>
#include <string.h>

#include <ipam/addr.h>
#include <ipam/error.h>

#include "testutil.h"

static ipam_addr A(const char *s)
{
	ipam_addr a;
	ck_assert_msg(ipam_addr_parse(s, &a) == 0, "parse %s: %s", s, ipam_last_error_message());
	return a;
}

static const char *F(const ipam_addr *a, char *buf)
{
	ck_assert_int_ge(ipam_addr_format(a, buf, IPAM_ADDR_STRLEN), 0);
	return buf;
}

START_TEST(v4_valid)
{
	static const struct { const char *in; uint32_t v; } cases[] = {
		{ "0.0.0.0", 0 }, { "255.255.255.255", 0xffffffffu }, { "10.0.0.1", 0x0a000001u },
		{ "192.168.100.200", 0xc0a864c8u }, { "1.2.3.4", 0x01020304u }, { "100.0.10.0", 0x64000a00u },
	};
	char buf[IPAM_ADDR_STRLEN];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ipam_addr a = A(cases[i].in);
		ck_assert_int_eq(a.family, IPAM_AF_INET);
		ck_assert_uint_eq(a.lo, cases[i].v);
		ck_assert_str_eq(F(&a, buf), cases[i].in);
	}
}
END_TEST

START_TEST(bad_input)
{
	static const char *bad[] = {
		"", "1.2.3", "256.1.1.1", "01.2.3.4", "1.2.3.04", "1.2.3.4.5", "1..2.3", ".1.2.3",
		"1.2.3.", " 1.2.3.4", "1.2.3.4 ", "1.2.3.4x", "1.2.3.-4", "+1.2.3.4", "1.2.3.1000",
		"0x1.2.3.4", "4294967295", "1::2::3", ":::", "1:2:3:4:5:6:7:8:9", ":1::", "1::2:",
		"1:2:3:4:5:6:7", "12345::", "::g", "fe80::1%eth0", "[::1]", "1:2:3:4:5:6:7:8::",
		"::1.2.3", "::1.2.3.4.5", "1.2.3.4::", "::ffff:256.1.1.1", "1:2:3:4:5:6:7:1.2.3.4",
		":", "::1:", "1:", "::01.2.3.4", "1:::2",
	};
	ipam_addr a;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ipam_clear_error();
		ck_assert_msg(ipam_addr_parse(bad[i], &a) == -EINVAL, "accepted \"%s\"", bad[i]);
		ck_assert_msg(strlen(ipam_last_error_message()) > 0, "no message for \"%s\"", bad[i]);
	}
	/* Embedded NUL and trailing garbage with an explicit length. */
	ck_assert_int_eq(ipam_addr_parse_n("1.2.3.4\0", 8, &a), -EINVAL);
	ck_assert_int_eq(ipam_addr_parse_n("1.2\0.3.4", 8, &a), -EINVAL);
	ck_assert_int_eq(ipam_addr_parse_n("1.2.3.45", 7, &a), 0); /* only 7 bytes read */
	ck_assert_uint_eq(a.lo, 0x01020304u);
	ck_assert_int_eq(ipam_addr_parse(NULL, &a), -EINVAL);
	ck_assert_int_eq(ipam_addr_parse("1.2.3.4", NULL), -EINVAL);
}
END_TEST

/* RFC 5952 section 4 and 5 vectors, plus compression corner cases. */
START_TEST(rfc5952_vectors)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "2001:db8:0:0:0:0:2:1", "2001:db8::2:1" },
		{ "2001:0db8:0000:0000:0000:0000:0002:0001", "2001:db8::2:1" },
		{ "2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1" },   /* 4.2.2: one 0 not compressed */
		{ "2001:0:0:1:0:0:0:1", "2001:0:0:1::1" },            /* 4.2.3: longest run */
		{ "2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1" },      /* 4.2.3: first on a tie */
		{ "2001:DB8::AAAA", "2001:db8::aaaa" },               /* 4.3: lower case */
		{ "2001:db8:aaaa:bbbb:cccc:dddd:eeee:0001", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:1" },
		{ "::", "::" }, { "::1", "::1" }, { "1::", "1::" },
		{ "0:0:0:0:0:0:0:0", "::" }, { "1:0:0:0:0:0:0:0", "1::" },
		{ "0:0:0:0:0:0:0:1", "::1" }, { "1:0:1:0:1:0:1:0", "1:0:1:0:1:0:1:0" },
		{ "fe80::", "fe80::" }, { "ff02::1:2", "ff02::1:2" },
		{ "::ffff:192.0.2.1", "::ffff:192.0.2.1" },           /* 5: mapped keep dotted */
		{ "0:0:0:0:0:ffff:c000:0201", "::ffff:192.0.2.1" },
		{ "::192.0.2.1", "::c000:201" },                      /* compat: hex */
		{ "64:ff9b::192.0.2.33", "64:ff9b::c000:221" },
		{ "1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0" },
		{ "::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8" },
		{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" },
	};
	char buf[IPAM_ADDR_STRLEN];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ipam_addr a = A(cases[i].in);
		ck_assert_int_eq(a.family, IPAM_AF_INET6);
		ck_assert_msg(strcmp(F(&a, buf), cases[i].out) == 0, "%s -> %s, want %s", cases[i].in,
			      buf, cases[i].out);
	}
}
END_TEST

START_TEST(format_buffer)
{
	ipam_addr a = A("2001:db8::1");
	char small[5];
	ck_assert_int_eq(ipam_addr_format(&a, small, sizeof(small)), -ENOSPC);
	ck_assert_int_eq(ipam_addr_format(&a, small, 0), -ENOSPC);
	a.family = 9;
	ck_assert_int_eq(ipam_addr_format(&a, small, sizeof(small)), -EINVAL);
}
END_TEST

/* Random addresses: parse(format(a)) == a, format is canonical (idempotent),
 * and inet_pton agrees with our parser. */
START_TEST(roundtrip_random)
{
	uint64_t s = tu_seed("addr roundtrip");
	long n = tu_scale(200000);
	for (long i = 0; i < n; i++) {
		ipam_addr a, b;
		char buf[IPAM_ADDR_STRLEN], buf2[IPAM_ADDR_STRLEN];
		uint8_t bytes[16], pton[16];
		uint64_t r = tu_splitmix(&s);
		int v6 = r & 1;

		for (int k = 0; k < 16; k++) {
			uint64_t x = tu_splitmix(&s);
			/* Many zero groups, to exercise compression. */
			bytes[k] = (x % 3 == 0) ? 0 : (uint8_t)(x >> 8);
		}
		ck_assert_int_eq(ipam_addr_from_bytes(v6 ? IPAM_AF_INET6 : IPAM_AF_INET, bytes, &a), 0);
		ck_assert_int_ge(ipam_addr_format(&a, buf, sizeof(buf)), 0);
		ck_assert_int_eq(ipam_addr_parse(buf, &b), 0);
		ck_assert_int_eq(ipam_addr_cmp(&a, &b), 0);
		ck_assert_int_ge(ipam_addr_format(&b, buf2, sizeof(buf2)), 0);
		ck_assert_str_eq(buf, buf2);
		ck_assert_int_eq(inet_pton(v6 ? AF_INET6 : AF_INET, buf, pton), 1);
		ck_assert_int_eq(memcmp(pton, bytes, v6 ? 16 : 4), 0);
		uint8_t back[16];
		ck_assert_int_eq(ipam_addr_to_bytes(&b, back), v6 ? 16 : 4);
		ck_assert_int_eq(memcmp(back, bytes, v6 ? 16 : 4), 0);
	}
}
END_TEST

START_TEST(arith)
{
	ipam_addr a = A("255.255.255.254"), b;
	char buf[IPAM_ADDR_STRLEN];
	ck_assert_int_eq(ipam_addr_add(&a, ipam_u128_make(0, 1), &b), 0);
	ck_assert_str_eq(F(&b, buf), "255.255.255.255");
	ck_assert_int_eq(ipam_addr_add(&b, ipam_u128_make(0, 1), &b), -EOVERFLOW);
	ck_assert_int_eq(ipam_addr_add(&a, ipam_u128_make(1, 0), &b), -EOVERFLOW);
	a = A("0.0.0.1");
	ck_assert_int_eq(ipam_addr_sub(&a, ipam_u128_make(0, 2), &b), -EOVERFLOW);
	a = A("::ffff:ffff:ffff:ffff");
	ck_assert_int_eq(ipam_addr_add(&a, ipam_u128_make(0, 1), &b), 0);
	ck_assert_str_eq(F(&b, buf), "0:0:0:1::"); /* carry into the high half */
	a = A("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	ck_assert_int_eq(ipam_addr_add(&a, ipam_u128_make(0, 1), &b), -EOVERFLOW);
	ipam_u128 d;
	b = A("::");
	ck_assert_int_eq(ipam_addr_diff(&a, &b, &d), 0);
	ck_assert_uint_eq(d.hi, 0xffffffffffffffffull);
	ck_assert_uint_eq(d.lo, 0xffffffffffffffffull);
	ck_assert_int_eq(ipam_addr_diff(&b, &a, &d), -ERANGE);
	ipam_addr v4 = A("1.2.3.4");
	ck_assert_int_eq(ipam_addr_diff(&a, &v4, &d), -EAFNOSUPPORT);
	ck_assert_int_eq(ipam_u128_add(ipam_u128_make(~0ull, ~0ull), ipam_u128_make(0, 1), &d), -EOVERFLOW);
	ck_assert_int_eq(ipam_u128_add(ipam_u128_make(0, ~0ull), ipam_u128_make(0, 1), &d), 0);
	ck_assert_uint_eq(d.hi, 1);
	ck_assert_uint_eq(d.lo, 0);
	ck_assert_int_eq(ipam_u128_sub(ipam_u128_make(0, 0), ipam_u128_make(0, 1), &d), -EOVERFLOW);
	char num[IPAM_U128_STRLEN];
	ck_assert_int_eq(ipam_u128_format(ipam_u128_make(~0ull, ~0ull), num, sizeof(num)), 39);
	ck_assert_str_eq(num, "340282366920938463463374607431768211455");
	ipam_u128_format(ipam_u128_make(0, 0), num, sizeof(num));
	ck_assert_str_eq(num, "0");
	ck_assert_int_eq(ipam_u128_format(ipam_u128_make(0, 12345), num, 5), -ENOSPC);
	ck_assert_int_lt(ipam_u128_cmp(ipam_u128_make(0, 5), ipam_u128_make(1, 0)), 0);
}
END_TEST

START_TEST(prefixes)
{
	ipam_prefix p;
	char buf[IPAM_PREFIX_STRLEN];
	ck_assert_int_eq(ipam_prefix_parse("10.0.0.0/8", 0, &p), 0);
	ck_assert_int_eq(p.len, 8);
	ck_assert_int_eq(ipam_prefix_format(&p, buf, sizeof(buf)), 10);
	ck_assert_str_eq(buf, "10.0.0.0/8");
	ck_assert_int_eq(ipam_prefix_parse("10.0.0.0/33", 0, &p), -EINVAL);
	ck_assert_int_eq(ipam_prefix_parse("::/129", 0, &p), -EINVAL);
	ck_assert_int_eq(ipam_prefix_parse("::/0", 0, &p), 0);
	ck_assert_int_eq(ipam_prefix_parse("0.0.0.0/0", 0, &p), 0);
	ck_assert_int_eq(ipam_prefix_parse("10.0.0.0/", 0, &p), -EINVAL);
	ck_assert_int_eq(ipam_prefix_parse("10.0.0.0/08", 0, &p), -EINVAL);
	ck_assert_int_eq(ipam_prefix_parse("10.0.0.0/-1", 0, &p), -EINVAL);
	ck_assert_int_eq(ipam_prefix_parse("10.0.0.0/+8", 0, &p), -EINVAL);
	ck_assert_int_eq(ipam_prefix_parse("10.0.0.0/99999999999999999999", 0, &p), -EINVAL);
	ck_assert_int_eq(ipam_prefix_parse("10.0.0.0/8 ", 0, &p), -EINVAL);
	ck_assert_int_eq(ipam_prefix_parse("10.0.0.0", 0, &p), -EINVAL);
	ck_assert_int_eq(ipam_prefix_parse("", 0, &p), -EINVAL);
	ck_assert_int_eq(ipam_prefix_parse("/8", 0, &p), -EINVAL);
	ck_assert_int_eq(ipam_prefix_parse_n("10.0.0.0/8\0", 11, 0, &p), -EINVAL);
	/* Host bits: refused by default with the network named, or masked/kept. */
	ck_assert_int_eq(ipam_prefix_parse("10.0.0.1/24", 0, &p), -EINVAL);
	ck_assert_ptr_nonnull(strstr(ipam_last_error_message(), "10.0.0.0/24"));
	ck_assert_int_eq(ipam_prefix_parse("10.0.0.1/24", IPAM_PREFIX_MASK, &p), 0);
	ipam_prefix_format(&p, buf, sizeof(buf));
	ck_assert_str_eq(buf, "10.0.0.0/24");
	ck_assert_int_eq(ipam_prefix_parse("10.0.0.1/24", IPAM_PREFIX_KEEP_HOST, &p), 0);
	ipam_prefix_format(&p, buf, sizeof(buf));
	ck_assert_str_eq(buf, "10.0.0.1/24");
	ck_assert_int_eq(ipam_prefix_parse("2001:db8::1/64", 0, &p), -EINVAL);
	ck_assert_ptr_nonnull(strstr(ipam_last_error_message(), "2001:db8::/64"));
	ck_assert_int_eq(ipam_prefix_parse("10.0.0.1", IPAM_PREFIX_BARE_ADDR, &p), 0);
	ck_assert_int_eq(p.len, 32);
	ck_assert_int_eq(ipam_prefix_parse("10.0.0.1/24", IPAM_PREFIX_MASK | IPAM_PREFIX_KEEP_HOST, &p), -EINVAL);
	/* Ranges and containment. */
	ck_assert_int_eq(ipam_prefix_parse("192.168.1.0/24", 0, &p), 0);
	ipam_range r = ipam_prefix_range(&p);
	ipam_addr in = A("192.168.1.255"), out = A("192.168.2.0");
	ck_assert_int_eq(ipam_addr_cmp(&r.last, &in), 0);
	ck_assert(ipam_prefix_contains(&p, &in));
	ck_assert(!ipam_prefix_contains(&p, &out));
	ck_assert_int_eq(ipam_prefix_parse("::/0", 0, &p), 0);
	r = ipam_prefix_range(&p);
	ipam_u128 c;
	ck_assert_int_eq(ipam_range_count(&r, &c), -EOVERFLOW);
	ck_assert_uint_eq(ipam_range_span(&r).hi, ~0ull);
	/* Every length of both families: first/last of the range. */
	for (unsigned len = 0; len <= 128; len++) {
		ipam_addr all = A("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
		ck_assert_int_eq(ipam_prefix_make(&all, len, &p), 0);
		r = ipam_prefix_range(&p);
		ck_assert_int_eq(ipam_addr_cmp(&r.last, &all), 0);
		ipam_u128 span = ipam_range_span(&r);
		if (len == 0)
			ck_assert(span.hi == ~0ull && span.lo == ~0ull);
		else if (len < 64)
			ck_assert(span.hi == (~0ull >> len) && span.lo == ~0ull);
		else if (len == 64)
			ck_assert(span.hi == 0 && span.lo == ~0ull);
		else
			ck_assert(span.hi == 0 && span.lo == (len == 128 ? 0 : ~0ull >> (len - 64)));
	}
	ipam_addr all4 = A("255.255.255.255");
	ck_assert_int_eq(ipam_prefix_make(&all4, 33, &p), -EINVAL);
	for (unsigned len = 0; len <= 32; len++) {
		ck_assert_int_eq(ipam_prefix_make(&all4, len, &p), 0);
		r = ipam_prefix_range(&p);
		ck_assert_uint_eq(ipam_range_span(&r).lo, len == 32 ? 0 : (0xffffffffu >> len));
		ck_assert_uint_eq(r.first.lo, len == 0 ? 0 : (0xffffffffu << (32 - len)) & 0xffffffffu);
	}
}
END_TEST

START_TEST(ranges)
{
	ipam_range r, q;
	ipam_addr a;
	ipam_u128 off;
	char buf[IPAM_RANGE_STRLEN];
	ck_assert_int_eq(ipam_range_parse("10.0.0.10-10.0.0.20", &r), 0);
	ck_assert_int_eq(ipam_range_format(&r, buf, sizeof(buf)), 19);
	ck_assert_str_eq(buf, "10.0.0.10-10.0.0.20");
	ck_assert_int_eq(ipam_range_count(&r, &off), 0);
	ck_assert_uint_eq(off.lo, 11);
	ck_assert_int_eq(ipam_range_parse("10.0.0.20-10.0.0.10", &q), -ERANGE);
	ck_assert_int_eq(ipam_range_parse("10.0.0.1-::1", &q), -EAFNOSUPPORT);
	ck_assert_int_eq(ipam_range_parse("10.0.0.1-", &q), -EINVAL);
	ck_assert_int_eq(ipam_range_parse("-10.0.0.1", &q), -EINVAL);
	ck_assert_int_eq(ipam_range_parse("10.0.0.0/30", &q), 0);
	ck_assert_uint_eq(ipam_range_span(&q).lo, 3);
	ck_assert_int_eq(ipam_range_parse("10.0.0.5", &q), 0);
	ck_assert_int_eq(ipam_range_format(&q, buf, sizeof(buf)), 8);
	ck_assert(ipam_range_within(&q, &r) == 0);
	ck_assert(ipam_range_overlaps(&q, &r) == 0);
	a = A("10.0.0.15");
	ck_assert_int_eq(ipam_range_offset(&r, &a, &off), 0);
	ck_assert_uint_eq(off.lo, 5);
	ck_assert_int_eq(ipam_range_at(&r, off, &a), 0);
	ck_assert_str_eq((ipam_addr_format(&a, buf, sizeof(buf)), buf), "10.0.0.15");
	ck_assert_int_eq(ipam_range_at(&r, ipam_u128_make(0, 11), &a), -ERANGE);
	a = A("10.0.0.21");
	ck_assert_int_eq(ipam_range_offset(&r, &a, &off), -ERANGE);
	ipam_addr x = A("10.0.0.9"), y = A("10.0.0.10");
	ck_assert_int_eq(ipam_range_make(&x, &y, &q), 0);
	ck_assert(ipam_range_overlaps(&q, &r));
	ck_assert_int_eq(ipam_range_make(&y, &x, &q), -ERANGE);
	ck_assert_int_eq(ipam_range_parse("2001:db8::-2001:db8::ffff", &r), 0);
	ck_assert_int_eq(ipam_range_parse("2001:db8::1/64", &r), -EINVAL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("addr");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, v4_valid);
	tcase_add_test(tc, bad_input);
	tcase_add_test(tc, rfc5952_vectors);
	tcase_add_test(tc, format_buffer);
	tcase_add_test(tc, roundtrip_random);
	tcase_add_test(tc, arith);
	tcase_add_test(tc, prefixes);
	tcase_add_test(tc, ranges);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
