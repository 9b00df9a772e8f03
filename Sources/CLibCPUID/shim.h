#pragma once
#include <libcpuid.h>
