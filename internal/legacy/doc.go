// Package legacy owns every byte of the wire format of the legacy AWS
// DynamoDB Encryption Client, as specified in docs/legacy-format.md: the
// attribute serialization and its inverse (§1), the number rules (§1.3,
// §8.2), the reserved attributes and the material description (§2), the
// attribute envelope (§3), the string to sign (§4), the algorithm
// descriptors of the providers (§6.3, §6.5) and the two orderings (§8.1).
//
// The item engine (package ddbenc), the providers and the CLI use it; nothing
// here knows about configuration, providers or DynamoDB calls. A second item
// format gets a package of its own beside this one.
//
// # Attribute serialization (docs/legacy-format.md §1)
//
// Every value starts with a two-byte tag, 0x00 followed by an ASCII type
// letter. u32 is a 4-byte big-endian integer, LV(b) is u32(len(b)) || b.
//
//	B     00 62  LV(raw bytes)
//	N     00 6E  LV(canonical number)
//	S     00 73  LV(UTF-8)
//	BOOL  00 3F  01 | 00
//	NULL  00 00
//	BS    00 42  u32(count) LV(element)...  sorted
//	NS    00 4E  u32(count) LV(canonical)... sorted by canonical string bytes
//	SS    00 53  u32(count) LV(UTF-8)...    sorted
//	L     00 4C  u32(count) value...        in list order, each with its tag
//	M     00 4D  u32(count) (00 73 LV(key) value)... sorted by key
//
// Numbers are canonical plain decimals: no exponent, no trailing fractional
// zeros, every zero as "0" (Java's BigDecimal.stripTrailingZeros().toPlainString()).
// [CanonicalNumber] is the one canonicalization entry point of the module:
// serialization, key values, set duplicate checks and size estimates all use
// it. Nesting is bounded at 64 levels on write and read, and lengths and
// counts are checked against the remaining data before anything is allocated.
//
// # Orderings (docs/legacy-format.md §8.1, §8.2)
//
// The two legacy clients sort string-set elements, map keys and attribute
// names differently when characters above U+FFFF meet characters in
// U+E000–U+FFFF, and binary-set elements differently when a byte is 0x80 or
// more. [JavaOrdering] (the default) compares strings by UTF-16 code units and
// bytes as signed; [PythonOrdering] compares both as unsigned bytes. The
// Python client also hashes signed numbers differently: negative zero as "-0",
// and more than 28 significant digits rounded half-to-even. Rounding maps
// different stored numbers to one digest, so [StringToSign] refuses such
// numbers under PythonOrdering and only [StringToSignLegacyPython] rounds.
// Values inside ciphertexts always use the exact Java number form.
//
// # Material description (docs/legacy-format.md §2)
//
//	*amzn-ddb-map-desc*  B  u32(0) (LV(key) LV(value))...  keys sorted on write
//	*amzn-ddb-map-sig*   B  signature over the string to sign
//
// The entries amzn-ddb-map-sym-mode and amzn-ddb-map-signingAlg are written by
// the item encryptor ([EncryptorEntry]); the others by the providers.
//
// # Attribute envelope (docs/legacy-format.md §3)
//
//	B  IV(16) || AES-CBC(content key, IV, PKCS#7(serialize(value)))
//
// # String to sign (docs/legacy-format.md §4)
//
//	SHA256("TABLE>" + table + "<TABLE")
//	for each signed attribute name n, sorted:
//	    SHA256(n) || SHA256("ENCRYPTED" | "PLAINTEXT") || SHA256(serialize(stored value))
//
// The reserved attributes *amzn-ddb-map-desc* and *amzn-ddb-map-sig* and
// unsigned attributes are skipped. The result is a concatenation of raw
// 32-byte digests, signed with HMAC or RSASSA-PKCS1-v1_5 (package signing).
package legacy
