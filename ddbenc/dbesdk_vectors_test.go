package ddbenc_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/internal/avtest"
	"github.com/ddbec/ddbec-go/internal/testvectors"
	"github.com/ddbec/ddbec-go/keyring"
)

// dbesdkVectorRoot returns $DDBEC_DBESDK_VECTORS or the repository's
// testdata/vectors/dbesdk.
func dbesdkVectorRoot(t *testing.T) string {
	r, err := testvectors.DBESDKRoot()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

type dbeManifest struct {
	Manifest struct {
		Type string `json:"type"`
	} `json:"manifest"`
	Keys  string                     `json:"keys"`
	Tests map[string]json.RawMessage `json:"tests"`
}

type dbeTest struct {
	Type        string          `json:"type"`
	Description string          `json:"description"`
	Config      dbeConfig       `json:"config"`
	Plaintext   json.RawMessage `json:"plaintext"`
	Encrypted   json.RawMessage `json:"encrypted"`
}

type dbeConfig struct {
	Actions        map[string]string `json:"attributeActionsOnEncrypt"`
	Unsigned       []string          `json:"allowedUnsignedAttributes"`
	UnsignedPrefix string            `json:"allowedUnsignedAttributePrefix"`
	Suite          string            `json:"algorithmSuiteId"`
	Table          string            `json:"logicalTableName"`
	PartitionKey   string            `json:"partitionKeyName"`
	SortKey        string            `json:"sortKeyName"`
	Key            json.RawMessage   `json:"key"`
}

type dbeKeyDesc struct {
	Type          string            `json:"type"`
	Algorithm     string            `json:"encryption-algorithm"`
	ProviderID    string            `json:"provider-id"`
	Key           string            `json:"key"`
	Padding       string            `json:"padding-algorithm"`
	PaddingHash   string            `json:"padding-hash"`
	Generator     json.RawMessage   `json:"generator"`
	ChildKeyrings []json.RawMessage `json:"childKeyrings"`
}

type dbeKey struct {
	Type             string `json:"type"`
	KeyID            string `json:"key-id"`
	Material         string `json:"material"`
	BranchKey        string `json:"branchKey"`
	BranchKeyVersion string `json:"branchKeyVersion"`
}

// defaultBranchKey is the published vectors' default keyring (dbesdk §12.3).
const defaultBranchKey = "static-branch-key-1"

// dbeKeyring builds a keyring from a config.key description
// (generated/README.md); absent means the hierarchical keyring over the
// static branch key.
func dbeKeyring(raw json.RawMessage, keys map[string]dbeKey) (ddbenc.Keyring, error) {
	d := dbeKeyDesc{Type: "aws-kms-hierarchy", Key: defaultBranchKey}
	if len(raw) > 0 && string(raw) != "null" {
		d = dbeKeyDesc{}
		if err := json.Unmarshal(raw, &d); err != nil {
			return nil, err
		}
	}
	if d.Type == "multi-keyring" {
		var gen ddbenc.Keyring
		if len(d.Generator) > 0 {
			g, err := dbeKeyring(d.Generator, keys)
			if err != nil {
				return nil, err
			}
			gen = g
		}
		var children []ddbenc.Keyring
		for _, c := range d.ChildKeyrings {
			k, err := dbeKeyring(c, keys)
			if err != nil {
				return nil, err
			}
			children = append(children, k)
		}
		return keyring.NewMulti(gen, children...)
	}
	k, ok := keys[d.Key]
	if !ok {
		return nil, fmt.Errorf("key %q not in the key file", d.Key)
	}
	switch {
	case d.Type == "aws-kms-hierarchy":
		bk, err := base64.StdEncoding.DecodeString(k.BranchKey)
		if err != nil {
			return nil, err
		}
		return keyring.NewHierarchical(k.KeyID, keyring.NewStaticBranchKeys(keyring.BranchKey{ID: k.KeyID, Version: k.BranchKeyVersion, Key: bk}))
	case d.Type == "raw" && d.Algorithm == "aes":
		m, err := base64.StdEncoding.DecodeString(k.Material)
		if err != nil {
			return nil, err
		}
		return keyring.NewRawAES(d.ProviderID, k.KeyID, m)
	case d.Type == "raw" && d.Algorithm == "rsa":
		pad := map[string]keyring.RSAPadding{"sha1": keyring.OAEPSHA1, "sha256": keyring.OAEPSHA256, "sha384": keyring.OAEPSHA384, "sha512": keyring.OAEPSHA512}[d.PaddingHash]
		if d.Padding == "pkcs1" {
			pad = keyring.PKCS1
		}
		priv, err := keyring.ParseRSAPrivateKeyPEM([]byte(k.Material))
		if err != nil {
			return nil, err
		}
		return keyring.NewRawRSA(d.ProviderID, k.KeyID, nil, priv, pad)
	}
	return nil, fmt.Errorf("unsupported key description type %q", d.Type)
}

// dbeValue reads a value in the vectors' shorthand (dbesdk §12.4): a JSON
// string is S, a number N, a one-member object a typed DynamoDB JSON value
// whose M and L members use the shorthand again.
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
	}
	return nil, fmt.Errorf("unexpected JSON %T", v)
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

