package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/internal/ddbjson"
	"github.com/ddbec/ddbec-go/internal/keyfile"
)

func staticArgs(t *testing.T) []string {
	return []string{"--table", "T", "--partition-key", "id", "--keys", keysFile(t), "--provider", "static", "--encryption-key", "aesKey", "--signing-key", "hmacKey"}
}

// pretty re-indents compact JSON the way the AWS CLI prints it.
func pretty(t *testing.T, compact string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(compact), &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.MarshalIndent(v, "", "    ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n"
}

// TestAWSCLIOutput: decrypt and inspect read what `aws dynamodb get-item`,
// `query` and `scan` print, and bare items whose attributes have the
// envelopes' field names stay bare items.
func TestAWSCLIOutput(t *testing.T) {
	args := staticArgs(t)
	plain := []string{
		`{"id":{"S":"a"},"x":{"S":"secret-a"}}`,
		`{"id":{"S":"b"},"Item":{"S":"secret-b"}}`,                                            // an attribute named Item
		`{"id":{"S":"c"},"Items":{"L":[{"S":"secret-c"}]},"Count":{"N":"1"}}`,                 // attributes named Items and Count
		`{"id":{"S":"d"},"Item":{"M":{"S":{"S":"secret-d"}}},"ConsumedCapacity":{"N":"0.5"}}`, // Item holds a map with a key named S
	}
	enc, stderr, code := ddbec(t, strings.Join(plain, "\n"), append([]string{"encrypt", "--jsonl"}, args...)...)
	if code != 0 {
		t.Fatalf("encrypt: exit %d: %s", code, stderr)
	}
	stored := strings.Split(strings.TrimSpace(enc), "\n")
	want := strings.Join(plain, "\n") + "\n"
	canonical := func(lines string) string { // the CLI writes sorted attribute names
		var out strings.Builder
		for _, l := range strings.Split(strings.TrimSpace(lines), "\n") {
			it, err := ddbjson.UnmarshalItem([]byte(l))
			if err != nil {
				t.Fatalf("%v: %s", err, l)
			}
			b, _ := ddbjson.MarshalItem(it)
			out.Write(b)
			out.WriteByte('\n')
		}
		return out.String()
	}
	want = canonical(want)
	wantLines := strings.SplitAfter(want, "\n")

	getItem := func(i int) string {
		return pretty(t, `{"Item":`+stored[i]+`,"ConsumedCapacity":{"TableName":"T","CapacityUnits":0.5}}`)
	}
	scan := func(items []string) string {
		return pretty(t, fmt.Sprintf(`{"Items":[%s],"Count":%d,"ScannedCount":%d,"LastEvaluatedKey":{"id":{"S":"z"}},"ConsumedCapacity":null}`,
			strings.Join(items, ","), len(items), len(items)+3))
	}
	cases := []struct {
		name  string
		stdin string
		jsonl bool
		want  string
	}{
		{"bare items with envelope field names, one per line", enc, true, want},
		{"get-item", getItem(0), false, wantLines[0]},
		{"get-item of an item with an attribute named Item", getItem(1), false, wantLines[1]},
		{"get-item of an item with attributes named Items and Count", getItem(2), false, wantLines[2]},
		{"get-item of an item with attributes named Item and ConsumedCapacity", getItem(3), false, wantLines[3]},
		{"bare item with attributes named Item and ConsumedCapacity, pretty-printed", pretty(t, stored[3]), false, wantLines[3]},
		{"get-item with --jsonl", getItem(1), true, wantLines[1]},
		{"scan", scan(stored), true, want},
		{"empty query", scan(nil), true, ""},
		{"a stream of a scan, a get-item and a bare item", scan(stored[:2]) + getItem(2) + stored[3] + "\n", true, want},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := append([]string{"decrypt"}, args...)
			if c.jsonl {
				a = append(a, "--jsonl")
			}
			got, stderr, code := ddbec(t, c.stdin, a...)
			if code != 0 {
				t.Fatalf("decrypt: exit %d: %s", code, stderr)
			}
			if got != c.want {
				t.Errorf("decrypt wrote\n%s\nwant\n%s", got, c.want)
			}
		})
	}

	t.Run("inspect", func(t *testing.T) {
		out, stderr, code := ddbec(t, scan(stored), "inspect", "--jsonl", "--partition-key", "id")
		if code != 0 {
			t.Fatalf("inspect: exit %d: %s", code, stderr)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != len(stored) {
			t.Fatalf("inspect --jsonl of a scan of %d items wrote %d lines", len(stored), len(lines))
		}
		var got inspection
		if err := json.Unmarshal([]byte(lines[1]), &got); err != nil {
			t.Fatal(err)
		}
		if got.Attributes["Item"].Type != "B" || got.SignatureBytes != 32 {
			t.Errorf("inspection of Items[1] = %+v, want attribute Item of type B and a signature", got)
		}
		out, stderr, code = ddbec(t, getItem(2), "inspect", "--partition-key", "id")
		if code != 0 || !strings.Contains(out, `"Count":{"type":"B"`) {
			t.Errorf("inspect get-item: exit %d, %s %s", code, out, stderr)
		}
	})

	t.Run("errors", func(t *testing.T) {
		tampered, _ := ddbjson.UnmarshalItem([]byte(stored[1]))
		tampered["Item"] = tampered["id"]
		tb, _ := ddbjson.MarshalItem(tampered)
		cases := []struct {
			name, stdin string
			jsonl       bool
			wantCode    int
			wantErr     string
		}{
			{"scan without --jsonl", scan(stored), false, 2, "needs --jsonl"},
			{"empty query without --jsonl", scan(nil), false, 2, "needs --jsonl"},
			{"tampered item in a scan on line 3", stored[0] + "\n\n" + scan([]string{stored[0], string(tb)}), true, 1, `line 3: Items[1]: ddbenc: decrypt table "T" attribute "*amzn-ddb-map-sig*": signature verification failed`},
			{"scan with an unknown field", `{"Items":[],"Count":0,"Foo":1}`, true, 2, `line 1: table "T": ddbjson: invalid DynamoDB JSON: query/scan output has an unexpected field "Foo"`},
			{"bad item in a scan", stored[0] + "\n" + `{"Items":[` + stored[0] + `,{"id":{"S":"x"},"ssn":{"M":{"hidden-key":{"Q":"s3cr3t"}}}}]}`, true, 2, `line 2: table "T": ddbjson: invalid DynamoDB JSON: Items[1]: attribute "ssn", inside its value: the type key is not one of`},
			{"truncated JSON on line 2", stored[0] + "\n" + `{"id":{"S":"s3cr3t`, true, 2, `line 2: ddbjson: invalid DynamoDB JSON: not valid JSON`},
			{"syntax error on line 4", stored[0] + "\n" + pretty(t, stored[1]) + "}s3cr3t", true, 2, fmt.Sprintf(`line %d: ddbjson: invalid DynamoDB JSON: not valid JSON`, 2+strings.Count(pretty(t, stored[1]), "\n"))},
			{"not an object", "[" + stored[0] + "]", true, 2, `line 1: table "T": ddbjson: invalid DynamoDB JSON: item is not a JSON object`},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				a := append([]string{"decrypt"}, args...)
				if c.jsonl {
					a = append(a, "--jsonl")
				}
				out, stderr, code := ddbec(t, c.stdin, a...)
				if code != c.wantCode || out != "" || !strings.Contains(stderr, c.wantErr) {
					t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, nothing, %q", code, out, stderr, c.wantCode, c.wantErr)
				}
				for _, leak := range []string{"secret-", "s3cr3t", "hidden-key"} {
					if strings.Contains(stderr, leak) {
						t.Errorf("stderr %q contains %q", stderr, leak)
					}
				}
			})
		}
	})
}

