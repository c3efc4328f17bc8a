/// An image reference as Docker and OCI tools parse it (distribution's `reference` package and
/// its `ParseNormalizedNamed`): `busybox` → `docker.io/library/busybox:latest`.
///
/// Grammar (distribution/reference/reference.go):
///
///     reference        := name [ ":" tag ] [ "@" digest ]
///     name             := [domain '/'] remote-name
///     domain           := host [':' port-number]
///     remote-name      := path-component ['/' path-component]*
///     path-component   := alpha-numeric [separator alpha-numeric]*
///     alpha-numeric    := /[a-z0-9]+/
///     separator        := /[_.]|__|[-]*/
///     tag              := /[\w][\w.-]{0,127}/
public struct ImageReference: Hashable, Sendable, CustomStringConvertible {
    /// Registry host as used on the wire, with port: `docker.io`, `ghcr.io`, `localhost:5000`.
    public let registry: String
    /// Repository path inside the registry: `library/busybox`.
    public let repository: String
    public let tag: String?
    public let digest: Digest?
    /// `registry/repository`, the name without tag or digest.
    public let name: String
    /// `name[:tag][@digest]`. Both texts are made once: they key caches and name the image in
    /// URLs, logs and reports many times per verification.
    public let description: String

    public init(registry: String, repository: String, tag: String? = nil, digest: Digest? = nil) {
        self.init(registry: registry, repository: repository, tag: tag, digest: digest, name: "\(registry)/\(repository)")
    }

    private init(registry: String, repository: String, tag: String?, digest: Digest?, name: String) {
        self.registry = registry
        self.repository = repository
        self.tag = tag
        self.digest = digest
        var text = name
        if let tag { text += ":\(tag)" }
        if let digest { text += "@\(digest.description)" }
        self.name = name
        self.description = text
    }

    // Equal parts make equal texts, so hashing the text alone agrees with equality.
    public static func == (lhs: ImageReference, rhs: ImageReference) -> Bool {
        lhs.registry == rhs.registry && lhs.repository == rhs.repository && lhs.tag == rhs.tag && lhs.digest == rhs.digest
    }
    public func hash(into hasher: inout Hasher) { hasher.combine(description) }

    public static let dockerHub = "docker.io"
    public static let maxNameLength = 255

    /// The same image pinned to `digest`, keeping the tag for people reading it.
    public func pinned(to digest: Digest) -> ImageReference {
        ImageReference(registry: registry, repository: repository, tag: tag, digest: digest, name: name)
    }

    /// The host to contact: Docker Hub's API lives at registry-1.docker.io.
    public var apiHost: String { registry == Self.dockerHub ? "registry-1.docker.io" : registry }

