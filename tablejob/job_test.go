package tablejob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/ddbenctest"
	"github.com/ddbec/ddbec-go/keyring"
)

var (
	local    *ddbenctest.DynamoDB
	localErr error
)

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	local, localErr = ddbenctest.NewDynamoDB(ctx)
	cancel()
	code := m.Run()
	if local != nil {
		local.Close()
	}
	os.Exit(code)
}

var cpSeq int

// checkpointClient returns a DynamoDB Local client and a fresh checkpoint
// table, or skips (fails with CI=true) without DynamoDB Local.
func checkpointClient(t *testing.T) (*dynamodb.Client, string) {
	t.Helper()
	if localErr != nil {
		ddbenctest.SkipUnavailable(t, "DynamoDB Local", localErr)
	}
	c := local.Client(ddbenctest.East)
	cpSeq++
	name := fmt.Sprintf("cp%d_%d", cpSeq, time.Now().UnixNano())
	if err := CreateCheckpointTable(context.Background(), c, name); err != nil {
		t.Fatal(err)
	}
	return c, name
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }

func target(t *testing.T, table string) *ddbenc.Encryptor {
	t.Helper()
	kr, err := keyring.NewRawAES("tablejob", "unit", bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	e, err := ddbenc.NewEncryptor(ddbenc.TableConfig{
		TableName: table, PartitionKey: "pk", SortKey: "sk", Format: ddbenc.DBESDKFormat, Keyring: kr,
		Actions: actions.Map{Default: actions.EncryptAndSign},
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestBuildUpdate(t *testing.T) {
	stored := map[string]types.AttributeValue{
		"pk": s("a"), "sk": n("1"), "x": s("old"), "*amzn-ddb-map-sig*": &types.AttributeValueMemberB{Value: []byte{1}},
		"m": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"k": s("v")}},
	}
	next := map[string]types.AttributeValue{
		"pk": s("a"), "sk": n("1"), "x": &types.AttributeValueMemberB{Value: []byte{9}}, "m": s("enc"), "aws_dbe_head": &types.AttributeValueMemberB{Value: []byte{2}},
	}
	in, err := buildUpdate([]string{"pk", "sk"}, stored, next)
	if err != nil {
		t.Fatal(err)
	}
	resolve := func(expr string) string {
		for ref, name := range in.ExpressionAttributeNames {
			expr = strings.ReplaceAll(expr, ref+" ", name+" ")
			expr = strings.ReplaceAll(expr, ref+",", name+",")
			if strings.HasSuffix(expr, ref) {
				expr = strings.TrimSuffix(expr, ref) + name
			}
		}
		return expr
	}
	// Names sort as "*amzn...", "aws_dbe_head", "m", "pk", "sk", "x".
	if got, want := resolve(*in.UpdateExpression), "SET aws_dbe_head = :v0, m = :v1, x = :v2 REMOVE *amzn-ddb-map-sig*"; got != want {
		t.Errorf("update:\n got %s\nwant %s", got, want)
	}
	if got, want := resolve(*in.ConditionExpression), "*amzn-ddb-map-sig* = :v3 AND m = :v4 AND pk = :v5 AND sk = :v6 AND x = :v7"; got != want {
		t.Errorf("condition:\n got %s\nwant %s", got, want)
	}
	// Every condition value is the stored value, every SET value the new one.
	for ref, want := range map[string]types.AttributeValue{":v0": next["aws_dbe_head"], ":v1": next["m"], ":v2": next["x"],
		":v3": stored["*amzn-ddb-map-sig*"], ":v4": stored["m"], ":v5": stored["pk"], ":v6": stored["sk"], ":v7": stored["x"]} {
		if got := in.ExpressionAttributeValues[ref]; got != want {
			t.Errorf("%s = %#v, want %#v", ref, got, want)
		}
	}
	if len(in.ExpressionAttributeValues) != 8 {
		t.Errorf("%d values, want 8", len(in.ExpressionAttributeValues))
	}
	if len(in.Key) != 2 || in.Key["pk"] != stored["pk"] || in.Key["sk"] != stored["sk"] {
		t.Errorf("key %v", in.Key)
	}

	// Too many attributes for a 4 KB expression.
	big := map[string]types.AttributeValue{"pk": s("a"), "sk": n("1")}
	for i := range 400 {
		big[fmt.Sprintf("attribute_%03d", i)] = s("v")
	}
	if _, err := buildUpdate([]string{"pk", "sk"}, big, big); !errors.Is(err, ErrTooLarge) {
		t.Errorf("400 attributes: %v, want ErrTooLarge", err)
	}
	if _, err := buildUpdate([]string{"pk", "sk"}, map[string]types.AttributeValue{"pk": s("a")}, next); !errors.Is(err, ddbenc.ErrMissingAttribute) {
		t.Errorf("missing key: %v", err)
	}
}

// fakeTable is a recording fake of the job's table: one Scan page per
// segment, UpdateItem inputs recorded, conditional failures scripted.
type fakeTable struct {
	mu      sync.Mutex
	items   map[int][]map[string]types.AttributeValue // by segment
	current map[string]map[string]types.AttributeValue
	// failures: how many more UpdateItem calls of a pk fail the condition;
	// before each failure, appWrite (if set) changes the item.
	failures map[string]int
	appWrite func(pk string, item map[string]types.AttributeValue) map[string]types.AttributeValue
	updates  []*dynamodb.UpdateItemInput
	gets     int
	// throttles: how many more UpdateItem calls are throttled.
	throttles int
	scans     map[int][]map[string]types.AttributeValue // segment -> ExclusiveStartKeys
	onScan    func(seg int)
}

func newFake() *fakeTable {
	return &fakeTable{items: map[int][]map[string]types.AttributeValue{}, current: map[string]map[string]types.AttributeValue{},
		failures: map[string]int{}, scans: map[int][]map[string]types.AttributeValue{}}
}

func pkOf(item map[string]types.AttributeValue) string {
	return item["pk"].(*types.AttributeValueMemberS).Value
}

func (f *fakeTable) add(seg int, item map[string]types.AttributeValue) {
	f.items[seg] = append(f.items[seg], item)
	f.current[pkOf(item)] = item
}

func (f *fakeTable) Scan(ctx context.Context, in *dynamodb.ScanInput, _ ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	seg := int(*in.Segment)
	if f.onScan != nil {
		f.onScan(seg)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scans[seg] = append(f.scans[seg], in.ExclusiveStartKey)
	var out []map[string]types.AttributeValue
	for _, it := range f.items[seg] {
		out = append(out, f.current[pkOf(it)])
	}
	return &dynamodb.ScanOutput{Items: out}, nil
}

func (f *fakeTable) GetItem(ctx context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets++
	if !*in.ConsistentRead {
		return nil, errors.New("GetItem not consistent")
	}
	return &dynamodb.GetItemOutput{Item: f.current[pkOf(in.Key)]}, nil
}

func (f *fakeTable) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.updates = append(f.updates, in)
	if f.throttles > 0 {
		f.throttles--
		return nil, &types.ProvisionedThroughputExceededException{Message: aws.String("slow down")}
	}
	pk := pkOf(in.Key)
	if f.failures[pk] > 0 {
		f.failures[pk]--
		if f.appWrite != nil {
			f.current[pk] = f.appWrite(pk, f.current[pk])
		}
		return nil, &types.ConditionalCheckFailedException{Message: aws.String("The conditional request failed")}
	}
	// Apply: the new item is the key plus every SET value (the fake knows
	// the shape buildUpdate produces).
	next := map[string]types.AttributeValue{}
	for k, v := range in.Key {
		next[k] = v
	}
	for _, part := range strings.Split(strings.TrimPrefix(strings.SplitN(*in.UpdateExpression, " REMOVE ", 2)[0], "SET "), ", ") {
		ref, val, _ := strings.Cut(part, " = ")
		next[in.ExpressionAttributeNames[ref]] = in.ExpressionAttributeValues[val]
	}
	f.current[pk] = next
	return &dynamodb.UpdateItemOutput{}, nil
}

func (f *fakeTable) Query(ctx context.Context, in *dynamodb.QueryInput, _ ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	return nil, errors.New("fake table: Query is for the checkpoint table")
}

// fakeClock is Now and Sleep: Sleep advances the clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
	return ctx.Err()
}

func TestConflictRetry(t *testing.T) {
	cp, cpTable := checkpointClient(t)
	f := newFake()
	for i := range 4 {
		f.add(0, map[string]types.AttributeValue{"pk": s(fmt.Sprint("item", i)), "sk": n("1"), "v": s("plain")})
	}
	f.failures["item1"] = 1   // once: the retry transforms it
	f.failures["item2"] = 100 // always: conflicted
	f.appWrite = func(pk string, item map[string]types.AttributeValue) map[string]types.AttributeValue {
		c := map[string]types.AttributeValue{}
		for k, v := range item {
			c[k] = v
		}
		c["v"] = s("app-" + pk)
		return c
	}
	tgt := target(t, "data")
	j, err := New(Config{API: f, CheckpointAPI: cp, Table: "data", Kind: Encrypt, Target: tgt, JobID: "conflict", CheckpointTable: cpTable})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := j.Run(context.Background())
	if !errors.Is(err, ErrItemsFailed) {
		t.Fatalf("Run: %v, want ErrItemsFailed", err)
	}
	if rep.Read != 4 || rep.Transformed != 3 || rep.Conflicted != 1 || rep.Failed != 0 {
		t.Fatalf("report %+v", rep)
	}
	if len(rep.ConflictedKeys) != 1 || !strings.Contains(rep.ConflictedKeys[0], `"item2"`) {
		t.Errorf("ConflictedKeys %v", rep.ConflictedKeys)
	}
	var ce *Error
	if !errors.As(rep.Errors[0], &ce) || !errors.Is(ce, ErrConflict) || ce.Table != "data" || !strings.Contains(ce.Key, "item2") || strings.Contains(ce.Error(), "app-") {
		t.Errorf("conflict error %v", rep.Errors[0])
	}
	// item2: 1 + DefaultConflictRetries attempts, each followed by a GetItem
	// but the last; item1: 2 attempts.
	count := map[string]int{}
	for _, u := range f.updates {
		count[pkOf(u.Key)]++
	}
	if count["item2"] != 1+DefaultConflictRetries || count["item1"] != 2 || count["item0"] != 1 {
		t.Errorf("UpdateItem calls per item %v", count)
	}
	if f.gets != DefaultConflictRetries+1 {
		t.Errorf("%d GetItem calls, want %d", f.gets, DefaultConflictRetries+1)
	}
	// The retry of item1 was conditioned on the application's value, and
	// its transformed item holds that value.
	var last *dynamodb.UpdateItemInput
	for _, u := range f.updates {
		if pkOf(u.Key) == "item1" {
			last = u
		}
	}
	found := false
	for _, v := range last.ExpressionAttributeValues {
		if sv, ok := v.(*types.AttributeValueMemberS); ok && sv.Value == "app-item1" {
			found = true
		}
	}
	if !found {
		t.Error("item1's retry is not conditioned on the re-read item")
	}
	got, _, err := tgt.ReadItem(context.Background(), f.current["item1"])
	if err != nil || got["v"].(*types.AttributeValueMemberS).Value != "app-item1" {
		t.Errorf("item1 after the job: %v %v", got, err)
	}
	if _, ok := f.current["item2"]["aws_dbe_head"]; ok || f.current["item2"]["v"].(*types.AttributeValueMemberS).Value != "app-item2" {
		t.Errorf("item2 was overwritten: %v", f.current["item2"])
	}

	// A second run of the finished job scans nothing; a new job skips the
	// transformed items (and conflicts on item2 again).
	scans := len(f.scans[0])
	rep, err = j.Run(context.Background())
	if err != nil || rep.Read != 0 || len(f.scans[0]) != scans {
		t.Errorf("re-run: %+v %v, %d scans", rep, err, len(f.scans[0])-scans)
	}
	f.failures["item2"] = 0
	j2, _ := New(Config{API: f, CheckpointAPI: cp, Table: "data", Kind: Encrypt, Target: tgt, JobID: "conflict-2", CheckpointTable: cpTable})
	rep, err = j2.Run(context.Background())
	if err != nil || rep.Read != 4 || rep.Skipped != 3 || rep.Transformed != 1 {
		t.Errorf("second job: %+v %v", rep, err)
	}
}

func TestLeases(t *testing.T) {
	cp, cpTable := checkpointClient(t)
	ctx := context.Background()
	clock := &fakeClock{t: time.UnixMilli(1_000_000_000_000)}
	now := clock.Now().UnixMilli()
	lease := 10 * time.Second
	put := func(seg int, attrs map[string]types.AttributeValue) {
		attrs[attrJob] = s("leases")
		attrs[attrSegment] = n(fmt.Sprint(seg))
		if _, err := cp.PutItem(ctx, &dynamodb.PutItemInput{TableName: &cpTable, Item: attrs}); err != nil {
			t.Fatal(err)
		}
	}
	resume := map[string]types.AttributeValue{"pk": s("seg1-resume"), "sk": n("5")}
	put(0, map[string]types.AttributeValue{attrState: s(stateDone)})
	put(1, map[string]types.AttributeValue{attrState: s(stateLeased), attrOwner: s("dead"), attrExpiry: n(fmt.Sprint(now - 1)),
		attrLastKey: s(`{"pk":{"S":"seg1-resume"},"sk":{"N":"5"}}`)})
	put(2, map[string]types.AttributeValue{attrState: s(stateLeased), attrOwner: s("alive"), attrExpiry: n(fmt.Sprint(now + 3*lease.Milliseconds()))})
	// Segment 3 has no checkpoint yet.
	f := newFake()
	for seg := range 4 {
		f.add(seg, map[string]types.AttributeValue{"pk": s(fmt.Sprint("seg", seg)), "sk": n("1")})
	}
	var scanTimes []int64
	f.onScan = func(seg int) {
		if seg == 2 {
			scanTimes = append(scanTimes, clock.Now().UnixMilli())
		}
	}
	cfg := Config{API: f, CheckpointAPI: cp, Table: "data", Kind: Encrypt, Target: target(t, "data"), JobID: "leases",
		CheckpointTable: cpTable, TotalSegments: 4, Worker: 0, Workers: 2, Owner: "me", LeaseDuration: lease,
		Now: clock.Now, Sleep: clock.Sleep}
	j, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := j.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.scans[0]) != 0 {
		t.Error("done segment 0 was scanned")
	}
	if len(f.scans[1]) != 1 || f.scans[1][0]["pk"].(*types.AttributeValueMemberS).Value != "seg1-resume" || len(f.scans[1][0]) != len(resume) {
		t.Errorf("expired segment 1 not resumed from its checkpoint: %v", f.scans[1])
	}
	if len(scanTimes) != 1 || scanTimes[0] < now+3*lease.Milliseconds() {
		t.Errorf("live lease of segment 2 taken before expiry: scans at %v, expiry %d", scanTimes, now+3*lease.Milliseconds())
	}
	slices.Sort(rep.Segments)
	if !slices.Equal(rep.Segments, []int{1, 2, 3}) || rep.Read != 3 || rep.Transformed != 3 {
		t.Errorf("report %+v", rep)
	}
	cps, err := j.listCheckpoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for seg := range 4 {
		if cps[seg].state != stateDone {
			t.Errorf("segment %d: %+v", seg, cps[seg])
		}
	}

	// A lease taken over while a page is processed: the checkpoint write
	// fails, the segment is given up.
	f.onScan = func(seg int) {
		if _, err := cp.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &cpTable,
			Key:                       map[string]types.AttributeValue{attrJob: s("stolen"), attrSegment: n("0")},
			UpdateExpression:          aws.String("SET #o = :o, #e = :e"),
			ExpressionAttributeNames:  map[string]string{"#o": attrOwner, "#e": attrExpiry},
			ExpressionAttributeValues: map[string]types.AttributeValue{":o": s("thief"), ":e": n(fmt.Sprint(clock.Now().UnixMilli() + 1000))},
		}); err != nil {
			t.Error(err)
		}
		f.onScan = func(int) {}
	}
	cfg.JobID, cfg.TotalSegments, cfg.Workers = "stolen", 1, 1
	j, _ = New(cfg)
	rep, err = j.Run(ctx)
	if err != nil || rep.LeasesLost != 1 || len(rep.Segments) != 1 {
		t.Errorf("stolen lease: %+v %v", rep, err)
	}
}

