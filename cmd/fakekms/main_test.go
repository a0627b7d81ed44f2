package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/ddbec/ddbec-go/ddbenctest"
)

func TestServeWithPreloadedKeys(t *testing.T) {
	keys := filepath.Join(t.TempDir(), "keys.json")
	os.WriteFile(keys, []byte(`[{"region":"us-east-1","multi_region":true,"replicas":["us-west-2"]},{"region":"eu-west-1"}]`), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- serve(ctx, []string{"-seed", "demo", "-keys", keys}, pw) }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr)
	var ready struct {
		Endpoint string
		Keys     []string
	}
	if err := json.Unmarshal([]byte(line), &ready); err != nil {
		t.Fatalf("ready line %q: %v", line, err)
	}
	if len(ready.Keys) != 3 || !strings.Contains(ready.Keys[1], ":us-west-2:") || !strings.HasPrefix(ready.Endpoint, "http://127.0.0.1:") {
		t.Fatalf("ready %+v", ready)
	}
	west := ddbenctest.NewKMSClient(ready.Endpoint, "us-west-2")
	gdk, err := ddbenctest.NewKMSClient(ready.Endpoint, "us-east-1").GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: &ready.Keys[0], NumberOfBytes: aws.Int32(32)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := west.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: gdk.CiphertextBlob, KeyId: &ready.Keys[1]}); err != nil {
		t.Fatalf("Decrypt with the replica: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
}

func TestServeMRKFlag(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- serve(ctx, []string{"-mrk", "us-east-1,us-west-2,eu-west-1"}, pw) }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr)
	var ready struct{ Keys []string }
	if err := json.Unmarshal([]byte(line), &ready); err != nil {
		t.Fatalf("ready line %q: %v", line, err)
	}
	if len(ready.Keys) != 3 {
		t.Fatalf("keys %q, want a primary and two replicas", ready.Keys)
	}
	id := ready.Keys[0][strings.LastIndex(ready.Keys[0], "/")+1:]
	for i, region := range []string{"us-east-1", "us-west-2", "eu-west-1"} {
		if !strings.Contains(ready.Keys[i], ":"+region+":") || !strings.HasSuffix(ready.Keys[i], "/"+id) || !strings.HasPrefix(id, "mrk-") {
			t.Errorf("key %d = %s, want the MRK %s in %s", i, ready.Keys[i], id, region)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if err := serve(context.Background(), []string{"-mrk", "us-east-1,"}, io.Discard); err == nil {
		t.Error("-mrk with an empty Region accepted")
	}
}
