package keystore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/internal/awsarn"
	"github.com/ddbec/ddbec-go/keyring"
)

// Errors of this package; they are wrapped together with a ddbenc sentinel
// where one fits.
var (
	// ErrNotFound: the branch key (or that version of it) is not in the
	// table. Wrapped with ddbenc.ErrWrongKey.
	ErrNotFound = errors.New("keystore: branch key not found")
	// ErrExists: CreateKey found a branch key with that id already.
	ErrExists = errors.New("keystore: branch key already exists")
	// ErrConcurrentModification: VersionKey found the active item changed
	// between its read and its write (another rotation won); retry.
	ErrConcurrentModification = errors.New("keystore: branch key changed concurrently")
	// ErrTableSchema: the table exists with another key schema than the key
	// store's. Wrapped with ddbenc.ErrInvalidConfig.
	ErrTableSchema = errors.New("keystore: table does not have the key store schema")
)

// DynamoDBAPI is the part of the DynamoDB client the key store calls;
// *dynamodb.Client satisfies it.
type DynamoDBAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

var _ DynamoDBAPI = (*dynamodb.Client)(nil)

// KMSAPI is the part of the KMS client the key store calls; *kms.Client
// satisfies it. Reads call only Decrypt; CreateKey and VersionKey call
// GenerateDataKeyWithoutPlaintext and ReEncrypt.
type KMSAPI interface {
	Decrypt(ctx context.Context, in *kms.DecryptInput, optFns ...func(*kms.Options)) (*kms.DecryptOutput, error)
	GenerateDataKeyWithoutPlaintext(ctx context.Context, in *kms.GenerateDataKeyWithoutPlaintextInput, optFns ...func(*kms.Options)) (*kms.GenerateDataKeyWithoutPlaintextOutput, error)
	ReEncrypt(ctx context.Context, in *kms.ReEncryptInput, optFns ...func(*kms.Options)) (*kms.ReEncryptOutput, error)
}

var _ KMSAPI = (*kms.Client)(nil)

// KMSMode says which KMS keys the key store uses (package doc).
type KMSMode int

const (
	// KMSStrict: Config.KMSKeyARN exactly (the default).
	KMSStrict KMSMode = iota
	// KMSMRK: Config.KMSKeyARN, or another Region's replica of that
	// multi-Region key in stored items; Decrypt always uses KMSKeyARN.
	KMSMRK
	// KMSDiscovery: any key ARN an item names (read only).
	KMSDiscovery
	// KMSMRKDiscovery: any key ARN an item names, multi-Region keys moved
	// to Config.Region (read only).
	KMSMRKDiscovery
)

func (m KMSMode) String() string {
	switch m {
	case KMSStrict:
		return "strict"
	case KMSMRK:
		return "MRK"
	case KMSDiscovery:
		return "discovery"
	case KMSMRKDiscovery:
		return "MRK discovery"
	}
	return fmt.Sprintf("KMSMode(%d)", int(m))
}

// Config configures a KeyStore.
type Config struct {
	// TableName is the DynamoDB table of the key store (required).
	TableName string
	// LogicalName is the key store's name in every KMS encryption context
	// ("tablename"); default TableName. All readers and writers of one
	// store, in every Region, must use the same one.
	LogicalName string
	// DynamoDB is the client for TableName (required).
	DynamoDB DynamoDBAPI
	// KMS is the KMS client (required).
	KMS KMSAPI
	// KMSMode selects how items' kms-arn are checked and which KeyId
	// Decrypt gets (default KMSStrict).
	KMSMode KMSMode
	// KMSKeyARN is the key ARN for KMSStrict and KMSMRK (required there,
	// not allowed in the discovery modes). Not an alias, not a bare key id.
	KMSKeyARN string
	// Region is the Region of KMSMRKDiscovery (required there; default the
	// KMS client's Region when it tells it, as *kms.Client does).
	Region string
	// GrantTokens are sent with every KMS request.
	GrantTokens []string
}

// KeyStore reads and writes branch keys. It is safe for concurrent use. It
// implements keyring.BranchKeySource.
type KeyStore struct {
	table, logical string
	ddb            DynamoDBAPI
	kms            KMSAPI
	mode           KMSMode
	keyARN         string
	key            awsarn.KMSKey
	region         string
	grantTokens    []string
}

var _ keyring.BranchKeySource = (*KeyStore)(nil)

func configErr(format string, args ...any) error {
	return fmt.Errorf("%w: keystore: "+format, append([]any{ddbenc.ErrInvalidConfig}, args...)...)
}

