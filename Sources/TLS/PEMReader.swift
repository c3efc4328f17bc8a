internal import CShims
import Crypto

/// Parses PEM bytes through a memory BIO. Callers own (and free) what it returns.
enum PEMReader {
    /// PEM certificates, read by Crypto's one PEM certificate reader; a failure is reported as a
    /// TLS error of `code` naming the file.
    static func certificates(_ pem: [UInt8], path: String, code: TLSError.Code = .certificateLoad) throws(TLSError) -> [Certificate] {
        do {
            return try Certificate.pemChain(pem, source: path)
        } catch {
            throw TLSError(code, "no PEM certificate found in \(path)")
        }
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
