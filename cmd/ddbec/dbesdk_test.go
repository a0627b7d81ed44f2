package main

import (
	"encoding/base64"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/ddbenctest"
	"github.com/ddbec/ddbec-go/internal/avtest"
	"github.com/ddbec/ddbec-go/internal/ddbjson"
	"github.com/ddbec/ddbec-go/internal/keyfile"
	"github.com/ddbec/ddbec-go/internal/testvectors"
)

// dbesdkDir is testdata/vectors/dbesdk.
func dbesdkDir(t *testing.T) string {
	t.Helper()
	legacyRoot, err := testvectors.Root()
	if err != nil {
		t.Fatal(err)
	}
	// Root is testdata/vectors/legacy (or $DDBEC_VECTORS); the DB-ESDK
	// vectors sit beside the repository's legacy set.
	wd, _ := os.Getwd()
	for _, dir := range []string{filepath.Join(filepath.Dir(legacyRoot), "dbesdk"), filepath.Join(wd, "..", "..", "testdata", "vectors", "dbesdk")} {
		if _, err := os.Stat(filepath.Join(dir, "keys.json")); err == nil {
			return dir
		}
	}
	t.Fatal("testdata/vectors/dbesdk/keys.json not found")
	return ""
}

func dbesdkKeys(t *testing.T) (string, keyfile.MPLKeys) {
	t.Helper()
	path := filepath.Join(dbesdkDir(t), "keys.json")
	keys, err := keyfile.LoadMPL(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, keys
}

const (
	dbeItem = `{"id":{"S":"user-1"},"email":{"S":"ada@example.com"},"blob":{"B":"AAEC"},"n":{"N":"1.50"},"tags":{"SS":["a","b"]},"note":{"S":"public"}}`
	dbeActs = `{"default":"encrypt_and_sign","attributes":{"n":"sign","note":"do_nothing"}}`
)

// roundTrip encrypts dbe item in with enc flags, decrypts it with dec flags
// and compares with in. It returns the stored item.
func roundTrip(t *testing.T, name, in string, enc, dec []string) string {
	t.Helper()
	stored, stderr, code := ddbec(t, in, append([]string{"encrypt", "--format", "dbesdk"}, enc...)...)
	if code != 0 {
		t.Fatalf("%s: encrypt exit %d: %s", name, code, stderr)
	}
	if strings.Contains(stored, secretPT) || !strings.Contains(stored, `"aws_dbe_head"`) || !strings.Contains(stored, `"aws_dbe_foot"`) {
		t.Fatalf("%s: stored item is not a DB-ESDK item with the secret encrypted: %s", name, stored)
	}
	out, stderr, code := ddbec(t, stored, append([]string{"decrypt", "--format", "dbesdk"}, dec...)...)
	if code != 0 {
		t.Fatalf("%s: decrypt exit %d: %s", name, code, stderr)
	}
	want, _ := ddbjson.UnmarshalItem([]byte(in))
	got, err := ddbjson.UnmarshalItem([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if diff := avtest.DiffItems(want, got); diff != "" {
		t.Errorf("%s: round trip (-want +got):\n%s", name, diff)
	}
	return stored
}

// inspectDBE runs inspect --format dbesdk.
func inspectDBE(t *testing.T, stored string, args ...string) dbesdkInspection {
	t.Helper()
	out, stderr, code := ddbec(t, stored, append([]string{"inspect", "--format", "dbesdk"}, args...)...)
	if code != 0 {
		t.Fatalf("inspect: exit %d: %s", code, stderr)
	}
	var in dbesdkInspection
	if err := json.Unmarshal([]byte(out), &in); err != nil {
		t.Fatalf("inspect output %q: %v", out, err)
	}
	return in
}

func TestDBESDKRoundTripRawAES(t *testing.T) {
	keys, entries := dbesdkKeys(t)
	var aes []string
	for name, k := range entries {
		if k.Type == "symmetric" && k.Algorithm == "aes" {
			aes = append(aes, name)
		}
	}
	slices.Sort(aes)
	if len(aes) < 4 { // aes-128, aes-192, aes-256 and the non-ASCII entry
		t.Fatalf("AES entries %q", aes)
	}
	for _, entry := range aes {
		for _, suite := range []string{"0x6700", "0x6701"} {
			common := []string{"--table", "Users", "--partition-key", "id", "--actions", dbeActs, "--allowed-unsigned", "note",
				"--keyring", "raw-aes", "--keys", keys, "--key", entry, "--key-namespace", "ns-" + entry}
			stored := roundTrip(t, entry+" "+suite, dbeItem, append(slices.Clone(common), "--suite", suite), common)
			in := inspectDBE(t, stored, "--allowed-unsigned", "note")
			if in.Header == nil || in.Header.Suite != suite || len(in.Header.EDKs) != 1 || in.Header.EDKs[0].ProviderID != "ns-"+entry {
				t.Errorf("%s %s: header %+v", entry, suite, in.Header)
				continue
			}
			// provider info: key name (the entry's key-id) ‖ u32 ‖ u32 ‖ 12-byte IV.
			if edk := in.Header.EDKs[0]; edk.ProviderInfoBytes != len(entries[entry].KeyID)+20 || edk.CiphertextBytes != 96 {
				t.Errorf("%s: EDK %+v", entry, edk)
			}
			// Another entry under the same namespace does not open it.
			other := "aes-128"
			if entry == other {
				other = "aes-192"
			}
			wrong := append(slices.Clone(common[:len(common)-4]), "--key", other, "--key-namespace", "ns-"+entry)
			if out, stderr, code := ddbec(t, stored, append([]string{"decrypt", "--format", "dbesdk"}, wrong...)...); code != 1 || out != "" || strings.Contains(stderr, secretPT) {
				t.Errorf("%s decrypted with %s: exit %d, stdout %q, stderr %q; want 1, nothing", entry, other, code, out, stderr)
			}
		}
	}
	// --key-name overrides the key-id: a reader must use the same name.
	base := []string{"--table", "Users", "--partition-key", "id", "--actions", dbeActs, "--allowed-unsigned", "note", "--keyring", "raw-aes", "--keys", keys, "--key", "aes-256", "--key-namespace", "ns"}
	named := append(slices.Clone(base), "--key-name", "my-key")
	stored := roundTrip(t, "key-name", dbeItem, named, named)
	if out, _, code := ddbec(t, stored, append([]string{"decrypt", "--format", "dbesdk"}, base...)...); code != 1 || out != "" {
		t.Errorf("decrypt with the key-id instead of --key-name: exit %d; want 1", code)
	}
}

func TestDBESDKRoundTripRawRSA(t *testing.T) {
	keys, _ := dbesdkKeys(t)
	for _, padding := range []string{"pkcs1", "oaep-sha1", "oaep-sha256", "oaep-sha384", "oaep-sha512"} {
		for _, suite := range []string{"0x6700", "0x6701"} {
			common := []string{"--table", "Users", "--partition-key", "id", "--actions", dbeActs, "--allowed-unsigned", "note",
				"--keyring", "raw-rsa", "--keys", keys, "--key-namespace", "rsa-ns", "--rsa-padding", padding}
			dec := append(slices.Clone(common), "--key", "rsa-4096-private")
			// The private-key entry encrypts too; so does the public one.
			for _, encKey := range []string{"rsa-4096-private", "rsa-4096-public"} {
				name := padding + " " + suite + " " + encKey
				stored := roundTrip(t, name, dbeItem, append(slices.Clone(common), "--key", encKey, "--suite", suite), dec)
				in := inspectDBE(t, stored, "--allowed-unsigned", "note")
				if in.Header == nil || in.Header.Suite != suite || in.Header.EDKs[0].ProviderID != "rsa-ns" ||
					in.Header.EDKs[0].ProviderInfoBytes != len("rsa-4096") || in.Header.EDKs[0].CiphertextBytes != 48+512 {
					t.Errorf("%s: header %+v", name, in.Header)
				}
			}
		}
	}
	// Another padding on decrypt fails (exit 1); the public entry cannot
	// decrypt (usage error).
	common := []string{"--table", "Users", "--partition-key", "id", "--actions", dbeActs, "--allowed-unsigned", "note",
		"--keyring", "raw-rsa", "--keys", keys, "--key-namespace", "rsa-ns", "--key", "rsa-4096-private"}
	stored, _, code := ddbec(t, dbeItem, append([]string{"encrypt", "--format", "dbesdk", "--rsa-padding", "oaep-sha256"}, common...)...)
	if code != 0 {
		t.Fatal("encrypt failed")
	}
	if out, _, code := ddbec(t, stored, append([]string{"decrypt", "--format", "dbesdk", "--rsa-padding", "oaep-sha1"}, common...)...); code != 1 || out != "" {
		t.Errorf("decrypt with another padding: exit %d; want 1", code)
	}
	pub := append(slices.Clone(common[:len(common)-1]), "rsa-4096-public", "--rsa-padding", "oaep-sha256")
	if out, stderr, code := ddbec(t, stored, append([]string{"decrypt", "--format", "dbesdk"}, pub...)...); code != 2 || out != "" || !strings.Contains(stderr, "public key") {
		t.Errorf("decrypt with the public entry: exit %d, stderr %q; want 2", code, stderr)
	}
}

// TestDBESDKAllowedUnsigned: attributes in --allowed-unsigned or under
// --allowed-unsigned-prefix are outside the signature (changing them
// after encryption is not detected), and a reader must name them too.
func TestDBESDKAllowedUnsigned(t *testing.T) {
	keys, _ := dbesdkKeys(t)
	in := `{"id":{"S":"user-1"},"email":{"S":"ada@example.com"},"note":{"S":"public"},"audit":{"S":"a"},"tmp_x":{"N":"1"},"tmp_y":{"S":"y"}}`
	acts := `{"default":"encrypt_and_sign","attributes":{"note":"do_nothing"}}`
	common := []string{"--table", "Users", "--partition-key", "id", "--actions", acts, "--keyring", "raw-aes", "--keys", keys, "--key", "aes-256", "--key-namespace", "ns",
		"--allowed-unsigned", "note, audit", "--allowed-unsigned-prefix", "tmp_"}
	stored := roundTrip(t, "allowed unsigned", in, common, common)
	item, _ := ddbjson.UnmarshalItem([]byte(stored))
	for _, n := range []string{"note", "audit", "tmp_x", "tmp_y"} {
		if _, ok := item[n].(*types.AttributeValueMemberB); ok {
			t.Errorf("unsigned attribute %s was encrypted", n)
		}
	}
	if _, ok := item["email"].(*types.AttributeValueMemberB); !ok {
		t.Errorf("email was not encrypted")
	}
	insp := inspectDBE(t, stored, "--allowed-unsigned", "note,audit", "--allowed-unsigned-prefix", "tmp_")
	if insp.Header.Legend != "se" || strings.Join(insp.Signed, ",") != "email,id" || insp.Attributes["tmp_x"].Action != "do_nothing" || len(insp.Problems) != 0 {
		t.Errorf("inspection %+v", insp)
	}
	// Without the scope flags inspect cannot line the legend up.
	if insp := inspectDBE(t, stored); len(insp.Problems) != 1 || insp.Attributes["email"].Action != "unknown" {
		t.Errorf("inspection without the scope flags %+v", insp)
	}

	// Unsigned values may change; the reader returns them as stored.
	item["audit"] = &types.AttributeValueMemberS{Value: "changed"}
	item["tmp_z"] = &types.AttributeValueMemberS{Value: "added"}
	b, _ := ddbjson.MarshalItem(item)
	out, stderr, code := ddbec(t, string(b), append([]string{"decrypt", "--format", "dbesdk"}, common...)...)
	if code != 0 || !strings.Contains(out, `"changed"`) || !strings.Contains(out, `"added"`) || !strings.Contains(out, secretPT) {
		t.Errorf("changed unsigned attributes: exit %d, %s", code, stderr)
	}
	// A reader that does not know the list or the prefix treats them as
	// signed: the legend no longer matches.
	for i, drop := range [][]string{{"--allowed-unsigned", "note"}, {"--allowed-unsigned-prefix", "x_"}} {
		r := slices.Clone(common)
		copy(r[len(r)-4+2*i:], drop)
		if out, _, code := ddbec(t, stored, append([]string{"decrypt", "--format", "dbesdk"}, r...)...); code == 0 || out != "" {
			t.Errorf("reader with %v: exit %d; want a failure", drop, code)
		}
	}
}

func TestDBESDKSignAndIncludeInEncryptionContext(t *testing.T) {
	keys, _ := dbesdkKeys(t)
	in := `{"id":{"S":"user-1"},"tenant":{"S":"acme"},"email":{"S":"ada@example.com"}}`
	acts := `{"default":"encrypt_and_sign","attributes":{"tenant":"sign_and_include_in_encryption_context"}}`
	for _, suite := range []string{"0x6700", "0x6701"} {
		common := []string{"--table", "Users", "--partition-key", "id", "--actions", acts, "--keyring", "raw-aes", "--keys", keys, "--key", "aes-128", "--key-namespace", "ns"}
		stored := roundTrip(t, "sign_and_include "+suite, in, append(slices.Clone(common), "--suite", suite), common)
		insp := inspectDBE(t, stored)
		// Version 2; legend in field order: id (2), email (5), tenant (6).
		if insp.Header.Version != 2 || insp.Header.Legend != "cec" || insp.Attributes["tenant"].Action != "sign_and_include_in_encryption_context" ||
			insp.Attributes["id"].Action != "sign_and_include_in_encryption_context" {
			t.Errorf("%s: inspection %+v", suite, insp)
		}
		if strings.Contains(insp.String(t), "acme") {
			t.Errorf("%s: inspect shows a context value", suite)
		}
		tampered := strings.Replace(stored, `"acme"`, `"evil"`, 1)
		if out, stderr, code := ddbec(t, tampered, append([]string{"decrypt", "--format", "dbesdk"}, common...)...); code != 1 || out != "" || strings.Contains(stderr, "acme") || strings.Contains(stderr, "evil") {
			t.Errorf("%s: changed context attribute: exit %d, stdout %q, stderr %q", suite, code, out, stderr)
		}
	}
	// The action is refused for the legacy format (usage error).
	lk := []string{"encrypt", "--table", "T", "--partition-key", "id", "--actions", acts, "--keys", keysFile(t), "--encryption-key", "aesKey", "--signing-key", "hmacKey"}
	if out, stderr, code := ddbec(t, in, lk...); code != 2 || out != "" || !strings.Contains(stderr, "sign_and_include_in_encryption_context") {
		t.Errorf("legacy with sign_and_include: exit %d, stderr %q", code, stderr)
	}
}

func (in dbesdkInspection) String(t *testing.T) string {
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDBESDKTamper: a flipped ciphertext bit, a changed signed value and a
// changed header are exit 1 with nothing on stdout; the error names the
// attribute at most, never a value.
func TestDBESDKTamper(t *testing.T) {
	keys, _ := dbesdkKeys(t)
	args := []string{"--table", "Users", "--partition-key", "id", "--actions", dbeActs, "--allowed-unsigned", "note", "--keyring", "raw-aes", "--keys", keys, "--key", "aes-256", "--key-namespace", "ns", "--jsonl"}
	stored, stderr, code := ddbec(t, dbeItem+"\n"+strings.Replace(dbeItem, "user-1", "user-2", 1), append([]string{"encrypt", "--format", "dbesdk"}, args...)...)
	if code != 0 {
		t.Fatalf("encrypt: %d %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stored), "\n")
	flip := func(attr string) func(map[string]types.AttributeValue) {
		return func(it map[string]types.AttributeValue) {
			b := it[attr].(*types.AttributeValueMemberB)
			v := slices.Clone(b.Value)
			v[len(v)/2] ^= 1
			it[attr] = &types.AttributeValueMemberB{Value: v}
		}
	}
	cases := map[string]func(map[string]types.AttributeValue){
		"ciphertext bit": flip("email"),
		"header byte":    flip("aws_dbe_head"),
		"footer byte":    flip("aws_dbe_foot"),
		"signed value":   func(it map[string]types.AttributeValue) { it["n"] = &types.AttributeValueMemberN{Value: "2"} },
		"removed signed": func(it map[string]types.AttributeValue) { delete(it, "tags") },
		"added signed":   func(it map[string]types.AttributeValue) { it["extra"] = &types.AttributeValueMemberS{Value: "x"} },
		"no header":      func(it map[string]types.AttributeValue) { delete(it, "aws_dbe_head") },
	}
	for name, mutate := range cases {
		it, _ := ddbjson.UnmarshalItem([]byte(lines[1]))
		mutate(it)
		b, _ := ddbjson.MarshalItem(it)
		out, stderr, code := ddbec(t, lines[0]+"\n"+string(b)+"\n", append([]string{"decrypt", "--format", "dbesdk"}, args...)...)
		if code != 1 || out != "" {
			t.Errorf("%s: exit %d, stdout %q; want 1 and nothing (not even line 1)", name, code, out)
		}
		if !strings.Contains(stderr, "line 2") {
			t.Errorf("%s: stderr %q does not name line 2", name, stderr)
		}
		for _, leak := range []string{secretPT, `"public"`, "user-2", "1.50"} {
			if strings.Contains(stderr, leak) {
				t.Errorf("%s: stderr %q contains %q", name, stderr, leak)
			}
		}
	}
}

// TestDBESDKInspect: the header's version, suite, legend, context keys and
// EDK provider ids and lengths; never a value, key bytes, the EDK bytes or
// the header bytes.
func TestDBESDKInspect(t *testing.T) {
	keys, entries := dbesdkKeys(t)
	args := []string{"--table", "Users", "--partition-key", "id", "--actions", dbeActs, "--allowed-unsigned", "note", "--keyring", "raw-aes", "--keys", keys, "--key", "aes-256", "--key-namespace", "ns"}
	stored, _, code := ddbec(t, dbeItem, append([]string{"encrypt", "--format", "dbesdk"}, args...)...)
	if code != 0 {
		t.Fatal("encrypt failed")
	}
	out, stderr, code := ddbec(t, stored, "inspect", "--format", "dbesdk", "--allowed-unsigned", "note")
	if code != 0 {
		t.Fatalf("inspect: %d %s", code, stderr)
	}
	var got dbesdkInspection
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	h := got.Header
	// Field order (UTF-16 length, then bytes): n, id, blob, tags, email.
	if h == nil || h.Version != 1 || h.Suite != "0x6701" || h.SuiteName != "ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384_SYMSIG_HMAC_SHA384" ||
		h.Legend != "sseee" || strings.Join(h.ContextKeys, ",") != "aws-crypto-public-key" || len(h.EDKs) != 1 || h.EDKs[0].ProviderID != "ns" {
		t.Fatalf("header %+v", h)
	}
	if got.Footer == nil || got.Footer.Tags != 1 || !got.Footer.Signature || got.Footer.Bytes != 48+103 {
		t.Errorf("footer %+v", got.Footer)
	}
	if strings.Join(got.Encrypted, ",") != "blob,email,tags" || strings.Join(got.Signed, ",") != "blob,email,id,n,tags" ||
		got.Attributes["note"].Action != "do_nothing" || got.Attributes["n"].Action != "sign" || len(got.Problems) != 0 {
		t.Errorf("inspection %+v", got)
	}
	if _, ok := got.Attributes["aws_dbe_head"]; ok {
		t.Errorf("the header is listed as an attribute")
	}
	item, _ := ddbjson.UnmarshalItem([]byte(stored))
	head := item["aws_dbe_head"].(*types.AttributeValueMemberB).Value
	b64 := base64.StdEncoding.EncodeToString
	leaks := []string{secretPT, `"public"`, "1.50", "user-1", "aes-256", entries["aes-256"].Material, b64(head), b64(head[len(head)-32:]), b64(head[2:34])}
	for _, leak := range leaks {
		if strings.Contains(out, leak) {
			t.Errorf("inspect output contains %q", leak)
		}
	}

	// An item written by the AWS SDK (published vector): hierarchical EDK.
	var m struct {
		Tests map[string]struct {
			Encrypted json.RawMessage `json:"encrypted"`
		} `json:"tests"`
	}
	data, err := os.ReadFile(filepath.Join(dbesdkDir(t), "published", "decrypt_java_32.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	insp := inspectDBE(t, string(m.Tests["1"].Encrypted))
	if insp.Header == nil || insp.Header.EDKs[0].ProviderID != "aws-kms-hierarchy" || insp.Header.Legend != "ees" ||
		insp.Attributes["RecNum"].Action != "sign" || insp.Attributes["Junk"].Action != "encrypt_and_sign" {
		t.Errorf("published item: %+v", insp)
	}

	// A legacy item, or a broken header: problems, exit 0.
	insp = inspectDBE(t, item1Legacy(t))
	if insp.Header != nil || len(insp.Problems) == 0 {
		t.Errorf("legacy item: %+v", insp)
	}
	item["aws_dbe_head"] = &types.AttributeValueMemberB{Value: head[:40]}
	b, _ := ddbjson.MarshalItem(item)
	if insp := inspectDBE(t, string(b)); insp.Header != nil || !strings.Contains(strings.Join(insp.Problems, ";"), "unexpected end of data") {
		t.Errorf("truncated header: %+v", insp)
	}
	// The legacy inspect output is unchanged by --format's existence.
	if out, _, code := ddbec(t, item1Legacy(t), "inspect", "--format", "legacy"); code != 0 || strings.Contains(out, `"format"`) {
		t.Errorf("inspect --format legacy: exit %d %s", code, out)
	}
}

func item1Legacy(t *testing.T) string {
	t.Helper()
	args := []string{"encrypt", "--table", "T", "--partition-key", "id", "--actions", acts, "--keys", keysFile(t), "--encryption-key", "aesKey", "--signing-key", "hmacKey"}
	enc, stderr, code := ddbec(t, item, args...)
	if code != 0 {
		t.Fatalf("legacy encrypt: %s", stderr)
	}
	return enc
}

// TestDBESDKVectorItems decrypts, through the CLI, the vector items whose
// keyring the CLI can express (config.key a raw AES or raw RSA keyring) and
// compares with the plaintext; negative vectors must fail with exit 1 and
// nothing on stdout. The published files' items all use the default
// hierarchical keyring, which has no --keyring value, so their items come
// in through TestDBESDKInspect only; the generated file has raw-keyring
// items of every shape (docs in testdata/vectors/dbesdk/generated/README.md).
func TestDBESDKVectorItems(t *testing.T) {
	dir := dbesdkDir(t)
	keys := filepath.Join(dir, "keys.json")
	files, _ := filepath.Glob(filepath.Join(dir, "published", "*.json"))
	files = append(files, filepath.Join(dir, "generated", "peer-go.json"))
	type vector struct {
		Type   string `json:"type"`
		Config struct {
			Actions         map[string]string `json:"attributeActionsOnEncrypt"`
			AllowedUnsigned []string          `json:"allowedUnsignedAttributes"`
			Prefix          *string           `json:"allowedUnsignedAttributePrefix"`
			Table           string            `json:"logicalTableName"`
			PK              string            `json:"partitionKeyName"`
			SK              string            `json:"sortKeyName"`
			Key             *struct {
				Type        string `json:"type"`
				Algorithm   string `json:"encryption-algorithm"`
				ProviderID  string `json:"provider-id"`
				Key         string `json:"key"`
				Padding     string `json:"padding-algorithm"`
				PaddingHash string `json:"padding-hash"`
			} `json:"key"`
		} `json:"config"`
		Plaintext json.RawMessage `json:"plaintext"`
		Encrypted json.RawMessage `json:"encrypted"`
	}
	ran, positive, negative, hierarchical := 0, 0, 0, 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var m struct {
			Tests map[string]vector `json:"tests"`
		}
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		for _, id := range slices.Sorted(maps.Keys(m.Tests)) {
			v := m.Tests[id]
			k := v.Config.Key
			if k == nil {
				hierarchical++
				continue // the default hierarchical keyring: no --keyring for it
			}
			if k.Type != "raw" {
				continue // multi-keyring
			}
			name := filepath.Base(file) + "/" + id
			actsJSON, _ := json.Marshal(map[string]any{"default": "do_nothing", "attributes": v.Config.Actions})
			args := []string{"decrypt", "--format", "dbesdk", "--keys", keys, "--key", k.Key, "--key-namespace", k.ProviderID,
				"--table", cmpOr(v.Config.Table, "GazelleVectorTable"), "--partition-key", cmpOr(v.Config.PK, "RecNum"),
				"--sort-key", v.Config.SK, "--actions", string(actsJSON)}
			switch k.Algorithm {
			case "aes":
				args = append(args, "--keyring", "raw-aes")
			case "rsa":
				padding := "pkcs1"
				if k.Padding == "oaep-mgf1" {
					padding = "oaep-" + k.PaddingHash
				}
				args = append(args, "--keyring", "raw-rsa", "--rsa-padding", padding)
			default:
				t.Fatalf("%s: keyring %+v", name, k)
			}
			if len(v.Config.AllowedUnsigned) > 0 {
				for _, a := range v.Config.AllowedUnsigned {
					if strings.Contains(a, ",") {
						t.Fatalf("%s: allowed-unsigned name with a comma", name)
					}
				}
				args = append(args, "--allowed-unsigned", strings.Join(v.Config.AllowedUnsigned, ","))
			}
			if v.Config.Prefix != nil {
				args = append(args, "--allowed-unsigned-prefix", *v.Config.Prefix)
			}
			ran++
			out, stderr, code := ddbec(t, string(v.Encrypted), args...)
			if v.Type == "negative-decrypt" {
				negative++
				if code != 1 || out != "" {
					t.Errorf("%s (negative): exit %d, stdout %q, stderr %q; want 1 and nothing", name, code, out, stderr)
				}
				continue
			}
			positive++
			if code != 0 {
				t.Errorf("%s: exit %d: %s", name, code, stderr)
				continue
			}
			want, err := ddbjson.UnmarshalItem(v.Plaintext)
			if err != nil {
				t.Fatalf("%s: plaintext: %v", name, err)
			}
			got, err := ddbjson.UnmarshalItem([]byte(out))
			if err != nil {
				t.Fatal(err)
			}
			if diff := avtest.DiffItems(want, got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", name, diff)
			}
		}
	}
	// The generated file has 41 positive and 13 negative tests; 6 and 4 of
	// them use the hierarchical keyring, 1 positive one a multi-keyring.
	if positive != 34 || negative != 9 {
		t.Fatalf("decrypted %d positive and %d negative vectors through the CLI; want 34 and 9", positive, negative)
	}
	t.Logf("%d vector items through the CLI (%d positive, %d negative); %d use the hierarchical keyring (not a --keyring value)", ran, positive, negative, hierarchical)
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func TestDBESDKUsageErrors(t *testing.T) {
	keys, _ := dbesdkKeys(t)
	base := []string{"--format", "dbesdk", "--table", "T", "--partition-key", "id", "--actions", dbeActs, "--allowed-unsigned", "note", "--keys", keys, "--key-namespace", "ns"}
	aes := append(slices.Clone(base), "--keyring", "raw-aes", "--key", "aes-256")
	rsa := append(slices.Clone(base), "--keyring", "raw-rsa", "--key", "rsa-4096-private", "--rsa-padding", "oaep-sha256")
	with := func(cmd string, args []string, more ...string) []string {
		return append(append([]string{cmd}, args...), more...)
	}
	cases := map[string][]string{
		"bad format":                  {"encrypt", "--format", "xml"},
		"no keyring":                  with("encrypt", base, "--key", "aes-256"),
		"bad keyring":                 with("encrypt", base, "--keyring", "magic", "--key", "aes-256"),
		"no --key":                    with("encrypt", base, "--keyring", "raw-aes"),
		"no --keys":                   {"encrypt", "--format", "dbesdk", "--table", "T", "--partition-key", "id", "--keyring", "raw-aes", "--key", "aes-256", "--key-namespace", "ns"},
		"legacy keys file":            with("encrypt", base[:len(base)-4], "--keys", keysFile(t), "--key-namespace", "ns", "--keyring", "raw-aes", "--key", "aesKey"),
		"no namespace":                with("encrypt", base[:len(base)-2], "--keyring", "raw-aes", "--key", "aes-256"),
		"reserved namespace":          with("encrypt", aes, "--key-namespace", "aws-kms"),
		"unknown entry":               with("encrypt", base, "--keyring", "raw-aes", "--key", "nope"),
		"rsa entry as aes":            with("encrypt", base, "--keyring", "raw-aes", "--key", "rsa-4096-private"),
		"aes entry as rsa":            with("encrypt", base, "--keyring", "raw-rsa", "--key", "aes-256", "--rsa-padding", "pkcs1"),
		"branch key as aes":           with("encrypt", base, "--keyring", "raw-aes", "--key", "static-branch-key-1"),
		"rsa without padding":         with("encrypt", base, "--keyring", "raw-rsa", "--key", "rsa-4096-private"),
		"bad padding":                 with("encrypt", rsa, "--rsa-padding", "oaep-md5"),
		"padding for aes":             with("encrypt", aes, "--rsa-padding", "pkcs1"),
		"public entry decrypts":       with("decrypt", rsa, "--key", "rsa-4096-public"),
		"bad suite":                   with("encrypt", aes, "--suite", "0x0014"),
		"legacy flag":                 with("encrypt", aes, "--provider", "static"),
		"legacy signing key":          with("encrypt", aes, "--signing-key", "hmacKey"),
		"legacy ordering":             with("encrypt", aes, "--ordering", "java"),
		"dbesdk flag in legacy":       {"encrypt", "--table", "T", "--partition-key", "id", "--keys", keysFile(t), "--encryption-key", "aesKey", "--signing-key", "hmacKey", "--suite", "0x6700"},
		"dbesdk flag in legacy insp.": {"inspect", "--allowed-unsigned", "x"},
		"no table":                    with("encrypt", append([]string{"--format", "dbesdk"}, aes[4:]...)),
		"do_nothing not unsigned":     with("encrypt", aes, "--allowed-unsigned", "x"),
		"signed key attribute unsig.": with("encrypt", aes, "--allowed-unsigned", "note,id"),
		"unconfigured attribute":      with("encrypt", aes, "--actions", `{"default":"do_nothing","attributes":{"note":"do_nothing"}}`),
		"include as default":          with("encrypt", aes, "--actions", `{"default":"sign_and_include_in_encryption_context"}`),
		"reserved input attribute":    nil, // below
	}
	for name, args := range cases {
		stdin := dbeItem
		if args == nil {
			stdin = `{"id":{"S":"x"},"aws_dbe_head":{"B":"AA=="}}`
			args = with("encrypt", aes)
		}
		out, stderr, code := ddbec(t, stdin, args...)
		if code != 2 || out != "" || stderr == "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want 2, nothing, a message", name, code, out, stderr)
		}
		if k := "AAECAwQFBgcICRAREhMUFRYXGBkgISIjJCUmJygpMDE="; strings.Contains(stderr, k) || strings.Contains(stderr, "PRIVATE KEY") {
			t.Errorf("%s: stderr shows key material", name)
		}
	}
	// Decrypting a plaintext or legacy item in dbesdk mode is a failure
	// (exit 1), and a DB-ESDK item in legacy mode too.
	if out, _, code := ddbec(t, dbeItem, with("decrypt", aes)...); code != 1 || out != "" {
		t.Errorf("decrypt a plaintext item: exit %d", code)
	}
	if out, _, code := ddbec(t, item1Legacy(t), with("decrypt", aes, "--actions", acts)...); code != 1 || out != "" {
		t.Errorf("decrypt a legacy item as dbesdk: exit %d", code)
	}
	stored, _, _ := ddbec(t, dbeItem, with("encrypt", aes)...)
	legacyArgs := []string{"decrypt", "--table", "T", "--partition-key", "id", "--actions", dbeActs, "--keys", keysFile(t), "--encryption-key", "aesKey", "--signing-key", "hmacKey"}
	if out, _, code := ddbec(t, stored, legacyArgs...); code != 1 || out != "" {
		t.Errorf("decrypt a DB-ESDK item as legacy: exit %d", code)
	}
	// An entry marked "decrypt": false cannot decrypt.
	if out, stderr, code := ddbec(t, stored, with("decrypt", base, "--keyring", "raw-rsa", "--key", "rsa-4096-public", "--rsa-padding", "pkcs1")...); code != 2 || out != "" {
		t.Errorf("decrypt with an encrypt-only entry: exit %d %s", code, stderr)
	}
}

// TestKMSKeyrings: the MRK story through the CLI and the fake KMS. A
// us-east-1 writer on the primary ARN; us-west-2 readers on the replica with
// the strict MRK keyring and with discovery; every reader call stays in
// us-west-2; another key is refused.
func TestKMSKeyrings(t *testing.T) {
	fakeAWSEnv(t)
	fake := ddbenctest.StartKMS(t, ddbenctest.KMSOptions{Seed: []byte("cli-dbesdk")})
	kmsURL := fake.URL
	primary := fake.CreateKey("us-east-1", true)
	replica, err := fake.ReplicateKey(primary, "us-west-2")
	if err != nil {
		t.Fatal(err)
	}
	single := fake.CreateKey("us-east-1", false)
	common := []string{"--format", "dbesdk", "--table", "T", "--partition-key", "id", "--actions", dbeActs, "--allowed-unsigned", "note", "--kms-endpoint", kmsURL}
	run := func(stdin string, args ...string) (string, string, int) {
		return ddbec(t, stdin, append(args, common...)...)
	}
	for _, kind := range []string{"kms", "kms-mrk"} {
		key := primary
		if kind == "kms" {
			key = single
		}
		enc, stderr, code := run(dbeItem, "encrypt", "--keyring", kind, "--kms-key-arn", key)
		if code != 0 {
			t.Fatalf("%s encrypt: exit %d: %s", kind, code, stderr)
		}
		if kind == "kms" {
			if dec, stderr, code := run(enc, "decrypt", "--keyring", "kms", "--kms-key-arn", single); code != 0 || dec == "" {
				t.Errorf("kms decrypt: exit %d: %s", code, stderr)
			}
			continue
		}
		fake.Reset()
		for name, args := range map[string][]string{
			"strict MRK on the replica": {"--keyring", "kms-mrk", "--kms-key-arn", replica},
			"discovery in us-west-2":    {"--keyring", "kms-mrk-discovery", "--region", "us-west-2", "--kms-discovery-accounts", "111122223333"},
		} {
			dec, stderr, code := run(enc, append([]string{"decrypt"}, args...)...)
			if code != 0 || dec == "" {
				t.Errorf("%s: exit %d: %s", name, code, stderr)
			}
		}
		for _, c := range fake.Calls() {
			if c.Region != "us-west-2" {
				t.Errorf("a reader called KMS in %s: %+v", c.Region, c)
			}
		}
		if out, _, code := run(enc, "decrypt", "--keyring", "kms-mrk-discovery", "--region", "us-west-2", "--kms-discovery-accounts", "444455556666"); code != 1 || out != "" {
			t.Errorf("discovery of another account: exit %d, stdout %q; want 1 and nothing", code, out)
		}
	}
	if _, stderr, code := run(dbeItem, "encrypt", "--keyring", "kms-mrk"); code != 2 || !strings.Contains(stderr, "--kms-key-arn") {
		t.Errorf("kms-mrk without an ARN: exit %d, %q", code, stderr)
	}
}
