package ddbenc_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/provider"
	"github.com/ddbec/ddbec-go/signing"
)

// The benchmark item (issue 5): partition key S and sort key N (sign-only),
// four encrypt-and-sign attributes, four sign-only, one do-nothing; S and B
// values alternate; the payload is spread evenly over the nine non-key
// attributes.
var benchSizes = []struct {
	name string
	size int
}{{"1KiB", 1 << 10}, {"10KiB", 10 << 10}, {"100KiB", 100 << 10}}

var benchActions = actions.Map{Default: actions.DoNothing, Attributes: map[string]actions.Action{
	"pk": actions.SignOnly, "sk": actions.SignOnly,
	"enc0": actions.EncryptAndSign, "enc1": actions.EncryptAndSign, "enc2": actions.EncryptAndSign, "enc3": actions.EncryptAndSign,
	"sig0": actions.SignOnly, "sig1": actions.SignOnly, "sig2": actions.SignOnly, "sig3": actions.SignOnly,
	"none": actions.DoNothing,
}}

var benchNames = []string{"enc0", "enc1", "enc2", "enc3", "sig0", "sig1", "sig2", "sig3", "none"}

func benchItem(size int) map[string]types.AttributeValue {
	per := size / len(benchNames)
	item := map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "customer#0001"},
		"sk": &types.AttributeValueMemberN{Value: "1700000000"},
	}
	for i, name := range benchNames {
		if i%2 == 0 {
			item[name] = &types.AttributeValueMemberS{Value: string(bytes.Repeat([]byte{'a' + byte(i)}, per))}
		} else {
			b := make([]byte, per)
			rand.Read(b)
			item[name] = &types.AttributeValueMemberB{Value: b}
		}
	}
	return item
}

func benchEncryptor(b *testing.B) *ddbenc.Encryptor {
	b.Helper()
	mac, err := signing.NewHMAC("HmacSHA256", bytes.Repeat([]byte{2}, 32))
	if err != nil {
		b.Fatal(err)
	}
	p, err := provider.NewStatic(bytes.Repeat([]byte{1}, 32), mac, nil)
	if err != nil {
		b.Fatal(err)
	}
	e, err := ddbenc.NewEncryptor(ddbenc.TableConfig{TableName: "Bench", PartitionKey: "pk", SortKey: "sk", Actions: benchActions, Provider: p})
	if err != nil {
		b.Fatal(err)
	}
	return e
}

