package ddbenctest

import "crypto/rand"

// Cryptographic operations: GenerateDataKey, GenerateDataKeyWithoutPlaintext,
// Encrypt, Decrypt, ReEncrypt.

func (s *KMS) generate(region string, body []byte, withPlaintext bool) (any, *apiError) {
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

func (s *KMS) generateDataKey(region string, body []byte) (any, *apiError) {
	return s.generate(region, body, true)
}

func (s *KMS) generateDataKeyWithoutPlaintext(region string, body []byte) (any, *apiError) {
	return s.generate(region, body, false)
}

func (s *KMS) encrypt(region string, body []byte) (any, *apiError) {
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
func (s *KMS) decryptLocked(region string, blob []byte, ec map[string]string, keyID string) (*key, []byte, *apiError) {
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

func (s *KMS) decrypt(region string, body []byte) (any, *apiError) {
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

func (s *KMS) reEncrypt(region string, body []byte) (any, *apiError) {
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
