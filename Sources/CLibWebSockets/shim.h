#ifndef POLLCAST_CLWS_SHIM_H
#define POLLCAST_CLWS_SHIM_H
/*
 * The transport's C boundary: libwebsockets and the libuv loop it runs on (OpenSSL's
 * libcrypto, for the application layer, is COpenSSL). Only what Swift cannot import is
 * restated here, as constants and one-line static inline functions. No logic.
 */
#include <libwebsockets.h>
#include <uv.h>

/* LWS_PRE is a function-like macro: give Swift a constant. */
enum { pollcast_lws_pre = LWS_PRE };

/*
 * The write type of a WebSocket close frame: 4 in lws 4.1.6, defined only in its
 * private lib/roles/ws/private-lib-roles-ws.h. pollcast writes its own close frames
 * because on the libuv loop lws drops a close begun from a writeable callback unsent.
 */
enum { pollcast_lws_write_close = 4 };

/* lwsl_* are variadic macros: one non-variadic entry for a preformatted line. */
static inline void pollcast_lws_log(int level, const char *line) { _lws_log(level, "%s\n", line); }

/*
 * lws timers call back with only the list node; the node is the first member
 * here so the callback can reach the owner pointer next to it.
 */
typedef struct pollcast_timer {
    lws_sorted_usec_list_t sul;
    void *owner;
} pollcast_timer;

#endif
