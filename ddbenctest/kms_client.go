package ddbenctest

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// NewKMSClient returns a real SDK KMS client for endpoint (e.g. an httptest
// server running a KMS) in region, with static test credentials and the
// SDK's standard retryer without backoff delays, so retries cost no time.
func NewKMSClient(endpoint, region string, optFns ...func(*kms.Options)) *kms.Client {
	return kms.New(kms.Options{
		Region:       region,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDFAKEKMS", "fake-secret", ""),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		}),
	}, optFns...)
}
