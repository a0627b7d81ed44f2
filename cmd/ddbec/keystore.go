package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/internal/awsarn"
	"github.com/ddbec/ddbec-go/keyring"
	"github.com/ddbec/ddbec-go/keystore"
)

// The hierarchical keyring (--keyring hierarchy) over a branch key store in
// DynamoDB (package keystore), and the "ddbec keystore" subcommands that
// create and rotate its keys.

// Flags of --keyring hierarchy that no other keyring reads, and flags of
// other keyrings that it does not read: giving one with the wrong keyring is
// a usage error rather than silently ignored.
var (
	hierarchyOnlyFlags = []string{
		"key-store-table", "branch-key-id", "key-store-kms-mode", "key-store-logical-name", "cache-ttl", "dynamodb-endpoint",
	}
	notHierarchyFlags = []string{"keys", "key", "key-name", "key-namespace", "rsa-padding", "kms-discovery-accounts"}
)

// checkKeyringFlags refuses flags that --keyring does not read.
func (c *cliConfig) checkKeyringFlags() error {
	refuse := hierarchyOnlyFlags
	if c.keyringKind == "hierarchy" {
		refuse = notHierarchyFlags
	}
	var bad []string
	for _, f := range refuse {
		if c.set[f] {
			bad = append(bad, "--"+f)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	if c.keyringKind == "hierarchy" {
		return fmt.Errorf("%s: not read by --keyring hierarchy", strings.Join(bad, ", "))
	}
	return fmt.Errorf("%s: only with --keyring hierarchy", strings.Join(bad, ", "))
}

// keyStoreFlags are the flags shared by --keyring hierarchy and the keystore
// subcommands that reach the key store.
type keyStoreFlags struct {
	table, logicalName, kmsMode, kmsKeyARN, region string
	kmsEndpoint, ddbEndpoint                       string
}

// parseKMSMode maps --key-store-kms-mode onto keystore.KMSMode. The default
// is mrk for a multi-Region key ARN (a reader in another Region gives its
// local replica and never calls the writer's Region; for one Region it is
// the same as strict) and strict for any other ARN or none.
func parseKMSMode(mode, keyARN string) (keystore.KMSMode, error) {
	switch mode {
	case "":
		if k, ok := awsarn.ParseKMSKey(keyARN); ok && k.MultiRegion() {
			return keystore.KMSMRK, nil
		}
		return keystore.KMSStrict, nil
	case "strict":
		return keystore.KMSStrict, nil
	case "mrk":
		return keystore.KMSMRK, nil
	case "discovery":
		return keystore.KMSDiscovery, nil
	case "mrk-discovery":
		return keystore.KMSMRKDiscovery, nil
	}
	return 0, errors.New("--key-store-kms-mode must be strict, mrk, discovery or mrk-discovery")
}

// open returns the key store, with the AWS
// configuration of c (credentials from the default chain; --region, else the
// key ARN's Region, else the configuration's). needKey says whether the mode
// must have a key ARN (false only for describe, which calls no KMS).
// Every error is a usage error.
func (f *keyStoreFlags) open(needKey bool) (*keystore.KeyStore, error) {
	if f.table == "" {
		return nil, errors.New("--key-store-table is required")
	}
	mode, err := parseKMSMode(f.kmsMode, f.kmsKeyARN)
	if err != nil {
		return nil, err
	}
	if !needKey && f.kmsMode == "" && f.kmsKeyARN == "" {
		mode = keystore.KMSDiscovery
	}
	switch mode {
	case keystore.KMSStrict, keystore.KMSMRK:
		if f.kmsKeyARN == "" {
			return nil, fmt.Errorf("key store %s: --key-store-kms-mode %s needs --kms-key-arn", f.table, mode)
		}
	default:
		if f.kmsKeyARN != "" {
			return nil, fmt.Errorf("key store %s: --key-store-kms-mode %s takes no --kms-key-arn (it accepts the key each item names)", f.table, f.kmsMode)
		}
	}
	ddb, client, err := f.clients()
	if err != nil {
		return nil, err
	}
	store, err := keystore.New(keystore.Config{
		TableName: f.table, LogicalName: f.logicalName, DynamoDB: ddb, KMS: client,
		KMSMode: mode, KMSKeyARN: f.kmsKeyARN, Region: client.Options().Region,
	})
	if err != nil {
		return nil, err
	}
	return store, nil
}

// clients returns the DynamoDB and KMS clients of the key store.
func (f *keyStoreFlags) clients() (*dynamodb.Client, *kms.Client, error) {
	// Any ARN (also an alias, which keystore.New then refuses) gives the
	// Region.
	parsed, _ := arn.Parse(f.kmsKeyARN)
	c := cliConfig{kmsEndpoint: f.kmsEndpoint}
	cfg, client, err := c.kmsClient(cmp.Or(f.region, parsed.Region))
	if err != nil {
		return nil, nil, err
	}
	if cfg.Region == "" {
		return nil, nil, fmt.Errorf("key store %s: no Region: give --region (or a --kms-key-arn, or AWS_REGION)", f.table)
	}
	ddb := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if f.ddbEndpoint != "" {
			o.BaseEndpoint = &f.ddbEndpoint
		}
	})
	return ddb, client, nil
}

