package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/tablejob"
)

const tableUsage = `Whole-table jobs (package tablejob; docs/operations.md):

  ddbec table create-checkpoint-table --checkpoint-table T [--dynamodb-endpoint URL] [--region R]
  ddbec table encrypt   ITEM-FLAGS JOB-FLAGS      plaintext items -> the configuration of ITEM-FLAGS
  ddbec table reencrypt ITEM-FLAGS JOB-FLAGS --source "ITEM-FLAGS of the old configuration"
  ddbec table migrate   ITEM-FLAGS (--format dbesdk) JOB-FLAGS --source "ITEM-FLAGS of the legacy configuration"
  ddbec table verify    ITEM-FLAGS JOB-FLAGS      every item must verify under ITEM-FLAGS

ITEM-FLAGS are those of "ddbec encrypt" (--table, --partition-key, --format, --keyring or --provider, ...).
--source takes the same flags in one argument; --table, --partition-key, --sort-key and --actions default
to the target's.
JOB-FLAGS: --job-id ID --checkpoint-table T [--segments N] [--worker i/W] [--lease 1m] [--max-rcu X]
  [--max-wcu X] [--conflict-retries N] [--progress auto|bar|lines|none] [--dynamodb-endpoint URL] [--region R]
  --worker auto/W takes i from JOB_COMPLETION_INDEX (Kubernetes Indexed Job) or AWS_BATCH_JOB_ARRAY_INDEX.

The report (JSON) goes to stdout, progress to stderr. Exit status: 0 when every item was transformed,
skipped or verified; 1 when any failed or conflicted, or the job failed; 2 usage error.
`

// jobFlags are the flags of a table job besides the item configuration.
type jobFlags struct {
	jobID, checkpointTable, worker, source, progress string
	segments, conflictRetries                        int
	lease                                            time.Duration
	maxRCU, maxWCU                                   float64
}

func runTable(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		w := stderr
		if len(args) > 0 {
			w = stdout
		}
		fmt.Fprint(w, tableUsage)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	sub := args[0]
	kinds := map[string]tablejob.Kind{"encrypt": tablejob.Encrypt, "reencrypt": tablejob.Reencrypt, "migrate": tablejob.Migrate, "verify": tablejob.Verify}
	kind, isJob := kinds[sub]
	if !isJob && sub != "create-checkpoint-table" {
		fmt.Fprintf(stderr, "ddbec table: unknown command %q\n%s", sub, tableUsage)
		return exitUsage
	}
	c := cliConfig{cmd: "table " + sub}
	var j jobFlags
	fs := flag.NewFlagSet("ddbec table "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, tableUsage); fs.PrintDefaults() }
	c.register(fs)
	fs.StringVar(&j.jobID, "job-id", "", "job: the job's name in the checkpoint table (the same for every worker)")
	fs.StringVar(&j.checkpointTable, "checkpoint-table", "", "job: the checkpoint table (create-checkpoint-table)")
	fs.IntVar(&j.segments, "segments", 1, "job: total Scan segments")
	fs.StringVar(&j.worker, "worker", "0/1", "job: this worker as i/W (i may be auto: JOB_COMPLETION_INDEX or AWS_BATCH_JOB_ARRAY_INDEX)")
	fs.DurationVar(&j.lease, "lease", tablejob.DefaultLeaseDuration, "job: segment lease duration")
	fs.Float64Var(&j.maxRCU, "max-rcu", 0, "job: read capacity units per second at most (0: unbounded)")
	fs.Float64Var(&j.maxWCU, "max-wcu", 0, "job: write capacity units per second at most (0: unbounded)")
	fs.IntVar(&j.conflictRetries, "conflict-retries", tablejob.DefaultConflictRetries, "job: retries of an item changed by another writer")
	fs.StringVar(&j.source, "source", "", "reencrypt, migrate: the item flags of the configuration items are in now, as one argument")
	fs.StringVar(&j.progress, "progress", "auto", "job: progress on stderr: auto (a bar on a terminal, else lines), bar, lines or none")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ddbec table %s: unexpected arguments: %q\n", sub, fs.Args())
		return exitUsage
	}
	c.set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { c.set[f.Name] = true })
	// --dynamodb-endpoint is the job's table endpoint here (and the key
	// store's or MetaStore's too), not a flag only some keyrings take.
	delete(c.set, "dynamodb-endpoint")
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "ddbec table %s: %s\n", sub, fmt.Sprintf(format, a...))
		return exitUsage
	}
	if !isJob {
		if j.checkpointTable == "" {
			return usage("--checkpoint-table is required")
		}
		api, err := c.dynamoDB()
		if err != nil {
			return usage("%v", err)
		}
		if err := tablejob.CreateCheckpointTable(context.Background(), api, j.checkpointTable); err != nil {
			fmt.Fprintf(stderr, "ddbec table %s: %v\n", sub, err)
			return exitVerify
		}
		fmt.Fprintln(stdout, j.checkpointTable)
		return exitOK
	}
	if err := c.checkFormatFlags(fs); err != nil {
		return usage("%v", err)
	}
	p := newProgressPrinter(j.progress, stderr)
	if p == nil {
		return usage("--progress must be auto, bar, lines or none")
	}
	cfg, err := c.jobConfig(kind, j)
	if err != nil {
		return usage("%v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The ETA is an estimate: DescribeTable's ItemCount (which DynamoDB
	// refreshes about every six hours) divided among the workers.
	if ddb, ok := cfg.API.(*dynamodb.Client); ok {
		if d, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &cfg.Table}); err == nil && d.Table != nil && d.Table.ItemCount != nil {
			p.total = int(*d.Table.ItemCount) / max(cfg.Workers, 1)
		}
	}
	cfg.Progress = p.update
	job, err := tablejob.New(cfg)
	if err != nil {
		return usage("%v", err)
	}
	rep, err := job.Run(ctx)
	p.done()
	out, _ := json.MarshalIndent(reportJSON(rep), "", "  ")
	fmt.Fprintln(stdout, string(out))
	if err != nil {
		fmt.Fprintf(stderr, "ddbec table %s: %v\n", sub, err)
		return exitVerify
	}
	return exitOK
}

