internal import CShims

/// Parses PEM bytes through a memory BIO. Callers own (and free) what it returns.
enum PEMReader {
    static func certificates(_ pem: [UInt8], path: String, code: TLSError.Code = .certificateLoad) throws(TLSError) -> [OpaquePointer] {
        OpenSSLErrorQueue.clear()
        var result: [OpaquePointer] = []
        let ok = pem.withUnsafeBytes { raw -> Bool in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return false }
            defer { BIO_free(bio) }
            while let cert = PEM_read_bio_X509(bio, nil, nil, nil) { result.append(cert) }
            return true
        }
        // Reading stops with a "no start line" error at the end of the data; that one is expected.
        _ = OpenSSLErrorQueue.drain()
        guard ok, !result.isEmpty else {
            result.forEach { X509_free($0) }
            throw TLSError(code, "no PEM certificate found in \(path)")
        }
        return result
    }

    static func privateKey(_ pem: [UInt8], path: String) throws(TLSError) -> OpaquePointer {
        OpenSSLErrorQueue.clear()
        let key: OpaquePointer? = pem.withUnsafeBytes { raw in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return nil }
            defer { BIO_free(bio) }
            return PEM_read_bio_PrivateKey(bio, nil, nil, nil)
        }
        guard let key else {
            throw TLSError.fromQueue(.privateKeyLoad, "no usable PEM private key in \(path) (encrypted keys are not supported)")
        }
        return key
    }
}
