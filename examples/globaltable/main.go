// Command globaltable is the seed story: a Go service in us-east-1 puts an
// employee record with PII into a DynamoDB global table through the
// encrypting client, the table replicates it, and a Go service in us-west-2
// gets it and reads the PII, each with its own Region's replica of one
// multi-Region KMS key, without any cross-Region KMS call.
//
// With no flags it runs locally: the fake KMS in-process, DynamoDB Local
// (fetched with npm on first use, or DDBEC_DYNAMODB_ENDPOINT), and a stream
// replicator standing in for global-table replication. With -table,
// -east-key-arn and -west-key-arn it runs against real AWS: the default
// credential chain, an existing global table, and AWS's own replication.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/internal/localenv"
	"github.com/ddbec/ddbec-go/provider"
)

// The record: employeeId is the partition key (signed, never encrypted),
// name and email are encrypted and signed, team is left alone.
var employeeActions = actions.Map{
	Default:    actions.EncryptAndSign,
	Attributes: map[string]actions.Action{"team": actions.DoNothing},
}

// region is one side of the global table: a plain DynamoDB client (to show
// what is stored), a KMS client and the key ARN of that Region.
type region struct {
	name   string
	ddb    *dynamodb.Client
	kms    *kms.Client
	keyARN string
	// metaTable, when set, selects the most-recent provider: materials from
	// this (replicated) MetaStore table, themselves protected by DirectKMS.
	metaTable string
}

// encryptingClient is the drop-in wrapper a service in that Region uses.
func (r region) encryptingClient(table, keyARN string) (*ddbenc.Client, error) {
	var p ddbenc.MaterialsProvider
	direct, err := provider.NewDirectKMS(r.kms, keyARN)
	if err != nil {
		return nil, err
	}
	p = direct
	if r.metaTable != "" {
		store, err := provider.NewMetaStore(r.ddb, r.metaTable, direct)
		if err != nil {
			return nil, err
		}
		if p, err = provider.NewMostRecent(store, "employees"); err != nil {
			return nil, err
		}
	}
	return ddbenc.NewClient(r.ddb, []ddbenc.TableConfig{{
		TableName: table, PartitionKey: "employeeId", Actions: employeeActions, Provider: p,
	}})
}

func main() {
	table := flag.String("table", "", "real AWS: an existing global table with partition key employeeId (S)")
	eastKey := flag.String("east-key-arn", "", "real AWS: the MRK's ARN in the first Region")
	westKey := flag.String("west-key-arn", "", "real AWS: the replica's ARN in the second Region")
	eastRegion := flag.String("east-region", localenv.East, "first Region")
	westRegion := flag.String("west-region", localenv.West, "second Region")
	timeout := flag.Duration("replication-timeout", 2*time.Minute, "how long to wait for replication")
	mostRecent := flag.Bool("most-recent", false, "use the most-recent provider over a replicated MetaStore table (one KMS call per material version, not per item)")
	metaTable := flag.String("metastore-table", "EmployeesMeta", "with -most-recent: the MetaStore table (real AWS: an existing global table with keys N (S) and V (N))")
	flag.Parse()

	ctx := context.Background()
	meta := ""
	if *mostRecent {
		meta = *metaTable
	}
	if err := run(ctx, *table, *eastKey, *westKey, *eastRegion, *westRegion, meta, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "FAILED:", err)
		os.Exit(1)
	}
	fmt.Println("\nOK: every step behaved as expected.")
}

