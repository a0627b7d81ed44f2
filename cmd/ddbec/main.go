// Command ddbec encrypts, decrypts and inspects DynamoDB items in the legacy
// DynamoDB Encryption Client format (the default) or, with --format dbesdk,
// in the AWS Database Encryption SDK format.
//
//	ddbec encrypt|decrypt|inspect [flags] < item.json
//	ddbec keystore create-table|create-key|version-key|describe [flags]
//
// Items are read from stdin in DynamoDB JSON: one item, bare or in the
// {"Item": {...}} envelope `aws dynamodb get-item` prints; with --jsonl a
// stream of them (one per line, or spread over lines), where the
// {"Items": [...], "Count": N, ...} output of `aws dynamodb query` and
// `scan` counts as one item per element. Results are written to stdout as
// bare items, one per line. Exit status: 0 on success, 1 when verification
// or decryption fails or a key cannot be had (KMS, the key store), 2 on usage
// or input errors. On any failure nothing is
// written to stdout. Errors name the input line, the table and the top-level
// attribute, never values or keys inside an attribute's value.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/internal/ddbjson"
)

const (
	exitOK     = 0
	exitVerify = 1
	exitUsage  = 2
	// maxItemBytes bounds the input of one item (with its get-item
	// envelope); DynamoDB items are at most 400 KB.
	maxItemBytes = 16 << 20
	// maxStreamBytes bounds --jsonl input, which is held in memory (as is
	// the output, since nothing is written when any item fails).
	maxStreamBytes = 1 << 30
)

const usage = `usage: ddbec encrypt|decrypt|inspect [flags] < item.json

Items are DynamoDB JSON on stdin ({"name": {"S": "..."}, "blob": {"B": "<base64>"}}):
one item, bare or as printed by "aws dynamodb get-item" ({"Item": {...}}); with --jsonl
any number of them, one per line or spread over lines, and the output of
"aws dynamodb query" or "scan" ({"Items": [...], ...}) gives one item per element.
Results go to stdout as bare items, one per line.

  ddbec encrypt --table T --partition-key pk [--sort-key sk] --actions '{"default":"encrypt_and_sign","attributes":{"a":"sign"}}'
                --keys keys.json --provider static --encryption-key NAME --signing-key NAME
  ddbec decrypt (same flags; --verification-key NAME when the signing key is not symmetric)
  ddbec encrypt|decrypt ... --provider kms --kms-key-arn ARN [--kms-endpoint URL] [--region R]
  ddbec encrypt|decrypt ... --provider most-recent --metastore-table T --material-name NAME (plus the kms flags) [--dynamodb-endpoint URL]
  ddbec inspect [--table T --partition-key pk --sort-key sk --actions ...]

AWS Database Encryption SDK format (aws_dbe_head/aws_dbe_foot items):
  ddbec encrypt|decrypt --format dbesdk --table T --partition-key pk [--sort-key sk] --actions ACTIONS
                --keyring raw-aes --keys keys.json --key NAME --key-namespace NS [--key-name KEYNAME]
                [--suite 0x6700|0x6701] [--allowed-unsigned a,b] [--allowed-unsigned-prefix P]
  ddbec encrypt|decrypt --format dbesdk ... --keyring raw-rsa --rsa-padding pkcs1|oaep-sha1|oaep-sha256|oaep-sha384|oaep-sha512 (same key flags)
  ddbec encrypt|decrypt --format dbesdk ... --keyring kms|kms-mrk|kms-mrk-discovery --kms-key-arn ARN [--kms-endpoint URL] [--region R] [--kms-discovery-accounts A,B]
  ddbec encrypt|decrypt --format dbesdk ... --keyring hierarchy --key-store-table T --branch-key-id ID --kms-key-arn ARN
                [--key-store-kms-mode strict|mrk|discovery|mrk-discovery] [--key-store-logical-name N] [--cache-ttl 5m]
                [--dynamodb-endpoint URL] [--kms-endpoint URL] [--region R]
  ddbec inspect --format dbesdk [--allowed-unsigned a,b] [--allowed-unsigned-prefix P]
  (keys.json is an MPL key manifest as in testdata/vectors/dbesdk; actions may use sign_and_include_in_encryption_context,
  and {"default":"do_nothing",...} means no default action)

Whole-table jobs, resumable across workers ("ddbec table -h"; docs/operations.md):
  ddbec table encrypt|reencrypt|migrate|verify ITEM-FLAGS --job-id ID --checkpoint-table T --segments N --worker i/W

Branch key store (the hierarchical keyring's, in the AWS layout; "ddbec keystore -h" for its flags):
  ddbec keystore create-table|create-key|version-key|describe --key-store-table T ...

Exit status: 0 success, 1 verification or decryption failed or a key unavailable, 2 usage or input error.

Flags:
`

