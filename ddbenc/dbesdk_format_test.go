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
	"github.com/ddbec/ddbec-go/keyring"
)

// TestDBESDKFormatConfig checks which settings each format accepts.
func TestDBESDKFormatConfig(t *testing.T) {
	krs, _ := testKeyrings(t)
	kr := krs["aes-256"]
	sai := actions.SignAndIncludeInEncryptionContext
	base := func() ddbenc.TableConfig {
		return ddbenc.TableConfig{TableName: "T", PartitionKey: "pk", SortKey: "sk", Format: ddbenc.DBESDKFormat, Keyring: kr,
			Actions: actions.Map{Default: actions.DoNothing, Attributes: map[string]actions.Action{"a": actions.EncryptAndSign}}}
	}
	for name, c := range map[string]struct {
		mod func(*ddbenc.TableConfig)
		ok  bool
	}{
		"plain":            {func(*ddbenc.TableConfig) {}, true},
		"v2":               {func(c *ddbenc.TableConfig) { c.Actions.Attributes["b"] = sai }, true},
		"v2 explicit keys": {func(c *ddbenc.TableConfig) { c.Actions.Attributes["pk"], c.Actions.Attributes["sk"] = sai, sai }, true},
		"v2 sign-only key": {func(c *ddbenc.TableConfig) {
			c.Actions.Attributes["b"], c.Actions.Attributes["pk"] = sai, actions.SignOnly
		}, false},
		"encrypted key":       {func(c *ddbenc.TableConfig) { c.Actions.Attributes["pk"] = actions.EncryptAndSign }, false},
		"no keyring":          {func(c *ddbenc.TableConfig) { c.Keyring = nil }, false},
		"reserved name":       {func(c *ddbenc.TableConfig) { c.Actions.Attributes["aws_dbe_x"] = actions.SignOnly }, false},
		"do-nothing unlisted": {func(c *ddbenc.TableConfig) { c.Actions.Attributes["u"] = actions.DoNothing }, false},
		"do-nothing listed": {func(c *ddbenc.TableConfig) {
			c.Actions.Attributes["u"] = actions.DoNothing
			c.AllowedUnsignedAttributes = []string{"u"}
		}, true},
		"signed but unsigned prefix": {func(c *ddbenc.TableConfig) { c.AllowedUnsignedAttributePrefix = "a" }, false},
		"bad suite":                  {func(c *ddbenc.TableConfig) { c.Suite = 0x0014 }, false},
		"default sign-and-include":   {func(c *ddbenc.TableConfig) { c.Actions.Default = sai }, false},
		"legacy setting":             {func(c *ddbenc.TableConfig) { c.SignedTableName = "X" }, false},
		"legacy with sign-and-include": {func(c *ddbenc.TableConfig) {
			c.Format, c.Keyring, c.Provider = ddbenc.LegacyFormat, nil, providers(t)["wrapped-aes"]
			c.Actions.Attributes["b"] = sai
		}, false},
		"legacy with keyring": {func(c *ddbenc.TableConfig) {
			c.Format, c.Provider = ddbenc.LegacyFormat, providers(t)["wrapped-aes"]
		}, false},
	} {
		cfg := base()
		c.mod(&cfg)
		_, err := ddbenc.NewEncryptor(cfg)
		if c.ok && err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if !c.ok && !errors.Is(err, ddbenc.ErrInvalidConfig) {
			t.Errorf("%s: NewEncryptor = %v, want ErrInvalidConfig", name, err)
		}
	}
}

