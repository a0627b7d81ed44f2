package testvectors

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/internal/ddbjson"
)

// DBESDKEnvVar names the environment variable that overrides the DB-ESDK
// vector root (docs/dbesdk-format.md §12), as for the vector runner in
// ddbenc/dbesdk_vectors_test.go.
const DBESDKEnvVar = "DDBEC_DBESDK_VECTORS"

// DBESDKRoot returns the DB-ESDK vector root: $DDBEC_DBESDK_VECTORS, or
// testdata/vectors/dbesdk in the module root found by walking up from the
// working directory.
func DBESDKRoot() (string, error) { return root(DBESDKEnvVar, "dbesdk") }

// DBESDKEncryptedItemsJSON returns the "encrypted" member (a stored item in
// DynamoDB JSON) of every test of every aws-dbesdk-decrypt manifest under
// root, positive and negative, in file and test-id order.
func DBESDKEncryptedItemsJSON(root string) ([][]byte, error) {
	tests, err := DBESDKTests(root)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for _, tc := range tests {
		if e := tc.Encrypted; len(e) > 0 && string(e) != "null" {
			out = append(out, e)
		}
	}
	return out, nil
}

// DBESDKEncryptedItems parses DBESDKEncryptedItemsJSON.
func DBESDKEncryptedItems(root string) ([]map[string]types.AttributeValue, error) {
	raw, err := DBESDKEncryptedItemsJSON(root)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]types.AttributeValue, len(raw))
	for i, r := range raw {
		if out[i], err = ddbjson.UnmarshalItem(r); err != nil {
			return nil, fmt.Errorf("testvectors: DB-ESDK encrypted item %d: %w", i, err)
		}
	}
	return out, nil
}

// The DB-ESDK vectors' seed sources (docs/dbesdk-format.md §12). They read
// root as a DB-ESDK vector root; use them with DBESDKSeeds.
var (
	// DBESDKItemSeeds: every stored item, as raw DynamoDB JSON.
	DBESDKItemSeeds SeedSource = DBESDKEncryptedItemsJSON
	// DBESDKHeaderSeeds: every aws_dbe_head value.
	DBESDKHeaderSeeds SeedSource = binarySeeds(func(name string) bool { return name == "aws_dbe_head" })
	// DBESDKFooterSeeds: every aws_dbe_foot value.
	DBESDKFooterSeeds SeedSource = binarySeeds(func(name string) bool { return name == "aws_dbe_foot" })
	// DBESDKValueSeeds: every other binary attribute value of the stored
	// items (the encrypted fields: type id ‖ ciphertext ‖ tag, §5.4).
	DBESDKValueSeeds SeedSource = binarySeeds(func(name string) bool { return !strings.HasPrefix(name, "aws_dbe_") })
)

// binarySeeds returns the B values of the attributes keep selects, from
// every stored item, without duplicates.
func binarySeeds(keep func(name string) bool) SeedSource {
	return func(root string) ([][]byte, error) {
		items, err := DBESDKEncryptedItems(root)
		if err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		var out [][]byte
		for _, it := range items {
			names := make([]string, 0, len(it))
			for n := range it {
				names = append(names, n)
			}
			slices.Sort(names)
			for _, n := range names {
				b, ok := it[n].(*types.AttributeValueMemberB)
				if !ok || !keep(n) || seen[string(b.Value)] {
					continue
				}
				seen[string(b.Value)] = true
				out = append(out, b.Value)
			}
		}
		return out, nil
	}
}

// DBESDKSeeds is Seeds over DBESDKRoot(): it fails tb when the DB-ESDK
// vectors cannot be read or give no seed, so no fuzz target runs on an empty
// corpus.
//
//	for _, seed := range testvectors.DBESDKSeeds(f, testvectors.DBESDKHeaderSeeds) {
//		f.Add(seed)
//	}
func DBESDKSeeds(tb TB, src SeedSource) [][]byte {
	tb.Helper()
	root, err := DBESDKRoot()
	if err != nil {
		tb.Fatalf("testvectors: %v", err)
		return nil
	}
	return seedsFrom(tb, root, src)
}

// seedsFrom is Seeds for an explicit root.
func seedsFrom(tb TB, root string, src SeedSource) [][]byte {
	tb.Helper()
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

// DBESDKConfig is the config member of a DB-ESDK decrypt test
// (docs/dbesdk-format.md §12.2; absent members take the §12.3 defaults).
type DBESDKConfig struct {
	Actions        map[string]string `json:"attributeActionsOnEncrypt"`
	Unsigned       []string          `json:"allowedUnsignedAttributes"`
	UnsignedPrefix string            `json:"allowedUnsignedAttributePrefix"`
	Suite          string            `json:"algorithmSuiteId"`
	Table          string            `json:"logicalTableName"`
	PartitionKey   string            `json:"partitionKeyName"`
	SortKey        string            `json:"sortKeyName"`
	Key            json.RawMessage   `json:"key"`
}

// DBESDKTest is one test of a DB-ESDK decrypt manifest.
type DBESDKTest struct {
	File      string // manifest path relative to the root
	ID        string
	Type      string // positive-decrypt or negative-decrypt
	Config    DBESDKConfig
	Encrypted json.RawMessage
}

// DBESDKTests returns every test of every aws-dbesdk-decrypt manifest under
// root, in file and test-id order.
func DBESDKTests(root string) ([]DBESDKTest, error) {
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".json") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(files)
	var out []DBESDKTest
	for _, p := range files {
		var m struct {
			Manifest struct {
				Type string `json:"type"`
			} `json:"manifest"`
			Tests map[string]struct {
				Type      string          `json:"type"`
				Config    DBESDKConfig    `json:"config"`
				Encrypted json.RawMessage `json:"encrypted"`
			} `json:"tests"`
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		if json.Unmarshal(data, &m) != nil || m.Manifest.Type != "aws-dbesdk-decrypt" {
			continue
		}
		rel, _ := filepath.Rel(root, p)
		ids := make([]string, 0, len(m.Tests))
		for id := range m.Tests {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			tc := m.Tests[id]
			out = append(out, DBESDKTest{File: filepath.ToSlash(rel), ID: id, Type: tc.Type, Config: tc.Config, Encrypted: tc.Encrypted})
		}
	}
	return out, nil
}

// DBESDKKey is one entry of the DB-ESDK vectors' keys.json.
type DBESDKKey struct {
	Type             string `json:"type"`
	KeyID            string `json:"key-id"`
	Material         string `json:"material"`
	BranchKey        string `json:"branchKey"`
	BranchKeyVersion string `json:"branchKeyVersion"`
}

// DBESDKKeys reads root/keys.json.
func DBESDKKeys(root string) (map[string]DBESDKKey, error) {
	var kf struct {
		Keys map[string]DBESDKKey `json:"keys"`
	}
	if err := readJSON(filepath.Join(root, "keys.json"), &kf); err != nil {
		return nil, err
	}
	if len(kf.Keys) == 0 {
		return nil, fmt.Errorf("testvectors: no keys in %s", filepath.Join(root, "keys.json"))
	}
	return kf.Keys, nil
}
