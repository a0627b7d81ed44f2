package ddbenctest_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/ddbec/ddbec-go/ddbenctest"
)

func TestStartServesAndCleansUp(t *testing.T) {
	var url string
	t.Run("serve", func(t *testing.T) {
		fake := ddbenctest.StartKMS(t, ddbenctest.KMSOptions{Seed: []byte("start")})
		u := fake.URL
		url = u
		key := fake.CreateKey("us-east-1", false)
		out, err := ddbenctest.NewKMSClient(url, "us-east-1").Encrypt(context.Background(), &kms.EncryptInput{KeyId: aws.String(key), Plaintext: []byte("x")})
		if err != nil || *out.KeyId != key {
			t.Fatalf("Encrypt through Start's server: %v", err)
		}
		if fake.Count("Encrypt") != 1 {
			t.Fatalf("Count(Encrypt) = %d", fake.Count("Encrypt"))
		}
	})
	if resp, err := http.Post(url, "application/x-amz-json-1.1", nil); err == nil {
		resp.Body.Close()
		t.Fatalf("server at %s still answers after its test ended", url)
	}
}
