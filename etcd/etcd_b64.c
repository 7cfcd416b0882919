/* SPDX-License-Identifier: MIT */
/*
 * Standard base64 (RFC 4648, with padding): etcd's JSON gateway carries
 * keys and values as bytes, which JSON writes in base64.
 */
#include <stdlib.h>
#include <string.h>

#include "etcd_internal.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *ipam_etcd__b64_encode(const void *data, size_t n)
{
	const unsigned char *p = data;
	char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		*o++ = alphabet[(v >> 18) & 63];
		*o++ = alphabet[(v >> 12) & 63];
		*o++ = i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
		*o++ = i + 2 < n ? alphabet[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

static int sextet(char c)
{
	const char *at = c ? strchr(alphabet, c) : NULL;
	return at ? (int)(at - alphabet) : -1;
}

int ipam_etcd__b64_decode(const char *text, char **out, size_t *n)
{
	size_t len = strlen(text), k = 0;
	char *buf;

	*out = NULL;
	*n = 0;
	if (len % 4)
		return -EBADMSG;
	buf = malloc(len / 4 * 3 + 1);
	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < len; i += 4) {
		int a = sextet(text[i]), b = sextet(text[i + 1]), c = -2, d = -2;
		int last = i + 4 == len;
		if (!(last && text[i + 2] == '=' && text[i + 3] == '='))
			c = sextet(text[i + 2]);
		if (c != -2 && !(last && text[i + 3] == '='))
			d = sextet(text[i + 3]);
		if (a < 0 || b < 0 || c == -1 || d == -1 || (c == -2 && d != -2)) {
			free(buf);
			return -EBADMSG;
		}
		buf[k++] = (char)((a << 2) | (b >> 4));
		if (c >= 0)
			buf[k++] = (char)(((b & 15) << 4) | (c >> 2));
		if (d >= 0)
			buf[k++] = (char)(((c & 3) << 6) | d);
	}
	buf[k] = '\0';
	*out = buf;
	*n = k;
	return 0;
}
