#ifndef POLLCAST_CLIBPQ_SHIM_H
#define POLLCAST_CLIBPQ_SHIM_H
/* Debian puts libpq-fe.h under /usr/include/postgresql; pkg-config libpq says so. */
#include <libpq-fe.h>
#endif
