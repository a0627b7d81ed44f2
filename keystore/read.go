package keystore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/internal/ddbjson"
	"github.com/ddbec/ddbec-go/keyring"
)

// Attribute names and values of the key store layout (§8.10.4).
const (
	AttrBranchKeyID      = "branch-key-id"
	AttrType             = "type"
	AttrEnc              = "enc"
	AttrKMSARN           = "kms-arn"
	AttrCreateTime       = "create-time"
	AttrHierarchyVersion = "hierarchy-version"
	AttrVersion          = "version"
	// CustomContextPrefix starts the attribute names of a branch key's
	// custom encryption context.
	CustomContextPrefix = "aws-crypto-ec:"

	TypeActive        = "branch:ACTIVE"
	TypeBeacon        = "beacon:ACTIVE"
	TypeVersionPrefix = "branch:version:"

	contextTableName = "tablename"
	hierarchyVersion = "1"
	keyLen           = 32
)

// item is a parsed, not yet authenticated key store item.
type item struct {
	id, typ, version string // version: the UUID, "" for a beacon item
	enc              []byte
	kmsARN           string
	createTime       string
	context          map[string]string // KMS encryption context (without enc)
	custom           map[string]string // custom context, without the prefix
}

// isUUID reports whether s is a UUID in canonical lowercase 8-4-4-4-12 form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// newUUID returns a random (version 4) UUID.
func newUUID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32], nil
}

// parseItem checks a key store item read for (id, typ) and builds its KMS
// encryption context. It never looks at enc's bytes beyond their presence.
func (s *KeyStore) parseItem(id, typ string, av map[string]types.AttributeValue) (*item, error) {
	bad := func(attr, format string, args ...any) error {
		return fmt.Errorf("%w: keystore: table %s: branch key %q item %q: attribute %s "+format,
			append([]any{ddbenc.ErrMalformed, s.table, id, typ, attr}, args...)...)
	}
	str := func(attr string) (string, error) {
		v, ok := av[attr]
		if !ok {
			return "", bad(attr, "is missing")
		}
		sv, ok := v.(*types.AttributeValueMemberS)
		if !ok {
			return "", bad(attr, "is %s, want S", ddbjson.TypeName(v))
		}
		return sv.Value, nil
	}
	it := &item{context: map[string]string{}, custom: map[string]string{}}
	var err error
	if it.id, err = str(AttrBranchKeyID); err != nil {
		return nil, err
	}
	if it.id != id {
		return nil, bad(AttrBranchKeyID, "is not the branch key id asked for")
	}
	if it.typ, err = str(AttrType); err != nil {
		return nil, err
	}
	if it.typ != typ {
		return nil, bad(AttrType, "%q is not the type asked for", it.typ)
	}
	encV, ok := av[AttrEnc]
	if !ok {
		return nil, bad(AttrEnc, "is missing")
	}
	encB, ok := encV.(*types.AttributeValueMemberB)
	if !ok {
		return nil, bad(AttrEnc, "is %s, want B", ddbjson.TypeName(encV))
	}
	if len(encB.Value) == 0 {
		return nil, bad(AttrEnc, "is empty")
	}
	it.enc = encB.Value
	if it.kmsARN, err = str(AttrKMSARN); err != nil {
		return nil, err
	}
	if it.createTime, err = str(AttrCreateTime); err != nil {
		return nil, err
	}
	hv, ok := av[AttrHierarchyVersion]
	if !ok {
		return nil, bad(AttrHierarchyVersion, "is missing")
	}
	hvN, ok := hv.(*types.AttributeValueMemberN)
	if !ok {
		return nil, bad(AttrHierarchyVersion, "is %s, want N", ddbjson.TypeName(hv))
	}
	if hvN.Value != hierarchyVersion {
		return nil, bad(AttrHierarchyVersion, "is %q, want %s", hvN.Value, hierarchyVersion)
	}
	switch {
	case typ == TypeActive:
		v, err := str(AttrVersion)
		if err != nil {
			return nil, err
		}
		u, ok := strings.CutPrefix(v, TypeVersionPrefix)
		if !ok || !isUUID(u) {
			return nil, bad(AttrVersion, "%q is not %s<uuid>", v, TypeVersionPrefix)
		}
		it.version = u
	case typ == TypeBeacon:
	default:
		u, ok := strings.CutPrefix(typ, TypeVersionPrefix)
		if !ok || !isUUID(u) {
			return nil, bad(AttrType, "%q is not %s<uuid>", typ, TypeVersionPrefix)
		}
		it.version = u
	}
	if typ != TypeActive {
		if _, ok := av[AttrVersion]; ok {
			return nil, bad(AttrVersion, "is only allowed on the %s item", TypeActive)
		}
	}
	// The KMS context: every attribute but enc, as strings.
	for name, v := range av {
		switch name {
		case AttrEnc:
			continue
		case AttrHierarchyVersion:
			it.context[name] = hierarchyVersion
			continue
		}
		sv, ok := v.(*types.AttributeValueMemberS)
		if !ok {
			return nil, bad(name, "is %s, want S", ddbjson.TypeName(v))
		}
		if name == contextTableName {
			return nil, bad(name, "is reserved for the key store's logical name")
		}
		it.context[name] = sv.Value
		if k, ok := strings.CutPrefix(name, CustomContextPrefix); ok {
			it.custom[k] = sv.Value
		}
	}
	it.context[contextTableName] = s.logical
	return it, nil
}

