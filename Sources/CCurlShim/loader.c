// libcurl, loaded on first use with dlopen("libcurl.so.4") instead of being linked.
//
// Why: linking libcurl maps it and its whole dependency chain (OpenSSL, GnuTLS, Kerberos, LDAP, libssh2, nghttp2,
// ... about 25 libraries, ~5 MiB resident) into every moonpalace process, though only the proxy and `replay` use
// curl; `moonpalace mock` (budget: 30 MiB RSS), `list`, `inspect`, `web` never do.
//
// How: this file defines the curl functions moonpalace calls, under their real names, as hidden forwarders to the
// functions of the dlopen'ed library. Swift code keeps calling `curl_easy_init()` etc. from <curl/curl.h>; the
// linker resolves them here (the CCurl module no longer links -lcurl). Calling a curl function that is not listed
// in CCURL_FUNCTIONS gives an "undefined reference" at link time: add it to the list.
//
// The library is loaded once (pthread_once). `ccurl_load()` reports a missing or unusable library as a message a
// person can act on; the proxy calls it before anything else (CurlLoop.init) and fails its start with it. A
// forwarder reached without a successful load prints the same message and aborts (a programming error).
#define CURL_DISABLE_TYPECHECK 1
#include "CCurlShim.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

// X(return type, name, (parameters), (arguments))
#define CCURL_FUNCTIONS(X) \
    X(CURLcode, curl_global_init, (long flags), (flags)) \
    X(void, curl_global_cleanup, (void), ()) \
    X(char *, curl_version, (void), ()) \
    X(void, curl_free, (void *p), (p)) \
    X(struct curl_slist *, curl_slist_append, (struct curl_slist *list, const char *s), (list, s)) \
    X(void, curl_slist_free_all, (struct curl_slist *list), (list)) \
    X(const char *, curl_easy_strerror, (CURLcode code), (code)) \
    X(const char *, curl_multi_strerror, (CURLMcode code), (code)) \
    X(CURL *, curl_easy_init, (void), ()) \
    X(void, curl_easy_cleanup, (CURL *h), (h)) \
    X(void, curl_easy_reset, (CURL *h), (h)) \
    X(CURLcode, curl_easy_pause, (CURL *h, int bitmask), (h, bitmask)) \
    X(CURLM *, curl_multi_init, (void), ()) \
    X(CURLMcode, curl_multi_cleanup, (CURLM *m), (m)) \
    X(CURLMcode, curl_multi_add_handle, (CURLM *m, CURL *h), (m, h)) \
    X(CURLMcode, curl_multi_remove_handle, (CURLM *m, CURL *h), (m, h)) \
    X(CURLMcode, curl_multi_perform, (CURLM *m, int *running), (m, running)) \
    X(CURLMsg *, curl_multi_info_read, (CURLM *m, int *left), (m, left)) \
    X(CURLMcode, curl_multi_poll, (CURLM *m, struct curl_waitfd fds[], unsigned int n, int ms, int *ret), \
      (m, fds, n, ms, ret)) \
    X(CURLMcode, curl_multi_wait, (CURLM *m, struct curl_waitfd fds[], unsigned int n, int ms, int *ret), \
      (m, fds, n, ms, ret)) \
    X(CURLMcode, curl_multi_wakeup, (CURLM *m), (m)) \
    X(CURLMcode, curl_multi_timeout, (CURLM *m, long *ms), (m, ms)) \
    X(CURLMcode, curl_multi_socket_action, (CURLM *m, curl_socket_t s, int mask, int *running), (m, s, mask, running)) \
    X(CURLMcode, curl_multi_assign, (CURLM *m, curl_socket_t s, void *p), (m, s, p))

// The variadic ones: called only by the fixed-signature wrappers in shim.c, through these pointers.
#define CCURL_VARIADIC(X) \
    X(CURLcode, curl_easy_setopt, (CURL *h, CURLoption o, ...)) \
    X(CURLcode, curl_easy_getinfo, (CURL *h, CURLINFO i, ...)) \
    X(CURLMcode, curl_multi_setopt, (CURLM *m, CURLMoption o, ...))

#define CCURL_LIBRARY "libcurl.so.4"

static struct {
#define FIELD(ret, name, params, args) ret (*name) params;
#define VFIELD(ret, name, params) ret (*name) params;
    CCURL_FUNCTIONS(FIELD)
    CCURL_VARIADIC(VFIELD)
#undef FIELD
#undef VFIELD
} api;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char error_text[768];
static int loaded;

static void load(void) {
    // MOONPALACE_LIBCURL: another libcurl build (a path or a soname), e.g. one outside the linker's search path.
    const char *name = getenv("MOONPALACE_LIBCURL");
    if (!name || !*name) name = CCURL_LIBRARY;
    void *lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        const char *why = dlerror();
        snprintf(error_text, sizeof error_text,
                 "cannot load libcurl (%s), which moonpalace needs to talk to the upstream API: %s. "
                 "On Debian/Ubuntu: sudo apt-get install libcurl4-openssl-dev (or set MOONPALACE_LIBCURL to the "
                 "path of a libcurl.so.4)",
                 name, why ? why : "not found");
        return;
    }
#define RESOLVE(ret, fn, ...) \
    *(void **)(&api.fn) = dlsym(lib, #fn); \
    if (!api.fn) { \
        snprintf(error_text, sizeof error_text, "%s has no function %s (libcurl 7.68 or newer is needed)", \
                 name, #fn); \
        return; \
    }
    CCURL_FUNCTIONS(RESOLVE)
    CCURL_VARIADIC(RESOLVE)
#undef RESOLVE
    loaded = 1;
}

const char *ccurl_load(void) {
    pthread_once(&once, load);
    return loaded ? NULL : error_text;
}

static void require(void) {
    if (__builtin_expect(ccurl_load() != NULL, 0)) {
        fprintf(stderr, "moonpalace: %s\n", error_text);
        abort();
    }
}

#define FORWARD(ret, name, params, args) \
    __attribute__((visibility("hidden"))) ret name params { require(); return api.name args; }
CCURL_FUNCTIONS(FORWARD)
#undef FORWARD

// For shim.c's wrappers.
CURLcode ccurl_call_easy_setopt_long(CURL *h, CURLoption o, long v) { require(); return api.curl_easy_setopt(h, o, v); }
CURLcode ccurl_call_easy_setopt_off_t(CURL *h, CURLoption o, curl_off_t v) { require(); return api.curl_easy_setopt(h, o, v); }
CURLcode ccurl_call_easy_setopt_ptr(CURL *h, CURLoption o, const void *v) { require(); return api.curl_easy_setopt(h, o, v); }
CURLcode ccurl_call_easy_getinfo_ptr(CURL *h, CURLINFO i, void *v) { require(); return api.curl_easy_getinfo(h, i, v); }
CURLMcode ccurl_call_multi_setopt_long(CURLM *m, CURLMoption o, long v) { require(); return api.curl_multi_setopt(m, o, v); }
CURLMcode ccurl_call_multi_setopt_ptr(CURLM *m, CURLMoption o, const void *v) { require(); return api.curl_multi_setopt(m, o, v); }
