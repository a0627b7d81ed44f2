// Package testvectors loads the legacy DynamoDB Encryption Client vectors in
// the published layout (docs/legacy-format.md §7). The root directory comes from the
// environment variable DDBEC_VECTORS, or defaults to the repository's own
// copy under testdata/vectors/legacy.
package testvectors

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/internal/ddbjson"
)

// EnvVar names the environment variable that overrides the vector root.
const EnvVar = "DDBEC_VECTORS"

// Root returns the vector root: $DDBEC_VECTORS, or testdata/vectors/legacy in
// the module root found by walking up from the working directory.
func Root() (string, error) { return root(EnvVar, "legacy") }

// root returns $env, or testdata/vectors/<set> in the module root found by
// walking up from the working directory.
func root(env, set string) (string, error) {
	if r := os.Getenv(env); r != "" {
		return r, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "testdata", "vectors", set), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testvectors: go.mod not found above the working directory")
		}
		dir = parent
	}
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("testvectors: %s: %w", path, err)
	}
	return nil
}

// Base64 is a byte string given as standard base64 in JSON.
type Base64 []byte

// UnmarshalJSON decodes standard base64 (ddbjson.DecodeBase64).
func (b *Base64) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	v, err := ddbjson.DecodeBase64(s)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// Value is an attribute value in DynamoDB JSON.
type Value struct{ types.AttributeValue }

// UnmarshalJSON parses DynamoDB JSON.
func (v *Value) UnmarshalJSON(data []byte) error {
	av, err := ddbjson.UnmarshalValue(data)
	if err != nil {
		return err
	}
	v.AttributeValue = av
	return nil
}

// Item is an item in DynamoDB JSON.
type Item map[string]types.AttributeValue

// UnmarshalJSON parses a DynamoDB JSON item.
func (it *Item) UnmarshalJSON(data []byte) error {
	m, err := ddbjson.UnmarshalItem(data)
	if err != nil {
		return err
	}
	*it = m
	return nil
}

// AttributeVector is an entry of serialize_attribute.json or
// deserialize_attribute.json.
type AttributeVector struct {
	Attribute  Value  `json:"attribute"`
	Serialized Base64 `json:"serialized"`
}

// AttributeVectors loads serialize_attribute.json or deserialize_attribute.json.
func AttributeVectors(root, file string) ([]AttributeVector, error) {
	var v []AttributeVector
	return v, readJSON(filepath.Join(root, file), &v)
}

// MaterialDescriptionVector is an entry of material_description.json.
type MaterialDescriptionVector struct {
	MaterialDescription map[string]string `json:"material_description"`
	Serialized          Base64            `json:"serialized"`
}

// MaterialDescriptionVectors loads material_description.json.
func MaterialDescriptionVectors(root string) ([]MaterialDescriptionVector, error) {
	var v []MaterialDescriptionVector
	return v, readJSON(filepath.Join(root, "material_description.json"), &v)
}

// StringToSignVector is an entry of string_to_sign.json.
type StringToSignVector struct {
	Table string `json:"table"`
	Item  map[string]struct {
		Value  Value  `json:"value"`
		Action string `json:"action"`
	} `json:"item"`
	StringToSign Base64 `json:"string_to_sign"`
}

// StringToSignVectors loads string_to_sign.json.
func StringToSignVectors(root string) ([]StringToSignVector, error) {
	var v []StringToSignVector
	return v, readJSON(filepath.Join(root, "string_to_sign.json"), &v)
}

// Scenarios is encrypted_item/scenarios.json with its referenced files.
type Scenarios struct {
	Dir       string // the encrypted_item directory
	Scenarios []Scenario
}

// Scenario is one entry of scenarios.json.
type Scenario struct {
	Version      string            `json:"version"`
	Provider     string            `json:"provider"`
	Keys         map[string]string `json:"keys"`
	Plaintext    string            `json:"plaintext"`
	Ciphertext   string            `json:"ciphertext"`
	Network      bool              `json:"network"`
	MaterialName string            `json:"material_name"`
	Metastore    *struct {
		TableName  string            `json:"table_name"`
		Provider   string            `json:"provider"`
		Keys       map[string]string `json:"keys"`
		Ciphertext string            `json:"ciphertext"`
	} `json:"metastore"`
}

// Name returns the scenario's ciphertext path relative to encrypted_item/,
// e.g. "ciphertext/python/static-aes-hmac-1.json".
func (s Scenario) Name() string { return strings.TrimPrefix(s.Ciphertext, "file://") }

