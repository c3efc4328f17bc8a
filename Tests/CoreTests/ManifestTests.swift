import Core
import Testing

@Suite struct ManifestTests {
    /// The OCI 1.1 release candidates' artifact manifest (what ORAS 0.16–1.0 pushed, and Ratify
    /// reads as a reference manifest): its `blobs` are its content.
    @Test func artifactManifestBlobsAreItsLayers() throws {
        let digest = "sha256:" + String(repeating: "a", count: 64)
        let text = #"{"mediaType":"application/vnd.oci.artifact.manifest.v1+json","artifactType":"application/vnd.ratify.plugin","blobs":[{"mediaType":"application/octet-stream","digest":"\#(digest)","size":7}]}"#
        let manifest = try Manifest.parse(Array(text.utf8), mediaType: nil)
        #expect(manifest.layers.map(\.digest.description) == [digest] && manifest.layers.first?.size == 7)
        #expect(manifest.effectiveArtifactType == "application/vnd.ratify.plugin")
        // An image manifest's `blobs` mean nothing.
        let image = #"{"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[],"blobs":[{"mediaType":"x","digest":"\#(digest)","size":1}]}"#
        #expect(try Manifest.parse(Array(image.utf8), mediaType: nil).layers.isEmpty)
        #expect(MediaType.manifestAccept.contains(MediaType.ociArtifactManifest))
    }
}
