package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/ddbenctest"
)

// stories runs the story in one mode and keeps the KMS call counts.
type stories struct {
	mode    mode
	table   string
	timeout time.Duration
	env     *ddbenctest.Env // nil against real AWS
}

func key(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"employeeId": &types.AttributeValueMemberS{Value: id}}
}

// story writes a record through the encrypting client in from, waits for
// replication, reads it through the encrypting client in to, and compares.
// It fails if either side called KMS in another Region than its own.
func (s *stories) story(ctx context.Context, id string, from, to region) error {
	writer, err := from.encryptingClient(s.mode, s.table, from.keyARN)
	if err != nil {
		return err
	}
	reader, err := to.encryptingClient(s.mode, s.table, to.keyARN)
	if err != nil {
		return err
	}
	record := map[string]types.AttributeValue{
		"employeeId": &types.AttributeValueMemberS{Value: id},
		"name":       &types.AttributeValueMemberS{Value: "Ada Lovelace"},
		"email":      &types.AttributeValueMemberS{Value: "ada@example.com"},
		"team":       &types.AttributeValueMemberS{Value: "analytical-engines"},
	}
	fmt.Printf("\n%s writer (key %s) puts %s\n", from.name, from.keyARN, id)
	mark := s.mark()
	if _, err := writer.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: record}); err != nil {
		return err
	}
	if err := s.kmsCalls(mark, from.name, to.name, "writer"); err != nil {
		return err
	}
	stored, err := ddbenctest.WaitForItem(ctx, to.ddb, s.table, key(id), s.timeout, nil)
	if err != nil {
		return err
	}
	if s.mode.metaTable != "" {
		// The reader loads the item's material version from its own Region's
		// copy of the MetaStore: wait for that to replicate too.
		if _, err := ddbenctest.WaitForItem(ctx, to.ddb, s.mode.metaTable, map[string]types.AttributeValue{
			"N": &types.AttributeValueMemberS{Value: "employees"}, "V": &types.AttributeValueMemberN{Value: "0"},
		}, s.timeout, nil); err != nil {
			return err
		}
	}
	fmt.Printf("replicated to %s; what DynamoDB stores there (a plain client's view):\n", to.name)
	if err := printStored(stored); err != nil {
		return err
	}
	mark = s.mark()
	out, err := reader.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: key(id)})
	if err != nil {
		return fmt.Errorf("%s reader: %w", to.name, err)
	}
	fmt.Printf("%s reader (key %s) verifies and decrypts:\n", to.name, to.keyARN)
	for _, name := range []string{"employeeId", "name", "email", "team"} {
		got, _ := out.Item[name].(*types.AttributeValueMemberS)
		want := record[name].(*types.AttributeValueMemberS)
		if got == nil || got.Value != want.Value {
			return fmt.Errorf("%s: read back %v, wrote %q", name, out.Item[name], want.Value)
		}
		fmt.Printf("  %-22s %q\n", name, got.Value)
	}
	if len(out.Item) != len(record) {
		return fmt.Errorf("read back %d attributes, wrote %d", len(out.Item), len(record))
	}
	if err := s.kmsCalls(mark, to.name, from.name, "reader"); err != nil {
		return err
	}
	if s.mode.keyStoreTable != "" {
		return s.cached(ctx, id, record, writer, reader, from.name, to.name)
	}
	return nil
}

// cached shows the hierarchical keyring's cache: more writes and reads by
// the same clients make no KMS call while the branch key is cached.
func (s *stories) cached(ctx context.Context, id string, record map[string]types.AttributeValue, writer, reader *ddbenc.Client, from, to string) error {
	const n = 20
	mark := s.mark()
	for i := range n {
		more := maps.Clone(record)
		more["employeeId"] = &types.AttributeValueMemberS{Value: fmt.Sprintf("%s-%d", id, i)}
		if _, err := writer.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: more}); err != nil {
			return err
		}
		if _, err := reader.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: key(id)}); err != nil {
			return err
		}
	}
	if s.env == nil || s.env.KMS == nil {
		return nil
	}
	if got := len(s.env.KMS.Calls()) - mark; got != 0 {
		return fmt.Errorf("%d more writes in %s and reads in %s with the branch key cached made %d KMS calls, want none", n, from, to, got)
	}
	fmt.Printf("%d more writes in %s and %d more reads in %s, branch key cached: no KMS call\n", n, from, n, to)
	return nil
}

// printStored shows a stored item without revealing secrets: type and size
// for binary (ciphertext, signature), the value for plaintext strings, and
// for a DB-ESDK header its version, suite, legend and the provider ids of
// its encrypted data keys.
func printStored(stored map[string]types.AttributeValue) error {
	for _, name := range slices.Sorted(maps.Keys(stored)) {
		fmt.Printf("  %-22s %s\n", name, describe(stored[name]))
		if name != ddbenc.HeaderAttribute {
			continue
		}
		h, err := ddbenc.InspectItemHeader(stored)
		if err != nil {
			return err
		}
		ids := make([]string, len(h.EncryptedDataKeys))
		for i, e := range h.EncryptedDataKeys {
			ids[i] = e.ProviderID
		}
		fmt.Printf("    header: version %d, suite %s (0x%04x), legend %q, EDK provider ids %q\n",
			h.Version, h.Suite, uint16(h.Suite), h.Legend, ids)
	}
	return nil
}

