/// RFC 3986 §5.2 reference resolution, enough for `$id` / `$ref`: absolute URIs (any scheme,
/// `urn:` included), network-path, absolute-path and relative-path references, and fragments.
/// Nothing is fetched: a resolved URI only names a document already in the registry.
enum URIReference {
    /// `reference` resolved against `base`.
    static func resolve(_ reference: String, against base: String) -> String {
        if reference.isEmpty { return base }
        if hasScheme(reference) { return removeDotSegments(inURI: reference) }
        let (baseNoFragment, _) = splitFragment(base)
        if reference.hasPrefix("#") { return baseNoFragment + reference }
        guard let baseParts = parts(baseNoFragment) else {
            // A base with no scheme (a schema with no `$id`): resolve the path alone.
            return mergePaths(baseNoFragment, reference)
        }
        if reference.hasPrefix("//") { return baseParts.scheme + ":" + removeDotSegments(inURI: reference) }
        if reference.hasPrefix("/") {
            return baseParts.scheme + ":" + (baseParts.authority.map { "//" + $0 } ?? "") + removeDots(path: reference)
        }
        if reference.hasPrefix("?") {
            return baseParts.scheme + ":" + (baseParts.authority.map { "//" + $0 } ?? "") + baseParts.path + reference
        }
        let merged: String
        if baseParts.authority != nil && baseParts.path.isEmpty {
            merged = "/" + reference
        } else if let slash = baseParts.path.lastIndex(of: "/") {
            merged = String(baseParts.path[...slash]) + reference
        } else {
            merged = reference
        }
        return baseParts.scheme + ":" + (baseParts.authority.map { "//" + $0 } ?? "") + removeDots(path: merged)
    }

    /// (URI without fragment, fragment without `#`, or nil when there is none).
    static func splitFragment(_ uri: String) -> (String, String?) {
        guard let hash = uri.firstIndex(of: "#") else { return (uri, nil) }
        return (String(uri[..<hash]), String(uri[uri.index(after: hash)...]))
    }

    static func hasScheme(_ text: String) -> Bool {
        guard let colon = text.firstIndex(of: ":"), colon != text.startIndex else { return false }
        let scheme = text[..<colon]
        guard let first = scheme.first, first.isASCII, first.isLetter else { return false }
        return scheme.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "+" || $0 == "-" || $0 == ".") }
    }

    private struct Parts {
        var scheme: String
        var authority: String?
        var path: String
    }

    private static func parts(_ uri: String) -> Parts? {
        guard hasScheme(uri), let colon = uri.firstIndex(of: ":") else { return nil }
        let scheme = String(uri[..<colon])
        var rest = uri[uri.index(after: colon)...]
        if let query = rest.firstIndex(of: "?") { rest = rest[..<query] }
        guard rest.hasPrefix("//") else { return Parts(scheme: scheme, authority: nil, path: String(rest)) }
        let afterSlashes = rest.dropFirst(2)
        let end = afterSlashes.firstIndex(of: "/") ?? afterSlashes.endIndex
        return Parts(scheme: scheme, authority: String(afterSlashes[..<end]), path: String(afterSlashes[end...]))
    }

    private static func mergePaths(_ base: String, _ reference: String) -> String {
        if reference.hasPrefix("/") { return removeDots(path: reference) }
        guard let slash = base.lastIndex(of: "/") else { return removeDots(path: reference) }
        return removeDots(path: String(base[...slash]) + reference)
    }

    private static func removeDotSegments(inURI uri: String) -> String {
        guard let parsed = parts(uri), parsed.path.contains("/.") else { return uri }
        let (withoutFragment, fragment) = splitFragment(uri)
        let query = withoutFragment.firstIndex(of: "?").map { String(withoutFragment[$0...]) } ?? ""
        return parsed.scheme + ":" + (parsed.authority.map { "//" + $0 } ?? "") + removeDots(path: parsed.path) + query
            + (fragment.map { "#" + $0 } ?? "")
    }

    /// RFC 3986 §5.2.4.
    static func removeDots(path: String) -> String {
        guard path.contains(".") else { return path }
        var output: [Substring] = []
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        for (index, segment) in segments.enumerated() {
            if segment == "." {
                if index == segments.count - 1 { output.append("") }
            } else if segment == ".." {
                if output.count > 1 { output.removeLast() }
                if index == segments.count - 1 { output.append("") }
            } else {
                output.append(segment)
            }
        }
        return output.joined(separator: "/")
    }

    /// RFC 6901 JSON pointer tokens from a URI fragment (percent-decoded first, as §6 says).
    static func pointerTokens(_ fragment: String) -> [String]? {
        guard let decoded = percentDecode(fragment) else { return nil }
        if decoded.isEmpty { return [] }
        guard decoded.hasPrefix("/") else { return nil }
        return decoded.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map {
            $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
        }
    }

    static func percentDecode(_ text: String) -> String? {
        guard text.contains("%") else { return text }
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "%") {
                guard utf8.count >= 2, let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16) else { return nil }
                bytes.append(value)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }
}

extension Substring {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        String(self).replacing(target, with: replacement)
    }
}
