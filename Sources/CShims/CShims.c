// accept4 and pthread_setname_np are GNU extensions: _GNU_SOURCE must come before any system header, and only here —
// defining it in the module header would change fd_set's layout for every importer.
#define _GNU_SOURCE
#include <sys/socket.h>
#include <pthread.h>
#include "CShims.h"

int Shim_accept4(int fd, int flags) { return accept4(fd, NULL, NULL, flags); }
int Shim_pthread_setname_self(const char *name) { return pthread_setname_np(pthread_self(), name); }
