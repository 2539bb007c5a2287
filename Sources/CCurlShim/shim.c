#define _GNU_SOURCE 1   // pthread_setname_np
#include "CCurlShim.h"
#include <sys/eventfd.h>
#include <sys/epoll.h>
#include <stdlib.h>
#include <time.h>
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

void ccurl_name_thread(const char *name) {
#ifdef __linux__
    pthread_setname_np(pthread_self(), name);
#else
    (void)name;
#endif
}

// ---- The multi_socket driver (CurlLoop): an epoll set mirroring the sockets curl asks to watch, plus curl's timer.

CURLMcode ccurl_call_multi_setopt_ptr(CURLM *m, CURLMoption o, const void *v);

struct ccurl_sockloop {
    CURLM *multi;
    int epfd;
    int wakefd;
    /// CLOCK_MONOTONIC nanoseconds at which curl wants CURL_SOCKET_TIMEOUT; -1: no timer.
    int64_t deadline;
    int running;
};

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

// CURLMOPT_SOCKETFUNCTION: keep the epoll set as curl wants it. Called from within curl calls (loop thread).
// curl keeps a pointer per socket for us (curl_multi_assign; NULL for a socket it has not told us about yet): the
// epoll events registered for it, plus one, so a new socket is ADDed and an unchanged one costs no syscall.
static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp) {
    (void)easy;
    ccurl_sockloop *l = userp;
    uintptr_t registered = (uintptr_t)socketp;
    if (what == CURL_POLL_REMOVE) {
        // curl forgets the socket (and its pointer) now. ENOENT/EBADF: already gone with its close.
        if (registered) epoll_ctl(l->epfd, EPOLL_CTL_DEL, s, NULL);
        return 0;
    }
    struct epoll_event ev = { .events = 0, .data.fd = s };
    if (what & CURL_POLL_IN) ev.events |= EPOLLIN;
    if (what & CURL_POLL_OUT) ev.events |= EPOLLOUT;
    if (registered == (uintptr_t)ev.events + 1) return 0;
    int op = registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(l->epfd, op, s, &ev) != 0) {
        // The set and curl disagree (the fd was closed and its number reused, or re-announced): the other op.
        op = op == EPOLL_CTL_MOD ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
        if (epoll_ctl(l->epfd, op, s, &ev) != 0) return 0;
    }
    curl_multi_assign(l->multi, s, (void *)((uintptr_t)ev.events + 1));
    return 0;
}

// CURLMOPT_TIMERFUNCTION: remember when curl wants CURL_SOCKET_TIMEOUT (the loop acts on it, never from here).
static int on_timer(CURLM *multi, long timeout_ms, void *userp) {
    (void)multi;
    ccurl_sockloop *l = userp;
    l->deadline = timeout_ms < 0 ? -1 : now_ns() + (int64_t)timeout_ms * 1000000;
    return 0;
}

ccurl_sockloop *ccurl_sockloop_new(CURLM *multi, int wakefd) {
    ccurl_sockloop *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->multi = multi;
    l->wakefd = wakefd;
    l->deadline = -1;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) { free(l); return NULL; }
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = wakefd };
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, wakefd, &ev) != 0) { close(l->epfd); free(l); return NULL; }
    if (ccurl_call_multi_setopt_ptr(multi, CURLMOPT_SOCKETFUNCTION, (const void *)on_socket) != CURLM_OK
        || ccurl_call_multi_setopt_ptr(multi, CURLMOPT_SOCKETDATA, l) != CURLM_OK
        || ccurl_call_multi_setopt_ptr(multi, CURLMOPT_TIMERFUNCTION, (const void *)on_timer) != CURLM_OK
        || ccurl_call_multi_setopt_ptr(multi, CURLMOPT_TIMERDATA, l) != CURLM_OK) {
        close(l->epfd); free(l); return NULL;
    }
    return l;
}

void ccurl_sockloop_free(ccurl_sockloop *l) {
    if (!l) return;
    close(l->epfd);
    free(l);
}

int ccurl_sockloop_run_due(ccurl_sockloop *l) {
    if (l->deadline < 0 || l->deadline > now_ns()) return 0;
    l->deadline = -1;   // curl sets the next one (from within the call) if it wants one
    curl_multi_socket_action(l->multi, CURL_SOCKET_TIMEOUT, 0, &l->running);
    return 1;
}

int ccurl_sockloop_wait(ccurl_sockloop *l, int max_ms) {
    int ms = max_ms;
    if (l->deadline >= 0) {
        int64_t left = l->deadline - now_ns();
        int64_t left_ms = left <= 0 ? 0 : (left + 999999) / 1000000;
        if (left_ms < ms) ms = (int)left_ms;
    }
    struct epoll_event events[64];
    int n = epoll_wait(l->epfd, events, 64, ms);
    int woken = 0;
    for (int i = 0; i < n; i++) {
        int fd = events[i].data.fd;
        if (fd == l->wakefd) { ccurl_wake_drain(fd); woken = 1; continue; }
        uint32_t e = events[i].events;
        int mask = ((e & (EPOLLIN | EPOLLHUP)) ? CURL_CSELECT_IN : 0)
                 | ((e & EPOLLOUT) ? CURL_CSELECT_OUT : 0)
                 | ((e & EPOLLERR) ? CURL_CSELECT_ERR : 0);
        curl_multi_socket_action(l->multi, fd, mask, &l->running);
    }
    ccurl_sockloop_run_due(l);
    return woken;
}