// register defines the flags of an item configuration (format, keys,
// actions, provider or keyring) on fs, stored in c.
func (c *cliConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&c.table, "table", "", "table name (bound into the signature)")
	fs.StringVar(&c.partitionKey, "partition-key", "", "partition key attribute name")
	fs.StringVar(&c.sortKey, "sort-key", "", "sort key attribute name, if the table has one")
	fs.StringVar(&c.actionsArg, "actions", `{"default":"encrypt_and_sign"}`, "attribute actions as JSON, or @FILE")
	fs.StringVar(&c.format, "format", "legacy", "item format: legacy (the DynamoDB Encryption Client) or dbesdk (the AWS Database Encryption SDK)")
	fs.StringVar(&c.keysFile, "keys", "", "key file: legacy, in the format of the legacy vectors' keys.json; dbesdk, an MPL key manifest (testdata/vectors/dbesdk/keys.json)")
	fs.StringVar(&c.providerKind, "provider", "static", "materials provider: static, wrapped, kms or most-recent")
	fs.StringVar(&c.metaTable, "metastore-table", "", "most-recent: the MetaStore table (its items protected by --kms-key-arn)")
	fs.StringVar(&c.materialName, "material-name", "", "most-recent: the material name")
	fs.StringVar(&c.ddbEndpoint, "dynamodb-endpoint", "", "most-recent and dbesdk hierarchy: DynamoDB endpoint URL for the MetaStore or key store (e.g. DynamoDB Local; default AWS)")
	fs.StringVar(&c.encryptionKey, "encryption-key", "", "static: AES content key name")
	fs.StringVar(&c.signingKey, "signing-key", "", "HMAC key or RSA private key name")
	fs.StringVar(&c.verificationKey, "verification-key", "", "HMAC key or RSA public key name (default: the signing key)")
	fs.StringVar(&c.wrappingKey, "wrapping-key", "", "wrapped: AES key-encryption key or RSA public key name")
	fs.StringVar(&c.unwrappingKey, "unwrapping-key", "", "wrapped: AES key-encryption key or RSA private key name (default: the wrapping key when it is AES)")
	fs.StringVar(&c.kmsKeyARN, "kms-key-arn", "", "kms: key ARN (the local Region's replica of a multi-Region key)")
	fs.StringVar(&c.kmsEndpoint, "kms-endpoint", "", "kms: endpoint URL (the fake KMS or another KMS-compatible server; default AWS)")
	fs.StringVar(&c.region, "region", "", "kms: Region for the AWS configuration (calls always go to the key ARN's Region)")
	fs.StringVar(&c.kmsMode, "kms-mode", "strict", "kms decrypt: strict, discovery or unchecked-legacy")
	fs.StringVar(&c.kmsAccounts, "kms-discovery-accounts", "", "kms discovery: comma-separated account ids whose keys are accepted")
	fs.StringVar(&c.keyringKind, "keyring", "", "dbesdk: raw-aes, raw-rsa, kms, kms-mrk, kms-mrk-discovery or hierarchy")
	fs.StringVar(&c.key, "key", "", "dbesdk raw keyrings: the --keys entry to use (an RSA private-key entry also encrypts)")
	fs.StringVar(&c.keyName, "key-name", "", "dbesdk raw keyrings: key name (default: the entry's key-id)")
	fs.StringVar(&c.keyNamespace, "key-namespace", "", "dbesdk raw keyrings: key namespace (the EDK provider id)")
	fs.StringVar(&c.rsaPadding, "rsa-padding", "", "dbesdk raw-rsa: pkcs1, oaep-sha1, oaep-sha256, oaep-sha384 or oaep-sha512")
	fs.StringVar(&c.suite, "suite", "", "dbesdk encrypt: algorithm suite 0x6700 (HMAC only) or 0x6701 (plus ECDSA P-384, the default)")
	fs.StringVar(&c.allowedUnsigned, "allowed-unsigned", "", "dbesdk: comma-separated attributes that are never signed (do_nothing)")
	fs.StringVar(&c.allowedUnsignedPrefix, "allowed-unsigned-prefix", "", "dbesdk: attributes starting with this prefix are never signed (do_nothing)")
	fs.StringVar(&c.keyStoreTable, "key-store-table", "", "dbesdk hierarchy: the branch key store's DynamoDB table")
	fs.StringVar(&c.branchKeyID, "branch-key-id", "", "dbesdk hierarchy: the branch key id")
	fs.StringVar(&c.keyStoreKMSMode, "key-store-kms-mode", "", "dbesdk hierarchy: strict, mrk, discovery or mrk-discovery (default mrk for a multi-Region --kms-key-arn, else strict)")
	fs.StringVar(&c.keyStoreLogicalName, "key-store-logical-name", "", "dbesdk hierarchy: the key store's logical name (default: --key-store-table)")
	fs.DurationVar(&c.cacheTTL, "cache-ttl", 5*time.Minute, "dbesdk hierarchy: how long a branch key read from the key store is used")
	fs.StringVar(&c.ordering, "ordering", "java", "ordering profile for writing: java or python")
	fs.BoolVar(&c.jsonl, "jsonl", false, "a stream of items (one per line, or over several lines) and query/scan output ({\"Items\": [...]}); one output line per item")
	fs.BoolVar(&c.allowPythonRounded, "allow-python-rounded-numbers", false, "decrypt: accept legacy Python signatures over numbers rounded to 28 digits")
	fs.BoolVar(&c.legacyUnsignedKeys, "legacy-unsigned-keys", false, "migration only: keys whose action is do_nothing stay unsigned, as legacy writers left them (see SECURITY.md)")
}

