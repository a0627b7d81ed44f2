package ddbenc_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/internal/avtest"
	"github.com/ddbec/ddbec-go/internal/legacy"
	"github.com/ddbec/ddbec-go/keyring"
	"github.com/ddbec/ddbec-go/provider"
)

// Tests of Options.Concurrency: the items of one multi-item call are
// encrypted and decrypted on bounded workers, in the caller's order, with
// the first error in item order, the caller's context, and no goroutine
// left behind. The providers and keyrings here are hooked: before each call
// they run a function of the call's context and the item's partition key
// value, to delay, block, fail or record it.

// hook runs before each provider or keyring call, with the partition key
// value of the item it is for; an error fails the call.
type hook func(ctx context.Context, id string) error

// hookProvider is a legacy MaterialsProvider with a hook.
type hookProvider struct {
	next ddbenc.MaterialsProvider
	hook hook
}

func (p hookProvider) EncryptionMaterials(ctx context.Context, ec ddbenc.EncryptionContext) (*ddbenc.EncryptionMaterials, error) {
	if err := p.hook(ctx, ec.Item[pk].(*types.AttributeValueMemberS).Value); err != nil {
		return nil, err
	}
	return p.next.EncryptionMaterials(ctx, ec)
}

func (p hookProvider) DecryptionMaterials(ctx context.Context, ec ddbenc.EncryptionContext) (*ddbenc.DecryptionMaterials, error) {
	if err := p.hook(ctx, ec.Item[pk].(*types.AttributeValueMemberS).Value); err != nil {
		return nil, err
	}
	return p.next.DecryptionMaterials(ctx, ec)
}

// hookKeyring is a DB-ESDK Keyring with a hook. The item's partition key
// value is in the encryption context (its action includes it there).
type hookKeyring struct {
	next ddbenc.Keyring
	hook hook
}

func ecID(ec map[string]string) string { return ec["aws-crypto-attr."+pk] }

func (k hookKeyring) OnEncrypt(ctx context.Context, m *ddbenc.KeyringMaterials) error {
	if err := k.hook(ctx, ecID(m.EncryptionContext)); err != nil {
		return err
	}
	return k.next.OnEncrypt(ctx, m)
}

func (k hookKeyring) OnDecrypt(ctx context.Context, m *ddbenc.KeyringMaterials, edks []ddbenc.EncryptedDataKey) error {
	if err := k.hook(ctx, ecID(m.EncryptionContext)); err != nil {
		return err
	}
	return k.next.OnDecrypt(ctx, m, edks)
}

// concFormat is one item format's table for these tests.
type concFormat struct {
	name  string
	table string
	cfg   func(t *testing.T, h hook) ddbenc.TableConfig // h nil: no hook
}

func concFormats() []concFormat {
	return []concFormat{
		{"legacy", "People", func(t *testing.T, h hook) ddbenc.TableConfig {
			cfg := peopleConfig(t)
			if h != nil {
				cfg.Provider = hookProvider{cfg.Provider, h}
			}
			return cfg
		}},
		{"dbesdk", "Dbe", func(t *testing.T, h hook) ddbenc.TableConfig {
			cfg := dbeClientConfig(t)
			cfg.Suite = ddbenc.SuiteSymmetricOnly // fast under -race; the suite is not what is tested
			if h != nil {
				cfg.Keyring = hookKeyring{cfg.Keyring, h}
			}
			return cfg
		}},
	}
}

