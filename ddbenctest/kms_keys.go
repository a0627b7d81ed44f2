package ddbenctest

import (
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/ddbec/ddbec-go/internal/awsarn"
)

// The key model: keys per Region, multi-Region primaries and replicas, key
// states, and ARNs of the server's partition and account.

// Key states (KMS KeyState values).
const (
	KeyStateEnabled         = "Enabled"
	KeyStateDisabled        = "Disabled"
	KeyStateCreating        = "Creating"
	KeyStatePendingDeletion = "PendingDeletion"
)

type key struct {
	id          string
	region      string
	material    []byte
	multiRegion bool
	primary     bool // for MRKs: is this the primary
	state       string
	readyAt     time.Time // Creating until then
	created     time.Time
	deletion    time.Time
	description string
}

// ARN returns the ARN of key id in region.
func (s *KMS) ARN(region, id string) string {
	return fmt.Sprintf("arn:%s:kms:%s:%s:key/%s", s.opts.Partition, region, s.opts.Account, id)
}

// CreateKey creates a symmetric encryption key in region and returns its ARN.
func (s *KMS) CreateKey(region string, multiRegion bool) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.createKeyLocked(region, multiRegion, "").id2arn(s)
}

func (k *key) id2arn(s *KMS) string { return s.ARN(k.region, k.id) }

func (s *KMS) createKeyLocked(region string, multiRegion bool, description string) *key {
	s.next++
	h := hex.EncodeToString(s.derive(fmt.Sprintf("key-id|%d", s.next)))
	id := h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
	if multiRegion {
		id = "mrk-" + h[:32]
	}
	k := &key{
		id: id, region: region, material: s.derive("material|" + id), multiRegion: multiRegion,
		primary: multiRegion, state: KeyStateEnabled, created: s.opts.Now(), description: description,
	}
	s.put(k)
	return k
}

func (s *KMS) put(k *key) {
	if s.keys[k.region] == nil {
		s.keys[k.region] = map[string]*key{}
	}
	s.keys[k.region][k.id] = k
}

// ReplicateKey replicates an MRK (given by ARN) into region and returns the
// replica's ARN. The replica is Creating for KMSOptions.ReplicaDelay.
func (s *KMS) ReplicateKey(arn, region string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, id, ok := s.parseARN(arn)
	if !ok {
		return "", errors.New("ddbenctest: fake KMS: not a key ARN")
	}
	k, apiErr := s.replicateLocked(r, id, region)
	if apiErr != nil {
		return "", apiErr
	}
	return k.id2arn(s), nil
}

func (s *KMS) replicateLocked(region, id, replicaRegion string) (*key, *apiError) {
	k := s.keys[region][id]
	if k == nil {
		return nil, notFound(s.ARN(region, id))
	}
	if !k.multiRegion || !k.primary {
		return nil, &apiError{"UnsupportedOperationException", "only a multi-Region primary key can be replicated", 400}
	}
	if _, exists := s.keys[replicaRegion][id]; exists {
		return nil, &apiError{"AlreadyExistsException", "a replica of this key already exists in " + replicaRegion, 400}
	}
	if replicaRegion == region {
		return nil, &apiError{"ValidationException", "replica Region must differ from the primary's", 400}
	}
	now := s.opts.Now()
	r := &key{
		id: id, region: replicaRegion, material: k.material, multiRegion: true, state: KeyStateEnabled,
		created: now, description: k.description,
	}
	if s.opts.ReplicaDelay > 0 {
		r.state, r.readyAt = KeyStateCreating, now.Add(s.opts.ReplicaDelay)
	}
	s.put(r)
	return r, nil
}

// SetKeyState sets a key's state directly (Enabled, Disabled,
// PendingDeletion, Creating).
func (s *KMS) SetKeyState(arn, state string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, id, ok := s.parseARN(arn)
	if !ok || s.keys[r][id] == nil {
		return errors.New("ddbenctest: fake KMS: no such key")
	}
	s.keys[r][id].state = state
	return nil
}

// parseARN splits a key ARN of this server's partition and account.
func (s *KMS) parseARN(arn string) (region, id string, ok bool) {
	k, ok := awsarn.ParseKMSKey(arn)
	if !ok || k.Partition != s.opts.Partition || k.Account != s.opts.Account {
		return "", "", false
	}
	return k.Region, k.ID, true
}

// resolve finds the key a KeyId parameter names in region: a key id or a key
// ARN of that Region. Caller holds s.mu.
func (s *KMS) resolve(region, keyID string) (*key, *apiError) {
	if keyID == "" {
		return nil, validation("KeyId is required")
	}
	id := keyID
	if strings.HasPrefix(keyID, "arn:") {
		r, kid, ok := s.parseARN(keyID)
		if !ok || r != region {
			return nil, notFound(keyID)
		}
		id = kid
	} else if strings.HasPrefix(keyID, "alias/") {
		return nil, notFound(keyID) // aliases are not modelled
	}
	k := s.keys[region][id]
	if k == nil {
		return nil, notFound(s.ARN(region, id))
	}
	s.refresh(k)
	return k, nil
}

// refresh turns a Creating replica Enabled once its delay has passed.
func (s *KMS) refresh(k *key) {
	if k.state == KeyStateCreating && !k.readyAt.IsZero() && !s.opts.Now().Before(k.readyAt) {
		k.state = KeyStateEnabled
	}
}

// usable checks that a key can be used for cryptographic operations.
func (s *KMS) usable(k *key) *apiError {
	switch k.state {
	case KeyStateEnabled:
		return nil
	case KeyStateDisabled:
		return &apiError{"DisabledException", k.id2arn(s) + " is disabled.", 400}
	default:
		return &apiError{"KMSInvalidStateException", k.id2arn(s) + " is " + k.state + ".", 400}
	}
}

type multiRegionKey struct {
	Arn    string
	Region string
}

func (s *KMS) metadata(k *key) map[string]any {
	m := map[string]any{
		"AWSAccountId":          s.opts.Account,
		"KeyId":                 k.id,
		"Arn":                   k.id2arn(s),
		"CreationDate":          float64(k.created.UnixMilli()) / 1000,
		"Enabled":               k.state == KeyStateEnabled,
		"Description":           k.description,
		"KeyUsage":              "ENCRYPT_DECRYPT",
		"KeyState":              k.state,
		"Origin":                "AWS_KMS",
		"KeyManager":            "CUSTOMER",
		"KeySpec":               "SYMMETRIC_DEFAULT",
		"CustomerMasterKeySpec": "SYMMETRIC_DEFAULT",
		"EncryptionAlgorithms":  []string{"SYMMETRIC_DEFAULT"},
		"MultiRegion":           k.multiRegion,
	}
	if k.state == KeyStatePendingDeletion {
		m["DeletionDate"] = float64(k.deletion.Unix())
	}
	if k.multiRegion {
		var primary *key
		var replicas []multiRegionKey
		for _, region := range slices.Sorted(maps.Keys(s.keys)) {
			if other := s.keys[region][k.id]; other != nil {
				if other.primary {
					primary = other
				} else {
					replicas = append(replicas, multiRegionKey{other.id2arn(s), other.region})
				}
			}
		}
		cfg := map[string]any{"MultiRegionKeyType": "REPLICA", "ReplicaKeys": replicas}
		if k.primary {
			cfg["MultiRegionKeyType"] = "PRIMARY"
		}
		if primary != nil {
			cfg["PrimaryKey"] = multiRegionKey{primary.id2arn(s), primary.region}
		}
		m["MultiRegionConfiguration"] = cfg
	}
	return m
}
