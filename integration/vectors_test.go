package integration_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"

	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/ddbenctest"
	"github.com/ddbec/ddbec-go/internal/avtest"
	"github.com/ddbec/ddbec-go/internal/ddbjson"
	"github.com/ddbec/ddbec-go/internal/keyfile"
	"github.com/ddbec/ddbec-go/internal/testvectors"
	"github.com/ddbec/ddbec-go/provider"
)

// dynamoDBRefuses lists the vectors (by subtest name, File/ID or
// scenario/table/index) that DynamoDB Local refuses to store although the
// vector expects them to be readable and no rule of unstorable predicts it,
// each with the reason. The repository's vectors need no entry; an entry
// whose item DynamoDB stores fails the test, so the list cannot go stale.
var dynamoDBRefuses = map[string]string{}

// vecItem is one vector's stored item on its way through DynamoDB Local.
type vecItem struct {
	name   string
	stored map[string]types.AttributeValue
	// want is the expected plaintext; nil for an item that must be refused.
	want map[string]types.AttributeValue
	// ignore names attributes whose value is not compared (presence is).
	ignore string
}

// vecGroup is vectors that one Client configuration reads: they share a
// key schema and a TableConfig, so a Scan of their table decrypts all of
// them. Items whose keys collide go into another physical table.
type vecGroup struct {
	name   string
	region string
	pk, sk string
	// client returns the Client for the physical table.
	client func(t *testing.T, ddb *dynamodb.Client, table string) (*ddbenc.Client, error)
	// unread, when set, says why the items cannot be decrypted here (client
	// is nil): they are stored and read back plain only.
	unread   string
	negative bool // every item must be refused
	items    []*vecItem
}

// vecCounts counts vectors through DynamoDB Local.
type vecCounts struct {
	mu                                 sync.Mutex
	found, loaded, read, refused, kept int
	skipped                            map[string][]string // reason → vector names
	unreadable                         map[string]int      // reason → stored-only count
}

func (c *vecCounts) add(f func(c *vecCounts)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(c)
}

func (c *vecCounts) skip(reason, name string) {
	c.add(func(c *vecCounts) {
		if c.skipped == nil {
			c.skipped = map[string][]string{}
		}
		c.skipped[reason] = append(c.skipped[reason], name)
	})
}

func (c *vecCounts) nSkipped() int {
	n := 0
	for _, names := range c.skipped {
		n += len(names)
	}
	return n
}

func (c *vecCounts) report(t *testing.T, set, root string) {
	t.Helper()
	var lines []string
	for _, r := range slices.Sorted(maps.Keys(c.skipped)) {
		lines = append(lines, fmt.Sprintf("skipped by DynamoDB (%s): %d: %s", r, len(c.skipped[r]), strings.Join(c.skipped[r], ", ")))
	}
	for _, r := range slices.Sorted(maps.Keys(c.unreadable)) {
		lines = append(lines, fmt.Sprintf("stored and read back plain only (%s): %d", r, c.unreadable[r]))
	}
	t.Logf("%s vectors from %s through DynamoDB Local: %d found, %d loaded, %d read back (GetItem and Scan), %d refused, %d stored only, %d skipped by DynamoDB\n  %s",
		set, root, c.found, c.loaded, c.read, c.refused, c.kept, c.nSkipped(), strings.Join(lines, "\n  "))
	if c.found == 0 {
		t.Errorf("no %s vector found under %s", set, root)
	}
	if c.loaded+c.nSkipped() != c.found {
		t.Errorf("%d loaded + %d skipped != %d found", c.loaded, c.nSkipped(), c.found)
	}
	if c.read+c.refused+c.kept != c.loaded {
		t.Errorf("%d read back + %d refused + %d stored only != %d loaded", c.read, c.refused, c.kept, c.loaded)
	}
}

// keyType is the table attribute type of a key value, or a reason DynamoDB
// cannot key on it.
func keyType(item map[string]types.AttributeValue, name string) (types.ScalarAttributeType, string) {
	v, ok := item[name]
	if !ok {
		return "", fmt.Sprintf("key attribute %s missing", name)
	}
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		if x.Value == "" {
			return "", "empty string key"
		}
		return types.ScalarAttributeTypeS, ""
	case *types.AttributeValueMemberN:
		return types.ScalarAttributeTypeN, ""
	case *types.AttributeValueMemberB:
		if len(x.Value) == 0 {
			return "", "empty binary key"
		}
		return types.ScalarAttributeTypeB, ""
	}
	return "", fmt.Sprintf("key of type %s (DynamoDB keys are S, N or B)", ddbjson.TypeName(v))
}

