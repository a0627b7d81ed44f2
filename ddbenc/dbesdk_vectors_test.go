package ddbenc_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/internal/avtest"
	"github.com/ddbec/ddbec-go/internal/keyfile"
	"github.com/ddbec/ddbec-go/internal/testvectors"
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

type dbeTally struct{ pos, neg, passed, failed int }

// runDBESDKVectors runs every aws-dbesdk-decrypt manifest under root
// (testvectors.DBESDKTests) and returns the subtest names it ran.
func runDBESDKVectors(t *testing.T, root string) []string {
	tests, err := testvectors.DBESDKTests(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(tests) == 0 {
		t.Fatalf("no aws-dbesdk-decrypt test under %s", root)
	}
	keySets := map[string]keyfile.MPLKeys{} // by key file path
	var ran []string
	var files []string
	tallies := map[string]*dbeTally{}
	for _, tc := range tests {
		kp, err := tc.KeysFile(root)
		if err != nil {
			t.Fatalf("%s: %v", tc.File, err)
		}
		keys, ok := keySets[kp]
		if !ok {
			if keys, err = keyfile.LoadMPL(kp); err != nil {
				t.Fatalf("%s: %v", kp, err)
			}
			keySets[kp] = keys
		}
		tl := tallies[tc.File]
		if tl == nil {
			tl = &dbeTally{}
			tallies[tc.File] = tl
			files = append(files, tc.File)
		}
		ran = append(ran, tc.Name())
		if tc.Positive() {
			tl.pos++
		} else {
			tl.neg++
		}
		ok = t.Run(tc.Name(), func(t *testing.T) {
			cfg, err := keyfile.DBESDKTableConfig(tc.Config, keys)
			if err != nil {
				t.Fatalf("config (%s): %v", tc.Description, err)
			}
			enc, err := ddbenc.NewEncryptor(cfg)
			if err != nil {
				t.Fatalf("config (%s): %v", tc.Description, err)
			}
			stored, err := tc.StoredItem()
			if err != nil {
				t.Fatalf("encrypted: %v", err)
			}
			got, err := enc.DecryptItem(context.Background(), stored)
			if !tc.Positive() {
				if err == nil {
					t.Fatalf("%s: decryption succeeded, want an error", tc.Description)
				}
				t.Logf("%s: %v", tc.Description, err)
				return
			}
			if err != nil {
				t.Fatalf("%s: %v", tc.Description, err)
			}
			want, err := tc.PlaintextItem()
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
	for _, f := range files {
		tl := tallies[f]
		t.Logf("%s: %d tests (%d positive, %d negative): %d passed, %d failed", f, tl.pos+tl.neg, tl.pos, tl.neg, tl.passed, tl.failed)
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