// TestDBESDKFormatRefusesOtherFormat checks that each format's table refuses
// the other format's items with a clear error, and that aws_dbe_ is reserved.
func TestDBESDKFormatRefusesOtherFormat(t *testing.T) {
	krs, _ := testKeyrings(t)
	ctx := context.Background()
	dbe, err := ddbenc.NewEncryptor(ddbenc.TableConfig{TableName: "T", PartitionKey: pk, SortKey: sk, Format: ddbenc.DBESDKFormat, Keyring: krs["hierarchical"],
		Actions: actions.Map{Default: actions.EncryptAndSign}})
	if err != nil {
		t.Fatal(err)
	}
	leg := newEncryptor(t, providers(t)["wrapped-aes"], testActions)
	item := map[string]types.AttributeValue{pk: &types.AttributeValueMemberS{Value: "p"}, sk: &types.AttributeValueMemberN{Value: "1"}, "x": &types.AttributeValueMemberS{Value: "v"}}
	legItem, err := leg.EncryptItem(ctx, item)
	if err != nil {
		t.Fatal(err)
	}
	dbeItem, err := dbe.EncryptItem(ctx, item)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dbe.DecryptItem(ctx, legItem); !errors.Is(err, ddbenc.ErrLegacyItem) || !strings.Contains(err.Error(), "legacy") {
		t.Errorf("DB-ESDK table, legacy item: %v, want ErrLegacyItem naming the legacy format", err)
	}
	if _, err := leg.DecryptItem(ctx, dbeItem); !errors.Is(err, ddbenc.ErrMalformed) || !strings.Contains(err.Error(), "Database Encryption SDK") {
		t.Errorf("legacy table, DB-ESDK item: %v, want ErrMalformed naming the DB-ESDK format", err)
	}
	if _, err := dbe.DecryptItem(ctx, item); !errors.Is(err, ddbenc.ErrPlaintextItem) {
		t.Errorf("DB-ESDK table, plaintext item: %v, want ErrPlaintextItem", err)
	}
	got, err := dbe.DecryptItem(ctx, dbeItem)
	if err != nil {
		t.Fatal(err)
	}
	if got["x"].(*types.AttributeValueMemberS).Value != "v" {
		t.Errorf("default EncryptAndSign round trip: %v", got["x"])
	}
	if a := dbe.Action("x"); a != actions.EncryptAndSign {
		t.Errorf("Action(x) = %v", a)
	}
	if a := dbe.Action(pk); a != actions.SignOnly {
		t.Errorf("Action(pk) = %v, want the key action", a)
	}
	// Errors name the attribute but never values.
	bad := map[string]types.AttributeValue{}
	for k, v := range dbeItem {
		bad[k] = v
	}
	bad["x"] = &types.AttributeValueMemberS{Value: "secret-value"}
	_, err = dbe.DecryptItem(ctx, bad)
	var de *ddbenc.Error
	if !errors.Is(err, ddbenc.ErrSignature) || !errors.As(err, &de) || de.Attribute != "x" || strings.Contains(err.Error(), "secret-value") {
		t.Errorf("tampered: %v, want ErrSignature naming x without its value", err)
	}
	// Wrong key.
	other, err := ddbenc.NewEncryptor(ddbenc.TableConfig{TableName: "T", PartitionKey: pk, SortKey: sk, Format: ddbenc.DBESDKFormat, Keyring: krs["aes-256"],
		Actions: actions.Map{Default: actions.EncryptAndSign}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.DecryptItem(ctx, dbeItem); !errors.Is(err, ddbenc.ErrWrongKey) {
		t.Errorf("other keyring: %v, want ErrWrongKey", err)
	}
}

// unavailableKeyring fails as a throttled KMS keyring does.
type unavailableKeyring struct{}

func (unavailableKeyring) OnEncrypt(context.Context, *ddbenc.KeyringMaterials) error {
	return fmt.Errorf("%w: throttled", ddbenc.ErrKeyUnavailable)
}

func (unavailableKeyring) OnDecrypt(context.Context, *ddbenc.KeyringMaterials, []ddbenc.EncryptedDataKey) error {
	return fmt.Errorf("%w: throttled", ddbenc.ErrKeyUnavailable)
}

// TestDBESDKKeyUnavailableIsOnlyThat: a transient keyring failure is
// ErrKeyUnavailable and not also a configuration or wrong-key error.
func TestDBESDKKeyUnavailableIsOnlyThat(t *testing.T) {
	e, err := ddbenc.NewEncryptor(ddbenc.TableConfig{TableName: "T", PartitionKey: "pk", Actions: actions.Map{Default: actions.EncryptAndSign},
		Format: ddbenc.DBESDKFormat, Keyring: unavailableKeyring{}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.EncryptItem(context.Background(), map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "k"}, "x": &types.AttributeValueMemberS{Value: "v"}})
	if !errors.Is(err, ddbenc.ErrKeyUnavailable) || errors.Is(err, ddbenc.ErrInvalidConfig) || errors.Is(err, ddbenc.ErrWrongKey) {
		t.Errorf("encrypt with an unavailable keyring: %v; want only ErrKeyUnavailable", err)
	}
}

// TestDBESDKConcurrentDecrypt: one Encryptor decrypting items of both
// configuration versions from many goroutines (the engine shares its last
// list of required context keys between items).
func TestDBESDKConcurrentDecrypt(t *testing.T) {
	ctx := context.Background()
	kr, err := keyring.NewRawAES("ns", "k", bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	var encs []*ddbenc.Encryptor
	var items []map[string]types.AttributeValue
	for _, acts := range []actions.Map{
		{Default: actions.EncryptAndSign},
		{Default: actions.EncryptAndSign, Attributes: map[string]actions.Action{"tenant": actions.SignAndIncludeInEncryptionContext}},
	} {
		e, err := ddbenc.NewEncryptor(ddbenc.TableConfig{TableName: "T", PartitionKey: "pk", Actions: acts, Format: ddbenc.DBESDKFormat, Keyring: kr})
		if err != nil {
			t.Fatal(err)
		}
		for _, who := range []string{"a", "b"} {
			it, err := e.EncryptItem(ctx, map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: who},
				"tenant": &types.AttributeValueMemberS{Value: "t-" + who}, "x": &types.AttributeValueMemberS{Value: "secret"}})
			if err != nil {
				t.Fatal(err)
			}
			encs, items = append(encs, e), append(items, it)
		}
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				k := (g + i) % len(items)
				if _, err := encs[k].DecryptItem(ctx, items[k]); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
