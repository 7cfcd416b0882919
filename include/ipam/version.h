/* SPDX-License-Identifier: MIT */
#ifndef IPAM_VERSION_H
#define IPAM_VERSION_H

/* Compile-time version of the headers. meson.build reads these three lines,
 * so the header is the single place where the version is written. */
#define IPAM_VERSION_MAJOR 0
#define IPAM_VERSION_MINOR 1
#define IPAM_VERSION_PATCH 0

#define IPAM_VERSION_NUMBER \
	((IPAM_VERSION_MAJOR * 10000) + (IPAM_VERSION_MINOR * 100) + IPAM_VERSION_PATCH)

#ifdef __cplusplus
extern "C" {
#endif

/* Version of the library actually linked, as "MAJOR.MINOR.PATCH". Compare it
 * with the macros above to detect a header/library mismatch. Never NULL. */
const char *ipam_version(void);

/* Same as IPAM_VERSION_NUMBER, but of the linked library. */
unsigned ipam_version_number(void);

#ifdef __cplusplus
}
#endif

#endif /* IPAM_VERSION_H */
