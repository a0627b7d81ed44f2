// Package fakekms is an in-memory AWS KMS that speaks the KMS JSON 1.1 wire
// protocol (POST /, X-Amz-Target: TrentService.<Op>), so the real
// aws-sdk-go-v2 KMS client talks to it through BaseEndpoint. It models
// multi-Region keys: one server serves every Region, a request's Region comes
// from the SigV4 credential scope of its Authorization header (as DynamoDB
// Local does), and a replica of an MRK has the same key id and key material
// as its primary in another Region.
//
// Operations: CreateKey, ReplicateKey, DescribeKey, ListKeys, GenerateDataKey,
// GenerateDataKeyWithoutPlaintext, Encrypt, Decrypt, ReEncrypt, EnableKey,
// DisableKey, ScheduleKeyDeletion. Not modelled: aliases, grants (grant tokens
// are accepted and recorded), key policies and IAM, asymmetric and HMAC keys,
// key rotation, custom key stores, multiple accounts per server, and the real
// ciphertext format (blobs are this package's own, authenticated with AES-GCM
// over the encryption context and key id).
package fakekms

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Key states (KMS KeyState values).
const (
	StateEnabled         = "Enabled"
	StateDisabled        = "Disabled"
	StateCreating        = "Creating"
	StatePendingDeletion = "PendingDeletion"
)

// Options configure a Server.
type Options struct {
	// Account is the account id of every key (default 111122223333).
	Account string
	// Partition of the ARNs (default "aws").
	Partition string
	// Seed makes key ids and key material deterministic; empty means random.
	Seed []byte
	// ReplicaDelay is how long a new replica stays Creating.
	ReplicaDelay time.Duration
	// Now is the clock (default time.Now); tests use it to pass replica delays.
	Now func() time.Time
}

// Call is one request the server received.
type Call struct {
	Op                string
	Region            string
	KeyID             string // the KeyId parameter as sent, "" if none
	EncryptionContext map[string]string
	GrantTokens       []string
}

// FaultKind is a failure to inject.
type FaultKind int

const (
	// Throttle answers 400 ThrottlingException (the SDK retries it).
	Throttle FaultKind = iota + 1
	// Internal answers 500 KMSInternalException (the SDK retries it).
	Internal
	// Latency delays the answer by Fault.Delay (or until the request's
	// context ends), then answers normally.
	Latency
)

// Fault is an injected failure for the next N matching calls.
type Fault struct {
	Op    string // operation name, "" for any
	Kind  FaultKind
	Delay time.Duration
	N     int
}

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

// Server is a fake KMS. It is safe for concurrent use.
type Server struct {
	opts Options

	mu      sync.Mutex
	keys    map[string]map[string]*key // region → key id → key
	next    int
	calls   []Call
	counts  map[string]int
	faults  []*Fault
	secrets []byte
}

// New returns a server.
func New(opts Options) *Server {
	if opts.Account == "" {
		opts.Account = "111122223333"
	}
	if opts.Partition == "" {
		opts.Partition = "aws"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	seed := opts.Seed
	if len(seed) == 0 {
		seed = make([]byte, 32)
		rand.Read(seed)
	}
	return &Server{opts: opts, keys: map[string]map[string]*key{}, counts: map[string]int{}, secrets: seed}
}

func (s *Server) derive(label string) []byte {
	m := hmac.New(sha256.New, s.secrets)
	m.Write([]byte(label))
	return m.Sum(nil)
}

// ARN returns the ARN of key id in region.
func (s *Server) ARN(region, id string) string {
	return fmt.Sprintf("arn:%s:kms:%s:%s:key/%s", s.opts.Partition, region, s.opts.Account, id)
}

// CreateKey creates a symmetric encryption key in region and returns its ARN.
func (s *Server) CreateKey(region string, multiRegion bool) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.createKeyLocked(region, multiRegion, "").id2arn(s)
}

func (k *key) id2arn(s *Server) string { return s.ARN(k.region, k.id) }

func (s *Server) createKeyLocked(region string, multiRegion bool, description string) *key {
	s.next++
	h := hex.EncodeToString(s.derive(fmt.Sprintf("key-id|%d", s.next)))
	id := h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
	if multiRegion {
		id = "mrk-" + h[:32]
	}
	k := &key{
		id: id, region: region, material: s.derive("material|" + id), multiRegion: multiRegion,
		primary: multiRegion, state: StateEnabled, created: s.opts.Now(), description: description,
	}
	s.put(k)
	return k
}

