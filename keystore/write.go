package keystore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/ddbec/ddbec-go/ddbenc"
)

// CreateKeyOptions are the optional inputs of CreateKey.
type CreateKeyOptions struct {
	// BranchKeyID is the new key's id; default a random UUID.
	BranchKeyID string
	// EncryptionContext is a custom context stored on every item of the key
	// as "aws-crypto-ec:<key>" attributes and bound into each item's KMS
	// encryption context. Keys must not be empty.
	EncryptionContext map[string]string
	// Now is the clock for create-time (default time.Now).
	Now func() time.Time
}

// timestamp is the create-time format: ISO 8601 UTC with microseconds.
func timestamp(now func() time.Time) string {
	if now == nil {
		now = time.Now
	}
	return now().UTC().Format("2006-01-02T15:04:05.000000Z")
}

// canWrite refuses writes in the discovery modes (no key to write under).
func (s *KeyStore) canWrite(op string) error {
	if s.mode != KMSStrict && s.mode != KMSMRK {
		return configErr("table %s: %s needs KMS mode strict or MRK, not %s", s.table, op, s.mode)
	}
	return nil
}

// newItem returns the attributes and KMS context of a new item of branch key
// id (without enc). version is the UUID for branch items, "" for beacons.
func (s *KeyStore) newItem(id, typ, version, created string, custom map[string]string) (map[string]types.AttributeValue, map[string]string) {
	av := map[string]types.AttributeValue{
		AttrBranchKeyID:      &types.AttributeValueMemberS{Value: id},
		AttrType:             &types.AttributeValueMemberS{Value: typ},
		AttrKMSARN:           &types.AttributeValueMemberS{Value: s.keyARN},
		AttrCreateTime:       &types.AttributeValueMemberS{Value: created},
		AttrHierarchyVersion: &types.AttributeValueMemberN{Value: hierarchyVersion},
	}
	ec := map[string]string{
		AttrBranchKeyID: id, AttrType: typ, AttrKMSARN: s.keyARN, AttrCreateTime: created,
		AttrHierarchyVersion: hierarchyVersion, contextTableName: s.logical,
	}
	if typ == TypeActive {
		av[AttrVersion] = &types.AttributeValueMemberS{Value: TypeVersionPrefix + version}
		ec[AttrVersion] = TypeVersionPrefix + version
	}
	for k, v := range custom {
		av[CustomContextPrefix+k] = &types.AttributeValueMemberS{Value: v}
		ec[CustomContextPrefix+k] = v
	}
	return av, ec
}

// generate returns a new key's KMS ciphertext under context ec; the
// plaintext never leaves KMS.
func (s *KeyStore) generate(ctx context.Context, id, typ string, ec map[string]string) ([]byte, error) {
	out, err := s.kms.GenerateDataKeyWithoutPlaintext(ctx, &kms.GenerateDataKeyWithoutPlaintextInput{
		KeyId: aws.String(s.keyARN), NumberOfBytes: aws.Int32(keyLen), EncryptionContext: ec, GrantTokens: s.grantTokens,
	}, pin(s.region)...)
	if err != nil {
		return nil, s.kmsError(ctx, "GenerateDataKeyWithoutPlaintext", id, typ, s.keyARN, err)
	}
	if got := aws.ToString(out.KeyId); got != s.keyARN || len(out.CiphertextBlob) == 0 {
		return nil, fmt.Errorf("%w: keystore: table %s: branch key %q item %q: KMS GenerateDataKeyWithoutPlaintext reported key %q, not %s, or no ciphertext", ddbenc.ErrKeyUnavailable, s.table, id, typ, got, s.keyARN)
	}
	return out.CiphertextBlob, nil
}

// reEncrypt moves a key's ciphertext from context from (under key fromKey)
// to context to under the configured key.
func (s *KeyStore) reEncrypt(ctx context.Context, id, typ string, blob []byte, fromKey string, from, to map[string]string) ([]byte, error) {
	out, err := s.kms.ReEncrypt(ctx, &kms.ReEncryptInput{
		CiphertextBlob: blob, SourceKeyId: aws.String(fromKey), SourceEncryptionContext: from,
		DestinationKeyId: aws.String(s.keyARN), DestinationEncryptionContext: to, GrantTokens: s.grantTokens,
	}, pin(s.region)...)
	if err != nil {
		return nil, s.kmsError(ctx, "ReEncrypt", id, typ, s.keyARN, err)
	}
	if got := aws.ToString(out.KeyId); got != s.keyARN || len(out.CiphertextBlob) == 0 {
		return nil, fmt.Errorf("%w: keystore: table %s: branch key %q item %q: KMS ReEncrypt reported key %q, not %s, or no ciphertext", ddbenc.ErrKeyUnavailable, s.table, id, typ, got, s.keyARN)
	}
	return out.CiphertextBlob, nil
}

