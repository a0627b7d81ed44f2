package legacy

// The reserved attributes the legacy format adds to every signed item
// (docs/legacy-format.md §2.1). They cannot be configured, cannot be keys,
// and are never part of the string to sign.
const (
	// MaterialDescriptionAttribute holds the serialized material description.
	MaterialDescriptionAttribute = "*amzn-ddb-map-desc*"
	// SignatureAttribute holds the signature over the string to sign.
	SignatureAttribute = "*amzn-ddb-map-sig*"
)

// IsReserved reports whether name is one of the two reserved attributes.
func IsReserved(name string) bool {
	return name == SignatureAttribute || name == MaterialDescriptionAttribute
}

// encryptorEntries are the material description entries the item encryptor
// writes itself (docs/legacy-format.md §2.3): the symmetric mode of the
// attribute ciphertexts and the signing algorithm. This is the one list; a
// provider's description, configured or returned, must not carry them.
var encryptorEntries = [...]string{SymMode, SigningAlgorithm}

// EncryptorEntry returns the first entry of d, in a fixed order, that the item
// encryptor writes itself, and whether there is one.
func EncryptorEntry(d map[string]string) (string, bool) {
	for _, k := range encryptorEntries {
		if _, ok := d[k]; ok {
			return k, true
		}
	}
	return "", false
}
