package ddbenc_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/internal/avtest"
	"github.com/ddbec/ddbec-go/internal/keyfile"
	"github.com/ddbec/ddbec-go/internal/legacy"
	"github.com/ddbec/ddbec-go/internal/testvectors"
	"github.com/ddbec/ddbec-go/provider"
)

// versionAttribute is incremented by the Java mapper on save; the vectors'
// stored value may differ from plaintext.json (docs/legacy-format.md §7.5).
const versionAttribute = "version"

type tally struct{ passed, failed, skipped int }

// TestVectors runs every scenario that encrypted_item/scenarios.json lists,
// one subtest per scenario (named after its ciphertext path) and one per item.
func TestVectors(t *testing.T) {
	root, err := testvectors.Root()
	if err != nil {
		t.Fatal(err)
	}
	runVectors(t, root)
}

// TestVectorsOtherDirectory points DDBEC_VECTORS at a copy of the vectors in
// which a ciphertext file has another name and path, and checks the runner
// follows scenarios.json instead of any built-in list. It keeps the first
// static and the first wrapped scenario of the source set and expects every
// item of their files to pass.
func TestVectorsOtherDirectory(t *testing.T) {
	src, err := testvectors.Root()
	if err != nil {
		t.Fatal(err)
	}
	srcSc, err := testvectors.LoadScenarios(src)
	if err != nil {
		t.Fatal(err)
	}
	pick := map[string]testvectors.Scenario{}
	for _, sc := range srcSc.Scenarios {
		if _, ok := pick[sc.Provider]; !ok && (sc.Provider == "static" || sc.Provider == "wrapped") {
			pick[sc.Provider] = sc
		}
	}
	if len(pick) != 2 {
		t.Fatalf("%s has no static or no wrapped scenario", src)
	}
	items := map[string]int{}
	for prov, sc := range pick {
		ct, err := srcSc.Ciphertext(sc.Ciphertext)
		if err != nil {
			t.Fatal(err)
		}
		for _, its := range ct {
			items[prov] += len(its)
		}
	}
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	item := filepath.Join(dir, "encrypted_item")
	if err := os.MkdirAll(filepath.Join(item, "ciphertext", "elsewhere"), 0o755); err != nil {
		t.Fatal(err)
	}
	static := pick["static"]
	if err := os.Rename(filepath.Join(item, filepath.FromSlash(static.Name())), filepath.Join(item, "ciphertext", "elsewhere", "renamed.json")); err != nil {
		t.Fatal(err)
	}
	static.Ciphertext = "file://ciphertext/elsewhere/renamed.json"
	scen, err := json.Marshal(map[string]any{"plaintext": "file://plaintext.json", "keys": "file://keys.json",
		"scenarios": []testvectors.Scenario{static, pick["wrapped"]}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(item, "scenarios.json"), scen, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(testvectors.EnvVar, dir)
	root, err := testvectors.Root()
	if err != nil || root != dir {
		t.Fatalf("Root() = %q, %v; want %q", root, err, dir)
	}
	var ran []string
	counts := runVectorsNamed(t, root, func(name string) { ran = append(ran, name) })
	if want := []string{"ciphertext/elsewhere/renamed.json", pick["wrapped"].Name()}; !slices.Equal(ran, want) {
		t.Errorf("scenarios run = %q, want %q", ran, want)
	}
	for prov, n := range items {
		if c := counts[prov]; c == nil || c.passed != n || c.failed != 0 || n == 0 {
			t.Errorf("%s counts = %+v, want the file's %d items passed", prov, c, n)
		}
	}
}

func runVectors(t *testing.T, root string) map[string]*tally {
	return runVectorsNamed(t, root, func(string) {})
}

func runVectorsNamed(t *testing.T, root string, ran func(name string)) map[string]*tally {
	t.Helper()
	sc, err := testvectors.LoadScenarios(root)
	if err != nil {
		t.Fatalf("loading vectors from %s (set %s to another directory of the same layout): %v", root, testvectors.EnvVar, err)
	}
	if len(sc.Scenarios) == 0 {
		t.Fatalf("%s lists no scenarios", root)
	}
	keysPath, err := sc.Path("file://keys.json")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := keyfile.Load(keysPath)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]*tally{}
	for _, s := range sc.Scenarios {
		if counts[s.Provider] == nil {
			counts[s.Provider] = &tally{}
		}
		c := counts[s.Provider]
		ran(s.Name())
		t.Run(s.Name(), func(t *testing.T) {
			runScenario(t, sc, keys, s, c)
		})
	}
	var lines []string
	for p, c := range counts {
		lines = append(lines, fmt.Sprintf("%s: %d passed, %d failed, %d skipped", p, c.passed, c.failed, c.skipped))
	}
	slices.Sort(lines)
	t.Logf("vector items from %d scenarios in %s:\n  %s", len(sc.Scenarios), root, strings.Join(lines, "\n  "))
	return counts
}

func runScenario(t *testing.T, sc *testvectors.Scenarios, keys keyfile.Keys, s testvectors.Scenario, c *tally) {
	pt, err := sc.LoadPlaintext(s.Plaintext)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := sc.Ciphertext(s.Ciphertext)
	if err != nil {
		t.Fatal(err)
	}
	var check func(t *testing.T, cfg ddbenc.TableConfig, stored, want map[string]types.AttributeValue)
	switch s.Provider {
	case "static", "wrapped":
		// The scenario's provider both reads its items and writes them again.
		p, err := keys.ScenarioProvider(s.Provider, s.Keys)
		if err != nil {
			t.Fatal(err)
		}
		check = func(t *testing.T, cfg ddbenc.TableConfig, stored, want map[string]types.AttributeValue) {
			checkDecrypt(t, cfg, p, p, stored, want)
		}
	case "awskms":
		check = checkKMSStructure
	case "most_recent":
		if s.Metastore == nil {
			t.Fatal("most_recent scenario without a metastore")
		}
		meta, err := sc.Ciphertext(s.Metastore.Ciphertext)
		if err != nil {
			t.Fatal(err)
		}
		if s.Metastore.Provider == "awskms" {
			// The metastore's materials are protected by a real KMS key:
			// structure only (docs/legacy-format.md §7.7).
			checkMetaStoreKMSStructure(t, s.Metastore.TableName, meta[s.Metastore.TableName])
			check = func(t *testing.T, cfg ddbenc.TableConfig, stored, want map[string]types.AttributeValue) {
				checkMostRecentDataStructure(t, cfg, stored, want, s.MaterialName)
			}
			break
		}
		metaRead, err := keys.ScenarioProvider(s.Metastore.Provider, s.Metastore.Keys)
		if err != nil {
			t.Fatal(err)
		}
		store, err := newOfflineStore(s.Metastore.TableName, meta[s.Metastore.TableName], metaRead)
		if err != nil {
			t.Fatal(err)
		}
		read, err := provider.NewMostRecent(store, s.MaterialName)
		if err != nil {
			t.Fatal(err)
		}
		check = func(t *testing.T, cfg ddbenc.TableConfig, stored, want map[string]types.AttributeValue) {
			checkDecrypt(t, cfg, read, nil, stored, want)
		}
	default:
		t.Fatalf("unknown provider %q in scenario", s.Provider)
	}

	tables := slices.Sorted(func(yield func(string) bool) {
		for k := range ct {
			if !yield(k) {
				return
			}
		}
	})
	for _, table := range tables {
		tp, ok := pt.Items[table]
		if !ok {
			t.Fatalf("table %q has no plaintext in %s", table, s.Plaintext)
		}
		for i, stored := range ct[table] {
			name := fmt.Sprintf("%s/%d", table, i)
			t.Run(name, func(t *testing.T) {
				defer func() {
					switch {
					case t.Failed():
						c.failed++
					case t.Skipped():
						c.skipped++
					default:
						c.passed++
					}
				}()
				pi, ok := findPlaintext(tp, stored)
				if !ok {
					t.Skip("ciphertext item has no plaintext counterpart (docs/legacy-format.md §7.5)")
				}
				acts, err := pt.Actions[pi.Action].Map()
				if err != nil {
					t.Fatalf("action set %q: %v", pi.Action, err)
				}
				want, err := pt.Expected(table, s.Version, pi)
				if err != nil {
					t.Fatal(err)
				}
				cfg := ddbenc.TableConfig{
					TableName:    table,
					PartitionKey: tp.Index.Partition,
					SortKey:      tp.Index.Sort,
					Actions:      acts,
				}
				check(t, cfg, stored, want)
			})
		}
	}
}

// offlineTable is a read-only MetaStore table over the metastore items of a
// vector file (docs/legacy-format.md §7.6): a MetaStore reads its materials without DynamoDB.
type offlineTable []testvectors.Item

func newOfflineStore(table string, items []testvectors.Item, p ddbenc.MaterialsProvider) (*provider.MetaStore, error) {
	return provider.NewMetaStore(offlineTable(items), table, p)
}

func (t offlineTable) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	name, _ := in.Key["N"].(*types.AttributeValueMemberS)
	version, _ := in.Key["V"].(*types.AttributeValueMemberN)
	for _, it := range t {
		n, _ := it["N"].(*types.AttributeValueMemberS)
		v, _ := it["V"].(*types.AttributeValueMemberN)
		if n != nil && v != nil && name != nil && version != nil && n.Value == name.Value && v.Value == version.Value {
			return &dynamodb.GetItemOutput{Item: it}, nil
		}
	}
	return &dynamodb.GetItemOutput{}, nil
}