// CreateKey creates a branch key: its first version, the active item and a
// beacon key, written in one transaction that fails (ErrExists) if any of
// them exists. It returns the branch key id. It needs KMS mode strict or
// MRK; the items name the configured key ARN.
func (s *KeyStore) CreateKey(ctx context.Context, opts CreateKeyOptions) (string, error) {
	if err := s.canWrite("CreateKey"); err != nil {
		return "", err
	}
	id := opts.BranchKeyID
	if id == "" {
		var err error
		if id, err = newUUID(); err != nil {
			return "", err
		}
	}
	for k := range opts.EncryptionContext {
		if k == "" {
			return "", configErr("table %s: branch key %q: a custom encryption context key is empty", s.table, id)
		}
	}
	version, err := newUUID()
	if err != nil {
		return "", err
	}
	created := timestamp(opts.Now)
	custom := maps.Clone(opts.EncryptionContext)

	vType := TypeVersionPrefix + version
	vItem, vEC := s.newItem(id, vType, version, created, custom)
	aItem, aEC := s.newItem(id, TypeActive, version, created, custom)
	bItem, bEC := s.newItem(id, TypeBeacon, "", created, custom)
	if vItem[AttrEnc], err = s.encAttr(s.generate(ctx, id, vType, vEC)); err != nil {
		return "", err
	}
	if aItem[AttrEnc], err = s.encAttr(s.reEncrypt(ctx, id, TypeActive, vItem[AttrEnc].(*types.AttributeValueMemberB).Value, s.keyARN, vEC, aEC)); err != nil {
		return "", err
	}
	if bItem[AttrEnc], err = s.encAttr(s.generate(ctx, id, TypeBeacon, bEC)); err != nil {
		return "", err
	}
	notExists := aws.String("attribute_not_exists(#id)")
	names := map[string]string{"#id": AttrBranchKeyID}
	var tx []types.TransactWriteItem
	for _, it := range []map[string]types.AttributeValue{vItem, aItem, bItem} {
		tx = append(tx, types.TransactWriteItem{Put: &types.Put{
			TableName: aws.String(s.table), Item: it, ConditionExpression: notExists, ExpressionAttributeNames: names,
		}})
	}
	if _, err := s.ddb.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tx}); err != nil {
		if conditionFailed(err) {
			return "", fmt.Errorf("%w: table %s: branch key %q", ErrExists, s.table, id)
		}
		return "", s.ddbError(ctx, "CreateKey", id, err)
	}
	return id, nil
}

func (s *KeyStore) encAttr(blob []byte, err error) (types.AttributeValue, error) {
	if err != nil {
		return nil, err
	}
	return &types.AttributeValueMemberB{Value: blob}, nil
}

func (s *KeyStore) ddbError(ctx context.Context, op, id string, err error) error {
	if ctx.Err() != nil {
		return err
	}
	return fmt.Errorf("%w: keystore: table %s: branch key %q: %s: TransactWriteItems: %w", ddbenc.ErrKeyUnavailable, s.table, id, op, err)
}

// conditionFailed reports whether a transaction was cancelled by a failed
// condition.
func conditionFailed(err error) bool {
	var tc *types.TransactionCanceledException
	if errors.As(err, &tc) {
		for _, r := range tc.CancellationReasons {
			if aws.ToString(r.Code) == "ConditionalCheckFailed" {
				return true
			}
		}
	}
	var cc *types.ConditionalCheckFailedException
	return errors.As(err, &cc)
}

// VersionKeyOptions are the optional inputs of VersionKey.
type VersionKeyOptions struct {
	// Now is the clock for create-time (default time.Now).
	Now func() time.Time
}

