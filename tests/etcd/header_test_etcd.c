/* Generated-style check: <ipam/etcd.h> (etcd/ipam_etcd.h) compiles on its own. */
#include "ipam_etcd.h"

int main(void)
{
	return 0;
}