// unstorable returns why DynamoDB refuses item as a stored item of a table
// keyed on pk (and sk), or "".
func unstorable(item map[string]types.AttributeValue, pk, sk string) string {
	for _, k := range []string{pk, sk} {
		if k == "" {
			continue
		}
		if _, reason := keyType(item, k); reason != "" {
			return reason
		}
	}
	var empty func(v types.AttributeValue) bool
	empty = func(v types.AttributeValue) bool {
		switch x := v.(type) {
		case *types.AttributeValueMemberSS:
			return len(x.Value) == 0
		case *types.AttributeValueMemberNS:
			return len(x.Value) == 0
		case *types.AttributeValueMemberBS:
			return len(x.Value) == 0
		case *types.AttributeValueMemberM:
			return slices.ContainsFunc(slices.Collect(maps.Values(x.Value)), empty)
		case *types.AttributeValueMemberL:
			return slices.ContainsFunc(x.Value, empty)
		}
		return false
	}
	for _, n := range slices.Sorted(maps.Keys(item)) {
		if empty(item[n]) {
			return "empty set"
		}
	}
	return ""
}

func keyOfItem(item map[string]types.AttributeValue, pk, sk string) map[string]types.AttributeValue {
	k := map[string]types.AttributeValue{pk: item[pk]}
	if sk != "" {
		k[sk] = item[sk]
	}
	return k
}

func keyString(item map[string]types.AttributeValue, pk, sk string) string {
	return fmt.Sprint(avtest.NormalizeItem(keyOfItem(item, pk, sk)))
}

// withoutValue replaces the value of attribute name (if present) by NULL.
func withoutValue(item map[string]types.AttributeValue, name string) map[string]types.AttributeValue {
	if name == "" {
		return item
	}
	out := maps.Clone(item)
	if _, ok := out[name]; ok {
		out[name] = &types.AttributeValueMemberNULL{Value: true}
	}
	return out
}

func diffPlain(want, got map[string]types.AttributeValue, ignore string) string {
	return cmp.Diff(avtest.NormalizeItem(withoutValue(want, ignore)), avtest.NormalizeItem(withoutValue(got, ignore)))
}

// runGroups puts every group's items into tables of DynamoDB Local with the
// plain client and reads them back through the group's Client.
func runGroups(t *testing.T, groups []*vecGroup, c *vecCounts) {
	t.Helper()
	for _, g := range groups {
		c.add(func(c *vecCounts) { c.found += len(g.items) })
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			runGroup(t, g, c)
		})
	}
}

func runGroup(t *testing.T, g *vecGroup, c *vecCounts) {
	ctx := context.Background()
	ddb := env.DynamoDB(g.region)
	// Split the items into physical tables of distinct keys.
	var tables [][]*vecItem
	var keys []map[string]bool
	for _, it := range g.items {
		if reason := unstorable(it.stored, g.pk, g.sk); reason != "" {
			// Not put into a table: DynamoDB's refusal is checked below.
			tables = append(tables, []*vecItem{it})
			keys = append(keys, nil)
			continue
		}
		k := keyString(it.stored, g.pk, g.sk)
		i := slices.IndexFunc(keys, func(ks map[string]bool) bool { return ks != nil && !ks[k] })
		if i < 0 {
			tables, keys = append(tables, nil), append(keys, map[string]bool{})
			i = len(tables) - 1
		}
		tables[i] = append(tables[i], it)
		keys[i][k] = true
	}
	for _, items := range tables {
		pkType, _ := keyType(items[0].stored, g.pk)
		skType := types.ScalarAttributeType("")
		if g.sk != "" {
			skType, _ = keyType(items[0].stored, g.sk)
		}
		table := fmt.Sprintf("vec%d", tableSeq.Add(1))
		if pkType == "" || g.sk != "" && skType == "" {
			// DynamoDB cannot key a table on this item's key: a table keyed
			// on S attributes of the same names shows the refusal.
			pkType, skType = types.ScalarAttributeTypeS, types.ScalarAttributeTypeS
		}
		sk := ddbenctest.Key{Name: g.sk, Type: skType}
		if err := ddbenctest.CreateTable(ctx, ddb, table, ddbenctest.Key{Name: g.pk, Type: pkType}, sk, false); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		var loaded []*vecItem
		for _, it := range items {
			_, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: it.stored})
			predicted := unstorable(it.stored, g.pk, g.sk)
			listed, isListed := dynamoDBRefuses[it.name]
			switch {
			case err != nil && predicted != "":
				t.Logf("%s: DynamoDB refuses the item (%s): %v", it.name, predicted, err)
				c.skip(predicted, it.name)
			case err != nil && isListed:
				t.Logf("%s: DynamoDB refuses the item (listed: %s): %v", it.name, listed, err)
				c.skip(listed, it.name)
			case err != nil:
				t.Errorf("%s: DynamoDB refused the item, and neither unstorable nor dynamoDBRefuses says why: %v", it.name, err)
			case predicted != "":
				t.Errorf("%s: DynamoDB stored an item unstorable says it refuses (%s)", it.name, predicted)
			case isListed:
				t.Errorf("%s: DynamoDB stored an item dynamoDBRefuses lists (%s)", it.name, listed)
			default:
				loaded = append(loaded, it)
			}
		}
		c.add(func(c *vecCounts) { c.loaded += len(loaded) })
		if len(loaded) > 0 {
			readTable(t, g, ddb, table, loaded, c)
		}
	}
}

