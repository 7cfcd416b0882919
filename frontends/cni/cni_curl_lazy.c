/* SPDX-License-Identifier: MIT */
/*
 * libcurl, loaded at its first use. ipam-cni links the etcd store, and
 * linking libcurl itself made every call pay for loading it and its ~30
 * libraries (GnuTLS, OpenSSL, Kerberos, LDAP, p11-kit, ... with their
 * constructors): about 4.4 ms per call on the project's machine, four times
 * a whole file-store ADD, whether the network uses etcd or not. So ipam-cni
 * is not linked with libcurl: it defines the nine libcurl functions the
 * etcd store calls, and the first call dlopen()s libcurl.so.4 and forwards.
 * A file-store call never gets here.
 *
 * If libcurl cannot be loaded, curl_global_init() fails and
 * curl_easy_strerror() says why, so the etcd store reports it (code 5).
 */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define CURL_SONAME "libcurl.so.4"

static struct {
	CURLcode (*global_init)(long);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	void (*easy_cleanup)(CURL *);
	const char *(*easy_strerror)(CURLcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
} fn;
static int loaded; /* 1 every symbol resolved, -1 failed */
static char load_error[256];
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* A data pointer from dlsym() into a function pointer (POSIX allows it;
 * ISO C has no cast for it, hence the copy). */
#define RESOLVE(h, field, name)                                                     \
	do {                                                                            \
		void *p_ = dlsym(h, name);                                              \
		if (!p_)                                                                \
			ok = 0;                                                         \
		else                                                                    \
			memcpy(&fn.field, &p_, sizeof(p_));                             \
	} while (0)

static void load(void)
{
	void *h = dlopen(CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
	int ok = 1;

	if (!h) {
		snprintf(load_error, sizeof(load_error), "cannot load %s: %s", CURL_SONAME,
			 dlerror());
		loaded = -1;
		return;
	}
	RESOLVE(h, global_init, "curl_global_init");
	RESOLVE(h, easy_init, "curl_easy_init");
	RESOLVE(h, easy_setopt, "curl_easy_setopt");
	RESOLVE(h, easy_perform, "curl_easy_perform");
	RESOLVE(h, easy_getinfo, "curl_easy_getinfo");
	RESOLVE(h, easy_cleanup, "curl_easy_cleanup");
	RESOLVE(h, easy_strerror, "curl_easy_strerror");
	RESOLVE(h, slist_append, "curl_slist_append");
	RESOLVE(h, slist_free_all, "curl_slist_free_all");
	if (!ok) {
		snprintf(load_error, sizeof(load_error), "%s lacks a function ipam-cni needs",
			 CURL_SONAME);
		loaded = -1;
		return;
	}
	loaded = 1;
}

static int ready(void)
{
	pthread_once(&once, load);
	return loaded == 1;
}

CURLcode curl_global_init(long flags)
{
	return ready() ? fn.global_init(flags) : CURLE_FAILED_INIT;
}

CURL *curl_easy_init(void)
{
	return ready() ? fn.easy_init() : NULL;
}

/* The argument's type follows from the option's number (curl.h: LONG
 * below 10000, then object pointers, function pointers, curl_off_t,
 * blobs). */
CURLcode curl_easy_setopt(CURL *h, CURLoption o, ...)
{
	va_list ap;
	CURLcode r;

	if (!ready())
		return CURLE_FAILED_INIT;
	va_start(ap, o);
	if (o < CURLOPTTYPE_OBJECTPOINT)
		r = fn.easy_setopt(h, o, va_arg(ap, long));
	else if (o < CURLOPTTYPE_FUNCTIONPOINT)
		r = fn.easy_setopt(h, o, va_arg(ap, void *));
	else if (o < CURLOPTTYPE_OFF_T)
		r = fn.easy_setopt(h, o, va_arg(ap, void (*)(void)));
	else if (o < CURLOPTTYPE_BLOB)
		r = fn.easy_setopt(h, o, va_arg(ap, curl_off_t));
	else
		r = fn.easy_setopt(h, o, va_arg(ap, void *));
	va_end(ap);
	return r;
}

CURLcode curl_easy_perform(CURL *h)
{
	return ready() ? fn.easy_perform(h) : CURLE_FAILED_INIT;
}

/* Every CURLINFO the caller can ask takes a pointer. */
CURLcode curl_easy_getinfo(CURL *h, CURLINFO info, ...)
{
	va_list ap;
	CURLcode r;

	if (!ready())
		return CURLE_FAILED_INIT;
	va_start(ap, info);
	r = fn.easy_getinfo(h, info, va_arg(ap, void *));
	va_end(ap);
	return r;
}

void curl_easy_cleanup(CURL *h)
{
	if (ready())
		fn.easy_cleanup(h);
}

const char *curl_easy_strerror(CURLcode c)
{
	return ready() ? fn.easy_strerror(c) : load_error;
}

struct curl_slist *curl_slist_append(struct curl_slist *l, const char *s)
{
	return ready() ? fn.slist_append(l, s) : NULL;
}

void curl_slist_free_all(struct curl_slist *l)
{
	if (ready())
		fn.slist_free_all(l);
}
