package ddbenc_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/ddbenctest"
	"github.com/ddbec/ddbec-go/internal/avtest"
	"github.com/ddbec/ddbec-go/internal/legacy"
	"github.com/ddbec/ddbec-go/keyring"
	"github.com/ddbec/ddbec-go/provider"
	"github.com/ddbec/ddbec-go/signing"
)

// memStore is an in-memory MaterialStore of wrapped (AES key wrap + HMAC)
// versions, for the most-recent provider.
type memStore struct {
	mu       sync.Mutex
	versions map[int64]ddbenc.MaterialsProvider
}

func (s *memStore) Provider(_ context.Context, _ string, v int64) (ddbenc.MaterialsProvider, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.versions[v]; ok {
		return p, nil
	}
	return nil, fmt.Errorf("%w: no version %d", ddbenc.ErrWrongKey, v)
}

func (s *memStore) MaxVersion(context.Context, string) (int64, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := int64(len(s.versions))
	return n - 1, n > 0, nil
}

func (s *memStore) GetOrCreate(_ context.Context, _ string, v int64) (ddbenc.MaterialsProvider, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.versions[v]; ok {
		return p, nil
	}
	kek, err := provider.AESWrappingKey(bytes.Repeat([]byte{byte(0x40 + v)}, 32))
	if err != nil {
		return nil, err
	}
	mac, err := signing.NewHMAC("HmacSHA256", bytes.Repeat([]byte{byte(0x50 + v)}, 32))
	if err != nil {
		return nil, err
	}
	p, err := provider.NewWrapped(kek, mac, nil, func(o *provider.WrappedOptions) {
		o.MaterialDescription = map[string]string{legacy.MetaID: fmt.Sprintf("material#%d", v)}
	})
	if err != nil {
		return nil, err
	}
	if s.versions == nil {
		s.versions = map[int64]ddbenc.MaterialsProvider{}
	}
	s.versions[v] = p
	return p, nil
}

// allProviders returns every provider kind: static (HMAC and RSA signing),
// wrapped (AES key wrap), asymmetric (RSA-OAEP), most-recent and DirectKMS
// against the fake KMS.
func allProviders(t *testing.T) map[string]ddbenc.MaterialsProvider {
	t.Helper()
	ps := providers(t)
	mr, err := provider.NewMostRecent(&memStore{}, "material")
	if err != nil {
		t.Fatal(err)
	}
	fake := ddbenctest.StartKMS(t, ddbenctest.KMSOptions{Seed: []byte("keys")})
	url := fake.URL
	kmsP, err := provider.NewDirectKMS(ddbenctest.NewKMSClient(url, "us-east-1"), fake.CreateKey("us-east-1", true))
	if err != nil {
		t.Fatal(err)
	}
	return map[string]ddbenc.MaterialsProvider{
		"static": ps["static-hmac"], "static-rsa": ps["static-rsa"], "wrapped": ps["wrapped-aes"],
		"asymmetric": ps["wrapped-rsa"], "most-recent": mr, "direct-kms": kmsP,
	}
}

