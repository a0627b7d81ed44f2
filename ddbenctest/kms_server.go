package ddbenctest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
)

// The wire protocol: POST / with X-Amz-Target: TrentService.<Op>, JSON 1.1
// bodies, {"__type", "message"} errors with their real status codes, and the
// Region taken from the SigV4 credential scope.

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
func (s *KMS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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

	fault, latency := s.record(KMSCall{Op: op, Region: region, KeyID: common.KeyId, EncryptionContext: maps.Clone(common.EncryptionContext), GrantTokens: common.GrantTokens})
	if !s.applyFault(w, r, fault) || !delay(r, latency) {
		return
	}

	resp, apiErr := s.dispatch(r.Context(), op, region, body)
	if apiErr != nil {
		writeError(w, apiErr)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	json.NewEncoder(w).Encode(resp)
}

func writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(e.Status)
	json.NewEncoder(w).Encode(map[string]string{"__type": e.Type, "message": e.Message})
}

func (s *KMS) dispatch(_ context.Context, op, region string, body []byte) (any, *apiError) {
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
