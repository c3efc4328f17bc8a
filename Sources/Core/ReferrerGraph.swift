import JSON

/// A subject and, recursively, what refers to it: signatures, SBOMs, signatures on SBOMs.
/// What `ratify discover` prints and what nested verification walks.
public struct ReferrerNode: Sendable, Equatable {
    public var reference: String
    public var descriptor: Descriptor
    public var referrers: [ReferrerNode]

    public init(reference: String, descriptor: Descriptor, referrers: [ReferrerNode] = []) {
        self.reference = reference
        self.descriptor = descriptor
        self.referrers = referrers
    }

    /// Walks the graph from `subject` (a tag or digest reference), `maxDepth` levels deep.
    /// A digest seen twice is not walked again, so a cycle in hostile metadata ends.
    public static func discover(_ subject: ImageReference, store: any ReferrerStore, maxDepth: Int = 5,
                                deadline: ContinuousClock.Instant) async throws -> ReferrerNode {
        let descriptor = try await store.resolve(subject, deadline: deadline)
        var seen: Set<Digest> = [descriptor.digest]
        return try await walk(subject.pinned(to: descriptor.digest), descriptor: descriptor, store: store,
                              depth: maxDepth, seen: &seen, deadline: deadline)
    }

    private static func walk(_ reference: ImageReference, descriptor: Descriptor, store: any ReferrerStore, depth: Int,
                             seen: inout Set<Digest>, deadline: ContinuousClock.Instant) async throws -> ReferrerNode {
        var node = ReferrerNode(reference: reference.description, descriptor: descriptor)
        guard depth > 0 else { return node }
        let children = try await store.referrers(of: reference, artifactTypes: nil, deadline: deadline)
        for child in children.sorted(by: { ($0.artifactType ?? "", $0.digest) < ($1.artifactType ?? "", $1.digest) })
        where seen.insert(child.digest).inserted {
            let childReference = ImageReference(registry: reference.registry, repository: reference.repository, digest: child.digest)
            node.referrers.append(try await walk(childReference, descriptor: child, store: store, depth: depth - 1,
                                                 seen: &seen, deadline: deadline))
        }
        return node
    }

    /// `oras discover -o json`'s shape: the node's descriptor plus `reference` and nested `manifests`.
    public func json() -> JSONValue {
        var object: JSONObject = ["reference": .string(reference)]
        for member in descriptor.json().objectValue!.members { object[member.key] = member.value }
        object["manifests"] = .array(referrers.map { $0.json() })
        return .object(object)
    }

    /// `oras discover -o tree`'s shape: referrers grouped under their artifact type.
    public func tree() -> String {
        var lines = [reference]
        Self.appendChildren(of: self, prefix: "", into: &lines)
        return lines.joined(separator: "\n")
    }

    private static func appendChildren(of node: ReferrerNode, prefix: String, into lines: inout [String]) {
        var groups: [(type: String, nodes: [ReferrerNode])] = []
        for child in node.referrers {
            let type = child.descriptor.artifactType ?? "<no artifact type>"
            if let i = groups.firstIndex(where: { $0.type == type }) { groups[i].nodes.append(child) } else { groups.append((type, [child])) }
        }
        for (g, group) in groups.enumerated() {
            let lastGroup = g == groups.count - 1
            lines.append(prefix + (lastGroup ? "└── " : "├── ") + group.type)
            let groupPrefix = prefix + (lastGroup ? "    " : "│   ")
            for (n, child) in group.nodes.enumerated() {
                let lastNode = n == group.nodes.count - 1
                lines.append(groupPrefix + (lastNode ? "└── " : "├── ") + child.descriptor.digest.description)
                appendChildren(of: child, prefix: groupPrefix + (lastNode ? "    " : "│   "), into: &lines)
            }
        }
    }
}