func describe(v types.AttributeValue) string {
	switch x := v.(type) {
	case *types.AttributeValueMemberB:
		return fmt.Sprintf("B, %d bytes", len(x.Value))
	case *types.AttributeValueMemberS:
		return "S, " + strings.TrimSpace(fmt.Sprintf("%q (plaintext)", x.Value))
	}
	return fmt.Sprintf("%T", v)
}

// mark is the position in the fake KMS's call log (0 against real AWS).
func (s *stories) mark() int {
	if s.env == nil || s.env.KMS == nil {
		return 0
	}
	return len(s.env.KMS.Calls())
}

// kmsCalls prints the KMS calls made since mark, by Region and operation,
// then how many went to the other Region, and fails if any went to another
// Region than the caller's own. Against real AWS (no fake KMS to count at)
// it prints nothing.
func (s *stories) kmsCalls(mark int, own, other, who string) error {
	if s.env == nil || s.env.KMS == nil {
		return nil
	}
	counts := map[string]int{}
	var foreign []string
	for _, c := range s.env.KMS.Calls()[mark:] {
		counts[c.Region+" "+c.Op]++
		if c.Region != own {
			foreign = append(foreign, c.Region+" "+c.Op)
		}
	}
	if len(counts) == 0 {
		fmt.Printf("  KMS calls by the %s %s: none\n", own, who)
	}
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		fmt.Printf("  KMS calls by the %s %s: %-28s %d\n", own, who, k, counts[k])
	}
	toOther := 0
	for _, f := range foreign {
		if strings.HasPrefix(f, other+" ") {
			toOther++
		}
	}
	fmt.Printf("%s %s: %d KMS calls to %s (checked)\n", own, who, toOther, other)
	if len(foreign) > 0 {
		return fmt.Errorf("the %s %s called KMS in another Region: %v", own, who, foreign)
	}
	return nil
}

// printTotals prints the KMS calls of the whole run by Region and operation.
func (s *stories) printTotals() {
	if s.env == nil || s.env.KMS == nil {
		return
	}
	fmt.Println("\nKMS calls per Region over the whole run (fake KMS counters):")
	counts := map[string]int{}
	for _, c := range s.env.KMS.Calls() {
		counts[c.Region+" "+c.Op]++
	}
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		fmt.Printf("  %-32s %d\n", k, counts[k])
	}
}

// beforeMigration writes an item in the legacy format in from, as the
// service did before the table moved to the DB-ESDK format, and reads it in
// to with the new configuration, whose legacy policy allows legacy reads.
func (s *stories) beforeMigration(ctx context.Context, id string, from, to region) error {
	fmt.Printf("\n== Before the migration: a legacy-format item written in %s, read in %s by the new configuration\n", from.name, to.name)
	old, err := from.encryptingClient(mode{}, s.table, from.keyARN)
	if err != nil {
		return err
	}
	record := map[string]types.AttributeValue{
		"employeeId": &types.AttributeValueMemberS{Value: id},
		"name":       &types.AttributeValueMemberS{Value: "Charles Babbage"},
		"email":      &types.AttributeValueMemberS{Value: "charles@example.com"},
		"team":       &types.AttributeValueMemberS{Value: "difference-engines"},
	}
	if _, err := old.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: record}); err != nil {
		return err
	}
	stored, err := ddbenctest.WaitForItem(ctx, to.ddb, s.table, key(id), s.timeout, nil)
	if err != nil {
		return err
	}
	fmt.Printf("%s legacy writer put %s; stored attributes in %s: %q\n", from.name, id, to.name, slices.Sorted(maps.Keys(stored)))
	reader, err := to.encryptingClient(s.mode, s.table, to.keyARN)
	if err != nil {
		return err
	}
	mark := s.mark()
	out, err := reader.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: key(id)})
	if err != nil {
		return fmt.Errorf("%s reader of the legacy item: %w", to.name, err)
	}
	formats := ddbenc.ItemFormats(out.ResultMetadata)
	if len(formats) != 1 || formats[0] != ddbenc.LegacyItem {
		return fmt.Errorf("the legacy item was read as %v, want [%v]", formats, ddbenc.LegacyItem)
	}
	for _, name := range slices.Sorted(maps.Keys(record)) {
		got, _ := out.Item[name].(*types.AttributeValueMemberS)
		if got == nil || got.Value != record[name].(*types.AttributeValueMemberS).Value {
			return fmt.Errorf("legacy item %s: read back %v", name, out.Item[name])
		}
	}
	fmt.Printf("%s reader (new configuration, legacy policy %s) read it as a %s item: name %q, email %q\n",
		to.name, ddbenc.ForbidLegacyEncryptAllowLegacyDecrypt, formats[0], out.Item["name"].(*types.AttributeValueMemberS).Value, out.Item["email"].(*types.AttributeValueMemberS).Value)
	return s.kmsCalls(mark, to.name, from.name, "reader")
}
