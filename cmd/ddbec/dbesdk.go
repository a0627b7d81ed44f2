package main

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/internal/dbesdk"
	"github.com/ddbec/ddbec-go/internal/ddbjson"
	"github.com/ddbec/ddbec-go/internal/keyfile"
	"github.com/ddbec/ddbec-go/keyring"
)

// The AWS Database Encryption SDK format (--format dbesdk): keyrings instead
// of materials providers, keys from an MPL key manifest
// (testdata/vectors/dbesdk/keys.json), items with aws_dbe_head/aws_dbe_foot.

// Flags that only one format reads. Giving one with the other format is a
// usage error rather than silently ignored.
var (
	legacyOnlyFlags = []string{
		"provider", "encryption-key", "signing-key", "verification-key", "wrapping-key", "unwrapping-key",
		"ordering", "allow-python-rounded-numbers", "legacy-unsigned-keys", "kms-mode",
		"metastore-table", "material-name",
	}
	dbesdkOnlyFlags = []string{
		"keyring", "key", "key-name", "key-namespace", "rsa-padding", "suite",
		"allowed-unsigned", "allowed-unsigned-prefix",
		"key-store-table", "branch-key-id", "key-store-kms-mode", "key-store-logical-name", "cache-ttl",
	}
)

// checkFormatFlags validates --format and refuses the other format's flags.
func (c *cliConfig) checkFormatFlags(fs *flag.FlagSet) error {
	var other []string
	switch c.format {
	case "legacy":
		other = dbesdkOnlyFlags
	case "dbesdk":
		other = legacyOnlyFlags
	default:
		return fmt.Errorf("--format must be legacy or dbesdk")
	}
	var bad []string
	fs.Visit(func(f *flag.Flag) {
		if slices.Contains(other, f.Name) {
			bad = append(bad, "--"+f.Name)
		}
	})
	if len(bad) == 0 {
		return nil
	}
	if c.format == "legacy" {
		return fmt.Errorf("%s: only with --format dbesdk", strings.Join(bad, ", "))
	}
	return fmt.Errorf("%s: only with --format legacy (the default)", strings.Join(bad, ", "))
}

