package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/internal/avtest"
	"github.com/ddbec/ddbec-go/internal/ddbjson"
	"github.com/ddbec/ddbec-go/internal/legacy"
	"github.com/ddbec/ddbec-go/internal/testvectors"
)

func keysFile(t *testing.T) string {
	t.Helper()
	root, err := testvectors.Root()
	if err != nil {
		t.Fatal(err)
	}
	return testvectors.KeysFile(root)
}

func ddbec(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

const (
	item     = `{"id":{"S":"user-1"},"email":{"S":"ada@example.com"},"blob":{"B":"AAEC"},"n":{"N":"1.50"},"tags":{"SS":["a","b"]},"note":{"S":"public"}}`
	acts     = `{"default":"encrypt_and_sign","attributes":{"n":"sign","note":"do_nothing"}}`
	secretPT = "ada@example.com"
)

func TestEncryptDecryptRoundTrip(t *testing.T) {
	keys := keysFile(t)
	common := []string{"--table", "Users", "--partition-key", "id", "--actions", acts, "--keys", keys}
	cases := map[string]struct{ enc, dec []string }{
		"static hmac": {
			[]string{"--provider", "static", "--encryption-key", "aesKey", "--signing-key", "hmacKey"},
			[]string{"--provider", "static", "--encryption-key", "aesKey", "--verification-key", "hmacKey"},
		},
		"static rsa signature": {
			[]string{"--provider", "static", "--encryption-key", "aesKey", "--signing-key", "rsaSignPriv"},
			[]string{"--provider", "static", "--encryption-key", "aesKey", "--verification-key", "rsaSignPub"},
		},
		"wrapped aes": {
			[]string{"--provider", "wrapped", "--wrapping-key", "aesKey", "--signing-key", "hmacKey"},
			[]string{"--provider", "wrapped", "--wrapping-key", "aesKey", "--signing-key", "hmacKey"},
		},
		"wrapped rsa": {
			[]string{"--provider", "wrapped", "--wrapping-key", "rsaEncPub", "--signing-key", "rsaSignPriv"},
			[]string{"--provider", "wrapped", "--unwrapping-key", "rsaEncPriv", "--verification-key", "rsaSignPub"},
		},
		"all four keys, python ordering": {
			[]string{"--provider", "wrapped", "--wrapping-key", "rsaEncPub", "--unwrapping-key", "rsaEncPriv", "--signing-key", "rsaSignPriv", "--verification-key", "rsaSignPub", "--ordering", "python"},
			[]string{"--provider", "wrapped", "--wrapping-key", "rsaEncPub", "--unwrapping-key", "rsaEncPriv", "--signing-key", "rsaSignPriv", "--verification-key", "rsaSignPub"},
		},
	}
	want, _ := ddbjson.UnmarshalItem([]byte(item))
	for name, c := range cases {
		enc, stderr, code := ddbec(t, item, append(append([]string{"encrypt"}, common...), c.enc...)...)
		if code != 0 {
			t.Fatalf("%s: encrypt exit %d: %s", name, code, stderr)
		}
		if strings.Contains(enc, secretPT) {
			t.Fatalf("%s: encrypted output contains the plaintext", name)
		}
		dec, stderr, code := ddbec(t, enc, append(append([]string{"decrypt"}, common...), c.dec...)...)
		if code != 0 {
			t.Fatalf("%s: decrypt exit %d: %s", name, code, stderr)
		}
		got, err := ddbjson.UnmarshalItem([]byte(dec))
		if err != nil {
			t.Fatal(err)
		}
		if diff := avtest.DiffItems(want, got); diff != "" {
			t.Errorf("%s: round trip (-want +got):\n%s", name, diff)
		}
	}
}

func TestJSONLAndTamper(t *testing.T) {
	args := []string{"--table", "T", "--partition-key", "id", "--keys", keysFile(t), "--provider", "static", "--encryption-key", "aesKey", "--signing-key", "hmacKey", "--jsonl"}
	in := `{"id":{"S":"a"},"x":{"S":"secret-a"}}` + "\n\n" + `{"id":{"S":"b"},"x":{"S":"secret-b"}}` + "\n"
	enc, stderr, code := ddbec(t, in, append([]string{"encrypt"}, args...)...)
	if code != 0 {
		t.Fatalf("encrypt: %d %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(enc), "\n")
	if len(lines) != 2 {
		t.Fatalf("encrypt --jsonl wrote %d lines, want 2", len(lines))
	}
	dec, stderr, code := ddbec(t, enc, append([]string{"decrypt"}, args...)...)
	if code != 0 || strings.Count(dec, "secret-") != 2 {
		t.Fatalf("decrypt: %d %s %s", code, stderr, dec)
	}
	// Tamper with the second item's encrypted value: exit 1, nothing on
	// stdout (not even the first item), the error names line and attribute.
	second, _ := ddbjson.UnmarshalItem([]byte(lines[1]))
	second["x"] = second["id"]
	b, _ := ddbjson.MarshalItem(second)
	dec, stderr, code = ddbec(t, lines[0]+"\n"+string(b)+"\n", append([]string{"decrypt"}, args...)...)
	if code != 1 || dec != "" {
		t.Fatalf("tampered: exit %d, stdout %q; want 1 and nothing", code, dec)
	}
	if !strings.Contains(stderr, "line 2") || !strings.Contains(stderr, "signature verification failed") || strings.Contains(stderr, "secret-") {
		t.Errorf("tampered: stderr %q", stderr)
	}
}

// TestDecryptVectorItems decrypts, through the CLI, every item of every
// static and wrapped scenario that scenarios.json lists (in $DDBEC_VECTORS
// when set), and compares with plaintext.json. The counts come from the
// files: one output line per ciphertext item with a plaintext counterpart.
func TestDecryptVectorItems(t *testing.T) {
	root, err := testvectors.Root()
	if err != nil {
		t.Fatal(err)
	}
	sc, err := testvectors.LoadScenarios(root)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := sc.Path("file://keys.json")
	if err != nil {
		t.Fatal(err)
	}
	ran, items := 0, 0
	for _, s := range sc.Scenarios {
		var keyArgs []string
		switch {
		case s.Network:
			continue // needs a real KMS key
		case s.Provider == "static":
			keyArgs = []string{"--provider", "static", "--encryption-key", s.Keys["decrypt"], "--verification-key", s.Keys["verify"]}
		case s.Provider == "wrapped":
			keyArgs = []string{"--provider", "wrapped", "--unwrapping-key", s.Keys["decrypt"], "--verification-key", s.Keys["verify"]}
		default:
			continue // most_recent: the CLI's MetaStore is KMS-protected (see the integration tests)
		}
		ran++
		t.Run(s.Name(), func(t *testing.T) {
			pt, err := sc.LoadPlaintext(s.Plaintext)
			if err != nil {
				t.Fatal(err)
			}
			ct, err := sc.Ciphertext(s.Ciphertext)
			if err != nil {
				t.Fatal(err)
			}
			for _, table := range slices.Sorted(maps.Keys(ct)) {
				tp := pt.Items[table]
				// One CLI invocation per table and action set.
				type group struct {
					in   strings.Builder
					want []map[string]types.AttributeValue
				}
				groups := map[string]*group{}
				for _, stored := range ct[table] {
					pi, ok := plaintextFor(tp, stored)
					if !ok {
						continue // no plaintext counterpart (docs/legacy-format.md §7.5)
					}
					g := groups[pi.Action]
					if g == nil {
						g = &group{}
						groups[pi.Action] = g
					}
					b, err := ddbjson.MarshalItem(stored)
					if err != nil {
						t.Fatal(err)
					}
					g.in.Write(b)
					g.in.WriteByte('\n')
					want, err := pt.Expected(table, s.Version, pi)
					if err != nil {
						t.Fatal(err)
					}
					g.want = append(g.want, want)
				}
				for _, action := range slices.Sorted(maps.Keys(groups)) {
					g := groups[action]
					m, err := pt.Actions[action].Map()
					if err != nil {
						t.Fatal(err)
					}
					actsJSON, err := json.Marshal(m)
					if err != nil {
						t.Fatal(err)
					}
					args := append([]string{"decrypt", "--jsonl", "--keys", keys, "--table", table, "--partition-key", tp.Index.Partition, "--sort-key", tp.Index.Sort, "--actions", string(actsJSON)}, keyArgs...)
					out, stderr, code := ddbec(t, g.in.String(), args...)
					if code != 0 {
						t.Errorf("%s, actions %s: exit %d: %s", table, action, code, stderr)
						continue
					}
					lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
					if len(lines) != len(g.want) {
						t.Errorf("%s, actions %s: %d output lines, want %d", table, action, len(lines), len(g.want))
						continue
					}
					for i, line := range lines {
						got, err := ddbjson.UnmarshalItem([]byte(line))
						if err != nil {
							t.Fatal(err)
						}
						if diff := avtest.DiffItems(withoutVersionValue(g.want[i]), withoutVersionValue(got)); diff != "" {
							t.Errorf("%s, actions %s, item %d (-want +got):\n%s", table, action, i, diff)
						}
						items++
					}
				}
			}
		})
	}
	if ran == 0 || items == 0 {
		t.Fatalf("%s: no static or wrapped scenario item decrypted (%d scenarios)", root, ran)
	}
	t.Logf("%d items of %d scenarios decrypted through the CLI", items, ran)
}

// plaintextFor finds the plaintext item with the stored item's key values.
func plaintextFor(tp testvectors.PlaintextTable, stored map[string]types.AttributeValue) (testvectors.PlaintextItem, bool) {
	keyOf := func(it map[string]types.AttributeValue) map[string]types.AttributeValue {
		k := map[string]types.AttributeValue{"p": it[tp.Index.Partition]}
		if tp.Index.Sort != "" {
			k["s"] = it[tp.Index.Sort]
		}
		return k
	}
	for _, it := range tp.Items {
		if avtest.DiffItems(keyOf(it.Attributes), keyOf(stored)) == "" {
			return it, true
		}
	}
	return testvectors.PlaintextItem{}, false
}

// withoutVersionValue keeps the version attribute's presence but not its
// value, which the Java mapper increments on save (docs/legacy-format.md §7.5).
func withoutVersionValue(item map[string]types.AttributeValue) map[string]types.AttributeValue {
	out := maps.Clone(item)
	if _, ok := out["version"]; ok {
		out["version"] = &types.AttributeValueMemberNULL{Value: true}
	}
	return out
}

func TestInspect(t *testing.T) {
	args := []string{"--table", "T", "--partition-key", "id", "--actions", acts, "--keys", keysFile(t), "--provider", "wrapped", "--wrapping-key", "aesKey", "--signing-key", "hmacKey"}
	enc, _, code := ddbec(t, item, append([]string{"encrypt"}, args...)...)
	if code != 0 {
		t.Fatal("encrypt failed")
	}
	out, stderr, code := ddbec(t, enc, "inspect", "--partition-key", "id", "--actions", acts)
	if code != 0 {
		t.Fatalf("inspect: %d %s", code, stderr)
	}
	var got inspection
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got.Encrypted, ",") != "blob,email,tags" || strings.Join(got.Signed, ",") != "blob,email,id,n,tags" {
		t.Errorf("encrypted %v signed %v", got.Encrypted, got.Signed)
	}
	if got.Attributes["note"].Action != "do_nothing" || got.SignatureBytes != 32 {
		t.Errorf("inspection %+v", got)
	}
	if got.MaterialDescription["amzn-ddb-env-key"] != "<wrapped key, 40 bytes>" || got.MaterialDescription["amzn-ddb-wrap-alg"] != "AESWrap" {
		t.Errorf("description %v", got.MaterialDescription)
	}
	// No values and no key material.
	stored, _ := ddbjson.UnmarshalItem([]byte(enc))
	desc := stored[legacy.MaterialDescriptionAttribute]
	descJSON, _ := ddbjson.MarshalValue(desc)
	for _, leak := range []string{secretPT, "public", "1.50", "user-1", string(descJSON[7 : len(descJSON)-2]), base64.StdEncoding.EncodeToString([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})} {
		if strings.Contains(out, leak) {
			t.Errorf("inspect output contains %q", leak)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	keys := keysFile(t)
	base := []string{"--table", "T", "--partition-key", "id", "--keys", keys, "--encryption-key", "aesKey", "--signing-key", "hmacKey"}
	cases := map[string]struct {
		stdin string
		args  []string
	}{
		"no command":            {item, nil},
		"unknown command":       {item, []string{"scramble"}},
		"unknown flag":          {item, []string{"encrypt", "--bogus"}},
		"no table":              {item, []string{"encrypt", "--partition-key", "id", "--keys", keys, "--encryption-key", "aesKey", "--signing-key", "hmacKey"}},
		"no keys file":          {item, []string{"encrypt", "--table", "T", "--partition-key", "id", "--encryption-key", "aesKey", "--signing-key", "hmacKey"}},
		"unknown key":           {item, append([]string{"encrypt"}, append(base, "--encryption-key", "nope")...)},
		"hmac as aes":           {item, append([]string{"encrypt"}, append(base, "--encryption-key", "hmacKey")...)},
		"bad actions":           {item, append([]string{"encrypt"}, append(base, "--actions", `{"default":"scramble"}`)...)},
		"encrypt key attribute": {item, append([]string{"encrypt"}, append(base, "--actions", `{"default":"sign","attributes":{"id":"encrypt_and_sign"}}`)...)},
		"bad ordering":          {item, append([]string{"encrypt"}, append(base, "--ordering", "cobol")...)},
		"bad provider":          {item, append([]string{"encrypt"}, append(base, "--provider", "magic")...)},
		"not json":              {"not json", append([]string{"encrypt"}, base...)},
		"bad type":              {`{"id":{"Q":"x"}}`, append([]string{"encrypt"}, base...)},
		"missing key attribute": {`{"x":{"S":"x"}}`, append([]string{"encrypt"}, base...)},
		"reserved attribute":    {`{"id":{"S":"x"},"*amzn-ddb-map-sig*":{"B":"AA=="}}`, append([]string{"encrypt"}, base...)},
		"extra argument":        {item, append([]string{"encrypt", "extra"}, base...)},
		"wrapped without key":   {item, append([]string{"encrypt"}, append(base, "--provider", "wrapped")...)},
	}
	for name, c := range cases {
		out, stderr, code := ddbec(t, c.stdin, c.args...)
		if code != 2 || out != "" || stderr == "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want 2, nothing, a message", name, code, out, stderr)
		}
	}
	// Decrypting a plaintext item is a verification failure (no signature).
	out, stderr, code := ddbec(t, item, append([]string{"decrypt"}, base...)...)
	if code != 1 || out != "" || !strings.Contains(stderr, "missing attribute") {
		t.Errorf("decrypt plaintext: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
}

// TestLegacyUnsignedKeysFlag: an explicit do_nothing key is a usage error
// unless --legacy-unsigned-keys is given; then items written that way (key
// outside the signature) read back, and a reader without the flag refuses
// them.
func TestLegacyUnsignedKeysFlag(t *testing.T) {
	keys := keysFile(t)
	unsigned := `{"default":"encrypt_and_sign","attributes":{"id":"do_nothing","n":"sign","note":"do_nothing"}}`
	base := []string{"--table", "Users", "--partition-key", "id", "--keys", keys, "--encryption-key", "aesKey", "--signing-key", "hmacKey", "--actions", unsigned}
	if out, stderr, code := ddbec(t, item, append([]string{"encrypt"}, base...)...); code != 2 || out != "" || !strings.Contains(stderr, "legacy-unsigned-keys") && !strings.Contains(stderr, "LegacyUnsignedKeys") {
		t.Fatalf("do_nothing key without the flag: exit %d, stdout %q, stderr %q; want 2 naming the opt-in", code, out, stderr)
	}
	stored, stderr, code := ddbec(t, item, append([]string{"encrypt", "--legacy-unsigned-keys"}, base...)...)
	if code != 0 {
		t.Fatalf("encrypt with the flag: exit %d: %s", code, stderr)
	}
	moved := strings.Replace(stored, `"user-1"`, `"user-2"`, 1)
	if out, stderr, code := ddbec(t, moved, append([]string{"decrypt", "--legacy-unsigned-keys"}, base...)...); code != 0 || !strings.Contains(out, secretPT) {
		t.Errorf("legacy reader of a moved item: exit %d, %s (the legacy rule does not sign keys)", code, stderr)
	}
	signed := `{"default":"encrypt_and_sign","attributes":{"n":"sign","note":"do_nothing"}}`
	reader := append([]string{"decrypt"}, append(base[:len(base)-1:len(base)-1], signed)...)
	if out, _, code := ddbec(t, stored, reader...); code != 1 || out != "" {
		t.Errorf("signed-keys reader of an unsigned-keys item: exit %d, stdout %q; want 1 and nothing", code, out)
	}
}
