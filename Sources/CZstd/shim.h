#ifndef DISTRIBUTARY_CZSTD_SHIM_H
#define DISTRIBUTARY_CZSTD_SHIM_H
#include <zstd.h>
#endif
