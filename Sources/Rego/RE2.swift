import Glibc

/// `regex.match` with RE2's meaning (OPA's engine) on glibc's POSIX extended regular
/// expressions, which match in time linear in the text for patterns without back-references
/// (no catastrophic backtracking, unlike a backtracking engine). RE2 syntax is translated:
/// Perl classes \d \w \s (ASCII, as RE2's), `(?:…)`, a leading `(?i)`, lazy quantifiers (the
/// same answer for a yes/no match). What cannot be translated (\b, \p{…}, back-references,
/// other flags) stops the evaluation with an error rather than answering wrongly.
enum RE2 {
    struct Unsupported: Error { let message: String }

    /// (ERE pattern, case-insensitive) for an RE2 pattern; nil when it is not valid RE2 we can translate.
    static func translate(_ pattern: String) throws(Unsupported) -> (String, Bool) {
        var scalars = Array(pattern.unicodeScalars)[...]
        var ignoreCase = false
        if scalars.starts(with: "(?i)".unicodeScalars) {
            ignoreCase = true
            scalars = scalars.dropFirst(4)
        }
        var out = String.UnicodeScalarView()
        var inBracket = false
        func classBody(_ c: Unicode.Scalar) -> String? {
            switch c {
            case "d": "0-9"
            case "w": "0-9A-Za-z_"
            case "s": "\t\n\u{c}\r "
            default: nil
            }
        }
        while let c = scalars.popFirst() {
            if c == "\\" {
                guard let e = scalars.popFirst() else { throw Unsupported(message: "a pattern ending in \\") }
                if let body = classBody(e) {
                    out.append(contentsOf: (inBracket ? body : "[" + body + "]").unicodeScalars)
                } else if let upper = classBody(Unicode.Scalar(e.value + 32) ?? e), ["D", "W", "S"].contains(e) {
                    guard !inBracket else { throw Unsupported(message: "negated Perl classes inside brackets") }
                    out.append(contentsOf: ("[^" + upper + "]").unicodeScalars)
                } else if "nrtf".unicodeScalars.contains(e) {
                    out.append(["n": "\n", "r": "\r", "t": "\t", "f": "\u{c}"][Character(e)]!.unicodeScalars.first!)
                } else if e.properties.isAlphabetic || ("0"..."9").contains(e) {
                    throw Unsupported(message: "\\\(e) is not supported in regex.match patterns here")
                } else {
                    // An escaped punctuation character: literal.
                    if inBracket { out.append(e) } else { out.append("\\"); out.append(e) }
                }
                continue
            }
            if inBracket {
                if c == "]" && !(out.last == "[" || (out.last == "^" && out.dropLast().last == "[")) { inBracket = false }
                out.append(c)
                continue
            }
            switch c {
            case "[":
                inBracket = true
                out.append(c)
            case "(":
                if scalars.first == "?" {
                    guard scalars.dropFirst().first == ":" else { throw Unsupported(message: "(? groups other than (?: are not supported") }
                    scalars = scalars.dropFirst(2)
                }
                out.append(c)
            case "*", "+", "?", "}":
                out.append(c)
                if scalars.first == "?" { scalars = scalars.dropFirst() }  // lazy: same yes/no answer
            default:
                out.append(c)
            }
        }
        return (String(out), ignoreCase)
    }

    static func matches(_ pattern: String, _ text: String) throws -> Bool {
        let (ere, ignoreCase) = try translate(pattern)
        var compiled = regex_t()
        guard regcomp(&compiled, ere, REG_EXTENDED | REG_NOSUB | (ignoreCase ? REG_ICASE : 0)) == 0 else {
            throw BuiltinFailure(message: "regex.match: invalid pattern \(pattern)")
        }
        defer { regfree(&compiled) }
        guard !text.utf8.contains(0) else { throw BuiltinFailure(message: "regex.match: text with NUL") }
        return regexec(&compiled, text, 0, nil, 0) == 0
    }
}