    public static func parse(_ text: String) throws(ReferenceError) -> ImageReference {
        guard !text.isEmpty else { throw ReferenceError(.invalidReference, "reference is empty") }
        var remainder = Substring(text)
        var digest: Digest?
        // Separators are searched as bytes (UTF-8 views): Character search would break the text
        // into grapheme clusters, and this runs for every key of every request.
        if let at = remainder.utf8.firstIndex(of: UInt8(ascii: "@")) {
            digest = try Digest.parse(String(remainder[remainder.utf8.index(after: at)...]))
            remainder = remainder[..<at]
        }
        // A tag follows the last ':' that comes after the last '/' (a port's ':' comes before it).
        var tag: String?
        let lastSlash = remainder.utf8.lastIndex(of: UInt8(ascii: "/"))
        if let colon = remainder.utf8.lastIndex(of: UInt8(ascii: ":")), lastSlash.map({ colon > $0 }) ?? true {
            let candidate = String(remainder[remainder.utf8.index(after: colon)...])
            guard isValidTag(candidate) else {
                throw ReferenceError(.invalidTag, "invalid tag \"\(candidate)\" in \"\(text)\": tags are [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
            }
            tag = candidate
            remainder = remainder[..<colon]
        }
        let name = String(remainder)
        guard !name.isEmpty else { throw ReferenceError(.invalidReference, "reference \"\(text)\" has no repository name") }

        // ParseNormalizedNamed: the first component is a registry when it has '.' or ':', is
        // "localhost", or has uppercase letters; otherwise the image is on Docker Hub.
        var registry = dockerHub, path = name
        if let slash = name.utf8.firstIndex(of: UInt8(ascii: "/")) {
            let first = name[..<slash]
            // Bytes, not substrings: `contains("…")` would be Foundation's string search.
            if first.utf8.contains(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: ":") }) || hasUppercase(first) || first == "localhost" {
                registry = String(first)
                path = String(name[name.utf8.index(after: slash)...])
            }
        }
        guard !hasUppercase(path) else {
            throw ReferenceError(.nameNotLowercase, "repository name \"\(path)\" must be lowercase")
        }
        if registry == "index.docker.io" { registry = dockerHub }
        guard isValidDomain(registry) else {
            throw ReferenceError(.invalidReference, "invalid registry host \"\(registry)\" in \"\(text)\"")
        }
        if registry == dockerHub && !path.utf8.contains(UInt8(ascii: "/")) { path = "library/" + path }
        guard path.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).allSatisfy(isValidPathComponent) else {
            throw ReferenceError(.invalidReference,
                "invalid repository name \"\(path)\" in \"\(text)\": components are lowercase letters and digits joined by '.', '_', '__' or '-'")
        }
        guard registry.utf8.count + 1 + path.utf8.count <= maxNameLength else {
            throw ReferenceError(.nameTooLong, "repository name must not be longer than \(maxNameLength) characters")
        }
        return ImageReference(registry: registry, repository: path, tag: tag ?? (digest == nil ? "latest" : nil), digest: digest)
    }

    static func isAlphaNumeric(_ c: UInt8) -> Bool { (0x61...0x7A).contains(c) || (0x30...0x39).contains(c) }

    /// path-component := alpha-numeric [separator alpha-numeric]*, separator := [_.] | __ | [-]*
    /// One pass over the bytes, no copies (this runs for every key of every request).
    static func isValidPathComponent(_ component: Substring.UTF8View) -> Bool {
        var sawAlphaNumeric = false
        var run: (byte: UInt8, count: Int, mixed: Bool) = (0, 0, false)
        for c in component {
            if isAlphaNumeric(c) {
                if run.count > 0 {
                    // A separator must follow an alpha-numeric and be one of `.`, `_`, `__`, `-+`.
                    let ok = !run.mixed && (run.byte == UInt8(ascii: ".") && run.count == 1
                        || run.byte == UInt8(ascii: "_") && run.count <= 2 || run.byte == UInt8(ascii: "-"))
                    guard sawAlphaNumeric, ok else { return false }
                    run = (0, 0, false)
                }
                sawAlphaNumeric = true
            } else {
                if run.count > 0 && c != run.byte { run.mixed = true }
                run.byte = c
                run.count += 1
            }
        }
        return sawAlphaNumeric && run.count == 0
    }

    /// Whether `text` has an uppercase letter: a byte scan for ASCII text (every valid
    /// reference), Unicode's rule otherwise (the error then names the right part).
    static func hasUppercase<S: StringProtocol>(_ text: S) -> Bool {
        for byte in text.utf8 {
            if byte >= 0x80 { return text.contains(where: \.isUppercase) }
            if byte >= 0x41 && byte <= 0x5A { return true }
        }
        return false
    }

    /// domain := host [':' port]; host := domain-name | IPv4 | '[' IPv6 ']'. ASCII only, checked
    /// byte by byte (this runs for every key of every request).
    static func isValidDomain(_ domain: String) -> Bool {
        if let valid = domain.utf8.withContiguousStorageIfAvailable(isValidDomain) { return valid }
        return Array(domain.utf8).withUnsafeBufferPointer(isValidDomain)
    }

    private static func isValidDomain(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        func digit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
        func letter(_ c: UInt8) -> Bool { c | 0x20 >= 0x61 && c | 0x20 <= 0x7A }
        func alphaNumeric(_ c: UInt8) -> Bool { digit(c) || letter(c) }
        func port(_ digits: Slice<UnsafeBufferPointer<UInt8>>) -> Bool { !digits.isEmpty && digits.allSatisfy(digit) }
        if bytes.first == UInt8(ascii: "[") {
            guard let close = bytes.firstIndex(of: UInt8(ascii: "]")) else { return false }
            let inside = bytes[1..<close]
            guard !inside.isEmpty, inside.allSatisfy({ digit($0) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x66) || $0 == UInt8(ascii: ":") }) else {
                return false
            }
            let rest = bytes[(close + 1)...]
            return rest.isEmpty || (rest.first == UInt8(ascii: ":") && port(rest.dropFirst()))
        }
        var end = bytes.count
        if let colon = bytes.lastIndex(of: UInt8(ascii: ":")) {
            guard port(bytes[(colon + 1)...]) else { return false }
            end = colon
        }
        guard end > 0 else { return false }
        // Labels of letters, digits and '-', each beginning and ending with a letter or digit.
        var labelStart = 0
        for i in 0...end {
            if i == end || bytes[i] == UInt8(ascii: ".") {
                guard i > labelStart, alphaNumeric(bytes[labelStart]), alphaNumeric(bytes[i - 1]) else { return false }
                labelStart = i + 1
            } else if !alphaNumeric(bytes[i]) && bytes[i] != UInt8(ascii: "-") {
                return false
            }
        }
        return true
    }

    static func isValidTag(_ tag: String) -> Bool {
        let bytes = tag.utf8
        guard let first = bytes.first, bytes.count <= 128 else { return false }
        func word(_ c: UInt8) -> Bool { (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c) || (0x30...0x39).contains(c) || c == 0x5F }
        return word(first) && bytes.dropFirst().allSatisfy { word($0) || $0 == 0x2E || $0 == 0x2D }
    }
}