func readTable(t *testing.T, g *vecGroup, ddb *dynamodb.Client, table string, items []*vecItem, c *vecCounts) {
	ctx := context.Background()
	// The plain client reads every item as it was stored.
	for _, it := range items {
		raw, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: keyOfItem(it.stored, g.pk, g.sk), ConsistentRead: aws.Bool(true)})
		if err != nil {
			t.Fatalf("%s: plain GetItem: %v", it.name, err)
		}
		if d := avtest.DiffItems(it.stored, raw.Item); d != "" {
			t.Errorf("%s: DynamoDB changed the stored item (-stored +read):\n%s", it.name, d)
		}
	}
	if g.unread != "" {
		c.add(func(c *vecCounts) {
			c.kept += len(items)
			if c.unreadable == nil {
				c.unreadable = map[string]int{}
			}
			c.unreadable[g.unread] += len(items)
		})
		return
	}
	client, err := g.client(t, ddb, table)
	if err != nil {
		if !g.negative {
			t.Fatalf("NewClient: %v", err)
		}
		for _, it := range items {
			t.Logf("%s: refused by NewClient: %v", it.name, err)
		}
		c.add(func(c *vecCounts) { c.refused += len(items) })
		return
	}
	ok := map[string]int{} // GetItem and Scan checks passed, by name
	for _, it := range items {
		got, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: keyOfItem(it.stored, g.pk, g.sk)})
		switch {
		case it.want == nil && err == nil:
			t.Errorf("%s: GetItem through the Client succeeded, want an error", it.name)
		case it.want == nil:
			t.Logf("%s: GetItem refused: %v", it.name, err)
			ok[it.name]++
		case err != nil:
			t.Errorf("%s: GetItem: %v", it.name, err)
		case got.Item == nil:
			t.Errorf("%s: GetItem found no item", it.name)
		default:
			if d := diffPlain(it.want, got.Item, it.ignore); d != "" {
				t.Errorf("%s: GetItem (-want +got):\n%s", it.name, d)
			} else {
				ok[it.name]++
			}
		}
	}
	byKey := map[string]*vecItem{}
	for _, it := range items {
		byKey[keyString(it.stored, g.pk, g.sk)] = it
	}
	var scanned []map[string]types.AttributeValue
	var scanErr error
	for in := (&dynamodb.ScanInput{TableName: &table, ConsistentRead: aws.Bool(true)}); ; {
		out, err := client.Scan(ctx, in)
		if err != nil {
			scanErr = err
			break
		}
		scanned = append(scanned, out.Items...)
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	switch {
	case g.negative && scanErr == nil:
		t.Errorf("Scan through the Client succeeded (%d items), want an error", len(scanned))
	case g.negative:
		t.Logf("Scan refused: %v", scanErr)
		for _, it := range items {
			ok[it.name]++
		}
	case scanErr != nil:
		t.Errorf("Scan: %v", scanErr)
	default:
		if len(scanned) != len(items) {
			t.Errorf("Scan returned %d items, the table holds %d", len(scanned), len(items))
		}
		for _, got := range scanned {
			it := byKey[keyString(got, g.pk, g.sk)]
			if it == nil {
				t.Errorf("Scan returned an item of unknown key %v", avtest.NormalizeItem(keyOfItem(got, g.pk, g.sk)))
				continue
			}
			if d := diffPlain(it.want, got, it.ignore); d != "" {
				t.Errorf("%s: Scan (-want +got):\n%s", it.name, d)
			} else {
				ok[it.name]++
			}
		}
	}
	if g.negative {
		// Refused reads left the item as it was stored.
		for _, it := range items {
			raw, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: keyOfItem(it.stored, g.pk, g.sk), ConsistentRead: aws.Bool(true)})
			if err != nil || avtest.DiffItems(it.stored, raw.Item) != "" {
				t.Errorf("%s: the stored item changed after the refused reads (%v)", it.name, err)
				delete(ok, it.name)
			}
		}
	}
	for _, it := range items {
		if ok[it.name] != 2 {
			continue
		}
		c.add(func(c *vecCounts) {
			if g.negative {
				c.refused++
			} else {
				c.read++
			}
		})
	}
}