func run(ctx context.Context, table, eastKey, westKey, eastRegion, westRegion, metaTable string, timeout time.Duration) error {
	var east, west region
	var wrongKey string
	var env *localenv.Env
	if table == "" && eastKey == "" && westKey == "" {
		fmt.Println("Local mode: fake KMS, DynamoDB Local, stream replicator (pass -table, -east-key-arn, -west-key-arn for real AWS).")
		var err error
		if env, err = localenv.Start(ctx); err != nil {
			return err
		}
		defer func() {
			if err := env.Close(); err != nil {
				fmt.Fprintln(os.Stderr, "replication error:", err)
			}
		}()
		table = "Employees"
		if err := env.CreateGlobalTable(ctx, table, localenv.Key{Name: "employeeId", Type: types.ScalarAttributeTypeS}, localenv.Key{}); err != nil {
			return err
		}
		if metaTable != "" {
			if err := env.CreateGlobalTable(ctx, metaTable, localenv.Key{Name: "N", Type: types.ScalarAttributeTypeS}, localenv.Key{Name: "V", Type: types.ScalarAttributeTypeN}); err != nil {
				return err
			}
			fmt.Printf("Most-recent provider: materials in the replicated MetaStore table %s.\n", metaTable)
		}
		east = region{localenv.East, env.DynamoDB(localenv.East), env.KMSClient(localenv.East), env.PrimaryARN, metaTable}
		west = region{localenv.West, env.DynamoDB(localenv.West), env.KMSClient(localenv.West), env.ReplicaARN, metaTable}
		other, err := west.kms.CreateKey(ctx, &kms.CreateKeyInput{MultiRegion: aws.Bool(true)}) // another MRK of the same account
		if err != nil {
			return err
		}
		wrongKey = *other.KeyMetadata.Arn
		fmt.Printf("DynamoDB Local %s, fake KMS %s\n", env.DDB.Endpoint, env.KMSEndpoint)
	} else {
		if table == "" || eastKey == "" || westKey == "" {
			return errors.New("real AWS mode needs -table, -east-key-arn and -west-key-arn")
		}
		for _, r := range []*region{{name: eastRegion, keyARN: eastKey}, {name: westRegion, keyARN: westKey}} {
			cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(r.name))
			if err != nil {
				return err
			}
			r.ddb, r.kms, r.metaTable = dynamodb.NewFromConfig(cfg), kms.NewFromConfig(cfg), metaTable
			if r.name == eastRegion {
				east = *r
			} else {
				west = *r
			}
		}
		fmt.Printf("Real AWS mode: table %s in %s and %s.\n", table, east.name, west.name)
	}

	id := fmt.Sprintf("emp-%d", time.Now().UnixNano())
	if err := story(ctx, table, id+"-a", east, west, timeout); err != nil {
		return err
	}

	if wrongKey != "" {
		fmt.Printf("\n== A us-west-2 reader configured with another key (%s)\n", wrongKey)
		reader, err := west.encryptingClient(table, wrongKey)
		if err != nil {
			return err
		}
		_, err = reader.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: key(id + "-a")})
		if !errors.Is(err, ddbenc.ErrWrongKey) {
			return fmt.Errorf("a reader with the wrong key got %v, want ErrWrongKey", err)
		}
		fmt.Println("refused, as it must be:", err)
	}

	fmt.Printf("\n== The reverse direction: write in %s, read in %s\n", west.name, east.name)
	if err := story(ctx, table, id+"-b", west, east, timeout); err != nil {
		return err
	}
	if env != nil && env.KMS != nil {
		fmt.Println("\nKMS calls per Region (fake KMS counters):")
		counts := map[string]int{}
		for _, c := range env.KMS.Calls() {
			counts[c.Region+" "+c.Op]++
		}
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range counts {
				if !yield(k) {
					return
				}
			}
		}) {
			fmt.Printf("  %-32s %d\n", k, counts[k])
		}
	}
	return nil
}

func key(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"employeeId": &types.AttributeValueMemberS{Value: id}}
}

// story writes a record through the encrypting client in from, waits for
// replication, reads it through the encrypting client in to, and compares.
func story(ctx context.Context, table, id string, from, to region, timeout time.Duration) error {
	writer, err := from.encryptingClient(table, from.keyARN)
	if err != nil {
		return err
	}
	reader, err := to.encryptingClient(table, to.keyARN)
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
	if _, err := writer.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: record}); err != nil {
		return err
	}
	stored, err := localenv.WaitForItem(ctx, to.ddb, table, key(id), timeout, nil)
	if err != nil {
		return err
	}
	if to.metaTable != "" {
		// The reader loads the item's material version from its own Region's
		// copy of the MetaStore: wait for that to replicate too.
		if _, err := localenv.WaitForItem(ctx, to.ddb, to.metaTable, map[string]types.AttributeValue{
			"N": &types.AttributeValueMemberS{Value: "employees"}, "V": &types.AttributeValueMemberN{Value: "0"},
		}, timeout, nil); err != nil {
			return err
		}
	}
	fmt.Printf("replicated to %s; what DynamoDB stores there (a plain client's view):\n", to.name)
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range stored {
			if !yield(k) {
				return
			}
		}
	}) {
		fmt.Printf("  %-22s %s\n", name, describe(stored[name]))
	}
	out, err := reader.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: key(id)})
	if err != nil {
		return fmt.Errorf("%s reader: %w", to.name, err)
	}
	fmt.Printf("%s reader (key %s) decrypts:\n", to.name, to.keyARN)
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
	return nil
}

// describe shows a stored value without revealing secrets: type and size
// for binary (ciphertext, signature), the value for plaintext strings.
func describe(v types.AttributeValue) string {
	switch x := v.(type) {
	case *types.AttributeValueMemberB:
		return fmt.Sprintf("B, %d bytes", len(x.Value))
	case *types.AttributeValueMemberS:
		return "S, " + strings.TrimSpace(fmt.Sprintf("%q (plaintext)", x.Value))
	}
	return fmt.Sprintf("%T", v)
}