// concItems returns n plaintext items of the format's table, with partition
// keys u00, u01, ..., and their stored (encrypted) form.
func concItems(t *testing.T, f concFormat, count int) (plain, stored []map[string]types.AttributeValue) {
	t.Helper()
	enc, err := ddbenc.NewEncryptor(f.cfg(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	for i := range count {
		p := map[string]types.AttributeValue{pk: s(fmt.Sprintf("u%02d", i)), sk: n("1"), "secret": s(fmt.Sprintf("s3cret-%d", i)), "email": s(fmt.Sprintf("u%d@example.com", i)), "tenant": s("t1")}
		st, err := enc.EncryptItem(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		plain, stored = append(plain, p), append(stored, st)
	}
	return plain, stored
}

// concClient returns a Client over a recorder for the format's table (and
// the other format's, unhooked), with the given Concurrency (-1: the
// default, Options.Concurrency left zero).
func concClient(t *testing.T, f concFormat, workers int, h hook) (*ddbenc.Client, *recorder) {
	t.Helper()
	rec := &recorder{}
	cfgs := []ddbenc.TableConfig{f.cfg(t, h)}
	for _, o := range concFormats() {
		if o.name != f.name {
			cfgs = append(cfgs, o.cfg(t, nil))
		}
	}
	c, err := ddbenc.NewClient(rec, cfgs, func(o *ddbenc.Options) {
		if workers >= 0 {
			o.Concurrency = workers
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, rec
}

// randomDelay sleeps up to 300µs before each call, so that items finish out
// of order.
func randomDelay(context.Context, string) error {
	time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond)
	return nil
}

// readOps are the multi-item reads, each answering stored (the items of
// table) through rec and returning what the Client returned, with the
// formats it recorded.
var readOps = []struct {
	name string
	call func(ctx context.Context, c *ddbenc.Client, rec *recorder, table string, stored []map[string]types.AttributeValue) ([]map[string]types.AttributeValue, []ddbenc.ItemFormat, error)
}{
	{"Query", func(ctx context.Context, c *ddbenc.Client, rec *recorder, table string, stored []map[string]types.AttributeValue) ([]map[string]types.AttributeValue, []ddbenc.ItemFormat, error) {
		rec.returns("Query", &dynamodb.QueryOutput{Items: stored, Count: int32(len(stored))}, nil)
		out, err := c.Query(ctx, &dynamodb.QueryInput{TableName: &table, KeyConditionExpression: aws.String("pk = :p"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":p": s("u")}})
		if err != nil {
			return leaked(out != nil), nil, err
		}
		return out.Items, ddbenc.ItemFormats(out.ResultMetadata), nil
	}},
	{"Scan", func(ctx context.Context, c *ddbenc.Client, rec *recorder, table string, stored []map[string]types.AttributeValue) ([]map[string]types.AttributeValue, []ddbenc.ItemFormat, error) {
		rec.returns("Scan", &dynamodb.ScanOutput{Items: stored, Count: int32(len(stored))}, nil)
		out, err := c.Scan(ctx, &dynamodb.ScanInput{TableName: &table})
		if err != nil {
			return leaked(out != nil), nil, err
		}
		return out.Items, ddbenc.ItemFormats(out.ResultMetadata), nil
	}},
	{"BatchGetItem", func(ctx context.Context, c *ddbenc.Client, rec *recorder, table string, stored []map[string]types.AttributeValue) ([]map[string]types.AttributeValue, []ddbenc.ItemFormat, error) {
		rec.returns("BatchGetItem", &dynamodb.BatchGetItemOutput{Responses: map[string][]map[string]types.AttributeValue{table: stored}}, nil)
		keys := make([]map[string]types.AttributeValue, len(stored))
		for i, it := range stored {
			keys[i] = map[string]types.AttributeValue{pk: it[pk], sk: it[sk]}
		}
		out, err := c.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{table: {Keys: keys}}})
		if err != nil {
			return leaked(out != nil), nil, err
		}
		return out.Responses[table], ddbenc.BatchItemFormats(out.ResultMetadata)[table], nil
	}},
	{"TransactGetItems", func(ctx context.Context, c *ddbenc.Client, rec *recorder, table string, stored []map[string]types.AttributeValue) ([]map[string]types.AttributeValue, []ddbenc.ItemFormat, error) {
		resps := make([]types.ItemResponse, len(stored))
		gets := make([]types.TransactGetItem, len(stored))
		for i, it := range stored {
			resps[i].Item = it
			gets[i].Get = &types.Get{TableName: &table, Key: map[string]types.AttributeValue{pk: it[pk], sk: it[sk]}}
		}
		rec.returns("TransactGetItems", &dynamodb.TransactGetItemsOutput{Responses: resps}, nil)
		out, err := c.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: gets})
		if err != nil {
			return leaked(out != nil), nil, err
		}
		items := make([]map[string]types.AttributeValue, len(out.Responses))
		for i, r := range out.Responses {
			items[i] = r.Item
		}
		return items, ddbenc.ItemFormats(out.ResultMetadata), nil
	}},
}

// writeOps are the multi-item writes of plain to table, each returning the
// items it sent, in request order.
var writeOps = []struct {
	name string
	call func(ctx context.Context, c *ddbenc.Client, rec *recorder, table string, plain []map[string]types.AttributeValue) ([]map[string]types.AttributeValue, error)
}{
	{"BatchWriteItem", func(ctx context.Context, c *ddbenc.Client, rec *recorder, table string, plain []map[string]types.AttributeValue) ([]map[string]types.AttributeValue, error) {
		wrs := make([]types.WriteRequest, len(plain))
		for i, it := range plain {
			wrs[i].PutRequest = &types.PutRequest{Item: it}
		}
		if _, err := c.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: wrs}}); err != nil {
			return nil, err
		}
		sent := lastSent[*dynamodb.BatchWriteItemInput](rec)
		var items []map[string]types.AttributeValue
		for _, wr := range sent.RequestItems[table] {
			items = append(items, wr.PutRequest.Item)
		}
		return items, nil
	}},
	{"TransactWriteItems", func(ctx context.Context, c *ddbenc.Client, rec *recorder, table string, plain []map[string]types.AttributeValue) ([]map[string]types.AttributeValue, error) {
		tis := make([]types.TransactWriteItem, len(plain))
		for i, it := range plain {
			tis[i].Put = &types.Put{TableName: &table, Item: it}
		}
		if _, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tis}); err != nil {
			return nil, err
		}
		sent := lastSent[*dynamodb.TransactWriteItemsInput](rec)
		var items []map[string]types.AttributeValue
		for _, ti := range sent.TransactItems {
			items = append(items, ti.Put.Item)
		}
		return items, nil
	}},
}

