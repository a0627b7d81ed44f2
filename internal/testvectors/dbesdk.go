package testvectors

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/actions"
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

// The defaults of the config members the published manifests leave out
// (docs/dbesdk-format.md §12.3).
const (
	DBESDKDefaultTable        = "GazelleVectorTable"
	DBESDKDefaultPartitionKey = "RecNum"
)

// TableName returns the logical table name, or its default.
func (c DBESDKConfig) TableName() string {
	if c.Table != "" {
		return c.Table
	}
	return DBESDKDefaultTable
}

// PartitionKeyName returns the partition key name, or its default.
func (c DBESDKConfig) PartitionKeyName() string {
	if c.PartitionKey != "" {
		return c.PartitionKey
	}
	return DBESDKDefaultPartitionKey
}

// ActionMap returns the configured actions with no default (DoNothing,
// which the DB-ESDK format reads as "no default").
func (c DBESDKConfig) ActionMap() (actions.Map, error) {
	m := actions.Map{Default: actions.DoNothing, Attributes: make(map[string]actions.Action, len(c.Actions))}
	for n, a := range c.Actions {
		act, err := actions.Parse(a)
		if err != nil {
			return actions.Map{}, fmt.Errorf("testvectors: action of %q: %w", n, err)
		}
		m.Attributes[n] = act
	}
	return m, nil
}

// The test types of a DB-ESDK decrypt manifest.
const (
	DBESDKPositive = "positive-decrypt"
	DBESDKNegative = "negative-decrypt"
)

// DBESDKTest is one test of a DB-ESDK decrypt manifest.
type DBESDKTest struct {
	File        string // manifest path relative to the root, slash-separated
	Path        string // manifest path
	Keys        string // the manifest's "keys" reference (file://...)
	ID          string
	Type        string // DBESDKPositive or DBESDKNegative
	Description string
	Config      DBESDKConfig
	Plaintext   json.RawMessage // positive tests only
	Encrypted   json.RawMessage
}

// Name is the test's name for subtests and messages: File/ID.
func (tc DBESDKTest) Name() string { return tc.File + "/" + tc.ID }

// Positive reports whether the test expects decryption to succeed.
func (tc DBESDKTest) Positive() bool { return tc.Type == DBESDKPositive }

// StoredItem parses the stored (encrypted) item.
func (tc DBESDKTest) StoredItem() (map[string]types.AttributeValue, error) {
	return DBESDKItem(tc.Encrypted)
}

// PlaintextItem parses the expected plaintext of a positive test.
func (tc DBESDKTest) PlaintextItem() (map[string]types.AttributeValue, error) {
	return DBESDKItem(tc.Plaintext)
}

// KeysFile resolves the manifest's keys reference against root
// (ResolveFileRef).
func (tc DBESDKTest) KeysFile(root string) (string, error) {
	return ResolveFileRef(root, filepath.Dir(tc.Path), tc.Keys)
}

// DBESDKTests returns every test of every aws-dbesdk-decrypt manifest under
// root, in file and test-id order. JSON files that are not such manifests
// are ignored; a manifest whose tests do not parse, or a test of an unknown
// type, is an error.
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
			Keys  string                     `json:"keys"`
			Tests map[string]json.RawMessage `json:"tests"`
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		if json.Unmarshal(data, &m) != nil || m.Manifest.Type != "aws-dbesdk-decrypt" {
			continue
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		for _, id := range slices.Sorted(maps.Keys(m.Tests)) {
			var tc struct {
				Type        string          `json:"type"`
				Description string          `json:"description"`
				Config      DBESDKConfig    `json:"config"`
				Plaintext   json.RawMessage `json:"plaintext"`
				Encrypted   json.RawMessage `json:"encrypted"`
			}
			if err := json.Unmarshal(m.Tests[id], &tc); err != nil {
				return nil, fmt.Errorf("testvectors: %s/%s: %w", rel, id, err)
			}
			if tc.Type != DBESDKPositive && tc.Type != DBESDKNegative {
				return nil, fmt.Errorf("testvectors: %s/%s: unknown test type %q", rel, id, tc.Type)
			}
			out = append(out, DBESDKTest{File: rel, Path: p, Keys: m.Keys, ID: id, Type: tc.Type, Description: tc.Description,
				Config: tc.Config, Plaintext: tc.Plaintext, Encrypted: tc.Encrypted})
		}
	}
	return out, nil
}