// jobConfig builds the tablejob configuration of a job from the flags.
func (c *cliConfig) jobConfig(kind tablejob.Kind, j jobFlags) (tablejob.Config, error) {
	if j.jobID == "" || j.checkpointTable == "" {
		return tablejob.Config{}, errors.New("--job-id and --checkpoint-table are required")
	}
	worker, workers, err := parseWorker(j.worker, os.Getenv)
	if err != nil {
		return tablejob.Config{}, err
	}
	wantSource := kind == tablejob.Reencrypt || kind == tablejob.Migrate
	if (j.source != "") != wantSource {
		if wantSource {
			return tablejob.Config{}, fmt.Errorf("%s needs --source with the flags of the configuration the items are in now", kind)
		}
		return tablejob.Config{}, fmt.Errorf("--source is only for reencrypt and migrate")
	}
	// The source's flags are checked before anything is built.
	var src *cliConfig
	if wantSource {
		if src, err = c.sourceConfig(j.source); err != nil {
			return tablejob.Config{}, err
		}
	}
	if kind == tablejob.Migrate && c.format != "dbesdk" {
		return tablejob.Config{}, errors.New("migrate writes the DB-ESDK format: give --format dbesdk and its keyring flags")
	}
	acts, err := c.actions()
	if err != nil {
		return tablejob.Config{}, err
	}
	tc, err := c.tableConfig(acts)
	if err != nil {
		return tablejob.Config{}, err
	}
	api, err := c.dynamoDB()
	if err != nil {
		return tablejob.Config{}, err
	}
	cfg := tablejob.Config{
		API: api, Table: tc.TableName, Kind: kind, JobID: j.jobID, CheckpointTable: j.checkpointTable,
		TotalSegments: j.segments, Worker: worker, Workers: workers, LeaseDuration: j.lease,
		MaxRCU: j.maxRCU, MaxWCU: j.maxWCU, ConflictRetries: j.conflictRetries,
	}
	if j.conflictRetries == 0 {
		cfg.ConflictRetries = -1 // the flag's 0 means none; the library's zero means the default
	}
	switch kind {
	case tablejob.Encrypt, tablejob.Verify, tablejob.Reencrypt:
		enc, err := ddbenc.NewEncryptor(tc)
		if err != nil {
			return tablejob.Config{}, err
		}
		switch kind {
		case tablejob.Verify:
			cfg.Source = enc
		case tablejob.Encrypt:
			cfg.Target = enc
		default:
			cfg.Target = enc
			s := src
			sacts, err := s.actions()
			if err != nil {
				return tablejob.Config{}, fmt.Errorf("--source: %w", err)
			}
			if cfg.Source, err = s.newEncryptor(sacts); err != nil {
				return tablejob.Config{}, fmt.Errorf("--source: %w", err)
			}
		}
	case tablejob.Migrate:
		s := src
		if s.format != "legacy" {
			return tablejob.Config{}, errors.New("--source: migrate reads legacy items (--format legacy, the default)")
		}
		sacts, err := s.actions()
		if err != nil {
			return tablejob.Config{}, fmt.Errorf("--source: %w", err)
		}
		lc, err := s.legacyConfig(sacts)
		if err != nil {
			return tablejob.Config{}, fmt.Errorf("--source: %w", err)
		}
		tc.Legacy = &ddbenc.LegacyConfig{
			Policy: ddbenc.ForbidLegacyEncryptAllowLegacyDecrypt, Provider: lc.Provider, Actions: lc.Actions,
			Ordering: lc.Ordering, AllowPythonRoundedNumbers: lc.AllowPythonRoundedNumbers, LegacyUnsignedKeys: lc.LegacyUnsignedKeys,
		}
		if lc.TableName != tc.TableName {
			tc.Legacy.SignedTableName = lc.TableName
		}
		enc, err := ddbenc.NewEncryptor(tc)
		if err != nil {
			return tablejob.Config{}, err
		}
		cfg.Source, cfg.Target = enc, enc
	}
	return cfg, nil
}

