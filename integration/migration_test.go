package integration_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/ddbenctest"
	"github.com/ddbec/ddbec-go/internal/avtest"
	"github.com/ddbec/ddbec-go/keyring"
)

// migrationClient returns a Client serving table in the DB-ESDK format
// (raw AES keyring, the actions of dbesdkClient) under the given policies,
// its legacy items those of legacyClient (testActions, direct KMS).
func migrationClient(t *testing.T, table string, lp ddbenc.LegacyPolicy, pp ddbenc.PlaintextPolicy) *ddbenc.Client {
	t.Helper()
	kr, err := keyring.NewRawAES("integration", "dbesdk-client", bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	cfg := ddbenc.TableConfig{
		TableName: table, PartitionKey: "pk", SortKey: "sk", Format: ddbenc.DBESDKFormat, Keyring: kr,
		Actions: actions.Map{Default: actions.EncryptAndSign, Attributes: map[string]actions.Action{
			"status": actions.SignOnly, "pageviews": actions.DoNothing,
		}},
		AllowedUnsignedAttributes:      []string{"pageviews", "note"},
		AllowedUnsignedAttributePrefix: "note_",
		PlaintextPolicy:                pp,
	}
	if lp != 0 {
		cfg.Legacy = &ddbenc.LegacyConfig{Policy: lp, Provider: kmsProvider(t, ddbenctest.East, env.PrimaryARN), Actions: testActions}
	}
	ddb, _ := plain(ddbenctest.East)
	c, err := ddbenc.NewClient(ddb, []ddbenc.TableConfig{cfg})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// kindStored tells which format's attributes a stored item has.
func kindStored(it map[string]types.AttributeValue) ddbenc.ItemFormat {
	if _, ok := it["*amzn-ddb-map-sig*"]; ok {
		return ddbenc.LegacyItem
	}
	if _, ok := it["aws_dbe_head"]; ok {
		return ddbenc.DBESDKItem
	}
	return ddbenc.PlaintextItem
}

// TestMigrationMixedTable: a table mid-migration holds legacy items (the
// legacy Client), plaintext items (the plain client) and DB-ESDK items; a
// Client with the allowing policies reads all three, correctly and marked,
// and one with the forbidding policies refuses the reads.
func TestMigrationMixedTable(t *testing.T) {
	need(t)
	ctx := context.Background()
	table := newTable(t)
	old, ddb, _ := wrapped(t, table) // the legacy-format Client of the table before the migration
	mig := migrationClient(t, table, ddbenc.ForbidLegacyEncryptAllowLegacyDecrypt, ddbenc.ForbidPlaintextWriteAllowPlaintextRead)

	// sk i: i%3 == 0 legacy, 1 plaintext, 2 DB-ESDK.
	const n = 15
	want := map[int]ddbenc.ItemFormat{}
	for i := 0; i < n; i++ {
		it := item("alice", i, fmt.Sprint("secret ", i))
		var err error
		switch i % 3 {
		case 0:
			_, err = old.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: it})
			want[i] = ddbenc.LegacyItem
		case 1:
			_, err = ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: it})
			want[i] = ddbenc.PlaintextItem
		case 2:
			_, err = mig.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: it})
			want[i] = ddbenc.DBESDKItem
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// What is stored is what each writer writes.
	scan, err := ddb.Scan(ctx, &dynamodb.ScanInput{TableName: &table})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range scan.Items {
		var sk int
		fmt.Sscan(it["sk"].(*types.AttributeValueMemberN).Value, &sk)
		if got := kindStored(it); got != want[sk] {
			t.Errorf("stored item %d is %v, want %v", sk, got, want[sk])
		}
	}

	// checkPage checks a page of items against their kinds.
	checkPage := func(op string, items []map[string]types.AttributeValue, formats []ddbenc.ItemFormat, seen map[int]bool) {
		t.Helper()
		if len(formats) != len(items) {
			t.Fatalf("%s: %d formats for %d items", op, len(formats), len(items))
		}
		for j, it := range items {
			var sk int
			fmt.Sscan(it["sk"].(*types.AttributeValueMemberN).Value, &sk)
			if seen[sk] {
				t.Errorf("%s: item %d twice", op, sk)
			}
			seen[sk] = true
			if diff := avtest.DiffItems(item("alice", sk, fmt.Sprint("secret ", sk)), it); diff != "" {
				t.Errorf("%s item %d (-want +got):\n%s", op, sk, diff)
			}
			if formats[j] != want[sk] {
				t.Errorf("%s item %d: format %v, want %v", op, sk, formats[j], want[sk])
			}
		}
	}

	// Query and Scan, paginated.
	seen, pages := map[int]bool{}, 0
	qp := dynamodb.NewQueryPaginator(mig, &dynamodb.QueryInput{TableName: &table, Limit: aws.Int32(4),
		KeyConditionExpression:    aws.String("pk = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: "alice"}}})
	for qp.HasMorePages() {
		out, err := qp.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		checkPage("Query", out.Items, ddbenc.ItemFormats(out.ResultMetadata), seen)
	}
	if len(seen) != n || pages < 4 {
		t.Errorf("Query: %d items in %d pages, want %d in at least 4", len(seen), pages, n)
	}
	seen, pages = map[int]bool{}, 0
	sp := dynamodb.NewScanPaginator(mig, &dynamodb.ScanInput{TableName: &table, Limit: aws.Int32(4)})
	for sp.HasMorePages() {
		out, err := sp.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		checkPage("Scan", out.Items, ddbenc.ItemFormats(out.ResultMetadata), seen)
	}
	if len(seen) != n || pages < 4 {
		t.Errorf("Scan: %d items in %d pages, want %d in at least 4", len(seen), pages, n)
	}

	// GetItem and BatchGetItem.
	for sk := 0; sk < 3; sk++ {
		out, err := mig.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: keyOf("alice", sk)})
		if err != nil {
			t.Fatal(err)
		}
		checkPage("GetItem", []map[string]types.AttributeValue{out.Item}, ddbenc.ItemFormats(out.ResultMetadata), map[int]bool{})
	}
	bg, err := mig.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
		table: {Keys: []map[string]types.AttributeValue{keyOf("alice", 3), keyOf("alice", 4), keyOf("alice", 5)}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(bg.Responses[table]) != 3 {
		t.Fatalf("BatchGetItem: %d items", len(bg.Responses[table]))
	}
	checkPage("BatchGetItem", bg.Responses[table], ddbenc.BatchItemFormats(bg.ResultMetadata)[table], map[int]bool{})

	// The forbidding policies refuse reads that meet a refused item.
	for _, c := range []struct {
		name string
		lp   ddbenc.LegacyPolicy
		pp   ddbenc.PlaintextPolicy
		key  int // an item of the refused kind
		want error
	}{
		{"forbid legacy", ddbenc.ForbidLegacyEncryptForbidLegacyDecrypt, ddbenc.ForbidPlaintextWriteAllowPlaintextRead, 0, ddbenc.ErrLegacyItem},
		{"forbid plaintext", ddbenc.ForbidLegacyEncryptAllowLegacyDecrypt, ddbenc.ForbidPlaintextWriteForbidPlaintextRead, 1, ddbenc.ErrPlaintextItem},
		{"no legacy config, plaintext allowed", 0, ddbenc.ForbidPlaintextWriteAllowPlaintextRead, 0, ddbenc.ErrLegacyItem},
	} {
		strict := migrationClient(t, table, c.lp, c.pp)
		q, err := strict.Query(ctx, &dynamodb.QueryInput{TableName: &table, KeyConditionExpression: aws.String("pk = :p"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: "alice"}}})
		if q != nil || !errors.Is(err, c.want) {
			t.Errorf("%s: Query = %v, %v; want no output and %v", c.name, q != nil, err, c.want)
		}
		s, err := strict.Scan(ctx, &dynamodb.ScanInput{TableName: &table})
		if s != nil || !errors.Is(err, c.want) {
			t.Errorf("%s: Scan = %v, %v; want no output and %v", c.name, s != nil, err, c.want)
		}
		g, err := strict.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: keyOf("alice", c.key)})
		if g != nil || !errors.Is(err, c.want) {
			t.Errorf("%s: GetItem = %v, %v; want no output and %v", c.name, g != nil, err, c.want)
		}
		b, err := strict.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
			table: {Keys: []map[string]types.AttributeValue{keyOf("alice", 2), keyOf("alice", c.key)}}}})
		if b != nil || !errors.Is(err, c.want) {
			t.Errorf("%s: BatchGetItem = %v, %v; want no output and %v", c.name, b != nil, err, c.want)
		}
		// The DB-ESDK items still read.
		got, err := strict.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: keyOf("alice", 2)})
		if err != nil || !slices.Equal(ddbenc.ItemFormats(got.ResultMetadata), []ddbenc.ItemFormat{ddbenc.DBESDKItem}) {
			t.Errorf("%s: GetItem of a DB-ESDK item: %v", c.name, err)
		}
	}
}