// ResolveFileRef resolves a file:// reference against dir, then its parents
// up to root (the manifests refer to the key file at the vector root).
func ResolveFileRef(root, dir, ref string) (string, error) {
	name, ok := strings.CutPrefix(ref, "file://")
	if !ok {
		return "", fmt.Errorf("testvectors: reference %q is not file://", ref)
	}
	root = filepath.Clean(root)
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		p := filepath.Join(d, filepath.FromSlash(name))
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		if d == root || d == filepath.Dir(d) || !strings.HasPrefix(d, root) {
			return "", fmt.Errorf("testvectors: %s not found in %s or its parents up to %s", name, dir, root)
		}
	}
}

// DBESDKItem reads an item in the vectors' shorthand (docs/dbesdk-format.md
// §12.4): a JSON string is S, a number N, a one-member object a typed
// DynamoDB JSON value whose M and L members use the shorthand again.
func DBESDKItem(raw json.RawMessage) (map[string]types.AttributeValue, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, fmt.Errorf("testvectors: DB-ESDK item: %w", err)
	}
	if m == nil {
		return nil, errors.New("testvectors: DB-ESDK item is null")
	}
	return dbeItemOf(m)
}

func dbeItemOf(m map[string]any) (map[string]types.AttributeValue, error) {
	out := make(map[string]types.AttributeValue, len(m))
	for k, v := range m {
		av, err := dbeValue(v)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", k, err)
		}
		out[k] = av
	}
	return out, nil
}

// dbeValue reads one value of the shorthand (DBESDKItem).
func dbeValue(v any) (types.AttributeValue, error) {
	switch x := v.(type) {
	case string:
		return &types.AttributeValueMemberS{Value: x}, nil
	case json.Number:
		return &types.AttributeValueMemberN{Value: x.String()}, nil
	case map[string]any:
		if len(x) != 1 {
			return nil, fmt.Errorf("typed value needs one member, has %d", len(x))
		}
		for typ, inner := range x {
			return dbeTyped(typ, inner)
		}
	}
	return nil, fmt.Errorf("unexpected JSON %T", v)
}

func dbeTyped(typ string, inner any) (types.AttributeValue, error) {
	strs := func() ([]string, error) {
		l, ok := inner.([]any)
		if !ok {
			return nil, fmt.Errorf("%s is not a list", typ)
		}
		out := make([]string, len(l))
		for i, e := range l {
			switch s := e.(type) {
			case string:
				out[i] = s
			case json.Number:
				out[i] = s.String()
			default:
				return nil, fmt.Errorf("%s element of type %T", typ, e)
			}
		}
		return out, nil
	}
	switch typ {
	case "S", "N":
		s, ok := inner.(string)
		if n, isNum := inner.(json.Number); isNum {
			s, ok = n.String(), true
		}
		if !ok {
			return nil, fmt.Errorf("%s is not a string", typ)
		}
		if typ == "S" {
			return &types.AttributeValueMemberS{Value: s}, nil
		}
		return &types.AttributeValueMemberN{Value: s}, nil
	case "B":
		s, _ := inner.(string)
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, err
		}
		return &types.AttributeValueMemberB{Value: b}, nil
	case "BOOL":
		b, ok := inner.(bool)
		if !ok {
			return nil, errors.New("BOOL is not a boolean")
		}
		return &types.AttributeValueMemberBOOL{Value: b}, nil
	case "NULL":
		return &types.AttributeValueMemberNULL{Value: true}, nil
	case "SS", "NS":
		s, err := strs()
		if err != nil {
			return nil, err
		}
		if typ == "SS" {
			return &types.AttributeValueMemberSS{Value: s}, nil
		}
		return &types.AttributeValueMemberNS{Value: s}, nil
	case "BS":
		s, err := strs()
		if err != nil {
			return nil, err
		}
		bs := make([][]byte, len(s))
		for i, e := range s {
			if bs[i], err = base64.StdEncoding.DecodeString(e); err != nil {
				return nil, err
			}
		}
		return &types.AttributeValueMemberBS{Value: bs}, nil
	case "M":
		m, ok := inner.(map[string]any)
		if !ok {
			return nil, errors.New("M is not an object")
		}
		item, err := dbeItemOf(m)
		if err != nil {
			return nil, err
		}
		return &types.AttributeValueMemberM{Value: item}, nil
	case "L":
		l, ok := inner.([]any)
		if !ok {
			return nil, errors.New("L is not a list")
		}
		out := make([]types.AttributeValue, len(l))
		for i, e := range l {
			av, err := dbeValue(e)
			if err != nil {
				return nil, err
			}
			out[i] = av
		}
		return &types.AttributeValueMemberL{Value: out}, nil
	}
	return nil, fmt.Errorf("unknown type %q", typ)
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