// LoadScenarios reads encrypted_item/scenarios.json.
func LoadScenarios(root string) (*Scenarios, error) {
	dir := filepath.Join(root, "encrypted_item")
	var raw struct {
		Scenarios []Scenario `json:"scenarios"`
	}
	if err := readJSON(filepath.Join(dir, "scenarios.json"), &raw); err != nil {
		return nil, err
	}
	return &Scenarios{Dir: dir, Scenarios: raw.Scenarios}, nil
}

// Path resolves a file:// URI relative to the encrypted_item directory.
func (s *Scenarios) Path(uri string) (string, error) {
	rel, ok := strings.CutPrefix(uri, "file://")
	if !ok {
		return "", fmt.Errorf("testvectors: unsupported URI %q", uri)
	}
	return filepath.Join(s.Dir, filepath.FromSlash(rel)), nil
}

// Ciphertext loads a ciphertext file: table name → stored items.
func (s *Scenarios) Ciphertext(uri string) (map[string][]Item, error) {
	p, err := s.Path(uri)
	if err != nil {
		return nil, err
	}
	var v map[string][]Item
	return v, readJSON(p, &v)
}

// ActionSet is an entry of plaintext.json's "actions".
type ActionSet struct {
	Default  string            `json:"default"`
	Override map[string]string `json:"override"`
}

// Map converts the action set to an actions.Map.
func (a ActionSet) Map() (actions.Map, error) {
	d, err := actions.Parse(a.Default)
	if err != nil {
		return actions.Map{}, err
	}
	m := actions.Map{Default: d, Attributes: map[string]actions.Action{}}
	for k, v := range a.Override {
		if m.Attributes[k], err = actions.Parse(v); err != nil {
			return actions.Map{}, err
		}
	}
	return m, nil
}

// PlaintextItem is one expected item of plaintext.json.
type PlaintextItem struct {
	Attributes Item   `json:"attributes"`
	Action     string `json:"action"`
	Exact      bool   `json:"exact"`
}

// PlaintextTable is one table of plaintext.json.
type PlaintextTable struct {
	Index struct {
		Partition string `json:"partition"`
		Sort      string `json:"sort"`
	} `json:"index"`
	Items []PlaintextItem `json:"items"`
}

// Plaintext is plaintext.json.
type Plaintext struct {
	Actions    map[string]ActionSet                  `json:"actions"`
	Items      map[string]PlaintextTable             `json:"items"`
	Versions   map[string]map[string][]string        `json:"versions"`
	Attributes map[string]map[string]json.RawMessage `json:"attributes"`
}

// LoadPlaintext reads a plaintext file.
func (s *Scenarios) LoadPlaintext(uri string) (*Plaintext, error) {
	p, err := s.Path(uri)
	if err != nil {
		return nil, err
	}
	var v Plaintext
	return &v, readJSON(p, &v)
}

// Expected returns the full expected plaintext of an item for a scenario
// version: its attributes plus, unless Exact, the attribute groups the
// version lists for the table (docs/legacy-format.md §7.5).
func (p *Plaintext) Expected(table, version string, it PlaintextItem) (map[string]types.AttributeValue, error) {
	out := make(map[string]types.AttributeValue, len(it.Attributes))
	for k, v := range it.Attributes {
		out[k] = v
	}
	if it.Exact {
		return out, nil
	}
	for _, group := range p.Versions[table][version] {
		attrs, ok := p.Attributes[group]
		if !ok {
			return nil, fmt.Errorf("testvectors: unknown attribute group %q", group)
		}
		for name, raw := range attrs {
			av, err := ddbjson.UnmarshalValue(raw)
			if err != nil {
				return nil, err
			}
			out[name] = av
		}
	}
	return out, nil
}

// CiphertextItemsJSON returns every stored item of every ciphertext file
// under encrypted_item/ciphertext, as raw DynamoDB JSON (fuzz seeds).
func CiphertextItemsJSON(root string) ([][]byte, error) {
	files, err := filepath.Glob(filepath.Join(root, "encrypted_item", "ciphertext", "*", "*.json"))
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for _, file := range files {
		var tables map[string][]json.RawMessage
		if err := readJSON(file, &tables); err != nil {
			return nil, err
		}
		for _, items := range tables {
			for _, it := range items {
				out = append(out, it)
			}
		}
	}
	return out, nil
}