// commaList splits a comma-separated flag value, dropping empty entries.
func commaList(s string) []string {
	var out []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// dbesdkConfig is the table configuration of a --format dbesdk table.
// --table is the logical table name (bound into every item).
func (c *cliConfig) dbesdkConfig(acts actions.Map) (ddbenc.TableConfig, error) {
	if c.table == "" || c.partitionKey == "" {
		return ddbenc.TableConfig{}, errors.New("--table and --partition-key are required")
	}
	var suite ddbenc.AlgorithmSuite
	switch strings.ToLower(c.suite) {
	case "":
		suite = ddbenc.SuiteDefault
	case "0x6700":
		suite = ddbenc.SuiteSymmetricOnly
	case "0x6701":
		suite = ddbenc.SuiteECDSAP384
	default:
		return ddbenc.TableConfig{}, errors.New("--suite must be 0x6700 or 0x6701")
	}
	kr, err := c.keyring()
	if err != nil {
		return ddbenc.TableConfig{}, err
	}
	return ddbenc.TableConfig{
		Format: ddbenc.DBESDKFormat, TableName: c.table, PartitionKey: c.partitionKey, SortKey: c.sortKey,
		Actions: acts, Keyring: kr, Suite: suite,
		AllowedUnsignedAttributes:      commaList(c.allowedUnsigned),
		AllowedUnsignedAttributePrefix: c.allowedUnsignedPrefix,
	}, nil
}

// keyring builds the --keyring keyring.
func (c *cliConfig) keyring() (ddbenc.Keyring, error) {
	if err := c.checkKeyringFlags(); err != nil {
		return nil, err
	}
	switch c.keyringKind {
	case "raw-aes", "raw-rsa":
		return c.rawKeyring()
	case "kms", "kms-mrk", "kms-mrk-discovery":
		return c.kmsKeyring()
	case "hierarchy":
		return c.hierarchyKeyring()
	case "":
		return nil, errors.New("--format dbesdk needs --keyring raw-aes, raw-rsa, kms, kms-mrk, kms-mrk-discovery or hierarchy")
	}
	return nil, errors.New("--keyring must be raw-aes, raw-rsa, kms, kms-mrk, kms-mrk-discovery or hierarchy")
}

// rawKeyring is a raw AES or raw RSA keyring on the --key entry of the
// --keys manifest: key name = the entry's key-id unless --key-name, key
// namespace = --key-namespace.
func (c *cliConfig) rawKeyring() (ddbenc.Keyring, error) {
	kind := c.keyringKind
	if c.keysFile == "" || c.key == "" {
		return nil, fmt.Errorf("--keyring %s needs --keys FILE (an MPL key manifest) and --key NAME", kind)
	}
	if c.keyNamespace == "" {
		return nil, fmt.Errorf("--keyring %s needs --key-namespace (the EDK provider id)", kind)
	}
	keys, err := keyfile.LoadMPL(c.keysFile)
	if err != nil {
		return nil, err
	}
	k, err := keys.Get(c.key)
	if err != nil {
		return nil, err
	}
	if c.cmd == "decrypt" && k.Type == "public" {
		return nil, fmt.Errorf("%w: entry %q is a public key: decrypt needs a private-key entry", keyfile.ErrKey, c.key)
	}
	if c.cmd == "encrypt" && !k.CanEncrypt() || c.cmd == "decrypt" && !k.CanDecrypt() {
		return nil, fmt.Errorf("%w: entry %q is not for %sing", keyfile.ErrKey, c.key, c.cmd)
	}
	name := cmp.Or(c.keyName, k.KeyID)
	if name == "" {
		return nil, fmt.Errorf("entry %q has no key-id: give --key-name", c.key)
	}
	if kind == "raw-aes" {
		if c.rsaPadding != "" {
			return nil, errors.New("--rsa-padding is only for --keyring raw-rsa")
		}
		material, err := k.AES()
		if err != nil {
			return nil, err
		}
		return keyring.NewRawAES(c.keyNamespace, name, material)
	}
	var padding keyring.RSAPadding
	switch c.rsaPadding {
	case "pkcs1":
		padding = keyring.PKCS1
	case "oaep-sha1":
		padding = keyring.OAEPSHA1
	case "oaep-sha256":
		padding = keyring.OAEPSHA256
	case "oaep-sha384":
		padding = keyring.OAEPSHA384
	case "oaep-sha512":
		padding = keyring.OAEPSHA512
	case "":
		return nil, errors.New("--keyring raw-rsa needs --rsa-padding pkcs1, oaep-sha1, oaep-sha256, oaep-sha384 or oaep-sha512")
	default:
		return nil, errors.New("--rsa-padding must be pkcs1, oaep-sha1, oaep-sha256, oaep-sha384 or oaep-sha512")
	}
	pub, priv, err := k.RSA()
	if err != nil {
		return nil, err
	}
	if c.cmd == "decrypt" && priv == nil { // (a public entry was refused above)
		return nil, fmt.Errorf("%w: entry %q has no private key", keyfile.ErrKey, c.key)
	}
	return keyring.NewRawRSA(c.keyNamespace, name, pub, priv, padding)
}

// kmsKeyring is the hook for the AWS KMS keyrings.
//
// kmsKeyring builds the KMS keyrings: kms and kms-mrk on --kms-key-arn
// (calls go to its Region), kms-mrk-discovery in --region, accepting the keys
// of --kms-discovery-accounts (in the partition of --kms-key-arn, default aws)
// when given.
func (c *cliConfig) kmsKeyring() (ddbenc.Keyring, error) {
	parsed, _ := arn.Parse(c.kmsKeyARN)
	region := cmp.Or(c.region, parsed.Region)
	if c.keyringKind != "kms-mrk-discovery" && c.kmsKeyARN == "" {
		return nil, fmt.Errorf("--keyring %s needs --kms-key-arn", c.keyringKind)
	}
	if region == "" {
		return nil, fmt.Errorf("--keyring %s needs --region", c.keyringKind)
	}
	_, client, err := c.kmsClient(region)
	if err != nil {
		return nil, err
	}
	switch c.keyringKind {
	case "kms":
		return keyring.NewKMS(client, c.kmsKeyARN)
	case "kms-mrk":
		return keyring.NewKMSMRK(client, c.kmsKeyARN)
	}
	var filter *keyring.DiscoveryFilter
	if accounts := commaList(c.kmsAccounts); len(accounts) > 0 {
		filter = &keyring.DiscoveryFilter{Partition: cmp.Or(parsed.Partition, "aws"), Accounts: accounts}
	}
	return keyring.NewKMSMRKDiscovery(client, region, filter)
}

// dbesdkInspection is what inspect --format dbesdk prints for one item: the
// header structure (never key bytes, IVs, the commitment or tags) and per
// top-level attribute its type, size and the action the legend records.
type dbesdkInspection struct {
	Format     string                   `json:"format"`
	Attributes map[string]attributeInfo `json:"attributes"`
	Encrypted  []string                 `json:"encrypted"`
	Signed     []string                 `json:"signed"`
	Header     *headerInspection        `json:"header,omitempty"`
	Footer     *footerInspection        `json:"footer,omitempty"`
	Problems   []string                 `json:"problems,omitempty"`
}

type headerInspection struct {
	Version     int            `json:"version"`
	Suite       string         `json:"suite"`
	SuiteName   string         `json:"suite_name"`
	Legend      string         `json:"legend"`
	ContextKeys []string       `json:"encryption_context_keys"`
	EDKs        []edkInspected `json:"encrypted_data_keys"`
	Bytes       int            `json:"bytes"`
}

type edkInspected struct {
	ProviderID        string `json:"provider_id"`
	ProviderInfoBytes int    `json:"provider_info_bytes"`
	CiphertextBytes   int    `json:"ciphertext_bytes"`
}

type footerInspection struct {
	Tags      int  `json:"recipient_tags"`
	Signature bool `json:"signature"`
	Bytes     int  `json:"bytes"`
}

// inspectDBESDK describes a DB-ESDK item. The signature scope (which
// attributes the legend covers) comes from --allowed-unsigned and
// --allowed-unsigned-prefix, as on decrypt (docs/dbesdk-format.md §1.5).
func (c *cliConfig) inspectDBESDK(item map[string]types.AttributeValue) ([]byte, error) {
	in := dbesdkInspection{Format: "dbesdk", Attributes: map[string]attributeInfo{}, Encrypted: []string{}, Signed: []string{}}
	unsigned := commaList(c.allowedUnsigned)
	allowedUnsigned := func(n string) bool {
		return slices.Contains(unsigned, n) || (c.allowedUnsignedPrefix != "" && strings.HasPrefix(n, c.allowedUnsignedPrefix)) ||
			strings.HasPrefix(n, dbesdk.ReservedPrefix)
	}
	var hdr *dbesdk.HeaderInfo
	switch v := item[dbesdk.HeadAttribute].(type) {
	case nil:
		in.Problems = append(in.Problems, "no "+dbesdk.HeadAttribute+" attribute")
	case *types.AttributeValueMemberB:
		h, err := dbesdk.InspectHeader(v.Value)
		if err != nil {
			in.Problems = append(in.Problems, err.Error())
			break
		}
		hdr = h
		in.Header = &headerInspection{
			Version: h.Version, Suite: fmt.Sprintf("0x%04x", uint16(h.Suite)), SuiteName: dbesdk.SuiteName(h.Suite),
			Legend: h.Legend, ContextKeys: h.ContextKeys, Bytes: h.Bytes, EDKs: []edkInspected{},
		}
		if in.Header.ContextKeys == nil {
			in.Header.ContextKeys = []string{}
		}
		for _, e := range h.EDKs {
			in.Header.EDKs = append(in.Header.EDKs, edkInspected(e))
		}
	default:
		in.Problems = append(in.Problems, dbesdk.HeadAttribute+" attribute is not binary")
	}
	switch v := item[dbesdk.FootAttribute].(type) {
	case nil:
		in.Problems = append(in.Problems, "no "+dbesdk.FootAttribute+" attribute")
	case *types.AttributeValueMemberB:
		if hdr == nil {
			break
		}
		f, err := dbesdk.InspectFooter(v.Value, hdr.Suite)
		if err != nil {
			in.Problems = append(in.Problems, err.Error())
			break
		}
		in.Footer = &footerInspection{Tags: f.Tags, Signature: f.Signature, Bytes: f.Bytes}
		if f.Tags != len(hdr.EDKs) {
			in.Problems = append(in.Problems, fmt.Sprintf("footer has %d recipient tags for %d encrypted data keys", f.Tags, len(hdr.EDKs)))
		}
	default:
		in.Problems = append(in.Problems, dbesdk.FootAttribute+" attribute is not binary")
	}

	var signed []string
	for name, v := range item {
		if name == dbesdk.HeadAttribute || name == dbesdk.FootAttribute {
			continue
		}
		info := attributeInfo{Type: ddbjson.TypeName(v), Action: actions.DoNothing.String()}
		if !allowedUnsigned(name) {
			info.Action = "unknown"
			signed = append(signed, name)
		}
		if b, ok := v.(*types.AttributeValueMemberB); ok {
			info.Bytes = len(b.Value)
		}
		in.Attributes[name] = info
	}
	if hdr != nil {
		if len(signed) != len(hdr.Legend) {
			in.Problems = append(in.Problems, fmt.Sprintf("the legend has %d entries but the item has %d attributes in the signature scope (give --allowed-unsigned and --allowed-unsigned-prefix as on write)", len(hdr.Legend), len(signed)))
		} else {
			names := map[dbesdk.Action]actions.Action{dbesdk.EncryptAndSign: actions.EncryptAndSign, dbesdk.SignOnly: actions.SignOnly, dbesdk.SignAndInclude: actions.SignAndIncludeInEncryptionContext}
			for i, name := range dbesdk.SignedFieldOrder(signed) {
				a, _ := dbesdk.LegendAction(hdr.Legend[i])
				info := in.Attributes[name]
				info.Action = names[a].String()
				in.Attributes[name] = info
				in.Signed = append(in.Signed, name)
				if a == dbesdk.EncryptAndSign {
					in.Encrypted = append(in.Encrypted, name)
				}
			}
		}
	}
	slices.Sort(in.Encrypted)
	slices.Sort(in.Signed)
	return ddbjson.Marshal(in)
}
