package main

import (
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/keyring"
	"github.com/ddbec/ddbec-go/keystore"
	"github.com/ddbec/ddbec-go/provider"
)

// The record: employeeId is the partition key (signed, never encrypted),
// name and email are encrypted and signed, team is left alone.
var employeeActions = actions.Map{
	Default:    actions.EncryptAndSign,
	Attributes: map[string]actions.Action{"team": actions.DoNothing},
}

// mode is how the tables of the story are configured.
type mode struct {
	format ddbenc.Format
	// metaTable, when set (legacy format), selects the most-recent provider:
	// materials from this (replicated) MetaStore table, themselves
	// protected by DirectKMS.
	metaTable string
	// keyStoreTable, when set (DB-ESDK format), selects the hierarchical
	// keyring: branch key branchKeyID from this (replicated) key store
	// table, protected by the multi-Region key, cached per process.
	keyStoreTable, branchKeyID string
}

func (m mode) String() string {
	switch {
	case m.format == ddbenc.DBESDKFormat && m.keyStoreTable != "":
		return "AWS Database Encryption SDK format, hierarchical keyring over a key store protected by the multi-Region key"
	case m.format == ddbenc.DBESDKFormat:
		return "AWS Database Encryption SDK format, AWS KMS MRK keyring"
	case m.metaTable != "":
		return "legacy format, most-recent provider over a MetaStore protected by DirectKMS"
	}
	return "legacy format, DirectKMS provider"
}

// region is one side of the global table: a plain DynamoDB client (to show
// what is stored), a KMS client and the key ARN of that Region.
type region struct {
	name   string
	ddb    *dynamodb.Client
	kms    *kms.Client
	keyARN string
}

// tableConfig is the configuration a service in r uses for the table, with
// keyARN as its key.
func (r region) tableConfig(m mode, table, keyARN string) (ddbenc.TableConfig, error) {
	if m.format == ddbenc.DBESDKFormat {
		kr, err := r.keyring(m, keyARN)
		if err != nil {
			return ddbenc.TableConfig{}, err
		}
		// The table was migrated from the legacy format: items written
		// before the migration are still read (verified with the legacy
		// provider, this Region's DirectKMS), new items are written in the
		// new format only.
		legacy, err := r.legacyProvider(mode{}, keyARN)
		if err != nil {
			return ddbenc.TableConfig{}, err
		}
		return ddbenc.TableConfig{
			TableName: table, PartitionKey: "employeeId", Format: ddbenc.DBESDKFormat,
			Actions: employeeActions, AllowedUnsignedAttributes: []string{"team"}, Keyring: kr,
			Legacy: &ddbenc.LegacyConfig{
				Policy: ddbenc.ForbidLegacyEncryptAllowLegacyDecrypt, Provider: legacy, Actions: employeeActions,
			},
		}, nil
	}
	p, err := r.legacyProvider(m, keyARN)
	if err != nil {
		return ddbenc.TableConfig{}, err
	}
	return ddbenc.TableConfig{TableName: table, PartitionKey: "employeeId", Actions: employeeActions, Provider: p}, nil
}

// keyring is the DB-ESDK keyring of the mode.
func (r region) keyring(m mode, keyARN string) (ddbenc.Keyring, error) {
	if m.keyStoreTable == "" {
		// The MRK keyring: the writer's EDK names its own Region's ARN; a
		// reader decrypts with its own Region's replica of the same key.
		return keyring.NewKMSMRK(r.kms, keyARN)
	}
	// The hierarchical keyring: the branch key comes from this Region's
	// copy of the replicated key store, decrypted by this Region's replica
	// of the multi-Region key (MRK mode), and is cached, so KMS is called
	// once per branch key version and TTL instead of once per item.
	store, err := r.keyStore(m, keyARN)
	if err != nil {
		return nil, err
	}
	cache, err := keyring.NewBranchKeyCache(store, keyring.BranchKeyCacheOptions{TTL: 5 * time.Minute})
	if err != nil {
		return nil, err
	}
	return keyring.NewHierarchical(m.branchKeyID, cache)
}

// keyStore is this Region's view of the replicated key store.
func (r region) keyStore(m mode, keyARN string) (*keystore.KeyStore, error) {
	return keystore.New(keystore.Config{
		TableName: m.keyStoreTable, DynamoDB: r.ddb, KMS: r.kms,
		KMSMode: keystore.KMSMRK, KMSKeyARN: keyARN,
	})
}

// legacyProvider is the legacy format's materials provider of the mode.
func (r region) legacyProvider(m mode, keyARN string) (ddbenc.MaterialsProvider, error) {
	direct, err := provider.NewDirectKMS(r.kms, keyARN)
	if err != nil {
		return nil, err
	}
	if m.metaTable == "" {
		return direct, nil
	}
	store, err := provider.NewMetaStore(r.ddb, m.metaTable, direct)
	if err != nil {
		return nil, err
	}
	return provider.NewMostRecent(store, "employees")
}

// encryptingClient is the drop-in wrapper a service in r uses.
func (r region) encryptingClient(m mode, table, keyARN string) (*ddbenc.Client, error) {
	cfg, err := r.tableConfig(m, table, keyARN)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.name, err)
	}
	return ddbenc.NewClient(r.ddb, []ddbenc.TableConfig{cfg})
}