func dbeItem(raw json.RawMessage) (map[string]types.AttributeValue, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	return dbeItemOf(m)
}

// dbeEncryptor builds the Encryptor of a test config (dbesdk §12.3 defaults).
func dbeEncryptor(c dbeConfig, kr ddbenc.Keyring) (*ddbenc.Encryptor, error) {
	cfg := ddbenc.TableConfig{
		TableName:                      "GazelleVectorTable",
		PartitionKey:                   "RecNum",
		SortKey:                        c.SortKey,
		Format:                         ddbenc.DBESDKFormat,
		Keyring:                        kr,
		Actions:                        actions.Map{Default: actions.DoNothing, Attributes: map[string]actions.Action{}},
		AllowedUnsignedAttributes:      c.Unsigned,
		AllowedUnsignedAttributePrefix: c.UnsignedPrefix,
	}
	if c.Table != "" {
		cfg.TableName = c.Table
	}
	if c.PartitionKey != "" {
		cfg.PartitionKey = c.PartitionKey
	}
	for n, a := range c.Actions {
		act, err := actions.Parse(a)
		if err != nil {
			return nil, err
		}
		cfg.Actions.Attributes[n] = act
	}
	switch c.Suite {
	case "ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY_SYMSIG_HMAC_SHA384":
		cfg.Suite = ddbenc.SuiteSymmetricOnly
	case "ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384_SYMSIG_HMAC_SHA384", "":
		cfg.Suite = ddbenc.SuiteECDSAP384
	default:
		return nil, fmt.Errorf("unknown suite %q", c.Suite)
	}
	return ddbenc.NewEncryptor(cfg)
}

// resolveFileRef resolves a file:// reference against dir, then its parents
// up to root (the manifests refer to the key file at the vector root).
func resolveFileRef(root, dir, ref string) (string, error) {
	name, ok := strings.CutPrefix(ref, "file://")
	if !ok {
		return "", fmt.Errorf("reference %q is not file://", ref)
	}
	root = filepath.Clean(root)
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		p := filepath.Join(d, filepath.FromSlash(name))
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		if d == root || d == filepath.Dir(d) || !strings.HasPrefix(d, root) {
			return "", fmt.Errorf("%s not found in %s or its parents up to %s", name, dir, root)
		}
	}
}

type dbeTally struct{ pos, neg, passed, failed int }

