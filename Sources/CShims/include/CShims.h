// The only C in the project: one-line wrappers for what Swift cannot import directly —
// OpenSSL function-like macros, libcurl's variadic setters, and epoll's packed struct.
// Every wrapper is named Shim_<original> and carries no logic of its own.
#ifndef RATIFY_CSHIMS_H
#define RATIFY_CSHIMS_H

#include <sys/socket.h>

#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/ec.h>
#include <openssl/bn.h>
#include <openssl/ts.h>
#include <openssl/ocsp.h>
#include <openssl/ct.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/pkcs12.h>
#include <malloc.h>
#include <curl/curl.h>

// ---- OpenSSL macros ----
static inline long Shim_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) { return SSL_CTX_set_min_proto_version(ctx, version); }
static inline long Shim_SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int version) { return SSL_CTX_set_max_proto_version(ctx, version); }
static inline long Shim_SSL_CTX_set_mode(SSL_CTX *ctx, long mode) { return SSL_CTX_set_mode(ctx, mode); }
static inline long Shim_SSL_CTX_set_read_ahead(SSL_CTX *ctx, long yes) { return SSL_CTX_set_read_ahead(ctx, yes); }
static inline long Shim_SSL_CTX_set1_groups_list(SSL_CTX *ctx, const char *list) { return SSL_CTX_set1_groups_list(ctx, list); }
static inline long Shim_SSL_set_tlsext_host_name(SSL *ssl, const char *name) { return SSL_set_tlsext_host_name(ssl, name); }
static inline uint64_t Shim_SSL_OP_NO_RENEGOTIATION(void) { return SSL_OP_NO_RENEGOTIATION; }
static inline uint64_t Shim_SSL_OP_CIPHER_SERVER_PREFERENCE(void) { return SSL_OP_CIPHER_SERVER_PREFERENCE; }
static inline uint64_t Shim_SSL_OP_NO_COMPRESSION(void) { return SSL_OP_NO_COMPRESSION; }
static inline uint64_t Shim_SSL_OP_IGNORE_UNEXPECTED_EOF(void) { return SSL_OP_IGNORE_UNEXPECTED_EOF; }
static inline void Shim_OPENSSL_free(void *ptr) { OPENSSL_free(ptr); }

// ---- libcurl variadics ----
static inline CURLcode Shim_curl_easy_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode Shim_curl_easy_setopt_string(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode Shim_curl_easy_setopt_pointer(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode Shim_curl_easy_setopt_write_function(CURL *h, CURLoption o, size_t (*f)(char *, size_t, size_t, void *)) { return curl_easy_setopt(h, o, f); }
static inline CURLcode Shim_curl_easy_getinfo_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode Shim_curl_easy_getinfo_string(CURL *h, CURLINFO i, char **v) { return curl_easy_getinfo(h, i, v); }
static inline CURLMcode Shim_curl_multi_setopt_long(CURLM *h, CURLMoption o, long v) { return curl_multi_setopt(h, o, v); }
static inline CURLMcode Shim_curl_multi_setopt_pointer(CURLM *h, CURLMoption o, void *v) { return curl_multi_setopt(h, o, v); }
static inline CURLMcode Shim_curl_multi_setopt_socket_function(CURLM *h, int (*f)(CURL *, curl_socket_t, int, void *, void *)) { return curl_multi_setopt(h, CURLMOPT_SOCKETFUNCTION, f); }
static inline CURLMcode Shim_curl_multi_setopt_timer_function(CURLM *h, int (*f)(CURLM *, long, void *)) { return curl_multi_setopt(h, CURLMOPT_TIMERFUNCTION, f); }
static inline CURLSHcode Shim_curl_share_setopt_long(CURLSH *h, CURLSHoption o, long v) { return curl_share_setopt(h, o, v); }

// ---- GNU extensions the Glibc module does not export ----
int Shim_accept4(int fd, int flags);  // defined in CShims.c, which may define _GNU_SOURCE
int Shim_pthread_setname_self(const char *name);  // the calling thread's name (15 bytes at most)

// ---- epoll: struct epoll_event is packed on x86_64, which Swift cannot lay out ----
static inline int Shim_epoll_ctl(int epfd, int op, int fd, uint32_t events) {
    struct epoll_event ev = { .events = events, .data = { .fd = fd } }; return epoll_ctl(epfd, op, fd, &ev);
}
static inline int Shim_epoll_wait(int epfd, int *fds, uint32_t *events, int max, int timeout) {
    struct epoll_event evs[256]; int n = epoll_wait(epfd, evs, max > 256 ? 256 : max, timeout);
    for (int i = 0; i < n; i++) { fds[i] = evs[i].data.fd; events[i] = evs[i].events; } return n;
}

#endif