// TestKeysAlwaysSigned is the record-swap attack: an attacker who can write
// to the table copies the victim's encrypted SSN, signature and material
// description into the attacker's own record, or moves the victim's item to
// another sort key. Whatever the default action and the provider, reading
// must fail with ErrSignature.
func TestKeysAlwaysSigned(t *testing.T) {
	ctx := context.Background()
	defaults := map[string]actions.Map{
		"default encrypt": {Default: actions.EncryptAndSign, Attributes: map[string]actions.Action{"note": actions.SignOnly}},
		"default sign":    {Default: actions.SignOnly, Attributes: map[string]actions.Action{"ssn": actions.EncryptAndSign}},
		"default nothing": {Default: actions.DoNothing, Attributes: map[string]actions.Action{"ssn": actions.EncryptAndSign}},
	}
	item := func(who string, sort string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{
			pk: &types.AttributeValueMemberS{Value: who}, sk: &types.AttributeValueMemberN{Value: sort},
			"ssn": &types.AttributeValueMemberS{Value: "ssn of " + who}, "note": &types.AttributeValueMemberS{Value: "note"},
		}
	}
	for pname, p := range allProviders(t) {
		for dname, acts := range defaults {
			t.Run(pname+"/"+dname, func(t *testing.T) {
				e, err := ddbenc.NewEncryptor(ddbenc.TableConfig{TableName: "People", PartitionKey: pk, SortKey: sk, Actions: acts, Provider: p})
				if err != nil {
					t.Fatal(err)
				}
				for _, k := range []string{pk, sk} {
					if got := e.Action(k); got != actions.SignOnly {
						t.Errorf("Action(%s) = %v, want sign", k, got)
					}
				}
				victim, err := e.EncryptItem(ctx, item("victim", "1"))
				if err != nil {
					t.Fatal(err)
				}
				attacker, err := e.EncryptItem(ctx, item("attacker", "1"))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := e.DecryptItem(ctx, victim); err != nil {
					t.Fatalf("unchanged victim item: %v", err)
				}
				swapped := avtest.Clone(victim)
				swapped[pk], swapped[sk] = attacker[pk], attacker[sk]
				moved := avtest.Clone(victim)
				moved[sk] = &types.AttributeValueMemberN{Value: "2"}
				for name, m := range map[string]map[string]types.AttributeValue{"record swap": swapped, "moved to another sort key": moved} {
					got, err := e.DecryptItem(ctx, m)
					if got != nil || !errors.Is(err, ddbenc.ErrSignature) {
						t.Errorf("%s: DecryptItem = %v, %v; want no item and ErrSignature", name, got != nil, err)
					}
				}
			})
		}
	}
}

// TestLegacyUnsignedKeys: an explicit DoNothing on a key is refused unless
// the migration setting is on; with it the legacy rule applies, and the
// record swap then succeeds, which is why it is opt-in.
func TestLegacyUnsignedKeys(t *testing.T) {
	ctx := context.Background()
	p := providers(t)["static-hmac"]
	explicit := actions.Map{Default: actions.EncryptAndSign, Attributes: map[string]actions.Action{pk: actions.DoNothing}}
	_, err := ddbenc.NewEncryptor(ddbenc.TableConfig{TableName: "T", PartitionKey: pk, Actions: explicit, Provider: p})
	var de *ddbenc.Error
	if !errors.Is(err, ddbenc.ErrInvalidConfig) || !errors.As(err, &de) || de.Attribute != pk || !strings.Contains(err.Error(), "LegacyUnsignedKeys") {
		t.Fatalf("explicit DoNothing key: %v; want ErrInvalidConfig naming %q and the opt-in", err, pk)
	}

	legacyActs := actions.Map{Default: actions.DoNothing, Attributes: map[string]actions.Action{"ssn": actions.EncryptAndSign}}
	e, err := ddbenc.NewEncryptor(ddbenc.TableConfig{TableName: "T", PartitionKey: pk, SortKey: sk, Actions: legacyActs, Provider: p, LegacyUnsignedKeys: true})
	if err != nil {
		t.Fatal(err)
	}
	if e.Action(pk) != actions.DoNothing || e.Action(sk) != actions.DoNothing {
		t.Fatalf("LegacyUnsignedKeys: key actions %v %v, want do_nothing (the legacy rule)", e.Action(pk), e.Action(sk))
	}
	victim, err := e.EncryptItem(ctx, map[string]types.AttributeValue{pk: &types.AttributeValueMemberS{Value: "victim"}, sk: &types.AttributeValueMemberN{Value: "1"}, "ssn": &types.AttributeValueMemberS{Value: "x"}})
	if err != nil {
		t.Fatal(err)
	}
	victim[pk] = &types.AttributeValueMemberS{Value: "attacker"}
	if _, err := e.DecryptItem(ctx, victim); err != nil {
		t.Errorf("LegacyUnsignedKeys: swapped record = %v; the legacy rule leaves keys unsigned", err)
	}
	// A signed reader cannot read items written with unsigned keys, and the
	// error says which settings must match.
	strict, err := ddbenc.NewEncryptor(ddbenc.TableConfig{TableName: "T", PartitionKey: pk, SortKey: sk, Actions: legacyActs, Provider: p})
	if err != nil {
		t.Fatal(err)
	}
	_, err = strict.DecryptItem(ctx, victim)
	if !errors.Is(err, ddbenc.ErrSignature) {
		t.Fatalf("signed-keys reader of an unsigned-keys item: %v, want ErrSignature", err)
	}
	for _, want := range []string{`"T"`, pk, sk, "actions", "ordering", "LegacyUnsignedKeys"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("signature error %q does not mention %s", err, want)
		}
	}
	if strings.Contains(err.Error(), "attacker") || strings.Contains(err.Error(), "victim") {
		t.Errorf("signature error %q contains a key value", err)
	}
}

