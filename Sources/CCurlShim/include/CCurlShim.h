#ifndef CCURLSHIM_H
#define CCURLSHIM_H
// Fixed-signature wrappers around curl's variadic curl_easy_setopt / curl_easy_getinfo / curl_multi_setopt,
// which Swift cannot call directly. One wrapper per argument type. Plus the few curl macros and unions that
// do not import, and a streaming gunzip (zlib, which libcurl already depends on) for the capture copy of
// gzip bodies that are passed through to the client compressed.
//
// libcurl itself is not linked: loader.c dlopen()s libcurl.so.4 on first use and defines the curl functions
// moonpalace calls as forwarders, so commands that never talk upstream (mock, list, inspect, web) never map it.
#include <curl/curl.h>
#include <stddef.h>

/// Loads libcurl (once; thread-safe). NULL when it is usable, otherwise a message saying what is missing and how
/// to install it. Call before any other curl function; those abort with this message if the library is missing.
const char *ccurl_load(void);

typedef size_t (*ccurl_data_callback)(char *ptr, size_t size, size_t nmemb, void *userdata);
typedef int (*ccurl_xferinfo_callback)(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow);

CURLcode ccurl_easy_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode ccurl_easy_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value);
CURLcode ccurl_easy_setopt_string(CURL *handle, CURLoption option, const char *value);
CURLcode ccurl_easy_setopt_pointer(CURL *handle, CURLoption option, void *value);
CURLcode ccurl_easy_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value);
CURLcode ccurl_easy_setopt_data_callback(CURL *handle, CURLoption option, ccurl_data_callback value);
CURLcode ccurl_easy_setopt_xferinfo_callback(CURL *handle, ccurl_xferinfo_callback value);

CURLcode ccurl_easy_getinfo_long(CURL *handle, CURLINFO info, long *value);
CURLcode ccurl_easy_getinfo_off_t(CURL *handle, CURLINFO info, curl_off_t *value);
CURLcode ccurl_easy_getinfo_double(CURL *handle, CURLINFO info, double *value);
CURLcode ccurl_easy_getinfo_string(CURL *handle, CURLINFO info, char **value);
CURLcode ccurl_easy_getinfo_pointer(CURL *handle, CURLINFO info, void **value);

CURLMcode ccurl_multi_setopt_long(CURLM *handle, CURLMoption option, long value);

/// The finished transfer's handle and result from a CURLMSG_DONE message (the `data` union does not import well).
CURL *ccurl_msg_done(CURLMsg *msg, CURLcode *result);
/// CURLPAUSE_CONT, CURL_WRITEFUNC_PAUSE, CURL_READFUNC_PAUSE, CURL_READFUNC_ABORT as plain values.
int ccurl_pause_cont(void);
size_t ccurl_writefunc_pause(void);
size_t ccurl_readfunc_pause(void);
size_t ccurl_readfunc_abort(void);

/// The curl loop's wake-up: an eventfd (non-blocking, close-on-exec) that `curl_multi_poll` watches as an extra fd.
/// Cheaper than `curl_multi_wakeup` (one 8-byte write, no socket), and only signalled when the loop sleeps.
/// `ccurl_wake_new` returns -1 on failure (errno set).
int ccurl_wake_new(void);
void ccurl_wake_signal(int fd);
void ccurl_wake_drain(int fd);

/// The curl loop's driver on libcurl's multi_socket interface: an epoll set holding `wakefd` and the sockets curl
/// asks to watch (CURLMOPT_SOCKETFUNCTION), and curl's timer (CURLMOPT_TIMERFUNCTION, kept as a deadline). Only
/// ready sockets are serviced (`curl_multi_socket_action` per fd), not every transfer per pass as
/// `curl_multi_perform` does. Loop thread only. NULL when epoll or the multi options fail.
typedef struct ccurl_sockloop ccurl_sockloop;
ccurl_sockloop *ccurl_sockloop_new(CURLM *multi, int wakefd);
/// Closes the epoll fd (not `wakefd`); after curl_multi_cleanup.
void ccurl_sockloop_free(ccurl_sockloop *loop);
/// Runs curl's timeout action if its timer is due (adding or unpausing a transfer sets it to 0). 1 if it ran.
int ccurl_sockloop_run_due(ccurl_sockloop *loop);
/// Waits at most `max_ms` (less if curl's timer is due sooner) for ready sockets or the wake fd, services the ready
/// sockets, drains the wake fd, and runs a due timeout. Returns 1 when the wake fd was signalled.
int ccurl_sockloop_wait(ccurl_sockloop *loop, int max_ms);

/// Names the calling thread (Linux: at most 15 characters shown; Foundation's Thread.name does not reach the OS).
void ccurl_name_thread(const char *name);

/// Streaming gunzip (gzip or zlib framing, auto-detected). Opaque; one per body; not thread-safe.
typedef struct ccurl_gunzip ccurl_gunzip;
ccurl_gunzip *ccurl_gunzip_new(void);
/// Feeds `len` compressed bytes; decompressed output is delivered through `sink` in pieces.
/// Returns 0 while fine, 1 at the end of the compressed stream, -1 on damaged data (message via ccurl_gunzip_error).
int ccurl_gunzip_feed(ccurl_gunzip *z, const unsigned char *data, size_t len,
                      void (*sink)(void *ctx, const unsigned char *out, size_t n), void *ctx);
const char *ccurl_gunzip_error(ccurl_gunzip *z);
void ccurl_gunzip_free(ccurl_gunzip *z);

#endif