// usageError is an error in the command line or the input (exit status 2).
type usageError struct{ error }

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

type cliConfig struct {
	cmd                                                  string
	table, partitionKey, sortKey, actionsArg             string
	keysFile, providerKind                               string
	encryptionKey, signingKey, verificationKey           string
	wrappingKey, unwrappingKey, ordering                 string
	jsonl                                                bool
	allowPythonRounded                                   bool
	legacyUnsignedKeys                                   bool
	kmsKeyARN, kmsEndpoint, region, kmsMode, kmsAccounts string
	metaTable, materialName, ddbEndpoint                 string
	// --format dbesdk (dbesdk.go)
	format, keyringKind, key, keyName, keyNamespace string
	rsaPadding, suite                               string
	allowedUnsigned, allowedUnsignedPrefix          string
	// --keyring hierarchy (keystore.go)
	keyStoreTable, branchKeyID, keyStoreKMSMode, keyStoreLogicalName string
	cacheTTL                                                         time.Duration
	// set holds the names of the flags given on the command line.
	set map[string]bool
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "keystore" {
		return runKeyStore(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "table" {
		return runTable(args[1:], stdout, stderr)
	}
	if len(args) == 0 || (args[0] != "encrypt" && args[0] != "decrypt" && args[0] != "inspect") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stdout, usage)
			return exitOK
		}
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	c := cliConfig{cmd: args[0]}
	fs := flag.NewFlagSet("ddbec "+c.cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	c.register(fs)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ddbec: unexpected arguments: %q\n", fs.Args())
		return exitUsage
	}
	c.set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { c.set[f.Name] = true })
	if err := c.checkFormatFlags(fs); err != nil {
		fmt.Fprintf(stderr, "ddbec %s: %v\n", c.cmd, err)
		return exitUsage
	}

	out, err := c.process(stdin)
	if err != nil {
		fmt.Fprintf(stderr, "ddbec %s: %v\n", c.cmd, err)
		var ue usageError
		if errors.As(err, &ue) {
			return exitUsage
		}
		return exitVerify
	}
	if _, err := stdout.Write(out); err != nil {
		fmt.Fprintf(stderr, "ddbec %s: writing output: %v\n", c.cmd, err)
		return exitUsage
	}
	return exitOK
}

