/* SPDX-License-Identifier: MIT */
#ifndef IPAM_IPAM_H
#define IPAM_IPAM_H

/* Umbrella header: everything a program embedding libipam needs. */

#include <ipam/addr.h>
#include <ipam/alloc.h>
#include <ipam/ctx.h>
#include <ipam/error.h>
#include <ipam/gc.h>
#include <ipam/lease.h>
#include <ipam/pool.h>
#include <ipam/store.h>
#include <ipam/version.h>

#endif /* IPAM_IPAM_H */