// runDBESDKVectors runs every aws-dbesdk-decrypt manifest under root and
// returns the subtest names it ran.
func runDBESDKVectors(t *testing.T, root string) []string {
	var manifests []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".json") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var m dbeManifest
		if json.Unmarshal(data, &m) == nil && m.Manifest.Type == "aws-dbesdk-decrypt" {
			manifests = append(manifests, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(manifests) == 0 {
		t.Fatalf("no aws-dbesdk-decrypt manifest under %s", root)
	}
	var ran []string
	for _, p := range manifests {
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var m dbeManifest
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		kp, err := resolveFileRef(root, filepath.Dir(p), m.Keys)
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		var kf struct {
			Keys map[string]dbeKey `json:"keys"`
		}
		kd, err := os.ReadFile(kp)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(kd, &kf); err != nil {
			t.Fatalf("%s: %v", kp, err)
		}
		var tl dbeTally
		ids := slices.Sorted(func(yield func(string) bool) {
			for id := range m.Tests {
				if !yield(id) {
					return
				}
			}
		})
		for _, id := range ids {
			var tc dbeTest
			if err := json.Unmarshal(m.Tests[id], &tc); err != nil {
				t.Fatalf("%s/%s: %v", rel, id, err)
			}
			name := rel + "/" + id
			ran = append(ran, name)
			positive := tc.Type == "positive-decrypt"
			if positive {
				tl.pos++
			} else {
				tl.neg++
			}
			ok := t.Run(name, func(t *testing.T) {
				if !positive && tc.Type != "negative-decrypt" {
					t.Fatalf("unknown test type %q", tc.Type)
				}
				kr, err := dbeKeyring(tc.Config.Key, kf.Keys)
				if err != nil {
					t.Fatalf("keyring: %v", err)
				}
				enc, err := dbeEncryptor(tc.Config, kr)
				if err != nil {
					t.Fatalf("config (%s): %v", tc.Description, err)
				}
				stored, err := dbeItem(tc.Encrypted)
				if err != nil {
					t.Fatalf("encrypted: %v", err)
				}
				got, err := enc.DecryptItem(context.Background(), stored)
				if !positive {
					if err == nil {
						t.Fatalf("%s: decryption succeeded, want an error", tc.Description)
					}
					t.Logf("%s: %v", tc.Description, err)
					return
				}
				if err != nil {
					t.Fatalf("%s: %v", tc.Description, err)
				}
				want, err := dbeItem(tc.Plaintext)
				if err != nil {
					t.Fatalf("plaintext: %v", err)
				}
				if d := avtest.DiffItems(want, got); d != "" {
					t.Fatalf("%s: plaintext differs (-want +got):\n%s", tc.Description, d)
				}
			})
			if ok {
				tl.passed++
			} else {
				tl.failed++
			}
		}
		t.Logf("%s: %d tests (%d positive, %d negative): %d passed, %d failed", rel, tl.pos+tl.neg, tl.pos, tl.neg, tl.passed, tl.failed)
	}
	return ran
}

// TestDBESDKVectors runs every DB-ESDK decrypt manifest of the vector
// directory ($DDBEC_DBESDK_VECTORS or testdata/vectors/dbesdk).
func TestDBESDKVectors(t *testing.T) {
	runDBESDKVectors(t, dbesdkVectorRoot(t))
}

// TestDBESDKVectorsOtherDirectory points the runner at a copy of the vectors
// with a manifest renamed (and moved one level deeper) and a test id renamed,
// and checks that the runner follows the files rather than a built-in list.
func TestDBESDKVectorsOtherDirectory(t *testing.T) {
	src := dbesdkVectorRoot(t)
	dst := t.TempDir()
	keys, err := os.ReadFile(filepath.Join(src, "keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, "keys.json"), keys, 0o644); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(src, "published", "decrypt_java_32.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	var tests map[string]json.RawMessage
	if err := json.Unmarshal(m["tests"], &tests); err != nil {
		t.Fatal(err)
	}
	tests["renamed-basic"] = tests["1"]
	delete(tests, "1")
	if m["tests"], err = json.Marshal(tests); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(dst, "moved", "deeper")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "renamed_manifest.json"), out, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(testvectors.DBESDKEnvVar, dst)
	ran := runDBESDKVectors(t, dbesdkVectorRoot(t))
	if len(ran) != len(tests) {
		t.Errorf("ran %d tests, the manifest has %d", len(ran), len(tests))
	}
	want := "moved/deeper/renamed_manifest.json/renamed-basic"
	if !slices.Contains(ran, want) {
		t.Errorf("test %s did not run (ran %v)", want, ran)
	}
}