// VersionKey rotates branch key id: it reads the active item (consistent
// read), authenticates it with KMS (ReEncrypt under its own context, so the
// old key's plaintext is never seen), creates a new version and writes the
// version item and the new active item in one transaction, on the condition
// that the active item is still the one read (else
// ErrConcurrentModification). The custom encryption context is carried
// over; the beacon key is not changed. It returns the new version.
func (s *KeyStore) VersionKey(ctx context.Context, id string, opts ...VersionKeyOptions) (string, error) {
	if err := s.canWrite("VersionKey"); err != nil {
		return "", err
	}
	var o VersionKeyOptions
	for _, x := range opts {
		o = x
	}
	old, err := s.getItem(ctx, id, TypeActive, true)
	if err != nil {
		return "", err
	}
	oldKey, _, err := s.decryptKeyID(old.id, old.typ, old.kmsARN)
	if err != nil {
		return "", err
	}
	if _, err := s.reEncrypt(ctx, id, TypeActive, old.enc, oldKey, old.context, old.context); err != nil {
		return "", err
	}
	version, err := newUUID()
	if err != nil {
		return "", err
	}
	created := timestamp(o.Now)
	vType := TypeVersionPrefix + version
	vItem, vEC := s.newItem(id, vType, version, created, old.custom)
	aItem, aEC := s.newItem(id, TypeActive, version, created, old.custom)
	if vItem[AttrEnc], err = s.encAttr(s.generate(ctx, id, vType, vEC)); err != nil {
		return "", err
	}
	if aItem[AttrEnc], err = s.encAttr(s.reEncrypt(ctx, id, TypeActive, vItem[AttrEnc].(*types.AttributeValueMemberB).Value, s.keyARN, vEC, aEC)); err != nil {
		return "", err
	}
	tx := []types.TransactWriteItem{
		{Put: &types.Put{
			TableName: aws.String(s.table), Item: vItem,
			ConditionExpression: aws.String("attribute_not_exists(#id)"), ExpressionAttributeNames: map[string]string{"#id": AttrBranchKeyID},
		}},
		{Put: &types.Put{
			TableName: aws.String(s.table), Item: aItem,
			ConditionExpression:       aws.String("attribute_exists(#id) AND #enc = :old"),
			ExpressionAttributeNames:  map[string]string{"#id": AttrBranchKeyID, "#enc": AttrEnc},
			ExpressionAttributeValues: map[string]types.AttributeValue{":old": &types.AttributeValueMemberB{Value: old.enc}},
		}},
	}
	if _, err := s.ddb.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tx}); err != nil {
		if conditionFailed(err) {
			return "", fmt.Errorf("%w: table %s: branch key %q: the active item changed during VersionKey", ErrConcurrentModification, s.table, id)
		}
		return "", s.ddbError(ctx, "VersionKey", id, err)
	}
	return version, nil
}

// KeyInfo is what Describe tells about a branch key: no key bytes, and
// nothing in it is authenticated (it is read from the table without KMS).
type KeyInfo struct {
	BranchKeyID string
	// ActiveVersion is the version of the branch:ACTIVE item.
	ActiveVersion string
	// Versions are every version item, in the table's sort order.
	Versions []VersionInfo
	// HasBeacon reports whether a beacon:ACTIVE item exists.
	HasBeacon bool
	// EncryptionContext is the active item's custom context (without the
	// aws-crypto-ec: prefix).
	EncryptionContext map[string]string
}

// VersionInfo describes one version item.
type VersionInfo struct {
	Version    string
	KMSARN     string
	CreateTime string
}

// Describe lists a branch key's items (Query on branch-key-id, consistent
// read, without enc): the active version, every version with its kms-arn
// and create-time, and whether a beacon key exists. It makes no KMS call,
// so its answers are not authenticated. ErrNotFound if no item exists.
func (s *KeyStore) Describe(ctx context.Context, id string) (KeyInfo, error) {
	if id == "" {
		return KeyInfo{}, configErr("table %s: a branch key id is required", s.table)
	}
	info := KeyInfo{BranchKeyID: id, EncryptionContext: map[string]string{}}
	var start map[string]types.AttributeValue
	found := false
	for {
		out, err := s.ddb.Query(ctx, &dynamodb.QueryInput{
			TableName: aws.String(s.table), ConsistentRead: aws.Bool(true), ExclusiveStartKey: start,
			KeyConditionExpression:    aws.String("#id = :id"),
			ExpressionAttributeNames:  map[string]string{"#id": AttrBranchKeyID},
			ExpressionAttributeValues: map[string]types.AttributeValue{":id": &types.AttributeValueMemberS{Value: id}},
		})
		if err != nil {
			if ctx.Err() != nil {
				return KeyInfo{}, err
			}
			return KeyInfo{}, fmt.Errorf("%w: keystore: table %s: branch key %q: Query: %w", ddbenc.ErrKeyUnavailable, s.table, id, err)
		}
		for _, av := range out.Items {
			found = true
			t, _ := av[AttrType].(*types.AttributeValueMemberS)
			if t == nil {
				return KeyInfo{}, fmt.Errorf("%w: keystore: table %s: branch key %q: an item's attribute %s is not S", ddbenc.ErrMalformed, s.table, id, AttrType)
			}
			it, err := s.parseItem(id, t.Value, av)
			if err != nil {
				return KeyInfo{}, err
			}
			switch {
			case it.typ == TypeActive:
				info.ActiveVersion = it.version
				info.EncryptionContext = it.custom
			case it.typ == TypeBeacon:
				info.HasBeacon = true
			default:
				info.Versions = append(info.Versions, VersionInfo{Version: it.version, KMSARN: it.kmsARN, CreateTime: it.createTime})
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		start = out.LastEvaluatedKey
	}
	if !found {
		return KeyInfo{}, fmt.Errorf("%w: %w: table %s: branch key %q has no items", ddbenc.ErrWrongKey, ErrNotFound, s.table, id)
	}
	return info, nil
}