func TestNewInvalid(t *testing.T) {
	tgt := target(t, "data")
	f := newFake()
	for name, cfg := range map[string]Config{
		"no API":           {Table: "data", Kind: Encrypt, Target: tgt, JobID: "j", CheckpointTable: "cp"},
		"no target":        {API: f, Table: "data", Kind: Encrypt, JobID: "j", CheckpointTable: "cp"},
		"verify target":    {API: f, Table: "data", Kind: Verify, Source: tgt, Target: tgt, JobID: "j", CheckpointTable: "cp"},
		"wrong table":      {API: f, Table: "other", Kind: Encrypt, Target: tgt, JobID: "j", CheckpointTable: "cp"},
		"worker out":       {API: f, Table: "data", Kind: Encrypt, Target: tgt, JobID: "j", CheckpointTable: "cp", Worker: 2, Workers: 2},
		"no kind":          {API: f, Table: "data", Target: tgt, JobID: "j", CheckpointTable: "cp"},
		"same table":       {API: f, Table: "data", Kind: Encrypt, Target: tgt, JobID: "j", CheckpointTable: "data"},
		"migrate noSource": {API: f, Table: "data", Kind: Migrate, Target: tgt, JobID: "j", CheckpointTable: "cp"},
	} {
		if _, err := New(cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v, want ErrInvalidConfig", name, err)
		}
	}
}

