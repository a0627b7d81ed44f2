package testvectors_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ddbec/ddbec-go/internal/testvectors"
)

// TestDBESDKSeedSources: every DB-ESDK source gives seeds from the
// repository's vectors (21 published and the generated tests), and the
// header and footer seeds look like headers and footers.
func TestDBESDKSeedSources(t *testing.T) {
	items := testvectors.DBESDKSeeds(t, testvectors.DBESDKItemSeeds)
	if len(items) < 21 {
		t.Errorf("%d stored items, want at least the 21 published", len(items))
	}
	for name, src := range map[string]testvectors.SeedSource{
		"headers": testvectors.DBESDKHeaderSeeds,
		"footers": testvectors.DBESDKFooterSeeds,
		"values":  testvectors.DBESDKValueSeeds,
	} {
		tb := &fatalTB{}
		seeds := testvectors.DBESDKSeeds(tb, src)
		if len(seeds) == 0 || len(tb.msgs) != 0 {
			t.Errorf("%s: %d seeds, failures %q", name, len(seeds), tb.msgs)
		}
		for _, s := range seeds {
			switch {
			case name == "headers" && (len(s) < 34+32 || s[0] < 1 || s[0] > 2):
				t.Errorf("header seed of %d bytes, version %d", len(s), s[0])
			case name == "footers" && len(s)%48 != 0 && (len(s)-103)%48 != 0:
				t.Errorf("footer seed of %d bytes", len(s))
			}
		}
	}
}

// TestDBESDKSeedsEnvAndEmpty: $DDBEC_DBESDK_VECTORS moves the root, and a
// root without manifests is an empty corpus, which fails the target.
func TestDBESDKSeedsEnvAndEmpty(t *testing.T) {
	src, err := testvectors.DBESDKRoot()
	if err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	t.Setenv(testvectors.DBESDKEnvVar, empty)
	if r, _ := testvectors.DBESDKRoot(); r != empty {
		t.Fatalf("DBESDKRoot = %s, want %s", r, empty)
	}
	for name, s := range map[string]testvectors.SeedSource{
		"items": testvectors.DBESDKItemSeeds, "headers": testvectors.DBESDKHeaderSeeds,
		"footers": testvectors.DBESDKFooterSeeds, "values": testvectors.DBESDKValueSeeds,
	} {
		tb := &fatalTB{}
		if seeds := testvectors.DBESDKSeeds(tb, s); seeds != nil || len(tb.msgs) != 1 || !strings.Contains(tb.msgs[0], "empty seed corpus") {
			t.Errorf("%s on an empty root: %d seeds, failures %q", name, len(seeds), tb.msgs)
		}
	}
	// One manifest copied into the other root is found there.
	data, err := os.ReadFile(filepath.Join(src, "published", "decrypt_java_32.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(empty, "x", "y"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(empty, "x", "y", "renamed.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	heads := testvectors.DBESDKSeeds(t, testvectors.DBESDKHeaderSeeds)
	if len(heads) != 9 {
		t.Errorf("%d headers from one 9-test manifest", len(heads))
	}
	for _, h := range heads {
		if !bytes.Contains(h, []byte("aws-kms-hierarchy")) {
			t.Errorf("published header without a hierarchical EDK")
		}
	}
	// A manifest that is not a decrypt manifest is ignored.
	if err := os.WriteFile(filepath.Join(empty, "keys.json"), []byte(`{"manifest":{"type":"keys"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := testvectors.DBESDKSeeds(t, testvectors.DBESDKItemSeeds); len(got) != 9 {
		t.Errorf("%d items, want 9", len(got))
	}
}
