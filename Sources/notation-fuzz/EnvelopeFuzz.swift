import CBOR
import Core
import Foundation
import Notation

/// Fuzz entry points for the parsers that read attacker-controlled signature bytes: the strict
/// CBOR decoder, and both envelope formats through the whole verification workflow.
///
/// `make fuzz` builds this with `-sanitize=fuzzer -D FUZZING` and runs libFuzzer on each target
/// (the first input byte picks the target). Built normally, it replays files given on the
/// command line — a corpus or a crash reproducer — through the same function.
enum EnvelopeFuzz {
    static let subject = Descriptor(mediaType: "application/vnd.oci.image.manifest.v1+json",
                                    digest: try! Digest.parse("sha256:" + String(repeating: "1", count: 64)), size: 1234)
    static let policy = try! TrustPolicyDocument.parse(try! JSONParserShim.policy(), path: "fuzz").policies[0]

    static func run(_ data: [UInt8]) {
        guard let selector = data.first else { return }
        let input = Array(data.dropFirst())
        switch selector % 3 {
        case 0: _ = try? CBORDecoder.decode(input)
        case 1: check(NotationVerification.verify(envelope: input, mediaType: "application/jose+json", subject: subject, policy: policy, trustStores: TrustStoreSet()))
        default: check(NotationVerification.verify(envelope: input, mediaType: "application/cose", subject: subject, policy: policy, trustStores: TrustStoreSet()))
        }
    }

    /// With an empty trust store nothing can pass: a pass is a bug worth crashing for.
    static func check(_ outcome: NotationOutcome) {
        precondition(!outcome.isSuccess, "an envelope passed verification with an empty trust store")
        precondition(outcome.failures.allSatisfy { !$0.message.isEmpty }, "a failure without a message")
    }
}

import JSON
enum JSONParserShim {
    static func policy() throws -> JSONValue {
        try JSONParser.parse(#"{"version":"1.0","trustPolicies":[{"name":"fuzz","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:fuzz"],"trustedIdentities":["*"]}]}"#)
    }
}

#if FUZZING
/// libFuzzer's driver, started from the executable's entry point (SwiftPM links executables
/// with their own `main`, so libFuzzer's is not used).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

@_cdecl("notation_fuzz_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { data, size in
        EnvelopeFuzz.run(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
        return 0
    }
}
#else
@main
struct Replay {
    static func main() throws {
        for path in CommandLine.arguments.dropFirst() {
            EnvelopeFuzz.run(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
            print("ok \(path)")
        }
    }
}
#endif
