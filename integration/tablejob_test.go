package integration_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/ddbenctest"
	"github.com/ddbec/ddbec-go/internal/ddbjson"
	"github.com/ddbec/ddbec-go/keyring"
	"github.com/ddbec/ddbec-go/keystore"
	"github.com/ddbec/ddbec-go/tablejob"
)

// Whole-table jobs (package tablejob) against DynamoDB Local: a 50,000-item
// Encrypt by four workers, kill-and-resume with worker processes, and
// application writes racing the job's conditional writes.

// jobTarget is the DB-ESDK configuration the jobs encrypt to (raw AES,
// symmetric suite; "extra" may be added unsigned by applications).
func jobTarget(tb testing.TB, table string) *ddbenc.Encryptor {
	tb.Helper()
	kr, err := keyring.NewRawAES("integration", "tablejob", bytes.Repeat([]byte{5}, 32))
	if err != nil {
		tb.Fatal(err)
	}
	return jobTargetWith(tb, table, kr)
}

// jobTargetWith is jobTarget's configuration with another keyring.
func jobTargetWith(tb testing.TB, table string, kr ddbenc.Keyring) *ddbenc.Encryptor {
	tb.Helper()
	e, err := ddbenc.NewEncryptor(ddbenc.TableConfig{
		TableName: table, PartitionKey: "pk", SortKey: "sk", Format: ddbenc.DBESDKFormat, Keyring: kr,
		Suite: ddbenc.SuiteSymmetricOnly,
		Actions: actions.Map{Default: actions.EncryptAndSign, Attributes: map[string]actions.Action{
			"status": actions.SignOnly, "extra": actions.DoNothing,
		}},
		AllowedUnsignedAttributes: []string{"extra"},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// jobItem is plaintext item i.
func jobItem(i int) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk":     &types.AttributeValueMemberS{Value: fmt.Sprintf("user-%06d", i)},
		"sk":     &types.AttributeValueMemberN{Value: strconv.Itoa(i % 7)},
		"email":  &types.AttributeValueMemberS{Value: fmt.Sprintf("user%d@example.com", i)},
		"status": &types.AttributeValueMemberS{Value: []string{"active", "idle"}[i%2]},
		"n":      &types.AttributeValueMemberN{Value: strconv.Itoa(i * 31)},
		"blob":   &types.AttributeValueMemberB{Value: bytes.Repeat([]byte{byte(i)}, 32)},
		"tags":   &types.AttributeValueMemberSS{Value: []string{"a", fmt.Sprint("t", i%13)}},
		"addr": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"city": &types.AttributeValueMemberS{Value: "Springfield"}, "zip": &types.AttributeValueMemberN{Value: strconv.Itoa(10000 + i%900)},
		}},
	}
}

// loadItems writes items [0, n) with BatchWriteItem from 16 goroutines.
func loadItems(tb testing.TB, ddb *dynamodb.Client, table string, n int) {
	tb.Helper()
	ctx := context.Background()
	const goroutines = 16
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			var batch []types.WriteRequest
			flush := func() error {
				reqs := map[string][]types.WriteRequest{table: batch}
				for len(reqs) > 0 {
					out, err := ddb.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: reqs})
					if err != nil {
						return err
					}
					reqs = out.UnprocessedItems
				}
				batch = batch[:0]
				return nil
			}
			for i := g; i < n; i += goroutines {
				batch = append(batch, types.WriteRequest{PutRequest: &types.PutRequest{Item: jobItem(i)}})
				if len(batch) == 25 {
					if err := flush(); err != nil {
						errs <- err
						return
					}
				}
			}
			if len(batch) > 0 {
				if err := flush(); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
}