// TestDBESDKVectorsThroughDynamoDBLocal puts the stored item of every
// DB-ESDK decrypt vector ($DDBEC_DBESDK_VECTORS or testdata/vectors/dbesdk)
// into DynamoDB Local with the plain client and reads it back through a
// DBESDKFormat Client configured from the vector: positive vectors with
// GetItem and Scan give the expected plaintext, negative ones are refused
// by both and stay as stored.
func TestDBESDKVectorsThroughDynamoDBLocal(t *testing.T) {
	need(t)
	root, err := testvectors.DBESDKRoot()
	if err != nil {
		t.Fatal(err)
	}
	runDBESDKThroughDynamoDB(t, root)
}

// runDBESDKThroughDynamoDB runs the DB-ESDK decrypt vectors under root
// through DynamoDB Local and returns the counts it logged.
func runDBESDKThroughDynamoDB(t *testing.T, root string) *vecCounts {
	t.Helper()
	tests, err := testvectors.DBESDKTests(root)
	if err != nil {
		t.Fatal(err)
	}
	keySets := map[string]keyfile.MPLKeys{}
	byConfig := map[string]*vecGroup{}
	var groups []*vecGroup
	for _, tc := range tests {
		kp, err := tc.KeysFile(root)
		if err != nil {
			t.Fatalf("%s: %v", tc.Name(), err)
		}
		keys, ok := keySets[kp]
		if !ok {
			if keys, err = keyfile.LoadMPL(kp); err != nil {
				t.Fatal(err)
			}
			keySets[kp] = keys
		}
		stored, err := tc.StoredItem()
		if err != nil {
			t.Fatalf("%s: encrypted: %v", tc.Name(), err)
		}
		it := &vecItem{name: tc.Name(), stored: stored}
		if tc.Positive() {
			if it.want, err = tc.PlaintextItem(); err != nil {
				t.Fatalf("%s: plaintext: %v", tc.Name(), err)
			}
		}
		// One group per key file, config and key types; each negative
		// vector alone, so its refusal is its own.
		conf, err := json.Marshal(tc.Config)
		if err != nil {
			t.Fatal(err)
		}
		pk, sk := tc.Config.PartitionKeyName(), tc.Config.SortKey
		pkType, _ := keyType(stored, pk)
		skType, _ := keyType(stored, sk)
		id := fmt.Sprintf("%s|%s|%s|%s", kp, conf, pkType, skType)
		if !tc.Positive() {
			id += "|" + tc.Name()
		}
		g := byConfig[id]
		if g == nil {
			cfgOf := tc.Config
			g = &vecGroup{name: tc.Name(), region: ddbenctest.East, pk: pk, sk: sk, negative: !tc.Positive(),
				client: func(t *testing.T, ddb *dynamodb.Client, table string) (*ddbenc.Client, error) {
					cfg, err := keyfile.DBESDKTableConfig(cfgOf, keys)
					if err != nil {
						t.Fatalf("config: %v", err)
					}
					cfg.LogicalTableName, cfg.TableName = cfg.TableName, table
					return ddbenc.NewClient(ddb, []ddbenc.TableConfig{cfg})
				}}
			byConfig[id] = g
			groups = append(groups, g)
		}
		g.items = append(g.items, it)
	}
	c := &vecCounts{}
	t.Run("groups", func(t *testing.T) { runGroups(t, groups, c) })
	c.report(t, "DB-ESDK", root)
	return c
}

