/* SPDX-License-Identifier: MIT */
#include <ipam/version.h>

#include "config.h"
#include "internal.h"

IPAM_EXPORT const char *ipam_version(void)
{
	return IPAM_VERSION_STRING;
}

IPAM_EXPORT unsigned ipam_version_number(void)
{
	return IPAM_VERSION_NUMBER;
}
