// Command fakekms runs the in-memory fake AWS KMS (ddbenctest.KMS) on a
// local address, for tests, examples and the CLI. It models multi-Region
// keys: the Region of each request comes from its SigV4 signature.
//
//	fakekms -addr 127.0.0.1:0 -seed demo -keys keys.json
//
// It prints one JSON line when ready, {"endpoint": "http://…", "keys": [ARNs]},
// and runs until interrupted. The keys file preloads keys:
//
//	[{"region": "us-east-1", "multi_region": true, "replicas": ["us-west-2"]}]
//
// and -mrk us-east-1,us-west-2 preloads one multi-Region key (primary in the
// first Region, replicas in the others) without a file; its ARNs are printed
// first.
//
// Point an SDK client at it with BaseEndpoint (any static credentials).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ddbec/ddbec-go/ddbenctest"
)

// KeySpec is one preloaded key.
type KeySpec struct {
	Region      string   `json:"region"`
	MultiRegion bool     `json:"multi_region"`
	Replicas    []string `json:"replicas"`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "fakekms:", err)
		os.Exit(2)
	}
}

func serve(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("fakekms", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address (port 0 picks a free port)")
	account := fs.String("account", "111122223333", "account id of every key")
	seed := fs.String("seed", "", "seed for deterministic key ids and material (empty: random)")
	delay := fs.Duration("replica-delay", 0, "how long new replicas stay Creating")
	keysFile := fs.String("keys", "", "JSON file of keys to create at start")
	mrk := fs.String("mrk", "", "preload one multi-Region key: PRIMARY-REGION[,REPLICA-REGION...]")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var specs []KeySpec
	if *mrk != "" {
		regions := strings.Split(*mrk, ",")
		for _, r := range regions {
			if r == "" {
				return fmt.Errorf("-mrk %q: an empty Region", *mrk)
			}
		}
		specs = append(specs, KeySpec{Region: regions[0], MultiRegion: true, Replicas: regions[1:]})
	}
	if *keysFile != "" {
		data, err := os.ReadFile(*keysFile)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(data, &specs); err != nil {
			return fmt.Errorf("%s: %w", *keysFile, err)
		}
	}
	fake := ddbenctest.NewKMS(ddbenctest.KMSOptions{Account: *account, Seed: []byte(*seed), ReplicaDelay: *delay})
	var arns []string
	for _, s := range specs {
		if s.Region == "" {
			return errors.New("every preloaded key needs a region")
		}
		arn := fake.CreateKey(s.Region, s.MultiRegion)
		arns = append(arns, arn)
		for _, r := range s.Replicas {
			rep, err := fake.ReplicateKey(arn, r)
			if err != nil {
				return err
			}
			arns = append(arns, rep)
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: fake, ReadHeaderTimeout: 10 * time.Second}
	ready, _ := json.Marshal(map[string]any{"endpoint": "http://" + ln.Addr().String(), "keys": arns})
	fmt.Fprintln(stdout, string(ready))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	case err := <-errc:
		return err
	}
}