// leaked stands for an output returned with an error: a non-nil item list.
func leaked(returned bool) []map[string]types.AttributeValue {
	if returned {
		return []map[string]types.AttributeValue{}
	}
	return nil
}

// lastSent returns the last request of type In the recorder received, or
// the zero In.
func lastSent[In any](rec *recorder) In {
	var last In
	for _, in := range rec.sent() {
		if v, ok := in.(In); ok {
			last = v
		}
	}
	return last
}

func noLeaks(t *testing.T) {
	t.Helper()
	goleak.VerifyNone(t, goleak.IgnoreCurrent())
}

func TestConcurrencyOption(t *testing.T) {
	rec := &recorder{}
	for _, bad := range []int{-1, -16} {
		_, err := ddbenc.NewClient(rec, []ddbenc.TableConfig{peopleConfig(t)}, func(o *ddbenc.Options) { o.Concurrency = bad })
		if !errors.Is(err, ddbenc.ErrInvalidConfig) || !strings.Contains(err.Error(), "Concurrency") {
			t.Errorf("Concurrency %d: %v, want ErrInvalidConfig naming Concurrency", bad, err)
		}
	}
	// The bound: every call blocks until the call's context ends, so the
	// calls started are the items in flight at once; once the context has
	// ended no further item starts.
	for _, c := range []struct{ set, want int }{{-1, ddbenc.DefaultConcurrency}, {1, 1}, {3, 3}, {40, 40}} {
		t.Run(fmt.Sprintf("concurrency=%d", c.set), func(t *testing.T) {
			defer noLeaks(t)
			f := concFormats()[0]
			_, stored := concItems(t, f, 40)
			var started atomic.Int64
			entered := make(chan struct{}, len(stored))
			client, rec := concClient(t, f, c.set, func(ctx context.Context, _ string) error {
				started.Add(1)
				entered <- struct{}{}
				<-ctx.Done()
				return ctx.Err()
			})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				_, _, err := readOps[0].call(ctx, client, rec, f.table, stored)
				done <- err
			}()
			for range c.want {
				<-entered
			}
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("error %v, want context.Canceled", err)
			}
			if got := started.Load(); got != int64(c.want) {
				t.Errorf("%d items started at once, want %d", got, c.want)
			}
		})
	}
}

// TestConcurrentReadsKeepOrder: with items finishing in random order, every
// multi-item read returns them, and their formats, in the order DynamoDB
// returned them, in both formats.
func TestConcurrentReadsKeepOrder(t *testing.T) {
	defer noLeaks(t)
	ctx := context.Background()
	for _, f := range concFormats() {
		plain, stored := concItems(t, f, 48)
		want := slices.Repeat([]ddbenc.ItemFormat{ddbenc.LegacyItem}, len(stored))
		if f.name == "dbesdk" {
			want = slices.Repeat([]ddbenc.ItemFormat{ddbenc.DBESDKItem}, len(stored))
		}
		for _, op := range readOps {
			t.Run(f.name+"/"+op.name, func(t *testing.T) {
				c, rec := concClient(t, f, 8, randomDelay)
				got, formats, err := op.call(ctx, c, rec, f.table, stored)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(dumps(plain), dumps(got)); diff != "" {
					t.Errorf("items (-want +got):\n%s", diff)
				}
				if !slices.Equal(formats, want) {
					t.Errorf("formats %v, want %v", formats, want)
				}
			})
		}
	}
}

