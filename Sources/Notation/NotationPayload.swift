import Core
import JSON

/// The signed payload (signature-specification.md, "Payload"): `{"targetArtifact": descriptor}`.
public struct NotationPayload: Sendable, Equatable {
    public let targetArtifact: Descriptor

    public static func parse(_ bytes: [UInt8]) throws(NotationError) -> NotationPayload {
        let value: JSONValue
        do { value = try JSONParser.parse(bytes) } catch {
            throw NotationError(.malformedPayload, "the signed payload is not valid JSON: \(error)")
        }
        guard let object = value.objectValue else { throw NotationError(.malformedPayload, "the signed payload is not a JSON object") }
        // notation-go reads the payload with encoding/json: other members are ignored.
        guard let target = object["targetArtifact"] else { throw NotationError(.malformedPayload, "the signed payload has no targetArtifact") }
        do { return NotationPayload(targetArtifact: try Descriptor.parse(target, path: "targetArtifact")) } catch {
            throw NotationError(.malformedPayload, "the signed payload's \(error.message)")
        }
    }
}