func (offlineTable) PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return nil, errors.New("offline store is read-only")
}

func (offlineTable) Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	return nil, errors.New("offline store is read-only")
}

// checkMetaStoreKMSStructure checks a KMS-protected metastore item
// (docs/legacy-format.md §7.7): KMS description entries, every material attribute encrypted.
func checkMetaStoreKMSStructure(t *testing.T, table string, items []testvectors.Item) {
	t.Helper()
	if len(items) == 0 {
		t.Fatalf("metastore %s has no items", table)
	}
	for _, it := range items {
		desc := descOf(t, it)
		if desc[legacy.WrapAlgorithm] != "kms" || desc[legacy.KMSContextAttr] != "*keys*" {
			t.Errorf("metastore item description %v", desc)
		}
		for _, name := range []string{"t", "enc", "encAlg", "int", "intAlg"} {
			b, ok := it[name].(*types.AttributeValueMemberB)
			if !ok || len(b.Value) < 32 || len(b.Value)%16 != 0 {
				t.Errorf("metastore attribute %s is not ciphertext", name)
			}
		}
		if _, ok := it["N"].(*types.AttributeValueMemberS); !ok {
			t.Error("metastore N is not a string")
		}
	}
}

// checkMostRecentDataStructure checks a data item written with metastore
// materials (docs/legacy-format.md §7.7): AESWrap, a 40-byte wrapped key, the meta id.
func checkMostRecentDataStructure(t *testing.T, cfg ddbenc.TableConfig, stored, want map[string]types.AttributeValue, material string) {
	t.Helper()
	_, done := checkDoNothingItem(t, cfg, stored, want)
	if done {
		return
	}
	desc := descOf(t, stored)
	key, err := base64.StdEncoding.DecodeString(desc[legacy.EnvelopeKey])
	if err != nil || len(key) != 40 || desc[legacy.WrapAlgorithm] != "AESWrap" {
		t.Errorf("wrapped key %d bytes, wrap-alg %q; want 40 and AESWrap", len(key), desc[legacy.WrapAlgorithm])
	}
	if id := desc[legacy.MetaID]; !strings.HasPrefix(id, material+"#") {
		t.Errorf("meta id %q, want %s#N", id, material)
	}
}

