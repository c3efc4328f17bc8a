// accept4 is a GNU extension: _GNU_SOURCE must come before any system header, and only here —
// defining it in the module header would change fd_set's layout for every importer.
#define _GNU_SOURCE
#include <sys/socket.h>
#include "CShims.h"

int Shim_accept4(int fd, int flags) { return accept4(fd, NULL, NULL, flags); }
