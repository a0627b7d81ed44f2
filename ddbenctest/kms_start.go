package ddbenctest

import (
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// KMSServer is a fake KMS served on a loopback port. Its embedded *KMS gives
// the test hooks (CreateKey, ReplicateKey, Calls, Count, Inject, Reset,
// SetKeyState); URL is the endpoint to give an SDK client's BaseEndpoint.
type KMSServer struct {
	*KMS
	URL string
	srv *httptest.Server
}

// NewKMSServer starts a fake KMS made with opts on a loopback port. Close it
// when done. For tests, StartKMS closes it for you.
func NewKMSServer(opts KMSOptions) *KMSServer {
	k := NewKMS(opts)
	srv := httptest.NewServer(k)
	return &KMSServer{KMS: k, URL: srv.URL, srv: srv}
}

// StartKMS starts a fake KMS made with opts on a loopback port and closes it
// when tb and its subtests end.
//
//	clock := ddbenctest.NewClock()
//	fake := ddbenctest.StartKMS(t, ddbenctest.KMSOptions{Seed: []byte("test"), Now: clock.Now})
//	arn := fake.CreateKey("us-east-1", false)
//	client := fake.Client("us-east-1")
func StartKMS(tb testing.TB, opts KMSOptions) *KMSServer {
	tb.Helper()
	s := NewKMSServer(opts)
	tb.Cleanup(s.Close)
	return s
}

// Client returns a real SDK KMS client for the server in region (see
// NewKMSClient).
func (s *KMSServer) Client(region string, optFns ...func(*kms.Options)) *kms.Client {
	return NewKMSClient(s.URL, region, optFns...)
}

// Close stops serving. It blocks until the requests in flight have ended.
func (s *KMSServer) Close() { s.srv.Close() }
