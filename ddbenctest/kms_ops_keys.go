package ddbenctest

import (
	"maps"
	"slices"
)

// Key management operations: CreateKey, ReplicateKey, DescribeKey, ListKeys.

func (s *KMS) createKey(region string, body []byte) (any, *apiError) {
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

func (s *KMS) replicateKey(region string, body []byte) (any, *apiError) {
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

func (s *KMS) describeKey(region string, body []byte) (any, *apiError) {
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

func (s *KMS) listKeys(region string, body []byte) (any, *apiError) {
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
