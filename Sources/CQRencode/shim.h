#ifndef POLLCAST_CQRENCODE_SHIM_H
#define POLLCAST_CQRENCODE_SHIM_H
#include <qrencode.h>
#endif
