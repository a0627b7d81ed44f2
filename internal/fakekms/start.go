package fakekms

import "net/http/httptest"

// TB is the part of testing.TB that Start uses; taking it as an interface
// keeps package testing out of the binaries that link the fake.
type TB interface {
	Helper()
	Cleanup(func())
}

// Start creates a Server with opts, serves it on a new httptest server on a
// loopback port, and returns the Server and the endpoint URL to give
// NewClient (or an SDK client's BaseEndpoint). The httptest server is closed
// when tb and its subtests end.
//
//	clock := fakekms.NewClock()
//	fake, url := fakekms.Start(t, fakekms.Options{Seed: []byte("test"), Now: clock.Now})
//	client := fakekms.NewClient(url, "us-east-1")
func Start(tb TB, opts Options) (*Server, string) {
	tb.Helper()
	s := New(opts)
	srv := httptest.NewServer(s)
	tb.Cleanup(srv.Close)
	return s, srv.URL
}