// hierarchyKeyring is the hierarchical keyring on --branch-key-id, reading
// the key store --key-store-table through a branch key cache of --cache-ttl.
func (c *cliConfig) hierarchyKeyring() (ddbenc.Keyring, error) {
	if c.keyStoreTable == "" || c.branchKeyID == "" {
		return nil, errors.New("--keyring hierarchy needs --key-store-table and --branch-key-id")
	}
	if c.cacheTTL <= 0 {
		return nil, errors.New("--cache-ttl must be positive")
	}
	f := keyStoreFlags{
		table: c.keyStoreTable, logicalName: c.keyStoreLogicalName, kmsMode: c.keyStoreKMSMode, kmsKeyARN: c.kmsKeyARN,
		region: c.region, kmsEndpoint: c.kmsEndpoint, ddbEndpoint: c.ddbEndpoint,
	}
	store, err := f.open(true)
	if err != nil {
		return nil, err
	}
	cache, err := keyring.NewBranchKeyCache(store, keyring.BranchKeyCacheOptions{TTL: c.cacheTTL})
	if err != nil {
		return nil, err
	}
	return keyring.NewHierarchical(c.branchKeyID, cache)
}

const keyStoreUsage = `usage: ddbec keystore COMMAND [flags]

Manage a hierarchical keyring's branch key store: a DynamoDB table in the layout
of the AWS key store (package keystore), its keys protected by AWS KMS.

  ddbec keystore create-table --key-store-table T [--region R] [--dynamodb-endpoint URL]
  ddbec keystore create-key   --key-store-table T --kms-key-arn ARN [--branch-key-id ID] [--encryption-context k=v ...]
  ddbec keystore version-key  --key-store-table T --kms-key-arn ARN --branch-key-id ID
  ddbec keystore describe     --key-store-table T --branch-key-id ID
  (all: [--key-store-logical-name N] [--key-store-kms-mode strict|mrk] [--kms-endpoint URL] [--region R] [--dynamodb-endpoint URL])

create-key prints the new branch key id, version-key the new version. describe
prints JSON: the id, the active version and every version with its kms-arn and
create-time, read from the table without KMS (so not authenticated); never key bytes.

Exit status: 0 success, 1 the operation failed (DynamoDB, KMS, no such key, key exists), 2 usage error.

Flags:
`

// contextFlag is a repeated --encryption-context k=v.
type contextFlag map[string]string

func (m contextFlag) String() string { return "" }

func (m contextFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return errors.New("want KEY=VALUE with a non-empty KEY")
	}
	if _, dup := m[k]; dup {
		return fmt.Errorf("key %q given twice", k)
	}
	m[k] = val
	return nil
}

// keyInfoJSON is what keystore describe prints.
type keyInfoJSON struct {
	BranchKeyID       string            `json:"branch_key_id"`
	KeyStoreTable     string            `json:"key_store_table"`
	ActiveVersion     string            `json:"active_version"`
	Versions          []versionInfoJSON `json:"versions"`
	HasBeacon         bool              `json:"has_beacon_key"`
	EncryptionContext map[string]string `json:"encryption_context"`
}

type versionInfoJSON struct {
	Version    string `json:"version"`
	Active     bool   `json:"active"`
	KMSARN     string `json:"kms_arn"`
	CreateTime string `json:"create_time"`
}

