package testvectors

import "path/filepath"

// TB is the part of testing.TB (a *testing.F) that Seeds uses.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
}

// SeedSource loads fuzz seeds from a vector root.
type SeedSource func(root string) ([][]byte, error)

// The vectors' seed sources.
var (
	// CiphertextItemSeeds: every stored item of every ciphertext file, as
	// raw DynamoDB JSON (CiphertextItemsJSON).
	CiphertextItemSeeds SeedSource = CiphertextItemsJSON
	// SerializedAttributeSeeds: the serialized attributes of
	// serialize_attribute.json and deserialize_attribute.json.
	SerializedAttributeSeeds SeedSource = serializedAttributes
	// MaterialDescriptionSeeds: the serialized material descriptions of
	// material_description.json.
	MaterialDescriptionSeeds SeedSource = serializedDescriptions
)

// Seeds returns the fuzz seeds src loads from Root(). It fails tb when the
// vectors cannot be read or give no seed: no fuzz target runs on an empty
// corpus.
//
//	for _, seed := range testvectors.Seeds(f, testvectors.CiphertextItemSeeds) {
//		f.Add(seed)
//	}
func Seeds(tb TB, src SeedSource) [][]byte {
	tb.Helper()
	root, err := Root()
	if err != nil {
		tb.Fatalf("testvectors: %v", err)
		return nil
	}
	seeds, err := src(root)
	if err != nil {
		tb.Fatalf("testvectors: seed corpus from %s: %v", root, err)
		return nil
	}
	if len(seeds) == 0 {
		tb.Fatalf("testvectors: empty seed corpus from %s", root)
		return nil
	}
	return seeds
}

func serializedAttributes(root string) ([][]byte, error) {
	var out [][]byte
	for _, file := range []string{"serialize_attribute.json", "deserialize_attribute.json"} {
		vs, err := AttributeVectors(root, file)
		if err != nil {
			return nil, err
		}
		for _, v := range vs {
			out = append(out, []byte(v.Serialized))
		}
	}
	return out, nil
}

func serializedDescriptions(root string) ([][]byte, error) {
	vs, err := MaterialDescriptionVectors(root)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(vs))
	for i, v := range vs {
		out[i] = []byte(v.Serialized)
	}
	return out, nil
}

// KeysFile returns the path of the vectors' key file under root.
func KeysFile(root string) string { return filepath.Join(root, "encrypted_item", "keys.json") }
