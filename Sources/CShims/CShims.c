// CShims is header-only (static inline one-liners); SwiftPM needs one translation unit.
#include "CShims.h"