func BenchmarkEncryptItem(b *testing.B) {
	ctx := context.Background()
	e := benchEncryptor(b)
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			item := benchItem(s.size)
			b.ReportAllocs()
			b.SetBytes(int64(s.size))
			for b.Loop() {
				if _, err := e.EncryptItem(ctx, item); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecryptItem(b *testing.B) {
	ctx := context.Background()
	e := benchEncryptor(b)
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			stored, err := e.EncryptItem(ctx, benchItem(s.size))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(s.size))
			for b.Loop() {
				if _, err := e.DecryptItem(ctx, stored); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEncryptItemParallel(b *testing.B) {
	ctx := context.Background()
	e := benchEncryptor(b)
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			item := benchItem(s.size)
			b.ReportAllocs()
			b.SetBytes(int64(s.size))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := e.EncryptItem(ctx, item); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

func BenchmarkDecryptItemParallel(b *testing.B) {
	ctx := context.Background()
	e := benchEncryptor(b)
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			stored, err := e.EncryptItem(ctx, benchItem(s.size))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(s.size))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := e.DecryptItem(ctx, stored); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// The lower bound: only the primitive work the format requires for the same
// item, written here without any library code. Per item: one HKDF derivation
// of two keys; AES-256-CBC with a fresh IV over each encrypted attribute's
// serialized bytes (tag + length + value); one HMAC-SHA256 over the string to
// sign, including the SHA-256 of each signed part (table, names, action
// markers, serialized stored values).

type lbAttr struct {
	name   string
	value  []byte // serialized plaintext (encrypt) or serialized stored value (sign)
	encryp bool
}

// lbSerialize is the serialization of a top-level S or B value: 2-byte tag,
// 4-byte length, bytes.
func lbSerialize(tag byte, v []byte) []byte {
	out := make([]byte, 6+len(v))
	out[1] = tag
	binary.BigEndian.PutUint32(out[2:], uint32(len(v)))
	copy(out[6:], v)
	return out
}

func lbAttrs(size int) []lbAttr {
	var attrs []lbAttr
	for name, v := range benchItem(size) {
		var ser []byte
		switch x := v.(type) {
		case *types.AttributeValueMemberS:
			ser = lbSerialize('s', []byte(x.Value))
		case *types.AttributeValueMemberB:
			ser = lbSerialize('b', x.Value)
		case *types.AttributeValueMemberN:
			ser = lbSerialize('n', []byte(x.Value))
		}
		a := benchActions.Get(name)
		if a == actions.DoNothing {
			continue
		}
		attrs = append(attrs, lbAttr{name: name, value: ser, encryp: a == actions.EncryptAndSign})
	}
	return attrs
}

var (
	lbIKM      = bytes.Repeat([]byte{7}, 32)
	lbENC      = sha256.Sum256([]byte("ENCRYPTED"))
	lbPLAIN    = sha256.Sum256([]byte("PLAINTEXT"))
	lbTableSum = sha256.Sum256([]byte("TABLE>Bench<TABLE"))
)

func lbKeys() (enc, mac []byte) {
	prk, _ := hkdf.Extract(sha256.New, lbIKM, nil)
	enc, _ = hkdf.Expand(sha256.New, prk, "Encryption", 32)
	mac, _ = hkdf.Expand(sha256.New, prk, "Signing", 32)
	return enc, mac
}

// lbSign hashes each signed part and MACs the concatenation.
func lbSign(mac []byte, names []string, values [][]byte, encrypted []bool) []byte {
	sts := make([]byte, 0, 32*(1+3*len(names)))
	sts = append(sts, lbTableSum[:]...)
	for i := range names {
		n := sha256.Sum256([]byte(names[i]))
		sts = append(sts, n[:]...)
		if encrypted[i] {
			sts = append(sts, lbENC[:]...)
		} else {
			sts = append(sts, lbPLAIN[:]...)
		}
		v := sha256.Sum256(values[i])
		sts = append(sts, v[:]...)
	}
	m := hmac.New(sha256.New, mac)
	m.Write(sts)
	return m.Sum(nil)
}

func lbEncryptOnce(attrs []lbAttr) {
	encKey, macKey := lbKeys()
	block, _ := aes.NewCipher(encKey)
	names := make([]string, len(attrs))
	values := make([][]byte, len(attrs))
	encrypted := make([]bool, len(attrs))
	for i, a := range attrs {
		names[i], encrypted[i] = a.name, a.encryp
		if !a.encryp {
			values[i] = a.value
			continue
		}
		pad := aes.BlockSize - len(a.value)%aes.BlockSize
		ct := make([]byte, aes.BlockSize+len(a.value)+pad)
		rand.Read(ct[:aes.BlockSize])
		copy(ct[aes.BlockSize:], a.value)
		for j := aes.BlockSize + len(a.value); j < len(ct); j++ {
			ct[j] = byte(pad)
		}
		cipher.NewCBCEncrypter(block, ct[:aes.BlockSize]).CryptBlocks(ct[aes.BlockSize:], ct[aes.BlockSize:])
		values[i] = lbSerialize('b', ct) // the signature covers the stored ciphertext
	}
	lbSign(macKey, names, values, encrypted)
}

func BenchmarkLowerBoundEncrypt(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			attrs := lbAttrs(s.size)
			b.ReportAllocs()
			b.SetBytes(int64(s.size))
			for b.Loop() {
				lbEncryptOnce(attrs)
			}
		})
	}
}

func BenchmarkLowerBoundDecrypt(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			attrs := lbAttrs(s.size)
			// Stored form: ciphertexts for encrypted attributes.
			encKey, _ := lbKeys()
			block, _ := aes.NewCipher(encKey)
			stored := make([][]byte, len(attrs))
			for i, a := range attrs {
				if !a.encryp {
					continue
				}
				pad := aes.BlockSize - len(a.value)%aes.BlockSize
				ct := make([]byte, aes.BlockSize+len(a.value)+pad)
				rand.Read(ct[:aes.BlockSize])
				copy(ct[aes.BlockSize:], a.value)
				for j := aes.BlockSize + len(a.value); j < len(ct); j++ {
					ct[j] = byte(pad)
				}
				cipher.NewCBCEncrypter(block, ct[:aes.BlockSize]).CryptBlocks(ct[aes.BlockSize:], ct[aes.BlockSize:])
				stored[i] = ct
			}
			b.ReportAllocs()
			b.SetBytes(int64(s.size))
			for b.Loop() {
				encKey, macKey := lbKeys()
				blk, _ := aes.NewCipher(encKey)
				names := make([]string, len(attrs))
				values := make([][]byte, len(attrs))
				encrypted := make([]bool, len(attrs))
				for i, a := range attrs {
					names[i], encrypted[i] = a.name, a.encryp
					if a.encryp {
						values[i] = lbSerialize('b', stored[i])
					} else {
						values[i] = a.value
					}
				}
				lbSign(macKey, names, values, encrypted)
				for i, a := range attrs {
					if !a.encryp {
						continue
					}
					ct := stored[i]
					pt := make([]byte, len(ct)-aes.BlockSize)
					cipher.NewCBCDecrypter(blk, ct[:aes.BlockSize]).CryptBlocks(pt, ct[aes.BlockSize:])
					_ = pt[:len(pt)-int(pt[len(pt)-1])]
				}
			}
		})
	}
}