func TestBucket(t *testing.T) {
	clock := &fakeClock{t: time.Unix(0, 0)}
	b := newBucket(10, clock.Now, clock.Sleep)
	ctx := context.Background()
	start := clock.Now()
	for range 5 {
		if err := b.wait(ctx); err != nil {
			t.Fatal(err)
		}
		b.take(&types.ConsumedCapacity{CapacityUnits: aws.Float64(10)})
	}
	// 50 units at 10/s with a 10-unit reserve, the last call's 10 owed by
	// the next: 3 s of waiting.
	if d := clock.Now().Sub(start); d < 2900*time.Millisecond || d > 3100*time.Millisecond {
		t.Errorf("waited %v for 50 units at 10/s", d)
	}
}

func keyed(t *testing.T, table, name string, b byte) *ddbenc.Encryptor {
	t.Helper()
	kr, err := keyring.NewRawAES("tablejob", name, bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	e, err := ddbenc.NewEncryptor(ddbenc.TableConfig{
		TableName: table, PartitionKey: "pk", SortKey: "sk", Format: ddbenc.DBESDKFormat, Keyring: kr,
		Actions: actions.Map{Default: actions.EncryptAndSign},
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestReencrypt moves items from an old key to a new one; a second job
// skips them all; a throttled write is retried after a backoff; an item of
// the wrong format fails by key, without its values.
func TestReencrypt(t *testing.T) {
	cp, cpTable := checkpointClient(t)
	ctx := context.Background()
	oldKey, newKey := keyed(t, "data", "old", 1), keyed(t, "data", "new", 2)
	f := newFake()
	for i := range 5 {
		enc, err := oldKey.EncryptItem(ctx, map[string]types.AttributeValue{"pk": s(fmt.Sprint("item", i)), "sk": n("1"), "v": s("secret-value")})
		if err != nil {
			t.Fatal(err)
		}
		f.add(0, enc)
	}
	f.add(0, map[string]types.AttributeValue{"pk": s("plain"), "sk": n("1"), "v": s("secret-value")})
	f.throttles = 2
	var slept []time.Duration
	cfg := Config{API: f, CheckpointAPI: cp, Table: "data", Kind: Reencrypt, Source: oldKey, Target: newKey, JobID: "re", CheckpointTable: cpTable,
		Sleep: func(ctx context.Context, d time.Duration) error { slept = append(slept, d); return nil }}
	j, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := j.Run(ctx)
	if !errors.Is(err, ErrItemsFailed) || rep.Transformed != 5 || rep.Failed != 1 || len(rep.FailedKeys) != 1 || !strings.Contains(rep.FailedKeys[0], `"plain"`) {
		t.Fatalf("%+v %v", rep, err)
	}
	if e := rep.Errors[0].Error(); strings.Contains(e, "secret-value") || !strings.Contains(e, `"data"`) || !strings.Contains(e, "plain") {
		t.Errorf("error %q", e)
	}
	if len(slept) != 2 || slept[0] < backoffBase/2 || slept[1] < backoffBase || slept[1] > 2*backoffBase {
		t.Errorf("throttle backoffs %v", slept)
	}
	for i := range 5 {
		it := f.current[fmt.Sprint("item", i)]
		if _, err := oldKey.DecryptItem(ctx, it); err == nil {
			t.Errorf("item%d still reads under the old key", i)
		}
		if got, err := newKey.DecryptItem(ctx, it); err != nil || got["v"].(*types.AttributeValueMemberS).Value != "secret-value" {
			t.Errorf("item%d under the new key: %v", i, err)
		}
	}
	cfg.JobID, cfg.Sleep = "re-2", nil
	j, _ = New(cfg)
	writes := len(f.updates)
	rep, _ = j.Run(ctx)
	if rep.Skipped != 5 || rep.Transformed != 0 || len(f.updates) != writes {
		t.Errorf("second job: %+v, %d writes", rep, len(f.updates)-writes)
	}
}