// checkDoNothingItem returns the effective actions; for an item whose
// actions are all do-nothing it checks the item is stored as plaintext and
// reports done.
func checkDoNothingItem(t *testing.T, cfg ddbenc.TableConfig, stored, want map[string]types.AttributeValue) (func(string) actions.Action, bool) {
	t.Helper()
	if cfg.Actions.AllDoNothing() {
		if diff := avtest.DiffItems(dropVersion(want), dropVersion(stored)); diff != "" {
			t.Fatalf("do-nothing item differs from plaintext (-want +got):\n%s", diff)
		}
		return nil, true
	}
	acts, err := ddbenc.EffectiveActions(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return acts.Get, false
}

func descOf(t *testing.T, item map[string]types.AttributeValue) map[string]string {
	t.Helper()
	b, ok := item[legacy.MaterialDescriptionAttribute].(*types.AttributeValueMemberB)
	if !ok {
		t.Fatal("no material description")
	}
	d, err := legacy.ParseDescription(b.Value)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// findPlaintext finds the plaintext item whose index key values equal the
// stored item's, comparing canonically.
func findPlaintext(tp testvectors.PlaintextTable, stored map[string]types.AttributeValue) (testvectors.PlaintextItem, bool) {
	keysOf := func(it map[string]types.AttributeValue) []any {
		ks := []any{avtest.Normalize(it[tp.Index.Partition])}
		if tp.Index.Sort != "" {
			ks = append(ks, avtest.Normalize(it[tp.Index.Sort]))
		}
		return ks
	}
	want := keysOf(stored)
	for _, it := range tp.Items {
		if cmp.Equal(keysOf(it.Attributes), want) {
			return it, true
		}
	}
	return testvectors.PlaintextItem{}, false
}

// dropVersion removes the version attribute's value from the comparison but
// keeps its presence checked.
func dropVersion(item map[string]types.AttributeValue) map[string]types.AttributeValue {
	out := map[string]types.AttributeValue{}
	for k, v := range item {
		if k == versionAttribute {
			v = &types.AttributeValueMemberNULL{Value: true}
		}
		out[k] = v
	}
	return out
}

func checkDecrypt(t *testing.T, cfg ddbenc.TableConfig, read, write ddbenc.MaterialsProvider, stored, want map[string]types.AttributeValue) {
	ctx := context.Background()
	cfg.Provider = read
	enc, err := ddbenc.NewEncryptor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got, err := enc.DecryptItem(ctx, stored)
	if err != nil {
		t.Fatalf("DecryptItem: %v", err)
	}
	if diff := avtest.DiffItems(dropVersion(want), dropVersion(got)); diff != "" {
		t.Fatalf("DecryptItem (-want +got):\n%s", diff)
	}
	if write == nil {
		return
	}
	// Our own writer round-trips the same plaintext under the same actions.
	cfg.Provider = write
	for _, o := range []ddbenc.Ordering{ddbenc.JavaOrdering, ddbenc.PythonOrdering} {
		cfg.Ordering = o
		w, err := ddbenc.NewEncryptor(cfg)
		if err != nil {
			t.Fatal(err)
		}
		again, err := w.EncryptItem(ctx, got)
		if err != nil {
			t.Fatalf("EncryptItem(%s): %v", o, err)
		}
		back, err := enc.DecryptItem(ctx, again)
		if err != nil {
			t.Fatalf("DecryptItem(EncryptItem(%s)): %v", o, err)
		}
		if diff := avtest.DiffItems(got, back); diff != "" {
			t.Fatalf("round trip (%s) (-want +got):\n%s", o, diff)
		}
	}
}

// checkKMSStructure applies the structure-only checks of docs/legacy-format.md §7.7 to an item
// whose data key only the real KMS key can decrypt.
func checkKMSStructure(t *testing.T, cfg ddbenc.TableConfig, stored, want map[string]types.AttributeValue) {
	t.Helper()
	acts, done := checkDoNothingItem(t, cfg, stored, want)
	if done {
		return
	}
	descAV, ok1 := stored[legacy.MaterialDescriptionAttribute].(*types.AttributeValueMemberB)
	sigAV, ok2 := stored[legacy.SignatureAttribute].(*types.AttributeValueMemberB)
	if !ok1 || !ok2 {
		t.Fatal("reserved attributes missing or not binary")
	}
	desc, err := legacy.ParseDescription(descAV.Value)
	if err != nil {
		t.Fatalf("material description: %v", err)
	}
	for k, v := range map[string]string{
		legacy.WrapAlgorithm:  "kms",
		legacy.KMSContextAttr: "*keys*",
		legacy.SymMode:        legacy.SymModeCBC,
	} {
		if desc[k] != v {
			t.Errorf("description %s = %q, want %q", k, desc[k], v)
		}
	}
	for _, k := range []string{legacy.ContentKeyAlg, legacy.MACAlgorithm} {
		alg, bits, ok := strings.Cut(desc[k], "/")
		if !ok || alg == "" || bits == "" {
			t.Errorf("description %s = %q, want ALG/BITS", k, desc[k])
		}
	}
	if blob, err := base64.StdEncoding.DecodeString(desc[legacy.EnvelopeKey]); err != nil || len(blob) == 0 {
		t.Errorf("description %s is not non-empty base64: %v", legacy.EnvelopeKey, err)
	}
	if len(sigAV.Value) != 32 {
		t.Errorf("signature is %d bytes, want 32 (HmacSHA256)", len(sigAV.Value))
	}
	for name := range stored {
		if name == legacy.MaterialDescriptionAttribute || name == legacy.SignatureAttribute {
			continue
		}
		if _, ok := want[name]; !ok {
			t.Errorf("extra attribute %q", name)
		}
	}
	for name, w := range want {
		v, ok := stored[name]
		if !ok {
			t.Errorf("attribute %q missing", name)
			continue
		}
		if acts(name) == actions.EncryptAndSign {
			b, ok := v.(*types.AttributeValueMemberB)
			if !ok || len(b.Value) < 32 || len(b.Value)%16 != 0 {
				t.Errorf("encrypted attribute %q is not B of 16+16k bytes", name)
			}
			continue
		}
		if name == versionAttribute {
			continue
		}
		if diff := cmp.Diff(avtest.Normalize(w), avtest.Normalize(v)); diff != "" {
			t.Errorf("attribute %q (-want +got):\n%s", name, diff)
		}
	}
}
