/// 64-bit FNV-1a: the one hash behind weight seeds per parameter name, data fingerprints, the
/// OpenCL program cache's keys, run records and the ranks' agreement checks. Not cryptographic.
public struct FNV1a: Sendable {
    public private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325
    public init() {}

    public mutating func add(_ byte: UInt8) { value = (value ^ UInt64(byte)) &* 0x100_0000_01B3 }
    public mutating func add(_ bytes: some Sequence<UInt8>) { for b in bytes { add(b) } }
    public mutating func add(_ text: String) { add(text.utf8) }
    /// The 8 bytes of `v`, least significant first.
    public mutating func add(littleEndian v: Int) { for b in 0..<8 { add(UInt8(truncatingIfNeeded: v >> (8 * b))) } }

    /// The value as hex digits.
    public var hex: String { String(value, radix: 16) }

    public static func hash(_ text: String) -> UInt64 {
        var h = FNV1a()
        h.add(text)
        return h.value
    }
}