// process reads every input item, transforms it and returns the whole output,
// so that nothing is written when any item fails.
func (c *cliConfig) process(stdin io.Reader) ([]byte, error) {
	acts, err := c.actions()
	if err != nil {
		return nil, usageError{err}
	}
	var transform func(map[string]types.AttributeValue) ([]byte, error)
	if c.cmd == "inspect" && c.format == "dbesdk" {
		transform = c.inspectDBESDK
	} else if c.cmd == "inspect" {
		if c.partitionKey != "" {
			if acts, err = ddbenc.EffectiveActions(ddbenc.TableConfig{TableName: c.table, PartitionKey: c.partitionKey, SortKey: c.sortKey, Actions: acts, LegacyUnsignedKeys: c.legacyUnsignedKeys}); err != nil {
				return nil, usageError{err}
			}
		}
		transform = func(item map[string]types.AttributeValue) ([]byte, error) { return inspect(item, acts) }
	} else {
		enc, err := c.newEncryptor(acts)
		if err != nil {
			return nil, usageError{err}
		}
		ctx := context.Background()
		transform = func(item map[string]types.AttributeValue) ([]byte, error) {
			var res map[string]types.AttributeValue
			var err error
			if c.cmd == "encrypt" {
				res, err = enc.EncryptItem(ctx, item)
			} else {
				res, err = enc.DecryptItem(ctx, item)
			}
			if err != nil {
				// On encrypt, only a key that could not be had (KMS,
				// the key store: ErrKeyUnavailable, or ErrWrongKey for a
				// key that is not there) is a runtime failure (exit 1);
				// anything else is the input's or the flags' fault.
				if c.cmd == "encrypt" {
					if errors.Is(err, ddbenc.ErrKeyUnavailable) || errors.Is(err, ddbenc.ErrWrongKey) {
						return nil, err
					}
					return nil, usageError{err}
				}
				if errors.Is(err, ddbenc.ErrInvalidConfig) {
					return nil, usageError{err}
				}
				return nil, err
			}
			return ddbjson.MarshalItem(res)
		}
	}

	var buf bytes.Buffer
	// emit transforms the items of one input document; where is its
	// location in the input ("line 3"), empty for a single document.
	emit := func(where string, data []byte) error {
		items, form, err := ddbjson.UnmarshalInput(data)
		if err == nil && form == ddbjson.FormItems && !c.jsonl {
			err = errors.New(`a query or scan result ({"Items": [...]}) needs --jsonl`)
		}
		if err != nil {
			return usageError{&itemError{where: where, table: c.table, err: err}}
		}
		for i, item := range items {
			at := where
			if form == ddbjson.FormItems { // only with --jsonl, so where is a line
				at = fmt.Sprintf("%s: Items[%d]", where, i)
			}
			b, err := transform(item)
			if err != nil {
				var ue usageError
				if errors.As(err, &ue) {
					return usageError{&itemError{where: at, table: c.table, err: ue.error}}
				}
				return &itemError{where: at, table: c.table, err: err}
			}
			buf.Write(b)
			buf.WriteByte('\n')
		}
		return nil
	}
	if !c.jsonl {
		data, err := readInput(stdin, maxItemBytes)
		if err != nil {
			return nil, usageError{err}
		}
		if err := emit("", data); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	}
	// A stream of JSON documents: one per line (JSON Lines), or documents
	// over several lines as the AWS CLI prints them.
	data, err := readInput(stdin, maxStreamBytes)
	if err != nil {
		return nil, usageError{err}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	line, counted := 1, 0
	lineAt := func(off int) int {
		off = max(counted, min(off, len(data)))
		line += bytes.Count(data[counted:off], []byte("\n"))
		counted = off
		return line
	}
	for {
		var doc json.RawMessage
		err := dec.Decode(&doc)
		if err == io.EOF {
			break
		}
		if err != nil {
			// The decoder's messages quote input characters: give the line
			// only, of the syntax error or else of the truncated document.
			off := int(dec.InputOffset())
			off += len(data[off:]) - len(bytes.TrimLeft(data[off:], " \t\r\n"))
			var se *json.SyntaxError
			if errors.As(err, &se) {
				off = int(se.Offset)
			}
			return nil, usageError{fmt.Errorf("line %d: %w: not valid JSON", lineAt(off), ddbjson.ErrSyntax)}
		}
		end := int(dec.InputOffset())
		if err := emit(fmt.Sprintf("line %d", lineAt(end-len(doc))), doc); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

// readInput reads all of r, refusing more than limit bytes.
func readInput(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading input: %w", err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("input is larger than %d MiB", limit>>20)
	}
	return data, nil
}

// itemError is an error about one input item. It names where the item is
// in the input, the table, and (through the wrapped ddbenc or ddbjson error)
// the top-level attribute; never values or nested map keys.
type itemError struct {
	where string // "line 3", "line 1: Items[2]", or "" for a single item
	table string
	err   error
}

func (e *itemError) Error() string {
	var b strings.Builder
	if e.where != "" {
		b.WriteString(e.where)
		b.WriteString(": ")
	}
	var de *ddbenc.Error
	if e.table != "" && !errors.As(e.err, &de) { // ddbenc errors name the table
		fmt.Fprintf(&b, "table %q: ", e.table)
	}
	b.WriteString(e.err.Error())
	return b.String()
}

func (e *itemError) Unwrap() error { return e.err }

func (c *cliConfig) actions() (actions.Map, error) {
	raw := c.actionsArg
	if name, ok := strings.CutPrefix(raw, "@"); ok {
		b, err := os.ReadFile(name)
		if err != nil {
			return actions.Map{}, fmt.Errorf("--actions: %w", err)
		}
		raw = string(b)
	}
	var m actions.Map
	d := json.NewDecoder(strings.NewReader(raw))
	d.DisallowUnknownFields()
	if err := d.Decode(&m); err != nil {
		return actions.Map{}, fmt.Errorf("--actions: want {\"default\": ACTION, \"attributes\": {NAME: ACTION}}: %w", err)
	}
	if err := m.Validate(); err != nil {
		return actions.Map{}, fmt.Errorf("--actions: %w", err)
	}
	return m, nil
}