// TestConcurrentWritesKeepOrder: the items a multi-item write sends are the
// caller's, encrypted, in the caller's order; a BatchWriteItem over both
// tables and a TransactWriteItems mixing operations keep every entry in its
// place.
func TestConcurrentWritesKeepOrder(t *testing.T) {
	defer noLeaks(t)
	ctx := context.Background()
	for _, f := range concFormats() {
		plain, _ := concItems(t, f, 25)
		reader, err := ddbenc.NewEncryptor(f.cfg(t, nil))
		if err != nil {
			t.Fatal(err)
		}
		for _, op := range writeOps {
			t.Run(f.name+"/"+op.name, func(t *testing.T) {
				c, rec := concClient(t, f, 8, randomDelay)
				sent, err := op.call(ctx, c, rec, f.table, plain)
				if err != nil {
					t.Fatal(err)
				}
				if len(sent) != len(plain) {
					t.Fatalf("%d items sent, want %d", len(sent), len(plain))
				}
				for i, st := range sent {
					got, err := reader.DecryptItem(ctx, st)
					if err != nil {
						t.Fatalf("sent item %d: %v", i, err)
					}
					if diff := cmp.Diff(dump(plain[i]), dump(got)); diff != "" {
						t.Errorf("sent item %d (-want +got):\n%s", i, diff)
					}
				}
			})
		}
	}
	t.Run("BatchWriteItem/two tables", func(t *testing.T) {
		fs := concFormats()
		leg, dbe := fs[0], fs[1]
		legPlain, _ := concItems(t, leg, 12)
		dbePlain, _ := concItems(t, dbe, 13)
		rec := &recorder{}
		c, err := ddbenc.NewClient(rec, []ddbenc.TableConfig{leg.cfg(t, randomDelay), dbe.cfg(t, randomDelay)},
			func(o *ddbenc.Options) { o.PassThroughTables = []string{"Plain"} })
		if err != nil {
			t.Fatal(err)
		}
		req := map[string][]types.WriteRequest{"Plain": {{PutRequest: &types.PutRequest{Item: key("p", "1")}}}}
		for i, it := range legPlain {
			if i%4 == 3 {
				req[leg.table] = append(req[leg.table], types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: map[string]types.AttributeValue{pk: it[pk], sk: it[sk]}}})
				continue
			}
			req[leg.table] = append(req[leg.table], types.WriteRequest{PutRequest: &types.PutRequest{Item: it}})
		}
		for _, it := range dbePlain {
			req[dbe.table] = append(req[dbe.table], types.WriteRequest{PutRequest: &types.PutRequest{Item: it}})
		}
		if _, err := c.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: req}); err != nil {
			t.Fatal(err)
		}
		sent := lastSent[*dynamodb.BatchWriteItemInput](rec)
		if diff := cmp.Diff(dumps([]map[string]types.AttributeValue{key("p", "1")}), dumps([]map[string]types.AttributeValue{sent.RequestItems["Plain"][0].PutRequest.Item})); diff != "" {
			t.Errorf("pass-through item changed:\n%s", diff)
		}
		for _, f := range []concFormat{leg, dbe} {
			reader, err := ddbenc.NewEncryptor(f.cfg(t, nil))
			if err != nil {
				t.Fatal(err)
			}
			wrs := sent.RequestItems[f.table]
			if len(wrs) != len(req[f.table]) {
				t.Fatalf("%s: %d requests sent, want %d", f.table, len(wrs), len(req[f.table]))
			}
			for i, wr := range wrs {
				orig := req[f.table][i]
				if orig.DeleteRequest != nil {
					if wr.DeleteRequest == nil || dump(wr.DeleteRequest.Key) != dump(orig.DeleteRequest.Key) {
						t.Errorf("%s request %d: want the delete of %s", f.table, i, dump(orig.DeleteRequest.Key))
					}
					continue
				}
				got, err := reader.DecryptItem(ctx, wr.PutRequest.Item)
				if err != nil {
					t.Fatalf("%s request %d: %v", f.table, i, err)
				}
				if dump(got) != dump(orig.PutRequest.Item) {
					t.Errorf("%s request %d: sent %s, want %s", f.table, i, dump(got), dump(orig.PutRequest.Item))
				}
			}
		}
	})
	t.Run("TransactWriteItems/mixed", func(t *testing.T) {
		f := concFormats()[0]
		plain, _ := concItems(t, f, 20)
		c, rec := concClient(t, f, 8, randomDelay)
		table := aws.String(f.table)
		tis := make([]types.TransactWriteItem, len(plain))
		for i, it := range plain {
			k := map[string]types.AttributeValue{pk: it[pk], sk: it[sk]}
			switch i % 4 {
			case 0, 1:
				tis[i].Put = &types.Put{TableName: table, Item: it}
			case 2:
				tis[i].Delete = &types.Delete{TableName: table, Key: k}
			case 3:
				tis[i].ConditionCheck = &types.ConditionCheck{TableName: table, Key: k, ConditionExpression: aws.String("attribute_exists(pk)")}
			}
		}
		if _, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tis}); err != nil {
			t.Fatal(err)
		}
		reader, _ := ddbenc.NewEncryptor(f.cfg(t, nil))
		sent := lastSent[*dynamodb.TransactWriteItemsInput](rec).TransactItems
		for i, ti := range sent {
			switch i % 4 {
			case 0, 1:
				got, err := reader.DecryptItem(ctx, ti.Put.Item)
				if err != nil || dump(got) != dump(plain[i]) {
					t.Errorf("entry %d: put of %s, %v; want %s", i, dump(got), err, dump(plain[i]))
				}
			case 2:
				if ti.Delete == nil || fmt.Sprint(avtest.Normalize(ti.Delete.Key[pk])) != fmt.Sprint(avtest.Normalize(plain[i][pk])) {
					t.Errorf("entry %d: want the delete of %s", i, fmt.Sprint(avtest.Normalize(plain[i][pk])))
				}
			case 3:
				if ti.ConditionCheck == nil || fmt.Sprint(avtest.Normalize(ti.ConditionCheck.Key[pk])) != fmt.Sprint(avtest.Normalize(plain[i][pk])) {
					t.Errorf("entry %d: want the condition check of %s", i, fmt.Sprint(avtest.Normalize(plain[i][pk])))
				}
			}
		}
	})
}