func itemKey(id, typ string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		AttrBranchKeyID: &types.AttributeValueMemberS{Value: id},
		AttrType:        &types.AttributeValueMemberS{Value: typ},
	}
}

// getItem reads and parses item (id, typ).
func (s *KeyStore) getItem(ctx context.Context, id, typ string, consistent bool) (*item, error) {
	if id == "" {
		return nil, configErr("table %s: a branch key id is required", s.table)
	}
	out, err := s.ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: itemKey(id, typ), ConsistentRead: aws.Bool(consistent)})
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: keystore: table %s: branch key %q item %q: GetItem: %w", ddbenc.ErrKeyUnavailable, s.table, id, typ, err)
	}
	if out.Item == nil {
		return nil, fmt.Errorf("%w: %w: table %s: branch key %q has no item %q", ddbenc.ErrWrongKey, ErrNotFound, s.table, id, typ)
	}
	return s.parseItem(id, typ, out.Item)
}

// decrypt authenticates it with KMS and returns its 32-byte key.
func (s *KeyStore) decrypt(ctx context.Context, it *item) ([]byte, error) {
	keyID, region, err := s.decryptKeyID(it.id, it.typ, it.kmsARN)
	if err != nil {
		return nil, err
	}
	out, err := s.kms.Decrypt(ctx, &kms.DecryptInput{
		CiphertextBlob: it.enc, EncryptionContext: it.context, KeyId: aws.String(keyID), GrantTokens: s.grantTokens,
	}, pin(region)...)
	if err != nil {
		return nil, s.kmsError(ctx, "Decrypt", it.id, it.typ, keyID, err)
	}
	if got := aws.ToString(out.KeyId); got != keyID {
		clear(out.Plaintext)
		return nil, fmt.Errorf("%w: keystore: table %s: branch key %q item %q: KMS Decrypt reported key %q, not the requested %s", ddbenc.ErrWrongKey, s.table, it.id, it.typ, got, keyID)
	}
	if len(out.Plaintext) != keyLen {
		clear(out.Plaintext)
		return nil, fmt.Errorf("%w: keystore: table %s: branch key %q item %q: KMS Decrypt returned a key of %d bytes, want %d", ddbenc.ErrDecryption, s.table, it.id, it.typ, len(out.Plaintext), keyLen)
	}
	return out.Plaintext, nil
}

// GetActiveBranchKey returns the active version of branch key id, to
// encrypt with.
func (s *KeyStore) GetActiveBranchKey(ctx context.Context, id string) (keyring.BranchKey, error) {
	it, err := s.getItem(ctx, id, TypeActive, false)
	if err != nil {
		return keyring.BranchKey{}, err
	}
	k, err := s.decrypt(ctx, it)
	if err != nil {
		return keyring.BranchKey{}, err
	}
	return keyring.BranchKey{ID: id, Version: it.version, Key: k}, nil
}

// GetBranchKeyVersion returns one version (a UUID) of branch key id, to
// decrypt with.
func (s *KeyStore) GetBranchKeyVersion(ctx context.Context, id, version string) (keyring.BranchKey, error) {
	if !isUUID(version) {
		return keyring.BranchKey{}, fmt.Errorf("%w: keystore: table %s: branch key %q: version %q is not a UUID", ddbenc.ErrMalformed, s.table, id, version)
	}
	it, err := s.getItem(ctx, id, TypeVersionPrefix+version, false)
	if err != nil {
		return keyring.BranchKey{}, err
	}
	k, err := s.decrypt(ctx, it)
	if err != nil {
		return keyring.BranchKey{}, err
	}
	return keyring.BranchKey{ID: id, Version: version, Key: k}, nil
}

// BeaconKey is a branch key's beacon key (for searchable encryption).
type BeaconKey struct {
	ID  string
	Key []byte // 32 bytes
}

// GetBeaconKey returns the beacon key of branch key id.
func (s *KeyStore) GetBeaconKey(ctx context.Context, id string) (BeaconKey, error) {
	it, err := s.getItem(ctx, id, TypeBeacon, false)
	if err != nil {
		return BeaconKey{}, err
	}
	k, err := s.decrypt(ctx, it)
	if err != nil {
		return BeaconKey{}, err
	}
	return BeaconKey{ID: id, Key: k}, nil
}

// ActiveBranchKey implements keyring.BranchKeySource.
func (s *KeyStore) ActiveBranchKey(ctx context.Context, id string) (keyring.BranchKey, error) {
	return s.GetActiveBranchKey(ctx, id)
}

// BranchKeyVersion implements keyring.BranchKeySource.
func (s *KeyStore) BranchKeyVersion(ctx context.Context, id, version string) (keyring.BranchKey, error) {
	return s.GetBranchKeyVersion(ctx, id, version)
}