// sourceConfig parses the --source flags into a configuration whose table,
// keys and actions default to c's.
func (c *cliConfig) sourceConfig(flags string) (*cliConfig, error) {
	s := &cliConfig{cmd: c.cmd}
	fs := flag.NewFlagSet("--source", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	s.register(fs)
	if err := fs.Parse(strings.Fields(flags)); err != nil {
		return nil, fmt.Errorf("--source: %w", err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("--source: unexpected arguments %q", fs.Args())
	}
	s.set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { s.set[f.Name] = true })
	if !s.set["table"] {
		s.table = c.table
	}
	if !s.set["partition-key"] {
		s.partitionKey = c.partitionKey
	}
	if !s.set["sort-key"] {
		s.sortKey = c.sortKey
	}
	if !s.set["actions"] {
		s.actionsArg = c.actionsArg
	}
	if !s.set["dynamodb-endpoint"] {
		s.ddbEndpoint = c.ddbEndpoint
	}
	if err := s.checkFormatFlags(fs); err != nil {
		return nil, fmt.Errorf("--source: %w", err)
	}
	return s, nil
}

// dynamoDB is the DynamoDB client of a job: the default AWS configuration
// for --region, on --dynamodb-endpoint when given.
func (c *cliConfig) dynamoDB() (*dynamodb.Client, error) {
	cfg, _, err := c.kmsClient(c.region)
	if err != nil {
		return nil, err
	}
	if cfg.Region == "" {
		return nil, errors.New("no Region: give --region (or AWS_REGION)")
	}
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if c.ddbEndpoint != "" {
			o.BaseEndpoint = &c.ddbEndpoint
		}
	}), nil
}

// workerIndexVars are the environment variables --worker auto/W reads: a
// Kubernetes Indexed Job's and an AWS Batch array job's index.
var workerIndexVars = []string{"JOB_COMPLETION_INDEX", "AWS_BATCH_JOB_ARRAY_INDEX"}

