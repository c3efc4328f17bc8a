/// Fetches a small document over HTTP(S) — an OCSP response, a CRL. Verifiers that need the
/// network (revocation) take one of these, so their logic stays testable and the I/O stays at
/// the edge (the Registry module implements it over libcurl).
public protocol HTTPFetching: Sendable {
    /// GET `url`, or POST `body` with `contentType` when a body is given. Any status but 200 is
    /// an error, as is running past `timeout`.
    func fetch(_ url: String, body: [UInt8]?, contentType: String?, timeout: Duration, maxBytes: Int) async throws -> [UInt8]
}
