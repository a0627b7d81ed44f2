package tablejob

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ddbec/ddbec-go/ddbenc"
)

// API is the part of the DynamoDB client a Job calls, with the SDK's own
// signatures; *dynamodb.Client satisfies it. Scan, GetItem and UpdateItem go
// to the job's table, Query, GetItem and UpdateItem to the checkpoint table.
type API interface {
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

var _ API = (*dynamodb.Client)(nil)

// Kind is what a job does to each item.
type Kind uint8

const (
	// Encrypt: plaintext items (Source nil, or a Source that reads them as
	// ddbenc.PlaintextItem) are encrypted under Target.
	Encrypt Kind = iota + 1
	// Reencrypt: items that Source verifies and decrypts (under an old key,
	// say) are encrypted under Target (the new key).
	Reencrypt
	// Migrate: legacy items (Source reads them as ddbenc.LegacyItem: a
	// DB-ESDK configuration whose Legacy policy allows legacy decryption)
	// are written in Target's format. Source and Target may be the same
	// Encryptor under ForbidLegacyEncryptAllowLegacyDecrypt.
	Migrate
	// Verify: every item must be verified and decrypted by Source (a
	// plaintext item fails); nothing is written, Target must be nil.
	Verify
)

// String names the kind.
func (k Kind) String() string {
	switch k {
	case Encrypt:
		return "encrypt"
	case Reencrypt:
		return "reencrypt"
	case Migrate:
		return "migrate"
	case Verify:
		return "verify"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Defaults.
const (
	DefaultLeaseDuration   = time.Minute
	DefaultConflictRetries = 3
	DefaultThrottleRetries = 8
	DefaultPageSize        = 100
)

// Config configures a Job.
type Config struct {
	// API is the DynamoDB client; required. CheckpointAPI, if set, is used
	// for the checkpoint table instead.
	API           API
	CheckpointAPI API
	// Table is the table to process; required.
	Table string
	Kind  Kind
	// Source is how stored items are read; nil (Encrypt only) means they
	// are plaintext. Target is how items are written; required except for
	// Verify, where it must be nil.
	Source, Target *ddbenc.Encryptor
	// JobID names the job in the checkpoint table; required. Every worker
	// of a job uses the same JobID, TotalSegments and Kind.
	JobID string
	// TotalSegments is the number of Scan segments (1 to 1,000,000);
	// zero means 1.
	TotalSegments int
	// Worker is this worker's index in [0, Workers); Workers zero means 1.
	Worker, Workers int
	// CheckpointTable is the checkpoint table (CreateCheckpointTable);
	// required.
	CheckpointTable string
	// Owner names this worker in leases; empty means host name, process id
	// and a random suffix. Two live workers must not share an Owner.
	Owner string
	// LeaseDuration is how long a lease lasts without renewal; zero means
	// DefaultLeaseDuration. A worker renews its lease every third of it.
	LeaseDuration time.Duration
	// PollInterval is how long a worker that has nothing to take waits
	// before looking again (segments leased by live workers); zero means
	// a quarter of LeaseDuration, at most a second.
	PollInterval time.Duration
	// PageSize is the Scan Limit; zero means DefaultPageSize.
	PageSize int32
	// MaxRCU and MaxWCU bound the read and write capacity units per second
	// the job's calls on Table consume, as reported by DynamoDB; zero
	// means unbounded.
	MaxRCU, MaxWCU float64
	// ConflictRetries is how many times an item whose conditional write
	// failed is read again and retried; zero means
	// DefaultConflictRetries, negative means none.
	ConflictRetries int
	// ThrottleRetries is how many times a throttled call is retried (after
	// the SDK's own retries); zero means DefaultThrottleRetries, negative
	// means none.
	ThrottleRetries int
	// Progress, if set, is called after every page with the counts so far.
	Progress func(Progress)
	// Now and Sleep are the clock, for tests; nil means time.Now and a
	// context-aware time.Sleep.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// Progress is what Config.Progress is told after every page.
type Progress struct {
	Segment                                                  int // the segment whose page was processed
	Read, Transformed, Skipped, Verified, Conflicted, Failed int
	Elapsed                                                  time.Duration
	ItemsPerSecond                                           float64 // items read per second of Elapsed
}

// Report is what one Run did.
type Report struct {
	// Read counts the items scanned. Each is then Transformed (written
	// under Target), Skipped (Target already reads it in its format, or it
	// was deleted meanwhile), Verified (Verify jobs), Conflicted (its
	// conditional write kept failing) or Failed.
	Read, Transformed, Skipped, Verified, Conflicted, Failed int
	// ConflictedKeys and FailedKeys are those items' primary keys
	// (Encryptor.KeyString).
	ConflictedKeys, FailedKeys []string
	// Errors are the errors of the failed and conflicted items, at most
	// MaxReportErrors of them.
	Errors []error
	// Segments are the segments this Run completed; LeasesLost counts the
	// segments it stopped because another worker took them over.
	Segments   []int
	LeasesLost int
	Elapsed    time.Duration
}

// MaxReportErrors bounds Report.Errors.
const MaxReportErrors = 100

// Errors. Every error of this package is an *Error wrapping one of these
// or an error of ddbenc or the SDK.
var (
	ErrInvalidConfig = errors.New("tablejob: invalid configuration")
	// ErrConflict: the item's conditional write failed on every attempt.
	ErrConflict = errors.New("tablejob: item changed by another writer on every attempt")
	// ErrTooLarge: the item's update would exceed DynamoDB's expression
	// limits.
	ErrTooLarge = errors.New("tablejob: item too large for a conditional update")
	// ErrUnexpectedFormat: Source read the item in a format the job's Kind
	// does not transform (a legacy item in an Encrypt job, say).
	ErrUnexpectedFormat = errors.New("tablejob: item in an unexpected format")
	// ErrLeaseLost: another worker took over the segment.
	ErrLeaseLost = errors.New("tablejob: segment lease lost")
	// ErrItemsFailed: Run's error when any item failed or conflicted.
	ErrItemsFailed = errors.New("tablejob: items failed")
)

// Error is the one error type of this package. It names the operation, the
// table, the segment (-1 when none) and the item's primary key when one is
// concerned, never attribute values.
type Error struct {
	Op      string // "config", "transform", "verify", "scan", "checkpoint", "run"
	Table   string
	Segment int
	Key     string
	Err     error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("tablejob: ")
	b.WriteString(e.Op)
	if e.Table != "" {
		b.WriteString(" table ")
		b.WriteString(strconv.Quote(e.Table))
	}
	if e.Segment >= 0 {
		b.WriteString(" segment ")
		b.WriteString(strconv.Itoa(e.Segment))
	}
	if e.Key != "" {
		b.WriteString(" item ")
		b.WriteString(e.Key)
	}
	b.WriteString(": ")
	b.WriteString(strings.TrimPrefix(e.Err.Error(), "tablejob: "))
	return b.String()
}

// Unwrap returns the wrapped error.
func (e *Error) Unwrap() error { return e.Err }

// Job is one worker of a whole-table job. It is not safe for concurrent
// use: run several Jobs (Worker 0..W-1) for parallelism.
type Job struct {
	cfg    Config
	cp     API
	keyEnc *ddbenc.Encryptor
	keys   []string
	rcu    *bucket
	wcu    *bucket
	now    func() time.Time
	sleep  func(context.Context, time.Duration) error
}

// New validates cfg and returns a Job. It does no I/O.
func New(cfg Config) (*Job, error) {
	bad := func(format string, args ...any) error {
		return &Error{Op: "config", Table: cfg.Table, Segment: -1, Err: fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)}
	}
	switch {
	case cfg.API == nil:
		return nil, bad("API is required")
	case cfg.Table == "":
		return nil, bad("Table is required")
	case cfg.JobID == "":
		return nil, bad("JobID is required")
	case cfg.CheckpointTable == "":
		return nil, bad("CheckpointTable is required")
	case cfg.CheckpointTable == cfg.Table:
		return nil, bad("CheckpointTable must not be the job's table")
	}
	switch cfg.Kind {
	case Encrypt:
		if cfg.Target == nil {
			return nil, bad("%s needs a Target", cfg.Kind)
		}
	case Reencrypt, Migrate:
		if cfg.Source == nil || cfg.Target == nil {
			return nil, bad("%s needs a Source and a Target", cfg.Kind)
		}
	case Verify:
		if cfg.Source == nil || cfg.Target != nil {
			return nil, bad("verify needs a Source and no Target")
		}
	default:
		return nil, bad("unknown Kind %s", cfg.Kind)
	}
	if cfg.Target != nil && cfg.Target.WriteFormat() == ddbenc.PlaintextItem {
		return nil, bad("Target writes plaintext items")
	}
	for _, e := range []*ddbenc.Encryptor{cfg.Source, cfg.Target} {
		if e != nil && e.TableName() != cfg.Table {
			return nil, bad("Source and Target must be configured for table %q, not %q", cfg.Table, e.TableName())
		}
	}
	if cfg.TotalSegments == 0 {
		cfg.TotalSegments = 1
	}
	if cfg.Workers == 0 {
		cfg.Workers = 1
	}
	switch {
	case cfg.TotalSegments < 1 || cfg.TotalSegments > 1000000:
		return nil, bad("TotalSegments %d is not in [1, 1000000]", cfg.TotalSegments)
	case cfg.Workers < 1 || cfg.Worker < 0 || cfg.Worker >= cfg.Workers:
		return nil, bad("Worker %d is not in [0, Workers=%d)", cfg.Worker, cfg.Workers)
	case cfg.LeaseDuration < 0 || cfg.PollInterval < 0 || cfg.PageSize < 0 || cfg.MaxRCU < 0 || cfg.MaxWCU < 0:
		return nil, bad("negative LeaseDuration, PollInterval, PageSize, MaxRCU or MaxWCU")
	}
	if cfg.LeaseDuration == 0 {
		cfg.LeaseDuration = DefaultLeaseDuration
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = min(cfg.LeaseDuration/4, time.Second)
	}
	if cfg.PageSize == 0 {
		cfg.PageSize = DefaultPageSize
	}
	if cfg.ConflictRetries == 0 {
		cfg.ConflictRetries = DefaultConflictRetries
	} else if cfg.ConflictRetries < 0 {
		cfg.ConflictRetries = 0
	}
	if cfg.ThrottleRetries == 0 {
		cfg.ThrottleRetries = DefaultThrottleRetries
	} else if cfg.ThrottleRetries < 0 {
		cfg.ThrottleRetries = 0
	}
	if cfg.Owner == "" {
		host, _ := os.Hostname()
		cfg.Owner = fmt.Sprintf("%s/%d/%s", host, os.Getpid(), randomSuffix())
	}
	j := &Job{cfg: cfg, cp: cfg.CheckpointAPI, now: cfg.Now, sleep: cfg.Sleep}
	if j.cp == nil {
		j.cp = cfg.API
	}
	if j.now == nil {
		j.now = time.Now
	}
	if j.sleep == nil {
		j.sleep = sleepCtx
	}
	j.keyEnc = cfg.Target
	if j.keyEnc == nil {
		j.keyEnc = cfg.Source
	}
	j.keys = j.keyEnc.KeyNames()
	j.rcu = newBucket(cfg.MaxRCU, j.now, j.sleep)
	j.wcu = newBucket(cfg.MaxWCU, j.now, j.sleep)
	return j, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Owner returns the name this worker takes leases under.
func (j *Job) Owner() string { return j.cfg.Owner }

// Run processes segments until every segment of the job is done, and
// returns what this worker did. Its error is non-nil when an item failed or
// conflicted (ErrItemsFailed; the items are in the Report) or the job could
// not go on (a DynamoDB error other than a condition failure on an item,
// after retries, or ctx's error). A segment left unfinished by an error
// is resumed from its checkpoint by any worker once its lease expires.
func (j *Job) Run(ctx context.Context) (Report, error) {
	start := j.now()
	r := &run{job: j, start: start}
	err := j.loop(ctx, r)
	r.rep.Elapsed = j.now().Sub(start)
	if err != nil {
		return r.rep, err
	}
	if n := r.rep.Failed + r.rep.Conflicted; n > 0 {
		return r.rep, &Error{Op: "run", Table: j.cfg.Table, Segment: -1,
			Err: fmt.Errorf("%w: %d failed, %d conflicted", ErrItemsFailed, r.rep.Failed, r.rep.Conflicted)}
	}
	return r.rep, nil
}

// run is the state of one Run.
type run struct {
	job   *Job
	start time.Time
	rep   Report
}

func (r *run) fail(err error, key string, conflicted bool) {
	if conflicted {
		r.rep.Conflicted++
		r.rep.ConflictedKeys = append(r.rep.ConflictedKeys, key)
	} else {
		r.rep.Failed++
		r.rep.FailedKeys = append(r.rep.FailedKeys, key)
	}
	if len(r.rep.Errors) < MaxReportErrors {
		r.rep.Errors = append(r.rep.Errors, err)
	}
}

func (r *run) progress(seg int) {
	if r.job.cfg.Progress == nil {
		return
	}
	el := r.job.now().Sub(r.start)
	p := Progress{Segment: seg, Read: r.rep.Read, Transformed: r.rep.Transformed, Skipped: r.rep.Skipped,
		Verified: r.rep.Verified, Conflicted: r.rep.Conflicted, Failed: r.rep.Failed, Elapsed: el}
	if el > 0 {
		p.ItemsPerSecond = float64(r.rep.Read) / el.Seconds()
	}
	r.job.cfg.Progress(p)
}

// loop takes and processes segments until all are done.
func (j *Job) loop(ctx context.Context, r *run) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		cps, err := j.listCheckpoints(ctx)
		if err != nil {
			return err
		}
		now := j.now().UnixMilli()
		allDone := true
		var own, others []int
		for s := range j.cfg.TotalSegments {
			c, ok := cps[s]
			if ok && c.state == stateDone {
				continue
			}
			allDone = false
			if ok && c.state == stateLeased && c.expiry > now && c.owner != j.cfg.Owner {
				continue
			}
			if s%j.cfg.Workers == j.cfg.Worker {
				own = append(own, s)
			} else {
				others = append(others, s)
			}
		}
		if allDone {
			return nil
		}
		took := false
		for _, s := range append(own, others...) {
			c, ok, err := j.claim(ctx, s)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			took = true
			err = j.segment(ctx, r, s, c)
			if errors.Is(err, ErrLeaseLost) {
				r.rep.LeasesLost++
				continue
			}
			if err != nil {
				j.release(s)
				return err
			}
			// Segments may have been finished or freed meanwhile: look again.
			break
		}
		if !took {
			if err := j.sleep(ctx, j.cfg.PollInterval); err != nil {
				return err
			}
		}
	}
}