// TestMigrationForceWrites: a Force-legacy Client writes items the legacy
// Client reads; a Force-plaintext Client writes plaintext items; both read
// back what they wrote, marked.
func TestMigrationForceWrites(t *testing.T) {
	need(t)
	ctx := context.Background()
	table := newTable(t)
	old, ddb, _ := wrapped(t, table)

	force := migrationClient(t, table, ddbenc.ForceLegacyEncryptAllowLegacyDecrypt, 0)
	if _, err := force.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: item("bob", 1, "legacy secret")}); err != nil {
		t.Fatal(err)
	}
	if _, err := force.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{
		table: {{PutRequest: &types.PutRequest{Item: item("bob", 2, "batched legacy secret")}}}}}); err != nil {
		t.Fatal(err)
	}
	for sk, secret := range map[int]string{1: "legacy secret", 2: "batched legacy secret"} {
		raw, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: keyOf("bob", sk)})
		if err != nil {
			t.Fatal(err)
		}
		if kindStored(raw.Item) != ddbenc.LegacyItem || bytes.Contains(raw.Item["secret"].(*types.AttributeValueMemberB).Value, []byte(secret)) {
			t.Errorf("item %d: stored as %v with secret %T, want an encrypted legacy item", sk, kindStored(raw.Item), raw.Item["secret"])
		}
		got, err := old.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: keyOf("bob", sk)})
		if err != nil {
			t.Fatalf("the legacy Client cannot read item %d: %v", sk, err)
		}
		if diff := avtest.DiffItems(item("bob", sk, secret), got.Item); diff != "" {
			t.Errorf("legacy Client, item %d (-want +got):\n%s", sk, diff)
		}
		got, err = force.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: keyOf("bob", sk)})
		if err != nil || !slices.Equal(ddbenc.ItemFormats(got.ResultMetadata), []ddbenc.ItemFormat{ddbenc.LegacyItem}) {
			t.Errorf("Force-legacy Client reads item %d: %v, %v", sk, err, got)
		}
	}

	plainWriter := migrationClient(t, table, 0, ddbenc.ForcePlaintextWriteAllowPlaintextRead)
	if _, err := plainWriter.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: item("carol", 1, "plain secret")}); err != nil {
		t.Fatal(err)
	}
	raw, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: keyOf("carol", 1)})
	if err != nil {
		t.Fatal(err)
	}
	if diff := avtest.DiffItems(item("carol", 1, "plain secret"), raw.Item); diff != "" {
		t.Errorf("Force-plaintext write stored (-want +got):\n%s", diff)
	}
	got, err := plainWriter.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: keyOf("carol", 1)})
	if err != nil || !slices.Equal(ddbenc.ItemFormats(got.ResultMetadata), []ddbenc.ItemFormat{ddbenc.PlaintextItem}) {
		t.Errorf("Force-plaintext Client reads its item: %v", err)
	}
	// Refused before sending, under Force plaintext too: a write with a
	// reserved name, a filter on an attribute that is encrypted in DB-ESDK
	// items.
	if _, err := plainWriter.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: withName(item("carol", 2, "x"), "aws_dbe_head")}); !errors.Is(err, ddbenc.ErrInvalidItem) {
		t.Errorf("Force-plaintext put with aws_dbe_head: %v, want ErrInvalidItem", err)
	}
	if _, err := plainWriter.Scan(ctx, &dynamodb.ScanInput{TableName: &table, FilterExpression: aws.String("secret = :v"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberS{Value: "plain secret"}}}); !errors.Is(err, ddbenc.ErrUnsupportedOperation) {
		t.Errorf("Force-plaintext filter on secret: %v, want ErrUnsupportedOperation", err)
	}
	if raw, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: keyOf("carol", 2)}); err != nil || raw.Item != nil {
		t.Errorf("the refused put was sent: %v", err)
	}
}

func withName(it map[string]types.AttributeValue, name string) map[string]types.AttributeValue {
	it[name] = &types.AttributeValueMemberB{Value: []byte{1}}
	return it
}