// scanAll returns every item of table (parallel Scan, 8 segments).
func scanAll(tb testing.TB, ddb *dynamodb.Client, table string) []map[string]types.AttributeValue {
	tb.Helper()
	const segs = 8
	var mu sync.Mutex
	var all []map[string]types.AttributeValue
	var wg sync.WaitGroup
	for s := range segs {
		wg.Go(func() {
			p := dynamodb.NewScanPaginator(ddb, &dynamodb.ScanInput{TableName: &table, Segment: aws.Int32(int32(s)), TotalSegments: aws.Int32(segs), ConsistentRead: aws.Bool(true)})
			for p.HasMorePages() {
				page, err := p.NextPage(context.Background())
				if err != nil {
					tb.Error(err)
					return
				}
				mu.Lock()
				all = append(all, page.Items...)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return all
}

// checksum is sha256 over the sorted per-item sha256 of the canonical
// DynamoDB JSON (internal/ddbjson, sorted names) of each item's plaintext;
// read turns a stored item into its plaintext (nil: stored as is).
func checksum(tb testing.TB, items []map[string]types.AttributeValue, read func(map[string]types.AttributeValue) (map[string]types.AttributeValue, error)) string {
	tb.Helper()
	sums := make([]string, 0, len(items))
	for _, it := range items {
		if read != nil {
			p, err := read(it)
			if err != nil {
				tb.Fatal(err)
			}
			it = p
		}
		b, err := ddbjson.MarshalItem(it)
		if err != nil {
			tb.Fatal(err)
		}
		h := sha256.Sum256(b)
		sums = append(sums, hex.EncodeToString(h[:]))
	}
	slices.Sort(sums)
	h := sha256.Sum256([]byte(strings.Join(sums, "\n")))
	return hex.EncodeToString(h[:])
}

// readTarget reads an item under tgt, requiring the DB-ESDK format.
func readTarget(tgt *ddbenc.Encryptor) func(map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
	return func(it map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
		p, f, err := tgt.ReadItem(context.Background(), it)
		if err == nil && f != ddbenc.DBESDKItem {
			err = fmt.Errorf("item %s read as %s", tgt.KeyString(it), f)
		}
		return p, err
	}
}

// newCheckpointTable creates a fresh checkpoint table.
func newCheckpointTable(tb testing.TB, ddb *dynamodb.Client) string {
	tb.Helper()
	name := fmt.Sprintf("cp%d", tableSeq.Add(1))
	if err := tablejob.CreateCheckpointTable(context.Background(), ddb, name); err != nil {
		tb.Fatal(err)
	}
	return name
}

// runWorkers runs workers Jobs of cfg (Worker 0..workers-1) in goroutines.
func runJobWorkers(tb testing.TB, cfg tablejob.Config, workers int) ([]tablejob.Report, []error) {
	tb.Helper()
	reps := make([]tablejob.Report, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		c := cfg
		c.Worker, c.Workers = w, workers
		j, err := tablejob.New(c)
		if err != nil {
			tb.Fatal(err)
		}
		wg.Go(func() { reps[w], errs[w] = j.Run(context.Background()) })
	}
	wg.Wait()
	return reps, errs
}

func TestTableJobEncrypt50k(t *testing.T) {
	need(t)
	const items, segments, workers = 50000, 16, 4
	ddb := env.DynamoDB(ddbenctest.East)
	table := newTable(t)
	start := time.Now()
	loadItems(t, ddb, table, items)
	t.Logf("loaded %d items in %v", items, time.Since(start).Round(time.Millisecond))
	before := checksum(t, scanAll(t, ddb, table), nil)
	tgt := jobTarget(t, table)
	cp := newCheckpointTable(t, ddb)

	start = time.Now()
	reps, errs := runJobWorkers(t, tablejob.Config{API: ddb, Table: table, Kind: tablejob.Encrypt, Target: tgt,
		JobID: "encrypt", TotalSegments: segments, CheckpointTable: cp}, workers)
	el := time.Since(start)
	total := 0
	for w, r := range reps {
		if errs[w] != nil {
			t.Fatalf("worker %d: %v", w, errs[w])
		}
		total += r.Transformed
		t.Logf("worker %d: read %d transformed %d skipped %d segments %v in %v: %.0f items/s",
			w, r.Read, r.Transformed, r.Skipped, r.Segments, r.Elapsed.Round(time.Millisecond), float64(r.Read)/r.Elapsed.Seconds())
	}
	t.Logf("encrypt: %d items, %d segments, %d workers in %v: %.0f items/s in total, %.0f per worker",
		items, segments, workers, el.Round(time.Millisecond), items/el.Seconds(), items/el.Seconds()/workers)
	if total != items {
		t.Fatalf("transformed %d items, want %d", total, items)
	}

	start = time.Now()
	reps, errs = runJobWorkers(t, tablejob.Config{API: ddb, Table: table, Kind: tablejob.Verify, Source: tgt,
		JobID: "verify", TotalSegments: segments, CheckpointTable: cp}, workers)
	verified := 0
	for w, r := range reps {
		if errs[w] != nil {
			t.Fatalf("verify worker %d: %v", w, errs[w])
		}
		verified += r.Verified
	}
	t.Logf("verify: %d items in %v", verified, time.Since(start).Round(time.Millisecond))
	if verified != items {
		t.Fatalf("verified %d items, want %d", verified, items)
	}
	if after := checksum(t, scanAll(t, ddb, table), readTarget(tgt)); after != before {
		t.Fatalf("plaintext checksum changed: %s before, %s after", before, after)
	}
	// The finished job again: nothing read.
	reps, errs = runJobWorkers(t, tablejob.Config{API: ddb, Table: table, Kind: tablejob.Encrypt, Target: tgt,
		JobID: "encrypt", TotalSegments: segments, CheckpointTable: cp}, workers)
	for w, r := range reps {
		if errs[w] != nil || r.Read != 0 {
			t.Errorf("re-run worker %d: %+v %v", w, r, errs[w])
		}
	}
}

// Worker processes of TestTableJobKillResume: the test binary re-executed
// with these variables set runs one worker (TestMain calls
// tableJobWorkerMain) instead of the tests.
const (
	envJobWorker = "DDBEC_TABLEJOB_WORKER" // worker index
	envJobTable  = "DDBEC_TABLEJOB_TABLE"
	envJobCP     = "DDBEC_TABLEJOB_CHECKPOINT"
	envJobDir    = "DDBEC_TABLEJOB_DIR" // where the worker writes its log and report
)

const killWorkers, killSegments, killLease = 4, 16, 2 * time.Second

// loggingAPI logs each UpdateItem on the job's table: "try <pk>" before
// sending it, "ok <pk>" after it succeeded (one write(2) each, so a
// SIGKILL loses nothing logged).
type loggingAPI struct {
	*dynamodb.Client
	table string
	mu    sync.Mutex
	log   *os.File
}

func (l *loggingAPI) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if *in.TableName != l.table {
		return l.Client.UpdateItem(ctx, in, optFns...)
	}
	pk := in.Key["pk"].(*types.AttributeValueMemberS).Value
	l.write("try " + pk)
	out, err := l.Client.UpdateItem(ctx, in, optFns...)
	if err == nil {
		l.write("ok " + pk)
	}
	return out, err
}

func (l *loggingAPI) write(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.log.WriteString(line + "\n"); err != nil {
		panic(err)
	}
}

// tableJobWorkerMain is one worker process.
func tableJobWorkerMain() int {
	w, _ := strconv.Atoi(os.Getenv(envJobWorker))
	table, cp, dir := os.Getenv(envJobTable), os.Getenv(envJobCP), os.Getenv(envJobDir)
	ddb := (&ddbenctest.DynamoDB{Endpoint: os.Getenv(ddbenctest.EnvDynamoDBEndpoint)}).Client(ddbenctest.East)
	f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("log-%d", w)), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	tgt := jobTarget(exitTB{}, table)
	j, err := tablejob.New(tablejob.Config{API: &loggingAPI{Client: ddb, table: table, log: f}, Table: table, Kind: tablejob.Encrypt,
		Target: tgt, JobID: "kill", TotalSegments: killSegments, Worker: w, Workers: killWorkers, CheckpointTable: cp,
		Owner: fmt.Sprint("worker-", w), LeaseDuration: killLease, PageSize: 25})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	rep, err := j.Run(context.Background())
	b, _ := json.Marshal(rep)
	if werr := os.WriteFile(filepath.Join(dir, fmt.Sprintf("report-%d.json", w)), b, 0o644); werr != nil {
		fmt.Fprintln(os.Stderr, werr)
		return 2
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// exitTB is the testing.TB of a worker process: Fatal exits.
type exitTB struct{ testing.TB }

func (exitTB) Helper() {}
func (exitTB) Fatal(args ...any) {
	fmt.Fprintln(os.Stderr, args...)
	os.Exit(2)
}

func TestTableJobKillResume(t *testing.T) {
	need(t)
	const items = 10000
	ddb := env.DynamoDB(ddbenctest.East)
	table := newTable(t)
	loadItems(t, ddb, table, items)
	before := checksum(t, scanAll(t, ddb, table), nil)
	cp := newCheckpointTable(t, ddb)
	dir := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	cmds := make([]*exec.Cmd, killWorkers)
	done := make([]chan error, killWorkers)
	stderr := make([]*bytes.Buffer, killWorkers)
	for w := range killWorkers {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), envJobWorker+"="+strconv.Itoa(w), envJobTable+"="+table, envJobCP+"="+cp, envJobDir+"="+dir,
			ddbenctest.EnvDynamoDBEndpoint+"="+env.DynamoDBLocal.Endpoint)
		stderr[w] = &bytes.Buffer{}
		cmd.Stderr = stderr[w]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[w], done[w] = cmd, make(chan error, 1)
		go func() { done[w] <- cmd.Wait() }()
	}
	t.Cleanup(func() {
		for w, c := range cmds {
			if c.ProcessState == nil {
				_ = c.Process.Kill()
				<-done[w]
			}
		}
	})

	// Kill worker 0 once it has checkpointed a page.
	const victim = 0
	deadline := time.Now().Add(time.Minute)
	for {
		out, err := ddb.Query(context.Background(), &dynamodb.QueryInput{TableName: &cp, KeyConditionExpression: aws.String("#j = :j"),
			ExpressionAttributeNames: map[string]string{"#j": "job"}, ExpressionAttributeValues: map[string]types.AttributeValue{":j": &types.AttributeValueMemberS{Value: "kill"}}, ConsistentRead: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		paged := false
		for _, it := range out.Items {
			o, _ := it["owner"].(*types.AttributeValueMemberS)
			_, lk := it["lastKey"]
			if o != nil && o.Value == fmt.Sprint("worker-", victim) && lk {
				paged = true
			}
		}
		if paged {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("worker 0 checkpointed no page within a minute")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmds[victim].Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killedAt := time.Since(start)
	<-done[victim]
	for w := range killWorkers {
		if w == victim {
			continue
		}
		select {
		case err := <-done[w]:
			if err != nil {
				t.Fatalf("worker %d: %v\n%s", w, err, stderr[w])
			}
		case <-time.After(3 * time.Minute):
			t.Fatalf("worker %d did not finish", w)
		}
	}
	el := time.Since(start)

	// Transforms per item from the logs.
	ok := map[string]int{}
	var victimTries []string
	for w := range killWorkers {
		f, err := os.Open(filepath.Join(dir, fmt.Sprintf("log-%d", w)))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			kind, pk, _ := strings.Cut(sc.Text(), " ")
			switch {
			case kind == "ok":
				ok[pk]++
			case kind == "try" && w == victim:
				victimTries = append(victimTries, pk)
			}
		}
		f.Close()
	}
	var missing []string
	for i := range items {
		pk := fmt.Sprintf("user-%06d", i)
		switch ok[pk] {
		case 1:
		case 0:
			missing = append(missing, pk)
		default:
			t.Errorf("%s transformed %d times", pk, ok[pk])
		}
	}
	// At most the write in flight when worker 0 was killed succeeded
	// unlogged.
	if len(missing) > 1 || len(missing) == 1 && (len(victimTries) == 0 || victimTries[len(victimTries)-1] != missing[0]) {
		t.Errorf("items never transformed: %v", missing)
	}
	tookOver := 0
	survivorRead := 0
	for w := range killWorkers {
		if w == victim {
			continue
		}
		var r tablejob.Report
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("report-%d.json", w)))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		survivorRead += r.Read
		for _, s := range r.Segments {
			if s%killWorkers == victim {
				tookOver++
			}
		}
		t.Logf("worker %d: read %d transformed %d skipped %d segments %v", w, r.Read, r.Transformed, r.Skipped, r.Segments)
	}
	t.Logf("worker %d killed after %v, %d writes attempted; the job finished in %v; %d of its segments taken over",
		victim, killedAt.Round(time.Millisecond), len(victimTries), el.Round(time.Millisecond), tookOver)
	if tookOver == 0 {
		t.Error("no segment of the killed worker was taken over")
	}
	tgt := jobTarget(t, table)
	if after := checksum(t, scanAll(t, ddb, table), readTarget(tgt)); after != before {
		t.Fatalf("plaintext checksum changed: %s before, %s after", before, after)
	}
	// A re-run of the finished job reads nothing.
	j, err := tablejob.New(tablejob.Config{API: ddb, Table: table, Kind: tablejob.Encrypt, Target: tgt, JobID: "kill",
		TotalSegments: killSegments, CheckpointTable: cp})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := j.Run(context.Background()); err != nil || r.Read != 0 {
		t.Errorf("re-run: %+v %v", r, err)
	}
}

// racingAPI performs an application write of chosen items just before the
// job's conditional write of them.
type racingAPI struct {
	*dynamodb.Client
	table string
	mu    sync.Mutex
	// always: on every attempt; once: on the first attempt only (an
	// attribute change); add: on the first attempt, an added attribute.
	always, once, add map[string]bool
	attempts          map[string]int
}

func (r *racingAPI) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if *in.TableName == r.table {
		pk := in.Key["pk"].(*types.AttributeValueMemberS).Value
		r.mu.Lock()
		r.attempts[pk]++
		n := r.attempts[pk]
		r.mu.Unlock()
		var upd *dynamodb.UpdateItemInput
		switch {
		case r.always[pk] || r.once[pk] && n == 1:
			upd = &dynamodb.UpdateItemInput{UpdateExpression: aws.String("SET email = :v"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberS{Value: fmt.Sprintf("app-%s-%d", pk, n)}}}
		case r.add[pk] && n == 1:
			upd = &dynamodb.UpdateItemInput{UpdateExpression: aws.String("SET extra = :v"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberS{Value: "app-extra"}}}
		}
		if upd != nil {
			upd.TableName, upd.Key = &r.table, in.Key
			if _, err := r.Client.UpdateItem(ctx, upd); err != nil {
				return nil, err
			}
		}
	}
	return r.Client.UpdateItem(ctx, in, optFns...)
}

func TestTableJobConcurrentWrites(t *testing.T) {
	need(t)
	const items = 300
	ddb := env.DynamoDB(ddbenctest.East)
	table := newTable(t)
	loadItems(t, ddb, table, items)
	cp := newCheckpointTable(t, ddb)
	pk := func(i int) string { return fmt.Sprintf("user-%06d", i) }
	r := &racingAPI{Client: ddb, table: table, always: map[string]bool{}, once: map[string]bool{}, add: map[string]bool{}, attempts: map[string]int{}}
	var wantConflicted []string
	for _, i := range []int{3, 77, 150, 299} {
		r.always[pk(i)] = true
		wantConflicted = append(wantConflicted, pk(i))
	}
	for _, i := range []int{4, 78, 151} {
		r.once[pk(i)] = true
	}
	for _, i := range []int{5, 79} {
		r.add[pk(i)] = true
	}
	tgt := jobTarget(t, table)
	reps, errs := runJobWorkers(t, tablejob.Config{API: r, Table: table, Kind: tablejob.Encrypt, Target: tgt,
		JobID: "race", TotalSegments: 4, CheckpointTable: cp, PageSize: 50}, 2)
	var got []string
	transformed, conflicted := 0, 0
	for w, rep := range reps {
		if rep.Conflicted > 0 {
			if !errors.Is(errs[w], tablejob.ErrItemsFailed) {
				t.Errorf("worker %d: %v, want ErrItemsFailed", w, errs[w])
			}
		} else if errs[w] != nil {
			t.Errorf("worker %d: %v", w, errs[w])
		}
		transformed += rep.Transformed
		conflicted += rep.Conflicted
		for _, k := range rep.ConflictedKeys {
			var key map[string]any
			if err := json.Unmarshal([]byte(k), &key); err != nil {
				t.Fatalf("key %q: %v", k, err)
			}
			got = append(got, key["pk"].(map[string]any)["S"].(string))
		}
		for _, e := range rep.Errors {
			if strings.Contains(e.Error(), "app-") || strings.Contains(e.Error(), "@example.com") {
				t.Errorf("error shows a value: %v", e)
			}
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, wantConflicted) || conflicted != len(wantConflicted) || transformed != items-len(wantConflicted) {
		t.Fatalf("conflicted %v (%d), transformed %d; want %v, %d", got, conflicted, transformed, wantConflicted, items-len(wantConflicted))
	}
	for p, n := range r.attempts {
		if r.always[p] && n != 1+tablejob.DefaultConflictRetries {
			t.Errorf("%s: %d attempts, want %d", p, n, 1+tablejob.DefaultConflictRetries)
		}
	}
	byPK := map[string]map[string]types.AttributeValue{}
	for _, it := range scanAll(t, ddb, table) {
		byPK[it["pk"].(*types.AttributeValueMemberS).Value] = it
	}
	email := func(it map[string]types.AttributeValue) string {
		return it["email"].(*types.AttributeValueMemberS).Value
	}
	for i := range items {
		p := pk(i)
		stored := byPK[p]
		switch {
		case r.always[p]:
			if _, enc := stored["aws_dbe_head"]; enc || email(stored) != fmt.Sprintf("app-%s-%d", p, 1+tablejob.DefaultConflictRetries) {
				t.Errorf("%s: the application's write did not survive: encrypted %v", p, enc)
			}
		default:
			plain, err := readTarget(tgt)(stored)
			if err != nil {
				t.Errorf("%s: %v", p, err)
				continue
			}
			want := jobItem(i)
			if r.once[p] {
				want["email"] = &types.AttributeValueMemberS{Value: fmt.Sprintf("app-%s-1", p)}
			}
			if r.add[p] {
				want["extra"] = &types.AttributeValueMemberS{Value: "app-extra"}
			}
			a, _ := ddbjson.MarshalItem(plain)
			b, _ := ddbjson.MarshalItem(want)
			if !bytes.Equal(a, b) {
				t.Errorf("%s after the job:\n got %s\nwant %s", p, a, b)
			}
		}
	}
}

// BenchmarkTableJob encrypts 5,000 plaintext items (16 segments) with 1 and
// with 4 workers (goroutines) and reports items/s in total and per worker.
func BenchmarkTableJob(b *testing.B) {
	if startErr != nil {
		ddbenctest.SkipUnavailable(b, "DynamoDB Local / fake KMS", startErr)
	}
	const items = 5000
	ddb := env.DynamoDB(ddbenctest.East)
	// The keyrings: raw AES (a static key, no KMS) and the hierarchical
	// keyring over a cached key store whose branch key the fake KMS protects
	// (one KMS call per branch key version, not per item).
	ctx := context.Background()
	storeTable := fmt.Sprintf("benchkeys%d", tableSeq.Add(1))
	if err := keystore.CreateTable(ctx, ddb, storeTable); err != nil {
		b.Fatal(err)
	}
	store, err := keystore.New(keystore.Config{TableName: storeTable, DynamoDB: ddb, KMS: env.KMSClient(ddbenctest.East), KMSKeyARN: env.PrimaryARN})
	if err != nil {
		b.Fatal(err)
	}
	branchKey, err := store.CreateKey(ctx, keystore.CreateKeyOptions{})
	if err != nil {
		b.Fatal(err)
	}
	keyrings := []struct {
		name string
		make func(b *testing.B) ddbenc.Keyring
	}{
		{"raw-aes", func(b *testing.B) ddbenc.Keyring {
			kr, err := keyring.NewRawAES("integration", "tablejob", bytes.Repeat([]byte{5}, 32))
			if err != nil {
				b.Fatal(err)
			}
			return kr
		}},
		{"hierarchical-kms-cached", func(b *testing.B) ddbenc.Keyring {
			cache, err := keyring.NewBranchKeyCache(store, keyring.BranchKeyCacheOptions{TTL: time.Hour})
			if err != nil {
				b.Fatal(err)
			}
			kr, err := keyring.NewHierarchical(branchKey, cache)
			if err != nil {
				b.Fatal(err)
			}
			return kr
		}},
	}
	for _, k := range keyrings {
		for _, workers := range []int{1, 4} {
			b.Run(fmt.Sprintf("keyring=%s/workers=%d", k.name, workers), func(b *testing.B) {
				var el time.Duration
				for i := 0; b.Loop(); i++ {
					b.StopTimer()
					table := fmt.Sprintf("bench%d", tableSeq.Add(1))
					if err := ddbenctest.CreateTable(context.Background(), ddb, table,
						ddbenctest.Key{Name: "pk", Type: types.ScalarAttributeTypeS}, ddbenctest.Key{Name: "sk", Type: types.ScalarAttributeTypeN}, false); err != nil {
						b.Fatal(err)
					}
					loadItems(b, ddb, table, items)
					cp := newCheckpointTable(b, ddb)
					tgt := jobTargetWith(b, table, k.make(b))
					b.StartTimer()
					start := time.Now()
					reps, errs := runJobWorkers(b, tablejob.Config{API: ddb, Table: table, Kind: tablejob.Encrypt, Target: tgt,
						JobID: "bench", TotalSegments: 16, CheckpointTable: cp}, workers)
					el += time.Since(start)
					n := 0
					for w, r := range reps {
						if errs[w] != nil {
							b.Fatal(errs[w])
						}
						n += r.Transformed
					}
					if n != items {
						b.Fatalf("transformed %d, want %d", n, items)
					}
				}
				ips := float64(items*b.N) / el.Seconds()
				b.ReportMetric(ips, "items/s")
				b.ReportMetric(ips/float64(workers), "items/s/worker")
			})
		}
	}
}

// TestTableJobRateLimit bounds an Encrypt job's writes with MaxWCU: DynamoDB
// Local reports consumed capacity, so 300 writes of at least one unit each
// at 50 WCU/s (50 in reserve) take at least 5 s; unbounded they take less
// than 2 s. Progress is reported after every page.
func TestTableJobRateLimit(t *testing.T) {
	need(t)
	const items = 300
	ddb := env.DynamoDB(ddbenctest.East)
	table := newTable(t)
	loadItems(t, ddb, table, items)
	var progress []tablejob.Progress
	j, err := tablejob.New(tablejob.Config{API: ddb, Table: table, Kind: tablejob.Encrypt, Target: jobTarget(t, table),
		JobID: "rate", CheckpointTable: newCheckpointTable(t, ddb), PageSize: 50, MaxWCU: 50,
		Progress: func(p tablejob.Progress) { progress = append(progress, p) }})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	rep, err := j.Run(context.Background())
	el := time.Since(start)
	if err != nil || rep.Transformed != items {
		t.Fatalf("%+v %v", rep, err)
	}
	t.Logf("%d items at MaxWCU 50 in %v", items, el.Round(time.Millisecond))
	if el < 4800*time.Millisecond {
		t.Errorf("%d writes at MaxWCU 50 took %v, want at least 5 s", items, el)
	}
	if len(progress) < items/50 || progress[len(progress)-1].Transformed != items || progress[len(progress)-1].ItemsPerSecond <= 0 {
		t.Errorf("progress %+v", progress)
	}
}

// TestTableJobMigrate migrates legacy items (direct KMS provider) to the
// DB-ESDK format with one Encryptor under
// ForbidLegacyEncryptAllowLegacyDecrypt as Source and Target: the legacy
// attributes are removed, the plaintext is unchanged, a second job skips
// every item, and a Verify job under the final configuration (no legacy
// reads) verifies them all.
func TestTableJobMigrate(t *testing.T) {
	need(t)
	const items = 200
	ctx := context.Background()
	ddb := env.DynamoDB(ddbenctest.East)
	table := newTable(t)
	prov := kmsProvider(t, ddbenctest.East, env.PrimaryARN)
	leg, err := ddbenc.NewEncryptor(ddbenc.TableConfig{TableName: table, PartitionKey: "pk", SortKey: "sk", Actions: testActions, Provider: prov})
	if err != nil {
		t.Fatal(err)
	}
	var plain []map[string]types.AttributeValue
	for i := range items {
		it := jobItem(i)
		plain = append(plain, it)
		enc, err := leg.EncryptItem(ctx, it)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: enc}); err != nil {
			t.Fatal(err)
		}
	}
	before := checksum(t, plain, nil)
	kr, err := keyring.NewRawAES("integration", "tablejob-migrate", bytes.Repeat([]byte{6}, 32))
	if err != nil {
		t.Fatal(err)
	}
	cfg := ddbenc.TableConfig{TableName: table, PartitionKey: "pk", SortKey: "sk", Format: ddbenc.DBESDKFormat, Keyring: kr,
		Suite: ddbenc.SuiteSymmetricOnly, Actions: actions.Map{Default: actions.EncryptAndSign, Attributes: map[string]actions.Action{"status": actions.SignOnly}},
		Legacy: &ddbenc.LegacyConfig{Policy: ddbenc.ForbidLegacyEncryptAllowLegacyDecrypt, Provider: prov, Actions: testActions}}
	mig, err := ddbenc.NewEncryptor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cp := newCheckpointTable(t, ddb)
	run := func(kind tablejob.Kind, id string, src, tgt *ddbenc.Encryptor) tablejob.Report {
		t.Helper()
		reps, errs := runJobWorkers(t, tablejob.Config{API: ddb, Table: table, Kind: kind, Source: src, Target: tgt,
			JobID: id, TotalSegments: 4, CheckpointTable: cp}, 2)
		var sum tablejob.Report
		for w, r := range reps {
			if errs[w] != nil {
				t.Fatalf("%s worker %d: %v", id, w, errs[w])
			}
			sum.Read += r.Read
			sum.Transformed += r.Transformed
			sum.Skipped += r.Skipped
			sum.Verified += r.Verified
		}
		return sum
	}
	if r := run(tablejob.Migrate, "migrate", mig, mig); r.Read != items || r.Transformed != items {
		t.Fatalf("migrate: %+v", r)
	}
	stored := scanAll(t, ddb, table)
	for _, it := range stored {
		for n := range it {
			if strings.HasPrefix(n, "*amzn-ddb-map-") {
				t.Fatalf("item %s kept legacy attribute %s", mig.KeyString(it), n)
			}
		}
	}
	if after := checksum(t, stored, readTarget(mig)); after != before {
		t.Fatalf("plaintext checksum changed: %s before, %s after", before, after)
	}
	if r := run(tablejob.Migrate, "migrate-again", mig, mig); r.Read != items || r.Skipped != items {
		t.Errorf("second migrate: %+v", r)
	}
	cfg.Legacy = nil
	final, err := ddbenc.NewEncryptor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r := run(tablejob.Verify, "verify", final, nil); r.Verified != items {
		t.Errorf("verify: %+v", r)
	}
}