func (s *Server) put(k *key) {
	if s.keys[k.region] == nil {
		s.keys[k.region] = map[string]*key{}
	}
	s.keys[k.region][k.id] = k
}

// ReplicateKey replicates an MRK (given by ARN) into region and returns the
// replica's ARN. The replica is Creating for Options.ReplicaDelay.
func (s *Server) ReplicateKey(arn, region string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, id, ok := s.parseARN(arn)
	if !ok {
		return "", errors.New("fakekms: not a key ARN")
	}
	k, apiErr := s.replicateLocked(r, id, region)
	if apiErr != nil {
		return "", apiErr
	}
	return k.id2arn(s), nil
}

func (s *Server) replicateLocked(region, id, replicaRegion string) (*key, *apiError) {
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
		id: id, region: replicaRegion, material: k.material, multiRegion: true, state: StateEnabled,
		created: now, description: k.description,
	}
	if s.opts.ReplicaDelay > 0 {
		r.state, r.readyAt = StateCreating, now.Add(s.opts.ReplicaDelay)
	}
	s.put(r)
	return r, nil
}

// SetKeyState sets a key's state directly (Enabled, Disabled,
// PendingDeletion, Creating).
func (s *Server) SetKeyState(arn, state string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, id, ok := s.parseARN(arn)
	if !ok || s.keys[r][id] == nil {
		return errors.New("fakekms: no such key")
	}
	s.keys[r][id].state = state
	return nil
}

// Inject adds a fault for the next f.N calls of f.Op ("" for any operation).
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// Count returns how many calls of op ("" for all) the server received,
// including failed and retried ones.
func (s *Server) Count(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if op == "" {
		return len(s.calls)
	}
	return s.counts[op]
}

// Calls returns a copy of the call log.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// Reset clears counters, the call log and pending faults.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls, s.counts, s.faults = nil, map[string]int{}, nil
}

// apiError is a KMS error response.
type apiError struct {
	Type    string
	Message string
	Status  int
}

func (e *apiError) Error() string { return e.Type + ": " + e.Message }

func notFound(what string) *apiError {
	return &apiError{"NotFoundException", fmt.Sprintf("Key '%s' does not exist", what), 400}
}

func validation(msg string) *apiError { return &apiError{"ValidationException", msg, 400} }

// regionFromAuth reads the Region from a SigV4 Authorization header:
// "AWS4-HMAC-SHA256 Credential=AKID/20261123/us-east-1/kms/aws4_request, ...".
func regionFromAuth(h string) string {
	_, rest, ok := strings.Cut(h, "Credential=")
	if !ok {
		return ""
	}
	cred, _, _ := strings.Cut(rest, ",")
	parts := strings.Split(cred, "/")
	if len(parts) != 5 || parts[3] != "kms" {
		return ""
	}
	return parts[2]
}

// ServeHTTP implements the KMS JSON 1.1 protocol.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeError(w, &apiError{"UnknownOperationException", "POST only", 400})
		return
	}
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "TrentService.")
	if !ok {
		writeError(w, &apiError{"UnknownOperationException", "missing or unknown X-Amz-Target", 400})
		return
	}
	region := regionFromAuth(r.Header.Get("Authorization"))
	if region == "" {
		writeError(w, &apiError{"MissingAuthenticationTokenException", "request is not signed with SigV4 for kms", 400})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeError(w, validation("cannot read request body"))
		return
	}
	var common struct {
		KeyId             string
		EncryptionContext map[string]string
		GrantTokens       []string
	}
	_ = json.Unmarshal(body, &common)

	s.mu.Lock()
	s.calls = append(s.calls, Call{Op: op, Region: region, KeyID: common.KeyId, EncryptionContext: maps.Clone(common.EncryptionContext), GrantTokens: common.GrantTokens})
	s.counts[op]++
	fault := s.takeFault(op)
	s.mu.Unlock()

	if fault != nil {
		switch fault.Kind {
		case Throttle:
			writeError(w, &apiError{"ThrottlingException", "Rate exceeded", 400})
			return
		case Internal:
			writeError(w, &apiError{"KMSInternalException", "injected internal error", 500})
			return
		case Latency:
			select {
			case <-time.After(fault.Delay):
			case <-r.Context().Done():
				return
			}
		}
	}

	resp, apiErr := s.dispatch(r.Context(), op, region, body)
	if apiErr != nil {
		writeError(w, apiErr)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	json.NewEncoder(w).Encode(resp)
}

func (s *Server) takeFault(op string) *Fault {
	for i, f := range s.faults {
		if f.Op == "" || f.Op == op {
			f.N--
			if f.N <= 0 {
				s.faults = slices.Delete(s.faults, i, i+1)
			}
			c := *f
			return &c
		}
	}
	return nil
}

func writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(e.Status)
	json.NewEncoder(w).Encode(map[string]string{"__type": e.Type, "message": e.Message})
}

func (s *Server) dispatch(_ context.Context, op, region string, body []byte) (any, *apiError) {
	handlers := map[string]func(string, []byte) (any, *apiError){
		"CreateKey":                       s.createKey,
		"ReplicateKey":                    s.replicateKey,
		"DescribeKey":                     s.describeKey,
		"ListKeys":                        s.listKeys,
		"GenerateDataKey":                 s.generateDataKey,
		"GenerateDataKeyWithoutPlaintext": s.generateDataKeyWithoutPlaintext,
		"Encrypt":                         s.encrypt,
		"Decrypt":                         s.decrypt,
		"ReEncrypt":                       s.reEncrypt,
		"EnableKey":                       func(r string, b []byte) (any, *apiError) { return s.setEnabled(r, b, true) },
		"DisableKey":                      func(r string, b []byte) (any, *apiError) { return s.setEnabled(r, b, false) },
		"ScheduleKeyDeletion":             s.scheduleKeyDeletion,
	}
	h, ok := handlers[op]
	if !ok {
		return nil, &apiError{"UnknownOperationException", "operation " + op + " is not supported by the fake", 400}
	}
	return h(region, body)
}

func decode(body []byte, v any) *apiError {
	if err := json.Unmarshal(body, v); err != nil {
		return &apiError{"SerializationException", "malformed request body", 400}
	}
	return nil
}

// parseARN splits a key ARN of this server's partition and account.
func (s *Server) parseARN(arn string) (region, id string, ok bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] != s.opts.Partition || parts[2] != "kms" || parts[4] != s.opts.Account {
		return "", "", false
	}
	id, ok = strings.CutPrefix(parts[5], "key/")
	return parts[3], id, ok
}

