/* SPDX-License-Identifier: MIT */
#ifndef IPAM_CNI_HARNESS_H
#define IPAM_CNI_HARNESS_H

/*
 * Runs a CNI plugin binary as a runtime does: fork, exec with only the CNI_*
 * variables in the environment, the network configuration on stdin, stdout
 * captured and parsed with jansson. Used by the protocol and compatibility
 * suites; IPAM_CNI_BIN is the ipam-cni under test (set by meson).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

typedef struct cni_call_spec {
	const char *bin;     /* NULL: IPAM_CNI_BIN */
	const char *command; /* CNI_COMMAND (NULL: unset) */
	const char *cid;     /* CNI_CONTAINERID (NULL: unset) */
	const char *ifname;  /* CNI_IFNAME (NULL: unset) */
	const char *netns;   /* CNI_NETNS (NULL: "/var/run/netns/test") */
	const char *args;    /* CNI_ARGS (NULL: unset) */
	int no_netns;        /* leave CNI_NETNS unset */
} cni_call_spec;

typedef struct cni_out {
	int status;  /* exit status, or 128 + signal */
	char *text;  /* stdout, NUL-terminated */
	json_t *json; /* parsed stdout, NULL if empty or not JSON */
} cni_out;

static inline void cni_out_free(cni_out *o)
{
	free(o->text);
	json_decref(o->json);
	memset(o, 0, sizeof(*o));
}

static inline void h_setenv(char **env, int *n, char *buf, size_t size, const char *k,
			    const char *v)
{
	if (!v)
		return;
	snprintf(buf, size, "%s=%s", k, v);
	env[(*n)++] = buf;
}

/* Run one call; stdin_text may be NULL (empty stdin). */
static inline cni_out cni_exec(const cni_call_spec *c, const char *stdin_text)
{
	int in[2], out[2], st;
	char b[7][512];
	char *env[8];
	int n = 0;
	size_t cap = 4096, len = 0;
	cni_out o = { 0, NULL, NULL };
	pid_t pid;

	h_setenv(env, &n, b[0], sizeof(b[0]), "CNI_COMMAND", c->command);
	h_setenv(env, &n, b[1], sizeof(b[1]), "CNI_CONTAINERID", c->cid);
	h_setenv(env, &n, b[2], sizeof(b[2]), "CNI_IFNAME", c->ifname);
	if (!c->no_netns)
		h_setenv(env, &n, b[3], sizeof(b[3]), "CNI_NETNS",
			 c->netns ? c->netns : "/var/run/netns/test");
	h_setenv(env, &n, b[4], sizeof(b[4]), "CNI_ARGS", c->args);
	h_setenv(env, &n, b[5], sizeof(b[5]), "CNI_PATH", "/usr/lib/cni:/opt/cni/bin");
	env[n] = NULL;
	ck_assert(pipe(in) == 0 && pipe(out) == 0);
	signal(SIGPIPE, SIG_IGN);
	pid = fork();
	ck_assert(pid >= 0);
	if (pid == 0) {
		const char *bin = c->bin ? c->bin : IPAM_CNI_BIN;
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[0]); close(in[1]); close(out[0]); close(out[1]);
		execve(bin, (char *const[]){ (char *)bin, NULL }, env);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	if (stdin_text) {
		size_t left = strlen(stdin_text);
		const char *p = stdin_text;
		while (left) {
			ssize_t w = write(in[1], p, left);
			if (w <= 0)
				break;
			p += w;
			left -= (size_t)w;
		}
	}
	close(in[1]);
	o.text = malloc(cap);
	for (;;) {
		ssize_t r;
		if (len + 1 >= cap)
			o.text = realloc(o.text, cap *= 2);
		r = read(out[0], o.text + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	o.text[len] = 0;
	close(out[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	o.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	o.json = len ? json_loads(o.text, 0, NULL) : NULL;
	return o;
}

/* The CNI error code of a failed call (asserts it is an error object). */
static inline int cni_err_code(const cni_out *o)
{
	ck_assert_msg(o->status != 0, "expected failure, got: %s", o->text);
	ck_assert_msg(o->json && json_is_integer(json_object_get(o->json, "code")),
		      "no error object: %s", o->text);
	ck_assert_msg(json_is_string(json_object_get(o->json, "msg")), "no msg: %s", o->text);
	return (int)json_integer_value(json_object_get(o->json, "code"));
}

/* ips[i].address of an ADD result. */
static inline const char *cni_ip(const cni_out *o, size_t i)
{
	json_t *ip = json_array_get(json_object_get(o->json, "ips"), i);
	return json_string_value(json_object_get(ip, "address"));
}

/* The whole of a file, NUL-terminated (asserts it can be read). Caller frees. */
static inline char *cni_read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *s = NULL;
	size_t n = 0;
	ck_assert_msg(f != NULL, "cannot open %s", path);
	for (;;) {
		char *g = realloc(s, n + 4097);
		size_t got;
		ck_assert_ptr_nonnull(g);
		s = g;
		got = fread(s + n, 1, 4096, f);
		n += got;
		if (got < 4096)
			break;
	}
	s[n] = '\0';
	fclose(f);
	return s;
}

/* A fresh 0700 directory for a store. */
static inline char *cni_tmpdir(void)
{
	char *d = strdup("/tmp/ipam-cni-test-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(d));
	return d;
}

static inline void cni_rmdir(const char *dir)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* A network configuration: version, name, and the text of the "ipam"
 * object's members (without braces); dataDir is added. Caller frees. */
static inline char *cni_conf(const char *version, const char *name, const char *dir,
			     const char *ipam_members, const char *extra_top)
{
	char *s;
	int r = asprintf(&s,
			 "{\"cniVersion\": \"%s\", \"name\": \"%s\", \"type\": \"bridge\"%s%s, "
			 "\"ipam\": {\"type\": \"ipam-cni\", \"dataDir\": \"%s\"%s%s}}",
			 version, name, extra_top ? ", " : "", extra_top ? extra_top : "", dir,
			 ipam_members && *ipam_members ? ", " : "", ipam_members ? ipam_members : "");
	ck_assert(r > 0);
	return s;
}

#endif
