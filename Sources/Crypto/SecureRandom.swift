internal import CShims

/// Random bytes from OpenSSL's DRBG: seeded from the operating system, kept per thread in user
/// space, so a draw costs no system call (`SystemRandomNumberGenerator` makes one `getrandom`
/// call for every 8 bytes).
public enum SecureRandom {
    public static func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        if out.withUnsafeMutableBytes({ RAND_bytes($0.baseAddress, Int32($0.count)) }) != 1 {
            // The DRBG could not be seeded (it reports, not aborts): the kernel's generator.
            _ = OpenSSLErrorQueue.drain()
            var system = SystemRandomNumberGenerator()
            for index in out.indices { out[index] = system.next() }
        }
        return out
    }
}
