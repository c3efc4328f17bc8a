internal import CShims

/// OpenSSL's `i2d_*(object, &out)` convention: the encoder allocates `out` and returns its
/// length. Copies the encoding out and frees OpenSSL's buffer; nil when encoding failed.
func i2dBytes(_ encode: (inout UnsafeMutablePointer<UInt8>?) -> Int32) -> [UInt8]? {
    var out: UnsafeMutablePointer<UInt8>?
    let length = encode(&out)
    guard length > 0, let out else { return nil }
    defer { Shim_OPENSSL_free(out) }
    return Array(UnsafeBufferPointer(start: out, count: Int(length)))
}

/// A NUL-terminated C buffer OpenSSL filled in, as a Swift string.
func cString(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
