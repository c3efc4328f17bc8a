internal import CShims

/// glibc's allocator as a long-running server wants it. (The event loop also gives memory back
/// after connection bursts, with `malloc_trim`; see `EventLoop`.)
public enum ProcessMemory {
    /// Allocations of at least `bytes` get pages of their own, returned when freed. glibc's
    /// default threshold moves up to the largest block freed so far (up to 32 MiB), after which
    /// such blocks come from the thread's arena and what they leave behind at the arena's top
    /// stays resident: `malloc_trim` does not shrink a thread arena's top. A fixed threshold also
    /// fixes the trim threshold, so the arenas give memory back as they shrink.
    public static func mapAllocations(from bytes: Int) {
        _ = mallopt(M_MMAP_THRESHOLD, Int32(bytes))
    }
}