func TestKeyAndIndexRules(t *testing.T) {
	p := providers(t)["static-hmac"]
	gsi := ddbenc.Index{Name: "byEmail", PartitionKey: "email", SortKey: "created"}
	lsi := ddbenc.Index{Name: "byDate", PartitionKey: pk, SortKey: "date"}
	acts := func(def actions.Action, kv ...any) actions.Map {
		m := actions.Map{Default: def, Attributes: map[string]actions.Action{}}
		for i := 0; i < len(kv); i += 2 {
			m.Attributes[kv[i].(string)] = kv[i+1].(actions.Action)
		}
		return m
	}
	cases := []struct {
		name    string
		acts    actions.Map
		indexes []ddbenc.Index
		attr    string // the attribute the error names; empty: no error
		want    map[string]actions.Action
	}{
		{name: "default encrypt signs keys", acts: acts(actions.EncryptAndSign),
			want: map[string]actions.Action{pk: actions.SignOnly, sk: actions.SignOnly, "x": actions.EncryptAndSign}},
		{name: "default nothing signs keys", acts: acts(actions.DoNothing, "ssn", actions.EncryptAndSign),
			want: map[string]actions.Action{pk: actions.SignOnly, sk: actions.SignOnly, "x": actions.DoNothing, "ssn": actions.EncryptAndSign}},
		{name: "all nothing leaves keys alone", acts: acts(actions.DoNothing),
			want: map[string]actions.Action{pk: actions.DoNothing, sk: actions.DoNothing}},
		{name: "explicit nothing on sort key", acts: acts(actions.SignOnly, sk, actions.DoNothing), attr: sk},
		{name: "explicit encrypt on partition key", acts: acts(actions.SignOnly, pk, actions.EncryptAndSign), attr: pk},
		{name: "index key explicitly encrypted", acts: acts(actions.SignOnly, "email", actions.EncryptAndSign), indexes: []ddbenc.Index{gsi}, attr: "email"},
		{name: "index key encrypted by default", acts: acts(actions.EncryptAndSign, "email", actions.SignOnly), indexes: []ddbenc.Index{gsi}, attr: "created"},
		{name: "LSI key encrypted by default", acts: acts(actions.EncryptAndSign), indexes: []ddbenc.Index{lsi}, attr: "date"},
		{name: "index keys set explicitly", acts: acts(actions.EncryptAndSign, "email", actions.SignOnly, "created", actions.DoNothing, "date", actions.SignOnly),
			indexes: []ddbenc.Index{gsi, lsi},
			want:    map[string]actions.Action{pk: actions.SignOnly, "email": actions.SignOnly, "created": actions.DoNothing, "date": actions.SignOnly, "x": actions.EncryptAndSign}},
		{name: "index keys under a sign default", acts: acts(actions.SignOnly), indexes: []ddbenc.Index{gsi},
			want: map[string]actions.Action{"email": actions.SignOnly, "created": actions.SignOnly}},
		{name: "index without a name", acts: acts(actions.SignOnly), indexes: []ddbenc.Index{{PartitionKey: "email"}}, attr: ""},
		{name: "index twice", acts: acts(actions.SignOnly), indexes: []ddbenc.Index{gsi, gsi}, attr: ""},
		{name: "index key with a reserved name", acts: acts(actions.SignOnly), indexes: []ddbenc.Index{{Name: "i", PartitionKey: legacy.SignatureAttribute}}, attr: legacy.SignatureAttribute},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := ddbenc.TableConfig{TableName: "T", PartitionKey: pk, SortKey: sk, Indexes: c.indexes, Actions: c.acts, Provider: p}
			e, err := ddbenc.NewEncryptor(cfg)
			if c.want == nil {
				var de *ddbenc.Error
				if !errors.Is(err, ddbenc.ErrInvalidConfig) || !errors.As(err, &de) || de.Attribute != c.attr {
					t.Fatalf("NewEncryptor = %v; want ErrInvalidConfig naming attribute %q", err, c.attr)
				}
				for _, ix := range c.indexes {
					if c.attr != "" && c.attr != pk && c.attr != sk && !strings.Contains(err.Error(), ix.Name) && (c.attr == ix.PartitionKey || c.attr == ix.SortKey) {
						t.Errorf("error %q does not name index %q", err, ix.Name)
					}
				}
				if _, err := ddbenc.EffectiveActions(cfg); !errors.Is(err, ddbenc.ErrInvalidConfig) {
					t.Errorf("EffectiveActions = %v, want the same refusal", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for name, want := range c.want {
				if got := e.Action(name); got != want {
					t.Errorf("Action(%s) = %v, want %v", name, got, want)
				}
			}
		})
	}
	// The default-encrypts refusal explains why the action must be explicit.
	_, err := ddbenc.NewEncryptor(ddbenc.TableConfig{TableName: "T", PartitionKey: pk, Indexes: []ddbenc.Index{gsi}, Actions: acts(actions.EncryptAndSign), Provider: p})
	if err == nil || !strings.Contains(err.Error(), "explicitly") || !strings.Contains(err.Error(), "byEmail") {
		t.Errorf("default-encrypted index key: %v; want an explanation naming the index", err)
	}
}

// TestTableARNIsTheTable: a table ARN stands for the table name.
func TestTableARNIsTheTable(t *testing.T) {
	p := providers(t)["static-hmac"]
	acts := actions.Map{Default: actions.EncryptAndSign}
	byName := newEncryptor(t, p, acts)
	byARN, err := ddbenc.NewEncryptor(ddbenc.TableConfig{TableName: "arn:aws:dynamodb:us-east-1:111122223333:table/T", PartitionKey: pk, SortKey: sk, Actions: acts, Provider: p})
	if err != nil {
		t.Fatal(err)
	}
	if byARN.TableName() != "T" {
		t.Errorf("TableName() = %q, want T", byARN.TableName())
	}
	stored := storedItem(t, byARN)
	if _, err := byName.DecryptItem(context.Background(), stored); err != nil {
		t.Errorf("item written through the ARN configuration does not read by name: %v", err)
	}
}

// TestDBESDKIndexKeysNotEncrypted: the index rule holds for the DB-ESDK
// format too.
func TestDBESDKIndexKeysNotEncrypted(t *testing.T) {
	kr, err := keyring.NewRawAES("ns", "name", bytes.Repeat([]byte{5}, 32))
	if err != nil {
		t.Fatal(err)
	}
	gsi := []ddbenc.Index{{Name: "byEmail", PartitionKey: "email"}}
	for name, c := range map[string]struct {
		acts actions.Map
		ok   bool
	}{
		"default encrypt":        {actions.Map{Default: actions.EncryptAndSign}, false},
		"explicit encrypt":       {actions.Map{Default: actions.SignOnly, Attributes: map[string]actions.Action{"email": actions.EncryptAndSign}}, false},
		"explicit sign":          {actions.Map{Default: actions.EncryptAndSign, Attributes: map[string]actions.Action{"email": actions.SignOnly}}, true},
		"sign and include in EC": {actions.Map{Default: actions.EncryptAndSign, Attributes: map[string]actions.Action{"email": actions.SignAndIncludeInEncryptionContext}}, true},
	} {
		_, err := ddbenc.NewEncryptor(ddbenc.TableConfig{TableName: "T", PartitionKey: pk, Indexes: gsi, Actions: c.acts, Format: ddbenc.DBESDKFormat, Keyring: kr})
		var de *ddbenc.Error
		switch {
		case c.ok && err != nil:
			t.Errorf("%s: %v", name, err)
		case !c.ok && (!errors.Is(err, ddbenc.ErrInvalidConfig) || !errors.As(err, &de) || de.Attribute != "email"):
			t.Errorf("%s: %v, want ErrInvalidConfig naming email", name, err)
		}
	}
}
