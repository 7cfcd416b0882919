/* <ipam/k8s.h> (k8s/ipam_k8s.h) must compile on its own, first and alone. */
#include "ipam_k8s.h"

int main(void)
{
	return 0;
}
