#ifndef DISTRIBUTARY_CHIREDIS_SHIM_H
#define DISTRIBUTARY_CHIREDIS_SHIM_H
#include <hiredis.h>
#endif