// TestConcurrentFirstErrorWins: when several items fail, the error is that
// of the first failing item in item order, naming its key, even when later
// ones fail first; nothing is returned, and for writes nothing is sent.
func TestConcurrentFirstErrorWins(t *testing.T) {
	defer noLeaks(t)
	ctx := context.Background()
	const items = 16
	failing := []int{3, 9, 14}
	errInjected := fmt.Errorf("%w: injected", ddbenc.ErrKeyUnavailable)
	// The hook fails the failing items; the first waits until a later one
	// has failed (the second surely starts: no item before it fails
	// earlier; the third may not, once the second has failed), and then a
	// little longer, so that the later error has reached the Client first:
	// the pause only makes a "first to finish wins" bug show; nothing is
	// timed.
	newHook := func() hook {
		later := make(chan struct{}, len(failing)-1)
		return func(ctx context.Context, id string) error {
			switch id {
			case fmt.Sprintf("u%02d", failing[0]):
				<-later
				time.Sleep(5 * time.Millisecond)
				return errInjected
			case fmt.Sprintf("u%02d", failing[1]), fmt.Sprintf("u%02d", failing[2]):
				later <- struct{}{}
				return errInjected
			}
			return randomDelay(ctx, id)
		}
	}
	check := func(t *testing.T, f concFormat, op string, err error) {
		t.Helper()
		var de *ddbenc.Error
		if !errors.As(err, &de) || !errors.Is(err, ddbenc.ErrKeyUnavailable) {
			t.Fatalf("error %v, want an *Error wrapping ErrKeyUnavailable", err)
		}
		wantKey := fmt.Sprintf("u%02d", failing[0])
		if de.Table != f.table || !strings.Contains(de.Key, `"`+wantKey+`"`) || !strings.Contains(de.Op, op) {
			t.Errorf("error names op %q table %q key %s; want %s, %s and the key of item %d (%s)", de.Op, de.Table, de.Key, op, f.table, failing[0], wantKey)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("error contains an attribute value: %v", err)
		}
	}
	for _, f := range concFormats() {
		plain, stored := concItems(t, f, items)
		for _, op := range readOps {
			t.Run(f.name+"/"+op.name, func(t *testing.T) {
				for range 5 {
					c, rec := concClient(t, f, items, newHook())
					got, formats, err := op.call(ctx, c, rec, f.table, stored)
					if got != nil || formats != nil {
						t.Errorf("items returned with the error")
					}
					check(t, f, op.name, err)
				}
			})
		}
		for _, op := range writeOps {
			t.Run(f.name+"/"+op.name, func(t *testing.T) {
				for range 5 {
					c, rec := concClient(t, f, items, newHook())
					_, err := op.call(ctx, c, rec, f.table, plain)
					check(t, f, op.name, err)
					if n := len(rec.sent()); n != 0 {
						t.Errorf("%d requests sent after a failed encryption", n)
					}
				}
			})
		}
	}
}

// TestConcurrentCancel: a call whose context is cancelled while items are in
// flight returns context.Canceled as soon as those items see it, without
// starting the others: the hook blocks every item until its context ends.
func TestConcurrentCancel(t *testing.T) {
	defer noLeaks(t)
	const items, workers = 100, 4
	for _, f := range concFormats() {
		plain, stored := concItems(t, f, items)
		calls := map[string]func(ctx context.Context, c *ddbenc.Client, rec *recorder) (bool, error){}
		for _, op := range readOps {
			calls[op.name] = func(ctx context.Context, c *ddbenc.Client, rec *recorder) (bool, error) {
				got, _, err := op.call(ctx, c, rec, f.table, stored)
				return got != nil, err
			}
		}
		for _, op := range writeOps {
			calls[op.name] = func(ctx context.Context, c *ddbenc.Client, rec *recorder) (bool, error) {
				_, err := op.call(ctx, c, rec, f.table, plain)
				return len(rec.sent()) > 0, err
			}
		}
		for name, call := range calls {
			for _, c := range []struct {
				workers  int
				ignoring bool // the hook returns nil, not ctx.Err(), once ctx ends
			}{{1, false}, {workers, false}, {workers, true}} {
				w := c.workers
				sub := fmt.Sprintf("%s/%s/workers=%d", f.name, name, w)
				if c.ignoring {
					// A provider that does not watch the context (no I/O):
					// its items run to completion, but none starts after
					// the cancellation. (With one worker the loop is
					// today's, which leaves the context to the provider.)
					sub += "/provider ignoring ctx"
				}
				t.Run(sub, func(t *testing.T) {
					var started atomic.Int64
					entered := make(chan struct{}, items)
					c, rec := concClient(t, f, w, func(ctx context.Context, _ string) error {
						started.Add(1)
						entered <- struct{}{}
						<-ctx.Done()
						if c.ignoring {
							return nil
						}
						return ctx.Err()
					})
					ctx, cancel := context.WithCancel(context.Background())
					type result struct {
						leaked bool
						err    error
					}
					done := make(chan result, 1)
					go func() {
						leaked, err := call(ctx, c, rec)
						done <- result{leaked, err}
					}()
					for range w {
						<-entered
					}
					cancel()
					r := <-done
					if !errors.Is(r.err, context.Canceled) {
						t.Errorf("error %v, want context.Canceled", r.err)
					}
					if r.leaked {
						t.Errorf("items returned, or a request sent, after the cancellation")
					}
					if n := started.Load(); n != int64(w) {
						t.Errorf("%d of %d items started; want only the %d in flight when cancelled", n, items, w)
					}
				})
			}
		}
	}
}