// TestBenchItemShape keeps the benchmark item honest: the named size, the
// actions the issue lists.
func TestBenchItemShape(t *testing.T) {
	for _, s := range benchSizes {
		item := benchItem(s.size)
		total := 0
		counts := map[actions.Action]int{}
		for name, v := range item {
			if name == "pk" || name == "sk" {
				continue
			}
			switch x := v.(type) {
			case *types.AttributeValueMemberS:
				total += len(x.Value)
			case *types.AttributeValueMemberB:
				total += len(x.Value)
			}
			counts[benchActions.Get(name)]++
		}
		if total < s.size*95/100 || total > s.size {
			t.Errorf("%s: item payload %d bytes", s.name, total)
		}
		if counts[actions.EncryptAndSign] != 4 || counts[actions.SignOnly] != 4 || counts[actions.DoNothing] != 1 {
			t.Errorf("%s: actions %v", s.name, counts)
		}
	}
}

// versionStore serves one material version from memory: the most-recent
// provider's per-item cost once its cache is warm, without DynamoDB.
type versionStore struct{ p ddbenc.MaterialsProvider }

func (s versionStore) Provider(context.Context, string, int64) (ddbenc.MaterialsProvider, error) {
	return s.p, nil
}
func (s versionStore) MaxVersion(context.Context, string) (int64, bool, error) { return 0, true, nil }
func (s versionStore) GetOrCreate(context.Context, string, int64) (ddbenc.MaterialsProvider, error) {
	return s.p, nil
}

func mostRecentEncryptor(b *testing.B) *ddbenc.Encryptor {
	b.Helper()
	kek, _ := provider.AESWrappingKey(bytes.Repeat([]byte{3}, 32))
	mac, _ := signing.NewHMAC("HmacSHA256", bytes.Repeat([]byte{4}, 32))
	w, err := provider.NewWrapped(kek, mac, nil, func(o *provider.WrappedOptions) {
		o.MaterialDescription = map[string]string{"amzn-ddb-meta-id": "bench#0"}
	})
	if err != nil {
		b.Fatal(err)
	}
	mr, err := provider.NewMostRecent(versionStore{w}, "bench")
	if err != nil {
		b.Fatal(err)
	}
	e, err := ddbenc.NewEncryptor(ddbenc.TableConfig{TableName: "Bench", PartitionKey: "pk", SortKey: "sk", Actions: benchActions, Provider: mr})
	if err != nil {
		b.Fatal(err)
	}
	return e
}

// BenchmarkMostRecentCached is the most-recent provider's cost per item once
// the version is cached: a fresh content key, AES key wrap, encryption and
// signing (encrypt), and unwrap, verification and decryption (decrypt).
func BenchmarkMostRecentCached(b *testing.B) {
	ctx := context.Background()
	e := mostRecentEncryptor(b)
	for _, s := range benchSizes {
		item := benchItem(s.size)
		stored, err := e.EncryptItem(ctx, item)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("Encrypt/"+s.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(s.size))
			for b.Loop() {
				if _, err := e.EncryptItem(ctx, item); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("Decrypt/"+s.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(s.size))
			for b.Loop() {
				if _, err := e.DecryptItem(ctx, stored); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
