#define _GNU_SOURCE 1   // pthread_setname_np
#include "CCurlShim.h"
#include <sys/eventfd.h>
#include <pthread.h>
#include <unistd.h>
#include <errno.h>
#include <stdint.h>

// The calls go through the dlopen'ed library's variadic functions (loader.c).
CURLcode ccurl_call_easy_setopt_long(CURL *h, CURLoption o, long v);
CURLcode ccurl_call_easy_setopt_off_t(CURL *h, CURLoption o, curl_off_t v);
CURLcode ccurl_call_easy_setopt_ptr(CURL *h, CURLoption o, const void *v);
CURLcode ccurl_call_easy_getinfo_ptr(CURL *h, CURLINFO i, void *v);
CURLMcode ccurl_call_multi_setopt_long(CURLM *m, CURLMoption o, long v);

CURLcode ccurl_easy_setopt_long(CURL *h, CURLoption o, long v) { return ccurl_call_easy_setopt_long(h, o, v); }
CURLcode ccurl_easy_setopt_off_t(CURL *h, CURLoption o, curl_off_t v) { return ccurl_call_easy_setopt_off_t(h, o, v); }
CURLcode ccurl_easy_setopt_string(CURL *h, CURLoption o, const char *v) { return ccurl_call_easy_setopt_ptr(h, o, v); }
CURLcode ccurl_easy_setopt_pointer(CURL *h, CURLoption o, void *v) { return ccurl_call_easy_setopt_ptr(h, o, v); }
CURLcode ccurl_easy_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return ccurl_call_easy_setopt_ptr(h, o, v); }
CURLcode ccurl_easy_setopt_data_callback(CURL *h, CURLoption o, ccurl_data_callback v) { return ccurl_call_easy_setopt_ptr(h, o, (const void *)v); }
CURLcode ccurl_easy_setopt_xferinfo_callback(CURL *h, ccurl_xferinfo_callback v) { return ccurl_call_easy_setopt_ptr(h, CURLOPT_XFERINFOFUNCTION, (const void *)v); }

CURLcode ccurl_easy_getinfo_long(CURL *h, CURLINFO i, long *v) { return ccurl_call_easy_getinfo_ptr(h, i, v); }
CURLcode ccurl_easy_getinfo_off_t(CURL *h, CURLINFO i, curl_off_t *v) { return ccurl_call_easy_getinfo_ptr(h, i, v); }
CURLcode ccurl_easy_getinfo_double(CURL *h, CURLINFO i, double *v) { return ccurl_call_easy_getinfo_ptr(h, i, v); }
CURLcode ccurl_easy_getinfo_string(CURL *h, CURLINFO i, char **v) { return ccurl_call_easy_getinfo_ptr(h, i, v); }
CURLcode ccurl_easy_getinfo_pointer(CURL *h, CURLINFO i, void **v) { return ccurl_call_easy_getinfo_ptr(h, i, v); }

CURLMcode ccurl_multi_setopt_long(CURLM *h, CURLMoption o, long v) { return ccurl_call_multi_setopt_long(h, o, v); }

CURL *ccurl_msg_done(CURLMsg *msg, CURLcode *result) {
    if (msg->msg != CURLMSG_DONE) return NULL;
    *result = msg->data.result;
    return msg->easy_handle;
}
int ccurl_pause_cont(void) { return CURLPAUSE_CONT; }
size_t ccurl_writefunc_pause(void) { return CURL_WRITEFUNC_PAUSE; }
size_t ccurl_readfunc_pause(void) { return CURL_READFUNC_PAUSE; }
size_t ccurl_readfunc_abort(void) { return CURL_READFUNC_ABORT; }

int ccurl_wake_new(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }
void ccurl_wake_signal(int fd) {
    uint64_t one = 1;
    while (write(fd, &one, sizeof one) < 0 && errno == EINTR) {}
}
void ccurl_wake_drain(int fd) {
    uint64_t count;
    while (read(fd, &count, sizeof count) < 0 && errno == EINTR) {}
}
struct curl_waitfd ccurl_waitfd_in(int fd) {
    struct curl_waitfd w = { .fd = fd, .events = CURL_WAIT_POLLIN, .revents = 0 };
    return w;
}

void ccurl_name_thread(const char *name) {
#ifdef __linux__
    pthread_setname_np(pthread_self(), name);
#else
    (void)name;
#endif
}