// New returns a key store for cfg. It does no I/O.
func New(cfg Config) (*KeyStore, error) {
	if cfg.TableName == "" {
		return nil, configErr("a table name is required")
	}
	if cfg.DynamoDB == nil || cfg.KMS == nil {
		return nil, configErr("table %s: a DynamoDB client and a KMS client are required", cfg.TableName)
	}
	s := &KeyStore{
		table: cfg.TableName, logical: cfg.LogicalName, ddb: cfg.DynamoDB, kms: cfg.KMS,
		mode: cfg.KMSMode, grantTokens: slices.Clone(cfg.GrantTokens),
	}
	if s.logical == "" {
		s.logical = cfg.TableName
	}
	switch cfg.KMSMode {
	case KMSStrict, KMSMRK:
		k, ok := awsarn.ParseKMSKey(cfg.KMSKeyARN)
		if !ok || strings.Count(cfg.KMSKeyARN, ":") != 5 || k.String() != cfg.KMSKeyARN {
			return nil, configErr("table %s: KMS mode %s needs a key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID), not %q: a key id or an alias cannot be used for Decrypt", cfg.TableName, cfg.KMSMode, cfg.KMSKeyARN)
		}
		s.keyARN, s.key, s.region = cfg.KMSKeyARN, k, k.Region
	case KMSDiscovery, KMSMRKDiscovery:
		if cfg.KMSKeyARN != "" {
			return nil, configErr("table %s: KMS mode %s takes no key ARN", cfg.TableName, cfg.KMSMode)
		}
		if cfg.KMSMode == KMSMRKDiscovery {
			s.region = cfg.Region
			if s.region == "" {
				if c, ok := cfg.KMS.(interface{ Options() kms.Options }); ok {
					s.region = c.Options().Region
				}
			}
			if s.region == "" {
				return nil, configErr("table %s: KMS mode %s needs a Region", cfg.TableName, cfg.KMSMode)
			}
		}
	default:
		return nil, configErr("table %s: unknown KMS mode %d", cfg.TableName, int(cfg.KMSMode))
	}
	return s, nil
}

// TableName returns the key store's table.
func (s *KeyStore) TableName() string { return s.table }

// LogicalName returns the key store's logical name (the KMS context's
// "tablename").
func (s *KeyStore) LogicalName() string { return s.logical }

// pin sends a KMS call to region (when known), whatever the client's Region.
func pin(region string) []func(*kms.Options) {
	if region == "" {
		return nil
	}
	return []func(*kms.Options){func(o *kms.Options) { o.Region = region }}
}

// decryptKeyID checks an item's kms-arn against the configuration and
// returns the KeyId for Decrypt and the Region to send it to.
func (s *KeyStore) decryptKeyID(id, typ, stored string) (keyID, region string, err error) {
	bad := func(why string) error {
		return fmt.Errorf("%w: keystore: table %s: branch key %q item %q: attribute kms-arn %q %s", ddbenc.ErrWrongKey, s.table, id, typ, stored, why)
	}
	k, ok := awsarn.ParseKMSKey(stored)
	if !ok || strings.Count(stored, ":") != 5 || k.String() != stored {
		return "", "", bad("is not a KMS key ARN")
	}
	switch s.mode {
	case KMSStrict:
		if stored != s.keyARN {
			return "", "", bad("is not the configured key " + s.keyARN)
		}
		return s.keyARN, s.region, nil
	case KMSMRK:
		if stored != s.keyARN && !(k.MultiRegion() && s.key.MultiRegion() && k.Partition == s.key.Partition && k.Account == s.key.Account && k.ID == s.key.ID) {
			return "", "", bad("does not match the configured key " + s.keyARN)
		}
		return s.keyARN, s.region, nil
	case KMSDiscovery:
		return stored, k.Region, nil
	default: // KMSMRKDiscovery
		if k.MultiRegion() {
			k.Region = s.region
			return k.String(), s.region, nil
		}
		if k.Region != s.region {
			return "", "", bad("is a single-Region key outside Region " + s.region)
		}
		return stored, s.region, nil
	}
}

// kmsError maps a KMS failure onto ddbenc's sentinels, keeping the SDK error
// reachable; context errors pass through.
func (s *KeyStore) kmsError(ctx context.Context, op, id, typ, keyID string, err error) error {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var (
		incorrect *kmstypes.IncorrectKeyException
		notFound  *kmstypes.NotFoundException
		invalidCT *kmstypes.InvalidCiphertextException
	)
	where := fmt.Sprintf("keystore: table %s: branch key %q item %q: KMS %s with key %s", s.table, id, typ, op, keyID)
	switch {
	case errors.As(err, &notFound), errors.As(err, &incorrect):
		return fmt.Errorf("%w: %s: %w", ddbenc.ErrWrongKey, where, err)
	case errors.As(err, &invalidCT):
		return fmt.Errorf("%w: %s: the item's encryption context (its attributes) is not the one it was written with, or enc was changed (%w): %w", ddbenc.ErrDecryption, where, ddbenc.ErrSignature, err)
	}
	return fmt.Errorf("%w: %s: %w", ddbenc.ErrKeyUnavailable, where, err)
}
