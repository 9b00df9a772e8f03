/* The portable variant of every graph kernel. */
#define OCTET_FN(name) name##_portable
#include "kernels/elementwise_kernels.h"
#include "kernels/transcendental_kernels.h"
#include "kernels/data_movement_kernels.h"
#include "kernels/reduction_kernels.h"
#include "kernels/max_pool_kernels.h"