// resolve finds the key a KeyId parameter names in region: a key id or a key
// ARN of that Region. Caller holds s.mu.
func (s *Server) resolve(region, keyID string) (*key, *apiError) {
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
func (s *Server) refresh(k *key) {
	if k.state == StateCreating && !k.readyAt.IsZero() && !s.opts.Now().Before(k.readyAt) {
		k.state = StateEnabled
	}
}

// usable checks that a key can be used for cryptographic operations.
func (s *Server) usable(k *key) *apiError {
	switch k.state {
	case StateEnabled:
		return nil
	case StateDisabled:
		return &apiError{"DisabledException", k.id2arn(s) + " is disabled.", 400}
	default:
		return &apiError{"KMSInvalidStateException", k.id2arn(s) + " is " + k.state + ".", 400}
	}
}

type multiRegionKey struct {
	Arn    string
	Region string
}

func (s *Server) metadata(k *key) map[string]any {
	m := map[string]any{
		"AWSAccountId":          s.opts.Account,
		"KeyId":                 k.id,
		"Arn":                   k.id2arn(s),
		"CreationDate":          float64(k.created.UnixMilli()) / 1000,
		"Enabled":               k.state == StateEnabled,
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
	if k.state == StatePendingDeletion {
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

func (s *Server) createKey(region string, body []byte) (any, *apiError) {
	var in struct {
		Description string
		KeyUsage    string
		KeySpec     string
		MultiRegion bool
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.KeyUsage != "" && in.KeyUsage != "ENCRYPT_DECRYPT" || in.KeySpec != "" && in.KeySpec != "SYMMETRIC_DEFAULT" {
		return nil, &apiError{"UnsupportedOperationException", "the fake supports only symmetric ENCRYPT_DECRYPT keys", 400}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.createKeyLocked(region, in.MultiRegion, in.Description)
	return map[string]any{"KeyMetadata": s.metadata(k)}, nil
}

func (s *Server) replicateKey(region string, body []byte) (any, *apiError) {
	var in struct{ KeyId, ReplicaRegion string }
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.ReplicaRegion == "" {
		return nil, validation("ReplicaRegion is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, e := s.resolve(region, in.KeyId)
	if e != nil {
		return nil, e
	}
	r, e := s.replicateLocked(region, k.id, in.ReplicaRegion)
	if e != nil {
		return nil, e
	}
	return map[string]any{"ReplicaKeyMetadata": s.metadata(r)}, nil
}

func (s *Server) describeKey(region string, body []byte) (any, *apiError) {
	var in struct{ KeyId string }
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, e := s.resolve(region, in.KeyId)
	if e != nil {
		return nil, e
	}
	return map[string]any{"KeyMetadata": s.metadata(k)}, nil
}

func (s *Server) listKeys(region string, body []byte) (any, *apiError) {
	var in struct {
		Limit  int
		Marker string
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.Limit == 0 {
		in.Limit = 100
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := slices.Sorted(maps.Keys(s.keys[region]))
	start := 0
	if in.Marker != "" {
		start = slices.Index(ids, in.Marker)
		if start < 0 {
			return nil, &apiError{"InvalidMarkerException", "unknown marker", 400}
		}
	}
	var out []map[string]string
	end := min(len(ids), start+in.Limit)
	for _, id := range ids[start:end] {
		out = append(out, map[string]string{"KeyId": id, "KeyArn": s.ARN(region, id)})
	}
	resp := map[string]any{"Keys": out, "Truncated": end < len(ids)}
	if end < len(ids) {
		resp["NextMarker"] = ids[end]
	}
	return resp, nil
}

// Blob layout: 0x01 | u8 len(id) | id | nonce(12) | AES-GCM(material, nonce,
// plaintext, aad = id || canonical EC).
const blobVersion = 1

func aad(id string, ec map[string]string) []byte {
	b := []byte(id)
	for _, k := range slices.Sorted(maps.Keys(ec)) {
		b = binary.BigEndian.AppendUint32(b, uint32(len(k)))
		b = append(b, k...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(ec[k])))
		b = append(b, ec[k]...)
	}
	return b
}

func gcm(material []byte) cipher.AEAD {
	block, err := aes.NewCipher(material)
	if err != nil {
		panic(err)
	}
	g, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return g
}

func seal(k *key, plaintext []byte, ec map[string]string) []byte {
	nonce := make([]byte, 12)
	rand.Read(nonce)
	out := append([]byte{blobVersion, byte(len(k.id))}, k.id...)
	out = append(out, nonce...)
	return gcm(k.material).Seal(out, nonce, plaintext, aad(k.id, ec))
}

// blobKeyID reads the key id from a blob without authenticating it.
func blobKeyID(blob []byte) (string, []byte, bool) {
	if len(blob) < 2 || blob[0] != blobVersion || len(blob) < 2+int(blob[1])+12+16 {
		return "", nil, false
	}
	n := int(blob[1])
	return string(blob[2 : 2+n]), blob[2+n:], true
}

func (s *Server) open(k *key, rest []byte, ec map[string]string) ([]byte, *apiError) {
	pt, err := gcm(k.material).Open(nil, rest[:12], rest[12:], aad(k.id, ec))
	if err != nil {
		return nil, &apiError{"InvalidCiphertextException", "", 400}
	}
	return pt, nil
}

func (s *Server) generate(region string, body []byte, withPlaintext bool) (any, *apiError) {
	var in struct {
		KeyId             string
		EncryptionContext map[string]string
		NumberOfBytes     *int
		KeySpec           string
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	n := 0
	switch {
	case in.NumberOfBytes != nil && in.KeySpec != "":
		return nil, validation("specify either KeySpec or NumberOfBytes, not both")
	case in.NumberOfBytes != nil:
		n = *in.NumberOfBytes
		if n < 1 || n > 1024 {
			return nil, validation("NumberOfBytes must be between 1 and 1024")
		}
	case in.KeySpec == "AES_256":
		n = 32
	case in.KeySpec == "AES_128":
		n = 16
	default:
		return nil, validation("KeySpec or NumberOfBytes is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, e := s.resolve(region, in.KeyId)
	if e != nil {
		return nil, e
	}
	if e := s.usable(k); e != nil {
		return nil, e
	}
	pt := make([]byte, n)
	rand.Read(pt)
	out := map[string]any{"CiphertextBlob": seal(k, pt, in.EncryptionContext), "KeyId": k.id2arn(s)}
	if withPlaintext {
		out["Plaintext"] = pt
	}
	return out, nil
}

func (s *Server) generateDataKey(region string, body []byte) (any, *apiError) {
	return s.generate(region, body, true)
}

func (s *Server) generateDataKeyWithoutPlaintext(region string, body []byte) (any, *apiError) {
	return s.generate(region, body, false)
}

func (s *Server) encrypt(region string, body []byte) (any, *apiError) {
	var in struct {
		KeyId             string
		Plaintext         []byte
		EncryptionContext map[string]string
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if len(in.Plaintext) == 0 || len(in.Plaintext) > 4096 {
		return nil, validation("Plaintext must be 1 to 4096 bytes")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, e := s.resolve(region, in.KeyId)
	if e != nil {
		return nil, e
	}
	if e := s.usable(k); e != nil {
		return nil, e
	}
	return map[string]any{"CiphertextBlob": seal(k, in.Plaintext, in.EncryptionContext), "KeyId": k.id2arn(s), "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}, nil
}

// decryptLocked authenticates a blob in region. keyID is the optional KeyId
// parameter: when given it must name the key that encrypted the blob.
func (s *Server) decryptLocked(region string, blob []byte, ec map[string]string, keyID string) (*key, []byte, *apiError) {
	id, rest, ok := blobKeyID(blob)
	if !ok {
		return nil, nil, &apiError{"InvalidCiphertextException", "", 400}
	}
	var k *key
	if keyID != "" {
		named, e := s.resolve(region, keyID)
		if e != nil {
			return nil, nil, e
		}
		if named.id != id {
			return nil, nil, &apiError{"IncorrectKeyException", "The key ID in the request does not identify a KMS key that can perform this operation.", 400}
		}
		k = named
	} else {
		k = s.keys[region][id]
		if k == nil {
			// The key (or, for an MRK, a replica of it) does not exist in this
			// Region: a single-Region key's ciphertext decrypts nowhere else.
			return nil, nil, &apiError{"InvalidCiphertextException", "", 400}
		}
		s.refresh(k)
	}
	if e := s.usable(k); e != nil {
		return nil, nil, e
	}
	pt, e := s.open(k, rest, ec)
	return k, pt, e
}

func (s *Server) decrypt(region string, body []byte) (any, *apiError) {
	var in struct {
		CiphertextBlob    []byte
		EncryptionContext map[string]string
		KeyId             string
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, pt, e := s.decryptLocked(region, in.CiphertextBlob, in.EncryptionContext, in.KeyId)
	if e != nil {
		return nil, e
	}
	return map[string]any{"KeyId": k.id2arn(s), "Plaintext": pt, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}, nil
}

func (s *Server) reEncrypt(region string, body []byte) (any, *apiError) {
	var in struct {
		CiphertextBlob               []byte
		SourceEncryptionContext      map[string]string
		SourceKeyId                  string
		DestinationKeyId             string
		DestinationEncryptionContext map[string]string
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	src, pt, e := s.decryptLocked(region, in.CiphertextBlob, in.SourceEncryptionContext, in.SourceKeyId)
	if e != nil {
		return nil, e
	}
	dst, e := s.resolve(region, in.DestinationKeyId)
	if e != nil {
		return nil, e
	}
	if e := s.usable(dst); e != nil {
		return nil, e
	}
	return map[string]any{
		"CiphertextBlob": seal(dst, pt, in.DestinationEncryptionContext), "SourceKeyId": src.id2arn(s), "KeyId": dst.id2arn(s),
		"SourceEncryptionAlgorithm": "SYMMETRIC_DEFAULT", "DestinationEncryptionAlgorithm": "SYMMETRIC_DEFAULT",
	}, nil
}

func (s *Server) setEnabled(region string, body []byte, enabled bool) (any, *apiError) {
	var in struct{ KeyId string }
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, e := s.resolve(region, in.KeyId)
	if e != nil {
		return nil, e
	}
	if k.state != StateEnabled && k.state != StateDisabled {
		return nil, &apiError{"KMSInvalidStateException", k.id2arn(s) + " is " + k.state + ".", 400}
	}
	k.state = StateDisabled
	if enabled {
		k.state = StateEnabled
	}
	return map[string]any{}, nil
}

func (s *Server) scheduleKeyDeletion(region string, body []byte) (any, *apiError) {
	var in struct {
		KeyId               string
		PendingWindowInDays int
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.PendingWindowInDays == 0 {
		in.PendingWindowInDays = 30
	}
	if in.PendingWindowInDays < 7 || in.PendingWindowInDays > 30 {
		return nil, validation("PendingWindowInDays must be between 7 and 30")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, e := s.resolve(region, in.KeyId)
	if e != nil {
		return nil, e
	}
	if k.state == StatePendingDeletion || k.state == StateCreating {
		return nil, &apiError{"KMSInvalidStateException", k.id2arn(s) + " is " + k.state + ".", 400}
	}
	k.state = StatePendingDeletion
	k.deletion = s.opts.Now().AddDate(0, 0, in.PendingWindowInDays)
	return map[string]any{"KeyId": k.id2arn(s), "DeletionDate": float64(k.deletion.Unix()), "KeyState": k.state, "PendingWindowInDays": in.PendingWindowInDays}, nil
}
