package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/internal/keyfile"
	"github.com/ddbec/ddbec-go/provider"
	"github.com/ddbec/ddbec-go/signing"
)

// tableConfig is the table configuration of the flags' --format.
func (c *cliConfig) tableConfig(acts actions.Map) (ddbenc.TableConfig, error) {
	if c.format == "dbesdk" {
		return c.dbesdkConfig(acts)
	}
	return c.legacyConfig(acts)
}

// newEncryptor is the Encryptor of the flags' configuration.
func (c *cliConfig) newEncryptor(acts actions.Map) (*ddbenc.Encryptor, error) {
	cfg, err := c.tableConfig(acts)
	if err != nil {
		return nil, err
	}
	return ddbenc.NewEncryptor(cfg)
}

// legacyConfig is the table configuration of a --format legacy table.
func (c *cliConfig) legacyConfig(acts actions.Map) (ddbenc.TableConfig, error) {
	if c.table == "" || c.partitionKey == "" {
		return ddbenc.TableConfig{}, errors.New("--table and --partition-key are required")
	}
	var ord ddbenc.Ordering
	switch c.ordering {
	case "java":
		ord = ddbenc.JavaOrdering
	case "python":
		ord = ddbenc.PythonOrdering
	default:
		return ddbenc.TableConfig{}, fmt.Errorf("--ordering must be java or python")
	}
	var p ddbenc.MaterialsProvider
	if !acts.AllDoNothing() {
		var err error
		if p, err = c.provider(); err != nil {
			return ddbenc.TableConfig{}, err
		}
	}
	return ddbenc.TableConfig{
		TableName: c.table, PartitionKey: c.partitionKey, SortKey: c.sortKey, Actions: acts, Provider: p,
		Ordering: ord, AllowPythonRoundedNumbers: c.allowPythonRounded, LegacyUnsignedKeys: c.legacyUnsignedKeys,
	}, nil
}

func (c *cliConfig) provider() (ddbenc.MaterialsProvider, error) {
	if c.providerKind == "kms" || c.providerKind == "most-recent" {
		return c.kmsProvider()
	}
	if c.keysFile == "" {
		return nil, errors.New("--keys is required")
	}
	keys, err := keyfile.Load(c.keysFile)
	if err != nil {
		return nil, err
	}
	var signer signing.Signer
	if c.signingKey != "" {
		if signer, err = keys.Signer(c.signingKey); err != nil {
			return nil, err
		}
	}
	var verifier signing.Verifier
	if c.verificationKey != "" {
		if verifier, err = keys.Verifier(c.verificationKey); err != nil {
			return nil, err
		}
	} else if c.signingKey != "" {
		if verifier, err = keys.Verifier(c.signingKey); err != nil {
			return nil, err
		}
	}
	if c.cmd == "encrypt" && signer == nil {
		return nil, errors.New("encrypt needs --signing-key")
	}
	if c.cmd == "decrypt" && verifier == nil {
		return nil, errors.New("decrypt needs --verification-key or --signing-key")
	}
	switch c.providerKind {
	case "static":
		if c.encryptionKey == "" {
			return nil, errors.New("--provider static needs --encryption-key")
		}
		return keys.Static(c.encryptionKey, signer, verifier)
	case "wrapped":
		unwrap := c.unwrappingKey
		if unwrap == "" && c.wrappingKey != "" {
			if k, err := keys.Get(c.wrappingKey); err == nil && (k.IsAES() || k.Type == "private") {
				unwrap = c.wrappingKey
			}
		}
		if c.cmd == "encrypt" && c.wrappingKey == "" {
			return nil, errors.New("encrypt with --provider wrapped needs --wrapping-key")
		}
		if c.cmd == "decrypt" && unwrap == "" {
			return nil, errors.New("decrypt with --provider wrapped needs --unwrapping-key")
		}
		return keys.Wrapped(c.wrappingKey, unwrap, signer, verifier)
	}
	return nil, fmt.Errorf("--provider must be static, wrapped, kms or most-recent")
}

// kmsProvider builds a DirectKMS provider from the default AWS configuration
// (credentials from the environment, shared files, …), or for --kms-endpoint.
func (c *cliConfig) kmsProvider() (ddbenc.MaterialsProvider, error) {
	if c.kmsKeyARN == "" {
		return nil, errors.New("--provider kms needs --kms-key-arn")
	}
	// Any ARN (key or alias) gives the Region and partition; the provider
	// pins every call to the key ARN's Region anyway.
	parsed, _ := arn.Parse(c.kmsKeyARN)
	region := cmp.Or(c.region, parsed.Region)
	cfg, client, err := c.kmsClient(region)
	if err != nil {
		return nil, err
	}
	var mode provider.KMSDecryptMode
	switch c.kmsMode {
	case "strict":
		mode = provider.KMSStrict
	case "discovery":
		mode = provider.KMSDiscovery
	case "unchecked-legacy":
		mode = provider.KMSUncheckedLegacy
	default:
		return nil, errors.New("--kms-mode must be strict, discovery or unchecked-legacy")
	}
	direct, err := provider.NewDirectKMS(client, c.kmsKeyARN, func(o *provider.DirectKMSOptions) {
		o.Mode = mode
		if mode == provider.KMSDiscovery {
			o.Discovery.Partition = parsed.Partition
			o.Discovery.Accounts = commaList(c.kmsAccounts)
		}
	})
	if err != nil || c.providerKind == "kms" {
		return direct, err
	}
	if c.metaTable == "" || c.materialName == "" {
		return nil, errors.New("--provider most-recent needs --metastore-table and --material-name")
	}
	ddb := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if c.ddbEndpoint != "" {
			o.BaseEndpoint = &c.ddbEndpoint
		}
	})
	store, err := provider.NewMetaStore(ddb, c.metaTable, direct)
	if err != nil {
		return nil, err
	}
	return provider.NewMostRecent(store, c.materialName)
}

// kmsClient loads the default AWS configuration for region (credentials from
// the environment, shared files, …) and returns it with a KMS client, on
// --kms-endpoint when given. Shared by --provider kms and most-recent and
// (once wired, see kmsKeyring in dbesdk.go) the DB-ESDK KMS keyrings.
func (c *cliConfig) kmsClient(region string) (aws.Config, *kms.Client, error) {
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion(region))
	if err != nil {
		return aws.Config{}, nil, fmt.Errorf("loading AWS configuration: %w", err)
	}
	client := kms.NewFromConfig(cfg, func(o *kms.Options) {
		if c.kmsEndpoint != "" {
			o.BaseEndpoint = &c.kmsEndpoint
		}
	})
	return cfg, client, nil
}
