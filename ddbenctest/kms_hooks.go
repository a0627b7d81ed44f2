package ddbenctest

import (
	"net/http"
	"slices"
	"time"
)

// Test hooks: the call log, per-operation counters, injected faults and a
// standing latency. The manual clock is in clock.go.

// KMSCall is one request the server received.
type KMSCall struct {
	Op                string
	Region            string
	KeyID             string // the KeyId parameter as sent, "" if none
	EncryptionContext map[string]string
	GrantTokens       []string
}

// FaultKind is a failure to inject.
type FaultKind int

const (
	// FaultThrottle answers 400 ThrottlingException (the SDK retries it).
	FaultThrottle FaultKind = iota + 1
	// FaultInternal answers 500 KMSInternalException (the SDK retries it).
	FaultInternal
	// FaultLatency delays the answer by KMSFault.Delay (or until the request's
	// context ends), then answers normally.
	FaultLatency
)

// KMSFault is an injected failure for the next N matching calls.
type KMSFault struct {
	Op    string // operation name, "" for any
	Kind  FaultKind
	Delay time.Duration
	N     int
}

// Inject adds a fault for the next f.N calls of f.Op ("" for any operation).
func (s *KMS) Inject(f KMSFault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// Count returns how many calls of op ("" for all) the server received,
// including failed and retried ones.
func (s *KMS) Count(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if op == "" {
		return len(s.calls)
	}
	return s.counts[op]
}

// Calls returns a copy of the call log.
func (s *KMS) Calls() []KMSCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// SetLatency delays the answer to every call by d (or until the request's
// context ends), as a network round trip to KMS would, until it is set
// again; zero removes it. Calls wait concurrently: the delay is per call,
// not a queue. An injected fault applies first.
func (s *KMS) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// Reset clears counters, the call log, pending faults and the latency.
func (s *KMS) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls, s.counts, s.faults, s.latency = nil, map[string]int{}, nil, 0
}

// record logs and counts a call and takes the first pending fault matching
// it, if any, and the standing latency.
func (s *KMS) record(c KMSCall) (*KMSFault, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, c)
	s.counts[c.Op]++
	return s.takeFault(c.Op), s.latency
}

// delay waits d, or until the request's context ends; it reports whether
// the request should go on to be answered.
func delay(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// applyFault acts out an injected fault and reports whether the request
// should go on to be answered normally.
func (s *KMS) applyFault(w http.ResponseWriter, r *http.Request, fault *KMSFault) bool {
	if fault == nil {
		return true
	}
	switch fault.Kind {
	case FaultThrottle:
		writeError(w, &apiError{"ThrottlingException", "Rate exceeded", 400})
		return false
	case FaultInternal:
		writeError(w, &apiError{"KMSInternalException", "injected internal error", 500})
		return false
	case FaultLatency:
		return delay(r, fault.Delay)
	}
	return true
}

// takeFault consumes one use of the first pending fault matching op. Caller
// holds s.mu.
func (s *KMS) takeFault(op string) *KMSFault {
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