// goid returns the id of the calling goroutine.
func goid() string {
	b := make([]byte, 64)
	b = b[:runtime.Stack(b, false)]
	return strings.Fields(string(b))[1]
}

// TestConcurrencyGoroutines: with Concurrency 1, or a single item, every
// item is processed in the calling goroutine (no goroutine is started);
// otherwise items run on separate goroutines.
func TestConcurrencyGoroutines(t *testing.T) {
	defer noLeaks(t)
	ctx := context.Background()
	for _, f := range concFormats() {
		plain, stored := concItems(t, f, 8)
		record := func() (hook, func() []string) {
			var mu sync.Mutex
			var ids []string
			return func(context.Context, string) error {
					mu.Lock()
					defer mu.Unlock()
					ids = append(ids, goid())
					return nil
				}, func() []string {
					mu.Lock()
					defer mu.Unlock()
					return slices.Clone(ids)
				}
		}
		for _, c := range []struct {
			name    string
			workers int
			n       int
		}{{"workers=1", 1, 8}, {"one item", 16, 1}} {
			for _, op := range readOps {
				t.Run(f.name+"/"+op.name+"/"+c.name, func(t *testing.T) {
					h, ids := record()
					client, rec := concClient(t, f, c.workers, h)
					if _, _, err := op.call(ctx, client, rec, f.table, stored[:c.n]); err != nil {
						t.Fatal(err)
					}
					me := goid()
					for _, id := range ids() {
						if id != me {
							t.Fatalf("an item was processed on goroutine %s, not the caller's %s", id, me)
						}
					}
				})
			}
			for _, op := range writeOps {
				t.Run(f.name+"/"+op.name+"/"+c.name, func(t *testing.T) {
					h, ids := record()
					client, rec := concClient(t, f, c.workers, h)
					if _, err := op.call(ctx, client, rec, f.table, plain[:c.n]); err != nil {
						t.Fatal(err)
					}
					me := goid()
					for _, id := range ids() {
						if id != me {
							t.Fatalf("an item was processed on goroutine %s, not the caller's %s", id, me)
						}
					}
				})
			}
		}
		t.Run(f.name+"/workers=8", func(t *testing.T) {
			// Each item waits until all eight have started: they can only
			// all be in flight on eight goroutines.
			var wg sync.WaitGroup
			wg.Add(len(stored))
			h, ids := record()
			client, rec := concClient(t, f, 8, func(ctx context.Context, id string) error {
				h(ctx, id)
				wg.Done()
				wg.Wait()
				return nil
			})
			if _, _, err := readOps[0].call(ctx, client, rec, f.table, stored); err != nil {
				t.Fatal(err)
			}
			distinct := map[string]bool{}
			for _, id := range ids() {
				distinct[id] = true
			}
			if len(distinct) != len(stored) || !distinct[goid()] {
				t.Errorf("items ran on %d goroutines (the caller's among them: %v), want %d", len(distinct), distinct[goid()], len(stored))
			}
		})
	}
}

// dump renders an item for comparisons (attribute values normalized, map
// keys sorted).
func dump(item map[string]types.AttributeValue) string {
	if item == nil {
		return "<nil>"
	}
	return fmt.Sprint(avtest.NormalizeItem(item))
}

func dumps(items []map[string]types.AttributeValue) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = dump(it)
	}
	return out
}

// TestConcurrentCancellationReasons: the items a TransactionCanceledException
// carries come back decrypted in their places; those that fail are removed,
// and their errors are joined in reason order.
func TestConcurrentCancellationReasons(t *testing.T) {
	defer noLeaks(t)
	ctx := context.Background()
	f := concFormats()[0]
	plain, stored := concItems(t, f, 20)
	tampered := []int{5, 12}
	for _, i := range tampered {
		stored[i] = withAttr(stored[i], "email", s("mallory@example.com"))
	}
	for _, w := range []int{1, 8} {
		t.Run(fmt.Sprintf("workers=%d", w), func(t *testing.T) {
			c, rec := concClient(t, f, w, randomDelay)
			reasons := make([]types.CancellationReason, len(stored))
			for i, st := range stored {
				reasons[i] = types.CancellationReason{Code: aws.String("ConditionalCheckFailed"), Item: st}
			}
			rec.returns("TransactWriteItems", nil, &types.TransactionCanceledException{Message: aws.String("cancelled"), CancellationReasons: reasons})
			tis := make([]types.TransactWriteItem, len(plain))
			for i, it := range plain {
				tis[i].Put = &types.Put{TableName: aws.String(f.table), Item: it, ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld}
			}
			_, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tis})
			var tce *types.TransactionCanceledException
			if !errors.As(err, &tce) || !errors.Is(err, ddbenc.ErrSignature) {
				t.Fatalf("error %v, want the TransactionCanceledException joined with ErrSignature failures", err)
			}
			msg := err.Error()
			if a, b := strings.Index(msg, `"u05"`), strings.Index(msg, `"u12"`); a < 0 || b < a {
				t.Errorf("failures not named in reason order (u05 at %d, u12 at %d): %v", a, b, err)
			}
			for i, r := range tce.CancellationReasons {
				want := plain[i]
				if slices.Contains(tampered, i) {
					want = nil
				}
				if dump(r.Item) != dump(want) {
					t.Errorf("reason %d: item %s, want %s", i, dump(r.Item), dump(want))
				}
			}
		})
	}
}

