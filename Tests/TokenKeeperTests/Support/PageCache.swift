import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What the kernel's page cache holds of a file, from Linux's `cachestat(2)` (Linux 6.5 and later):
/// how many of its pages are dirty (written but not yet on disk) or under writeback.
///
/// Tests use it to see, from the kernel itself, whether a write was synced: right after `write(2)` the
/// pages are dirty, and they stay so for up to `vm.dirty_expire_centisecs` (30 s by default) unless
/// something syncs them; after `fsync`/`fdatasync` returns, none are dirty or under writeback. It cannot
/// tell whether the disk honours the flush (a lying write cache), nor see a power cut.
struct PageCacheState: Equatable, CustomStringConvertible {
    var cached: UInt64
    var dirty: UInt64
    var writeback: UInt64

    /// Whether every cached page of the file has reached the disk.
    var isClean: Bool { dirty == 0 && writeback == 0 }
    var description: String { "\(cached) cached, \(dirty) dirty, \(writeback) under writeback" }

    /// The state of the whole file at `path`.
    /// - throws: ``PageCacheUnavailable`` when the file cannot be opened or the kernel has no cachestat.
    static func of(_ path: String) throws -> PageCacheState {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw PageCacheUnavailable(reason: "cannot open \(path): errno \(errno)") }
        defer { close(fd) }
        // struct cachestat_range { __u64 off, len; } (len 0: to the end), struct cachestat { __u64 nr_cache,
        // nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted; }.
        let range: [UInt64] = [0, 0]
        var stat = [UInt64](repeating: 0, count: 5)
        let result = range.withUnsafeBytes { rangeBytes in
            stat.withUnsafeMutableBytes { statBytes in
                Self.syscall5(Self.cachestatNumber, Int(fd), rangeBytes.baseAddress!, statBytes.baseAddress!, 0)
            }
        }
        guard result == 0 else {
            throw PageCacheUnavailable(reason: "cachestat(2) failed with errno \(errno) (it needs Linux 6.5 or later)")
        }
        return PageCacheState(cached: stat[0], dirty: stat[1], writeback: stat[2])
    }

    /// cachestat's system call number (the same on x86_64 and arm64: the generic table).
    private static let cachestatNumber = 451

    /// glibc's `syscall(2)`. Swift cannot call the C variadic function directly, and glibc has no
    /// cachestat wrapper; glibc's `syscall` is a register shuffle in assembly that reads no va_list, so
    /// calling it through a fixed five-argument prototype with integer and pointer arguments is what C
    /// callers' variadic calls compile to on these ABIs.
    private static let syscall5: @convention(c) (Int, Int, UnsafeRawPointer, UnsafeMutableRawPointer, Int) -> Int = {
        guard let symbol = dlsym(nil, "syscall") else {  // nil is RTLD_DEFAULT in glibc
            fatalError("glibc's syscall(2) is missing")
        }
        return unsafeBitCast(
            symbol, to: (@convention(c) (Int, Int, UnsafeRawPointer, UnsafeMutableRawPointer, Int) -> Int).self)
    }()
}

/// The page cache state could not be read.
struct PageCacheUnavailable: Error, CustomStringConvertible {
    var reason: String
    var description: String { reason }
}