// TestDBESDKVectorsThroughDynamoDBLocalOtherDirectory points
// $DDBEC_DBESDK_VECTORS at a directory of one renamed manifest whose tests
// are copies of the repository's: a positive and a negative one under new
// ids, one with an unsigned empty set added and one keyed on a BOOL, which
// DynamoDB cannot store. The counts follow that file.
func TestDBESDKVectorsThroughDynamoDBLocalOtherDirectory(t *testing.T) {
	need(t)
	src, err := testvectors.DBESDKRoot()
	if err != nil {
		t.Fatal(err)
	}
	read := func(rel string) map[string]any {
		data, err := os.ReadFile(filepath.Join(src, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	peer, java := read("generated/peer-go.json"), read("published/decrypt_java_32.json")
	test := func(m map[string]any, id string) map[string]any {
		tc, ok := m["tests"].(map[string]any)[id].(map[string]any)
		if !ok {
			t.Fatalf("test %s missing from the source vectors", id)
		}
		data, _ := json.Marshal(tc)
		var out map[string]any
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	emptySet := test(peer, "do-nothing-prefix")
	for _, part := range []string{"encrypted", "plaintext"} {
		emptySet[part].(map[string]any)[":empty"] = map[string]any{"SS": []any{}}
	}
	boolKey := test(java, "1")
	boolKey["encrypted"].(map[string]any)["RecNum"] = map[string]any{"BOOL": true}
	peer["tests"] = map[string]any{
		"renamed-positive": test(peer, "do-nothing-prefix"),
		"renamed-negative": test(java, "4"),
		"empty-set":        emptySet,
		"bool-key":         boolKey,
	}
	dst := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dst, "x", "y"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(peer)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, "x", "y", "renamed.json"), out, 0o644); err != nil {
		t.Fatal(err)
	}
	keys, err := os.ReadFile(filepath.Join(src, "keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, "keys.json"), keys, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(testvectors.DBESDKEnvVar, dst)
	root, err := testvectors.DBESDKRoot()
	if err != nil || root != dst {
		t.Fatalf("DBESDKRoot() = %q, %v; want %q", root, err, dst)
	}
	c := runDBESDKThroughDynamoDB(t, root)
	if c.found != 4 || c.loaded != 2 || c.read != 1 || c.refused != 1 || c.nSkipped() != 2 {
		t.Errorf("counts %d found, %d loaded, %d read, %d refused, %d skipped; want 4, 2, 1, 1, 2", c.found, c.loaded, c.read, c.refused, c.nSkipped())
	}
	want := map[string][]string{
		"empty set": {"x/y/renamed.json/empty-set"},
		"key of type BOOL (DynamoDB keys are S, N or B)": {"x/y/renamed.json/bool-key"},
	}
	if d := cmp.Diff(want, c.skipped); d != "" {
		t.Errorf("skipped by DynamoDB (-want +got):\n%s", d)
	}
}

// TestLegacyVectorsThroughDynamoDBLocal puts every stored item of every
// scenario of the legacy vectors ($DDBEC_VECTORS or testdata/vectors/legacy)
// into DynamoDB Local with the plain client and reads it back through a
// legacy-format Client with the scenario's provider, with GetItem and Scan.
// Items written with a real AWS KMS key are stored and read back plain only,
// unless every action of their item is DoNothing.
func TestLegacyVectorsThroughDynamoDBLocal(t *testing.T) {
	need(t)
	ctx := context.Background()
	root, err := testvectors.Root()
	if err != nil {
		t.Fatal(err)
	}
	sc, err := testvectors.LoadScenarios(root)
	if err != nil {
		t.Fatal(err)
	}
	keysPath, err := sc.Path("file://keys.json")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := keyfile.Load(keysPath)
	if err != nil {
		t.Fatal(err)
	}
	var groups []*vecGroup
	for i, s := range sc.Scenarios {
		pt, err := sc.LoadPlaintext(s.Plaintext)
		if err != nil {
			t.Fatal(err)
		}
		ct, err := sc.Ciphertext(s.Ciphertext)
		if err != nil {
			t.Fatal(err)
		}
		region := ddbenctest.East
		var prov func(t *testing.T, ddb *dynamodb.Client) ddbenc.MaterialsProvider
		unread := ""
		switch {
		case s.Provider == "static" || s.Provider == "wrapped":
			p, err := keys.ScenarioProvider(s.Provider, s.Keys)
			if err != nil {
				t.Fatalf("%s: %v", s.Name(), err)
			}
			prov = func(*testing.T, *dynamodb.Client) ddbenc.MaterialsProvider { return p }
		case s.Provider == "most_recent" && s.Metastore != nil && s.Metastore.Provider != "awskms":
			// The metastore table name is bound into its items: the
			// scenario gets a Region of its own with that table.
			region = fmt.Sprintf("vec-legacy-%d", i)
			ddb := env.DynamoDB(region)
			if err := provider.CreateMetaStoreTable(ctx, ddb, s.Metastore.TableName); err != nil {
				t.Fatal(err)
			}
			meta, err := sc.Ciphertext(s.Metastore.Ciphertext)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range meta[s.Metastore.TableName] {
				if _, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.Metastore.TableName, Item: it}); err != nil {
					t.Fatalf("%s: metastore item: %v", s.Name(), err)
				}
			}
			metaProv, err := keys.ScenarioProvider(s.Metastore.Provider, s.Metastore.Keys)
			if err != nil {
				t.Fatal(err)
			}
			store, err := provider.NewMetaStore(ddb, s.Metastore.TableName, metaProv)
			if err != nil {
				t.Fatal(err)
			}
			mr := mostRecent(t, store, s.MaterialName)
			prov = func(*testing.T, *dynamodb.Client) ddbenc.MaterialsProvider { return mr }
		case s.Provider == "awskms" || s.Provider == "most_recent":
			unread = "data keys under a real AWS KMS key"
		default:
			t.Fatalf("%s: unknown provider %q", s.Name(), s.Provider)
		}
		byGroup := map[string]*vecGroup{}
		for _, table := range slices.Sorted(maps.Keys(ct)) {
			tp, ok := pt.Items[table]
			if !ok {
				t.Fatalf("%s: table %q has no plaintext in %s", s.Name(), table, s.Plaintext)
			}
			for j, stored := range ct[table] {
				name := fmt.Sprintf("%s/%s/%d", s.Name(), table, j)
				pi, ok := matchPlaintext(tp, stored)
				if !ok {
					t.Errorf("%s: no plaintext counterpart", name)
					continue
				}
				acts, err := pt.Actions[pi.Action].Map()
				if err != nil {
					t.Fatalf("%s: action set %q: %v", name, pi.Action, err)
				}
				want, err := pt.Expected(table, s.Version, pi)
				if err != nil {
					t.Fatal(err)
				}
				pkType, _ := keyType(stored, tp.Index.Partition)
				skType, _ := keyType(stored, tp.Index.Sort)
				id := fmt.Sprintf("%s|%s|%s|%s", table, pi.Action, pkType, skType)
				g := byGroup[id]
				if g == nil {
					g = &vecGroup{name: fmt.Sprintf("%s/%s/%s", s.Name(), table, pi.Action), region: region, pk: tp.Index.Partition, sk: tp.Index.Sort}
					signed := table
					switch {
					case unread == "" || acts.AllDoNothing():
						// A DoNothing-only item needs no keys.
						g.client = func(t *testing.T, ddb *dynamodb.Client, physical string) (*ddbenc.Client, error) {
							cfg := ddbenc.TableConfig{TableName: physical, SignedTableName: signed, PartitionKey: g.pk, SortKey: g.sk, Actions: acts}
							if prov != nil && !acts.AllDoNothing() {
								cfg.Provider = prov(t, ddb)
							}
							return ddbenc.NewClient(ddb, []ddbenc.TableConfig{cfg})
						}
					default:
						g.unread = unread
					}
					byGroup[id] = g
					groups = append(groups, g)
				}
				// The Java mapper increments version on save
				// (docs/legacy-format.md §7.5): its value is not compared.
				g.items = append(g.items, &vecItem{name: name, stored: stored, want: want, ignore: "version"})
			}
		}
	}
	c := &vecCounts{}
	t.Run("groups", func(t *testing.T) { runGroups(t, groups, c) })
	c.report(t, "legacy", root)
}