// TestConcurrentMigrationFormats: on a migrating DB-ESDK table a page
// mixing legacy, DB-ESDK and plaintext items comes back with each item's
// format in its place (ItemFormats, BatchItemFormats).
func TestConcurrentMigrationFormats(t *testing.T) {
	defer noLeaks(t)
	ctx := context.Background()
	stored, plain := migItems(t)
	cfg := migConfig(t, ddbenc.ForbidLegacyEncryptAllowLegacyDecrypt, ddbenc.ForbidPlaintextWriteAllowPlaintextRead)
	cfg.Keyring = hookKeyring{cfg.Keyring, randomDelay}
	cfg.Legacy.Provider = hookProvider{cfg.Legacy.Provider, randomDelay}
	rec := &recorder{}
	c, err := ddbenc.NewClient(rec, []ddbenc.TableConfig{cfg}, func(o *ddbenc.Options) { o.Concurrency = 8 })
	if err != nil {
		t.Fatal(err)
	}
	kinds := []ddbenc.ItemFormat{ddbenc.LegacyItem, ddbenc.DBESDKItem, ddbenc.PlaintextItem}
	var page, want []map[string]types.AttributeValue
	var wantFormats []ddbenc.ItemFormat
	r := rand.New(rand.NewPCG(1, 2))
	for range 40 {
		k := kinds[r.IntN(len(kinds))]
		page, want, wantFormats = append(page, stored[k]), append(want, plain[k]), append(wantFormats, k)
	}
	for _, op := range readOps[:3] { // Query, Scan, BatchGetItem
		t.Run(op.name, func(t *testing.T) {
			got, formats, err := op.call(ctx, c, rec, migTable, page)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(dumps(want), dumps(got)); diff != "" {
				t.Errorf("items (-want +got):\n%s", diff)
			}
			if !slices.Equal(formats, wantFormats) {
				t.Errorf("formats\n %v, want\n %v", formats, wantFormats)
			}
		})
	}
}

// countingMaterials is an in-memory MaterialStore with one material, counting the
// loads of a version's materials.
type countingMaterials struct {
	mu       sync.Mutex
	versions map[int64]ddbenc.MaterialsProvider
	loads    atomic.Int64 // Provider and GetOrCreate calls
	t        *testing.T
}

func (m *countingMaterials) make(v int64) ddbenc.MaterialsProvider {
	kek, err := provider.AESWrappingKey(bytes.Repeat([]byte{byte(v + 1)}, 32))
	if err != nil {
		m.t.Fatal(err)
	}
	p, err := provider.NewWrapped(kek, mustHMAC(m.t, bytes.Repeat([]byte{byte(v + 2)}, 32)), nil,
		func(o *provider.WrappedOptions) {
			o.MaterialDescription = map[string]string{legacy.MetaID: fmt.Sprintf("mat#%d", v)}
		})
	if err != nil {
		m.t.Fatal(err)
	}
	return p
}

func (m *countingMaterials) Provider(_ context.Context, _ string, v int64) (ddbenc.MaterialsProvider, error) {
	m.loads.Add(1)
	m.mu.Lock()
	defer m.mu.Unlock()
	if p, ok := m.versions[v]; ok {
		return p, nil
	}
	return nil, fmt.Errorf("%w: no version %d", ddbenc.ErrWrongKey, v)
}

func (m *countingMaterials) MaxVersion(context.Context, string) (int64, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.versions) == 0 {
		return 0, false, nil
	}
	return int64(len(m.versions) - 1), true, nil
}

func (m *countingMaterials) GetOrCreate(_ context.Context, _ string, v int64) (ddbenc.MaterialsProvider, error) {
	m.loads.Add(1)
	m.mu.Lock()
	defer m.mu.Unlock()
	if p, ok := m.versions[v]; ok {
		return p, nil
	}
	m.versions[v] = m.make(v)
	return m.versions[v], nil
}

// countingBranchKeys counts the loads of a BranchKeySource.
type countingBranchKeys struct {
	next          keyring.BranchKeySource
	active, byVer atomic.Int64
}

func (c *countingBranchKeys) ActiveBranchKey(ctx context.Context, id string) (keyring.BranchKey, error) {
	c.active.Add(1)
	return c.next.ActiveBranchKey(ctx, id)
}

func (c *countingBranchKeys) BranchKeyVersion(ctx context.Context, id, version string) (keyring.BranchKey, error) {
	c.byVer.Add(1)
	return c.next.BranchKeyVersion(ctx, id, version)
}

