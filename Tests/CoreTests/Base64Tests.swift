import Core
import Testing

/// Go's encoding/base64 as notation-core-go, cosign and sigstore-go decode with it.
@Suite struct Base64Tests {
    static let bytes: [UInt8] = Array("any carnal pleasure.".utf8)

    @Test func standardNeedsPaddingAndSkipsLineBreaks() {
        #expect(Base64.decode("YW55IGNhcm5hbCBwbGVhc3VyZS4=", .standard) == Self.bytes)
        // cosign's signature annotation as containers/image's fixtures carry it: wrapped.
        #expect(Base64.decode("YW55IGNhcm5h\nbCBwbGVh\r\nc3VyZS4=\n", .standard) == Self.bytes)
        #expect(Base64.decode("YW55IGNhcm5hbCBwbGVhc3VyZS4", .standard) == nil, "padding is required")
        #expect(Base64.decode("YW55IGNhcm5hbCBwbGVhc3VyZS4==", .standard) == nil, "too much padding")
        #expect(Base64.decode("YW55IGNhcm5hbCBwbGVhc3VyZS4=x", .standard) == nil, "data after padding")
        #expect(Base64.decode("YW55 IGNhcm5hbCBwbGVhc3VyZS4=", .standard) == nil, "spaces are not skipped")
        #expect(Base64.decode("YW55-GNhcm5hbCBwbGVhc3VyZS4=", .standard) == nil, "URL alphabet")
        #expect(Base64.decode("", .standard) == [])
        #expect(Base64.decode("QQ==", .standard) == [0x41])
        #expect(Base64.decode("Q===", .standard) == nil)
    }

    @Test func rawURLRefusesPaddingAndTheStandardAlphabet() {
        #expect(Base64.decode("-_8", .rawURL) == [0xfb, 0xff])
        #expect(Base64.decode("-_8=", .rawURL) == nil)
        #expect(Base64.decode("+/8", .rawURL) == nil)
        #expect(Base64.decode("A", .rawURL) == nil, "a lone symbol is no byte")
    }

    @Test func protobufJSONTakesEitherAlphabetWithOrWithoutPadding() {
        #expect(Base64.decode("+/8=", .protobufJSON) == [0xfb, 0xff])
        #expect(Base64.decode("-_8=", .protobufJSON) == [0xfb, 0xff])
        #expect(Base64.decode("-_8", .protobufJSON) == [0xfb, 0xff])
        #expect(Base64.decode("+/8", .protobufJSON) == [0xfb, 0xff])
        #expect(Base64.decode("+_8=", .protobufJSON) == nil, "the alphabets do not mix")
    }
}