// TestErrorsNameOnlyTopLevelAttributes: no CLI error prints a map key or a
// value from inside an attribute, on input (a plaintext to encrypt, an item
// to inspect) or on output (a decrypted attribute, whose nested map keys are
// plaintext too, that DynamoDB JSON cannot carry).
func TestErrorsNameOnlyTopLevelAttributes(t *testing.T) {
	const secretKey, secretValue = "mother-maiden-name", "s3cr3t-value"
	args := staticArgs(t)

	// Items that decrypt to a nested map the CLI cannot write as JSON.
	keys, err := keyfile.Load(keysFile(t))
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := keys.Signer("hmacKey")
	verifier, _ := keys.Verifier("hmacKey")
	p, err := keys.Static("aesKey", signer, verifier)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := ddbenc.NewEncryptor(ddbenc.TableConfig{TableName: "T", PartitionKey: "id", Actions: actions.Map{Default: actions.EncryptAndSign}, Provider: p})
	if err != nil {
		t.Fatal(err)
	}
	encrypted := func(ssn map[string]types.AttributeValue) string {
		t.Helper()
		stored, err := enc.EncryptItem(context.Background(), map[string]types.AttributeValue{
			"id": &types.AttributeValueMemberS{Value: "u1"}, "ssn": &types.AttributeValueMemberM{Value: ssn},
		})
		if err != nil {
			t.Fatal(err)
		}
		b, err := ddbjson.MarshalItem(stored)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

	cases := []struct {
		name, cmd, stdin string
		wantCode         int
	}{
		{"decrypt: nested value not UTF-8", "decrypt", encrypted(map[string]types.AttributeValue{secretKey: s(secretValue + "\xff")}), 1},
		{"decrypt: nested map key not UTF-8", "decrypt", encrypted(map[string]types.AttributeValue{secretKey + "\xfe": s(secretValue)}), 1},
		{"decrypt: deeper list element not UTF-8", "decrypt", encrypted(map[string]types.AttributeValue{secretKey: &types.AttributeValueMemberL{Value: []types.AttributeValue{s("ok"), &types.AttributeValueMemberSS{Value: []string{secretValue + "\xc0"}}}}}), 1},
		{"encrypt: unknown type in a nested map", "encrypt", `{"id":{"S":"u1"},"ssn":{"M":{"` + secretKey + `":{"Q":"` + secretValue + `"}}}}`, 2},
		{"encrypt: bad base64 in a nested map", "encrypt", `{"id":{"S":"u1"},"ssn":{"M":{"` + secretKey + `":{"B":"` + secretValue + `"}}}}`, 2},
		{"encrypt: bad element in a nested list", "encrypt", `{"id":{"S":"u1"},"ssn":{"M":{"` + secretKey + `":{"L":[{"S":"x"},{"N":"1"},{"SS":"` + secretValue + `"}]}}}}`, 2},
		{"encrypt: nested value not UTF-8", "encrypt", "{\"id\":{\"S\":\"u1\"},\"ssn\":{\"M\":{\"" + secretKey + "\":{\"S\":\"" + secretValue + "\xff\"}}}}", 2},
		{"encrypt: nested value with an unpaired surrogate", "encrypt", `{"id":{"S":"u1"},"ssn":{"M":{"` + secretKey + `":{"S":"` + secretValue + `\udc00"}}}}`, 2},
		{"encrypt: nested key not UTF-8", "encrypt", "{\"id\":{\"S\":\"u1\"},\"ssn\":{\"M\":{\"" + secretKey + "\xff\":{\"S\":\"" + secretValue + "\"}}}}", 2},
		{"inspect: unknown type in a nested map", "inspect", `{"id":{"S":"u1"},"ssn":{"M":{"` + secretKey + `":{"` + secretValue + `":1}}}}`, 2},
		{"decrypt get-item: nested value not UTF-8", "decrypt", `{"Item":` + encrypted(map[string]types.AttributeValue{secretKey: s(secretValue + "\xff")}) + `}`, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := []string{c.cmd}
			if c.cmd != "inspect" {
				a = append(a, args...)
			}
			out, stderr, code := ddbec(t, c.stdin, a...)
			if code != c.wantCode || out != "" {
				t.Fatalf("exit %d, stdout %q; want exit %d and nothing (stderr %q)", code, out, c.wantCode, stderr)
			}
			if !strings.Contains(stderr, `attribute "ssn"`) {
				t.Errorf("stderr %q does not name the top-level attribute", stderr)
			}
			for _, leak := range []string{secretKey, secretValue, "[2]", "[1]", `"Q"`} {
				if strings.Contains(stderr, leak) {
					t.Errorf("stderr %q contains %q", stderr, leak)
				}
			}
		})
	}
}