// TestConcurrentCachedProviders: the providers with caches serve the
// concurrent items of one call with one load each (their misses are
// shared), race-free: provider.MostRecent (legacy) and the hierarchical
// keyring over keyring.BranchKeyCache (DB-ESDK). Each write and each read
// starts with a cold cache.
func TestConcurrentCachedProviders(t *testing.T) {
	defer noLeaks(t)
	ctx := context.Background()
	store := &countingMaterials{versions: map[int64]ddbenc.MaterialsProvider{}, t: t}
	source := &countingBranchKeys{next: keyring.NewStaticBranchKeys(keyring.BranchKey{ID: "branch-1", Version: "e9ce18a3-edb5-4272-9f86-1cacb7997ff6", Key: bytes.Repeat([]byte{5}, 32)})}
	cases := []struct {
		name  string
		cfg   func(t *testing.T) ddbenc.TableConfig // a fresh cache each time
		loads func() int64
	}{
		{"MostRecent", func(t *testing.T) ddbenc.TableConfig {
			cfg := peopleConfig(t)
			p, err := provider.NewMostRecent(store, "mat")
			if err != nil {
				t.Fatal(err)
			}
			cfg.Provider = hookProvider{p, randomDelay}
			return cfg
		}, store.loads.Load},
		{"BranchKeyCache", func(t *testing.T) ddbenc.TableConfig {
			cfg := dbeClientConfig(t)
			cfg.Suite = ddbenc.SuiteSymmetricOnly
			cache, err := keyring.NewBranchKeyCache(source, keyring.BranchKeyCacheOptions{TTL: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			kr, err := keyring.NewHierarchical("branch-1", cache)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Keyring = hookKeyring{kr, randomDelay}
			return cfg
		}, func() int64 { return source.active.Load() + source.byVer.Load() }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			client := func() (*ddbenc.Client, *recorder) {
				rec := &recorder{}
				cl, err := ddbenc.NewClient(rec, []ddbenc.TableConfig{c.cfg(t)}, func(o *ddbenc.Options) { o.Concurrency = 16 })
				if err != nil {
					t.Fatal(err)
				}
				return cl, rec
			}
			table := c.cfg(t).TableName
			plain, _ := concItems(t, concFormats()[0], 32)
			before := c.loads()
			w, wrec := client()
			sent, err := writeOps[0].call(ctx, w, wrec, table, plain)
			if err != nil {
				t.Fatal(err)
			}
			if n := c.loads() - before; n != 1 {
				t.Errorf("writing %d items concurrently loaded the materials %d times, want 1", len(plain), n)
			}
			before = c.loads()
			r, rrec := client()
			got, _, err := readOps[0].call(ctx, r, rrec, table, sent)
			if err != nil {
				t.Fatal(err)
			}
			if n := c.loads() - before; n != 1 {
				t.Errorf("reading %d items concurrently loaded the materials %d times, want 1", len(sent), n)
			}
			if diff := cmp.Diff(dumps(plain), dumps(got)); diff != "" {
				t.Errorf("items (-want +got):\n%s", diff)
			}
		})
	}
}

// fixedQuery answers every Query with the same items and records nothing,
// so that AllocsPerRun counts only the Client's allocations.
type fixedQuery struct {
	recorder
	out *dynamodb.QueryOutput
}

func (f *fixedQuery) Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	return f.out, nil
}

// TestConcurrencySerialAllocs: the serial path (Concurrency 1, or a single
// item) allocates per item exactly what decrypting the item allocates; the
// concurrency adds nothing per item to it.
func TestConcurrencySerialAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not exact under the race detector")
	}
	ctx := context.Background()
	f := concFormats()[0]
	_, stored := concItems(t, f, 9)
	enc, err := ddbenc.NewEncryptor(f.cfg(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	perItem := testing.AllocsPerRun(100, func() {
		if _, _, err := enc.ReadItem(ctx, stored[0]); err != nil {
			t.Fatal(err)
		}
	})
	query := func(workers int, items []map[string]types.AttributeValue) float64 {
		api := &fixedQuery{out: &dynamodb.QueryOutput{Items: items}}
		c, err := ddbenc.NewClient(api, []ddbenc.TableConfig{f.cfg(t, nil)}, func(o *ddbenc.Options) { o.Concurrency = workers })
		if err != nil {
			t.Fatal(err)
		}
		in := &dynamodb.QueryInput{TableName: aws.String(f.table), KeyConditionExpression: aws.String("pk = :p"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":p": s("u")}}
		return testing.AllocsPerRun(100, func() {
			if _, err := c.Query(ctx, in); err != nil {
				t.Fatal(err)
			}
		})
	}
	one, nine := query(1, stored[:1]), query(1, stored)
	if slope := (nine - one) / 8; slope != perItem {
		t.Errorf("Concurrency 1: %v allocations per further item, want %v (those of ReadItem)", slope, perItem)
	}
	if got := query(16, stored[:1]); got != one {
		t.Errorf("one item with Concurrency 16: %v allocations, want %v (as with Concurrency 1)", got, one)
	}
	t.Logf("Query: %v allocations for 1 item, %v for 9, %v per ReadItem", one, nine, perItem)
}