// runKeyStore runs "ddbec keystore COMMAND [flags]".
func runKeyStore(args []string, stdout, stderr io.Writer) int {
	cmds := []string{"create-table", "create-key", "version-key", "describe"}
	if len(args) == 0 || !slices.Contains(cmds, args[0]) {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stdout, keyStoreUsage)
			return exitOK
		}
		if len(args) > 0 {
			fmt.Fprintf(stderr, "ddbec keystore: unknown command %q\n", args[0])
		}
		fmt.Fprint(stderr, keyStoreUsage)
		return exitUsage
	}
	cmd := args[0]
	var f keyStoreFlags
	var id string
	ec := contextFlag{}
	fs := flag.NewFlagSet("ddbec keystore "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, keyStoreUsage); fs.PrintDefaults() }
	fs.StringVar(&f.table, "key-store-table", "", "the key store's DynamoDB table")
	fs.StringVar(&f.logicalName, "key-store-logical-name", "", "the key store's logical name, bound into every KMS call (default: the table name)")
	fs.StringVar(&f.kmsMode, "key-store-kms-mode", "", "strict or mrk (default mrk for a multi-Region key ARN, else strict); describe also discovery")
	fs.StringVar(&f.kmsKeyARN, "kms-key-arn", "", "the KMS key ARN that protects the branch keys (not an alias)")
	fs.StringVar(&f.region, "region", "", "AWS Region (default: the key ARN's, else the AWS configuration's)")
	fs.StringVar(&f.kmsEndpoint, "kms-endpoint", "", "KMS endpoint URL (the fake KMS; default AWS)")
	fs.StringVar(&f.ddbEndpoint, "dynamodb-endpoint", "", "DynamoDB endpoint URL (e.g. DynamoDB Local; default AWS)")
	if cmd != "create-table" {
		fs.StringVar(&id, "branch-key-id", "", "the branch key id (create-key: default a random UUID)")
	}
	if cmd == "create-key" {
		fs.Var(ec, "encryption-context", "KEY=VALUE of the branch key's custom encryption context (repeatable)")
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	fail := func(code int, err error) int {
		fmt.Fprintf(stderr, "ddbec keystore %s: %v\n", cmd, err)
		return code
	}
	if fs.NArg() > 0 {
		return fail(exitUsage, fmt.Errorf("unexpected arguments: %q", fs.Args()))
	}
	if (cmd == "version-key" || cmd == "describe") && id == "" {
		return fail(exitUsage, errors.New("--branch-key-id is required"))
	}
	ctx := context.Background()
	if cmd == "create-table" {
		if f.table == "" {
			return fail(exitUsage, errors.New("--key-store-table is required"))
		}
		if f.kmsMode != "" {
			return fail(exitUsage, errors.New("--key-store-kms-mode: create-table calls no KMS"))
		}
		ddb, _, err := f.clients()
		if err != nil {
			return fail(exitUsage, err)
		}
		if err := keystore.CreateTable(ctx, ddb, f.table); err != nil {
			return fail(exitVerify, err)
		}
		fmt.Fprintln(stdout, f.table)
		return exitOK
	}
	if cmd != "describe" && (f.kmsMode == "discovery" || f.kmsMode == "mrk-discovery") {
		return fail(exitUsage, fmt.Errorf("--key-store-kms-mode %s cannot write: %s needs strict or mrk and --kms-key-arn", f.kmsMode, cmd))
	}
	store, err := f.open(cmd != "describe")
	if err != nil {
		return fail(exitUsage, err)
	}
	switch cmd {
	case "create-key":
		got, err := store.CreateKey(ctx, keystore.CreateKeyOptions{BranchKeyID: id, EncryptionContext: ec})
		if err != nil {
			return fail(exitVerify, err)
		}
		fmt.Fprintln(stdout, got)
	case "version-key":
		v, err := store.VersionKey(ctx, id)
		if err != nil {
			return fail(exitVerify, err)
		}
		fmt.Fprintln(stdout, v)
	case "describe":
		info, err := store.Describe(ctx, id)
		if err != nil {
			return fail(exitVerify, err)
		}
		out := keyInfoJSON{
			BranchKeyID: info.BranchKeyID, KeyStoreTable: f.table, ActiveVersion: info.ActiveVersion,
			Versions: []versionInfoJSON{}, HasBeacon: info.HasBeacon, EncryptionContext: info.EncryptionContext,
		}
		for _, v := range info.Versions {
			out.Versions = append(out.Versions, versionInfoJSON{Version: v.Version, Active: v.Version == info.ActiveVersion, KMSARN: v.KMSARN, CreateTime: v.CreateTime})
		}
		b, err := json.Marshal(out)
		if err != nil {
			return fail(exitVerify, err)
		}
		fmt.Fprintf(stdout, "%s\n", b)
	}
	return exitOK
}