// parseWorker parses --worker i/W; i may be auto.
func parseWorker(v string, getenv func(string) string) (worker, workers int, err error) {
	is, ws, ok := strings.Cut(v, "/")
	if !ok {
		return 0, 0, fmt.Errorf("--worker %q: want i/W, e.g. 0/4 or auto/4", v)
	}
	if workers, err = strconv.Atoi(ws); err != nil || workers < 1 {
		return 0, 0, fmt.Errorf("--worker %q: W must be a positive number", v)
	}
	if is == "auto" {
		var from []string
		for _, name := range workerIndexVars {
			if getenv(name) != "" {
				from = append(from, name)
			}
		}
		if len(from) != 1 {
			return 0, 0, fmt.Errorf("--worker auto/%d: exactly one of %s must be set (found %d)", workers, strings.Join(workerIndexVars, ", "), len(from))
		}
		is = getenv(from[0])
	}
	if worker, err = strconv.Atoi(is); err != nil || worker < 0 || worker >= workers {
		return 0, 0, fmt.Errorf("--worker %q: i must be a number from 0 to %d", v, workers-1)
	}
	return worker, workers, nil
}

// progressPrinter writes progress to stderr: a bar redrawn in place on a
// terminal, a plain line every 10 seconds otherwise. total, when known, is
// the estimated number of items this worker reads, for the bar and the ETA.
type progressPrinter struct {
	w     io.Writer
	bar   bool
	off   bool
	total int
	last  time.Time
	now   func() time.Time
	seen  bool
}

func newProgressPrinter(mode string, w io.Writer) *progressPrinter {
	p := &progressPrinter{w: w, now: time.Now}
	switch mode {
	case "auto":
		p.bar = isTerminal(w)
	case "bar":
		p.bar = true
	case "lines":
	case "none":
		p.off = true
	default:
		return nil
	}
	return p
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (p *progressPrinter) update(pr tablejob.Progress) {
	if p.off {
		return
	}
	line := fmt.Sprintf("read %d  transformed %d  skipped %d  verified %d  conflicted %d  failed %d  %.0f items/s  %s",
		pr.Read, pr.Transformed, pr.Skipped, pr.Verified, pr.Conflicted, pr.Failed, pr.ItemsPerSecond, pr.Elapsed.Round(time.Second))
	if p.total > 0 && pr.ItemsPerSecond > 0 && pr.Read < p.total {
		eta := time.Duration(float64(p.total-pr.Read) / pr.ItemsPerSecond * float64(time.Second))
		line += fmt.Sprintf("  ETA %s", eta.Round(time.Second))
	}
	if p.bar {
		const width = 20
		filled := 0
		if p.total > 0 {
			filled = min(width, pr.Read*width/p.total)
		}
		fmt.Fprintf(p.w, "\r\033[K[%s%s] %s", strings.Repeat("#", filled), strings.Repeat(".", width-filled), line)
		p.seen = true
		return
	}
	if now := p.now(); p.last.IsZero() || now.Sub(p.last) >= 10*time.Second {
		p.last = now
		fmt.Fprintln(p.w, line)
	}
}

func (p *progressPrinter) done() {
	if p.bar && p.seen {
		fmt.Fprintln(p.w)
	}
}

// jobReport is the JSON form of a tablejob.Report.
type jobReport struct {
	Read           int      `json:"read"`
	Transformed    int      `json:"transformed"`
	Skipped        int      `json:"skipped"`
	Verified       int      `json:"verified"`
	Conflicted     int      `json:"conflicted"`
	Failed         int      `json:"failed"`
	ConflictedKeys []string `json:"conflicted_keys"`
	FailedKeys     []string `json:"failed_keys"`
	Errors         []string `json:"errors,omitempty"`
	Segments       []int    `json:"segments_completed"`
	LeasesLost     int      `json:"leases_lost"`
	Elapsed        string   `json:"elapsed"`
}

func reportJSON(r tablejob.Report) jobReport {
	out := jobReport{
		Read: r.Read, Transformed: r.Transformed, Skipped: r.Skipped, Verified: r.Verified,
		Conflicted: r.Conflicted, Failed: r.Failed, ConflictedKeys: r.ConflictedKeys, FailedKeys: r.FailedKeys,
		Segments: r.Segments, LeasesLost: r.LeasesLost, Elapsed: r.Elapsed.Round(time.Millisecond).String(),
	}
	if out.ConflictedKeys == nil {
		out.ConflictedKeys = []string{}
	}
	if out.FailedKeys == nil {
		out.FailedKeys = []string{}
	}
	if out.Segments == nil {
		out.Segments = []int{}
	}
	for _, e := range r.Errors {
		out.Errors = append(out.Errors, e.Error())
	}
	return out
}
