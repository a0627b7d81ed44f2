package ddbenc_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/internal/avtest"
	"github.com/ddbec/ddbec-go/keyring"
)

// The migration table: DB-ESDK actions (secret encrypted, email and tag
// signed, visits and memo allowed unsigned) and legacy actions that differ
// (tag encrypted, memo signed), so that the stricter-action rule shows.

const migTable = "Mig"

var migLegacyActions = actions.Map{Default: actions.EncryptAndSign, Attributes: map[string]actions.Action{
	"email": actions.SignOnly, "visits": actions.DoNothing, "memo": actions.SignOnly,
}}

// noLegacy stands for "no LegacyConfig" in the policy tables.
const noLegacy ddbenc.LegacyPolicy = 0

func migConfig(t *testing.T, lp ddbenc.LegacyPolicy, pp ddbenc.PlaintextPolicy) ddbenc.TableConfig {
	t.Helper()
	kr, err := keyring.NewRawAES("ns", "mig", bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	cfg := ddbenc.TableConfig{
		TableName: migTable, PartitionKey: pk, SortKey: sk, Format: ddbenc.DBESDKFormat, Keyring: kr,
		Actions: actions.Map{Default: actions.DoNothing, Attributes: map[string]actions.Action{
			pk: actions.SignOnly, sk: actions.SignOnly, "secret": actions.EncryptAndSign, "email": actions.SignOnly,
			"tag": actions.SignOnly, "visits": actions.DoNothing,
		}},
		AllowedUnsignedAttributes: []string{"visits", "memo"},
		PlaintextPolicy:           pp,
	}
	if lp != noLegacy {
		cfg.Legacy = &ddbenc.LegacyConfig{Policy: lp, Provider: providers(t)["static-hmac"], Actions: migLegacyActions}
	}
	return cfg
}

func migEncryptor(t *testing.T, lp ddbenc.LegacyPolicy, pp ddbenc.PlaintextPolicy) *ddbenc.Encryptor {
	t.Helper()
	e, err := ddbenc.NewEncryptor(migConfig(t, lp, pp))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// oldLegacyEncryptor is the legacy-format table the migration started from.
func oldLegacyEncryptor(t *testing.T) *ddbenc.Encryptor {
	t.Helper()
	e, err := ddbenc.NewEncryptor(ddbenc.TableConfig{TableName: migTable, PartitionKey: pk, SortKey: sk,
		Actions: migLegacyActions, Provider: providers(t)["static-hmac"]})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func migPlain(p string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{pk: s(p), sk: n("1"), "secret": s("s3cret-" + p), "email": s(p + "@example.com"),
		"tag": s("t"), "visits": n("3"), "memo": s("m")}
}

// migItems returns one stored item of each kind, and the plaintext of each.
func migItems(t *testing.T) (stored, plain map[ddbenc.ItemFormat]map[string]types.AttributeValue) {
	t.Helper()
	ctx := context.Background()
	leg, err := oldLegacyEncryptor(t).EncryptItem(ctx, migPlain("legacy"))
	if err != nil {
		t.Fatal(err)
	}
	dbe, err := migEncryptor(t, noLegacy, 0).EncryptItem(ctx, migPlain("dbe"))
	if err != nil {
		t.Fatal(err)
	}
	stored = map[ddbenc.ItemFormat]map[string]types.AttributeValue{ddbenc.LegacyItem: leg, ddbenc.DBESDKItem: dbe, ddbenc.PlaintextItem: migPlain("plain")}
	plain = map[ddbenc.ItemFormat]map[string]types.AttributeValue{ddbenc.LegacyItem: migPlain("legacy"), ddbenc.DBESDKItem: migPlain("dbe"), ddbenc.PlaintextItem: migPlain("plain")}
	return stored, plain
}

// readOutcome is what a read of one kind of item must give: the format it
// is read as, or the sentinel it is refused with.
type readOutcome struct {
	format ddbenc.ItemFormat
	err    error
}

func checkRead(t *testing.T, name string, e *ddbenc.Encryptor, item, plain map[string]types.AttributeValue, want readOutcome, decryptWant readOutcome) {
	t.Helper()
	ctx := context.Background()
	before := avtest.Clone(item)
	got, f, err := e.ReadItem(ctx, item)
	switch {
	case want.err != nil:
		if !errors.Is(err, want.err) || got != nil {
			t.Errorf("%s: ReadItem = %v, %v, %v; want nothing and %v", name, got != nil, f, err, want.err)
		}
	case err != nil:
		t.Errorf("%s: ReadItem: %v", name, err)
	case f != want.format:
		t.Errorf("%s: ReadItem format %v, want %v", name, f, want.format)
	default:
		if d := avtest.DiffItems(plain, got); d != "" {
			t.Errorf("%s: ReadItem plaintext differs:\n%s", name, d)
		}
	}
	got, err = e.DecryptItem(ctx, item)
	switch {
	case decryptWant.err != nil:
		if !errors.Is(err, decryptWant.err) || got != nil {
			t.Errorf("%s: DecryptItem = %v, %v; want nothing and %v", name, got != nil, err, decryptWant.err)
		}
	case err != nil:
		t.Errorf("%s: DecryptItem: %v", name, err)
	default:
		if d := avtest.DiffItems(plain, got); d != "" {
			t.Errorf("%s: DecryptItem plaintext differs:\n%s", name, d)
		}
	}
	if d := avtest.DiffItems(before, item); d != "" {
		t.Errorf("%s: the input item was modified:\n%s", name, d)
	}
}

func readAs(f ddbenc.ItemFormat) readOutcome { return readOutcome{format: f} }
func refused(err error) readOutcome          { return readOutcome{err: err} }

// TestLegacyPolicyDecrypt covers docs/dbesdk-format.md §10.2, decrypt
// columns: every LegacyPolicy (and none) × every kind of item, under the
// default plaintext policy.
func TestLegacyPolicyDecrypt(t *testing.T) {
	stored, plain := migItems(t)
	legacyRead, legacyRefused := readAs(ddbenc.LegacyItem), refused(ddbenc.ErrLegacyItem)
	dbe, plainRefused := readAs(ddbenc.DBESDKItem), refused(ddbenc.ErrPlaintextItem)
	for _, c := range []struct {
		policy ddbenc.LegacyPolicy
		want   map[ddbenc.ItemFormat]readOutcome
	}{
		{noLegacy, map[ddbenc.ItemFormat]readOutcome{ddbenc.LegacyItem: legacyRefused, ddbenc.DBESDKItem: dbe, ddbenc.PlaintextItem: plainRefused}},
		{ddbenc.ForceLegacyEncryptAllowLegacyDecrypt, map[ddbenc.ItemFormat]readOutcome{ddbenc.LegacyItem: legacyRead, ddbenc.DBESDKItem: dbe, ddbenc.PlaintextItem: plainRefused}},
		{ddbenc.ForbidLegacyEncryptAllowLegacyDecrypt, map[ddbenc.ItemFormat]readOutcome{ddbenc.LegacyItem: legacyRead, ddbenc.DBESDKItem: dbe, ddbenc.PlaintextItem: plainRefused}},
		{ddbenc.ForbidLegacyEncryptForbidLegacyDecrypt, map[ddbenc.ItemFormat]readOutcome{ddbenc.LegacyItem: legacyRefused, ddbenc.DBESDKItem: dbe, ddbenc.PlaintextItem: plainRefused}},
	} {
		e := migEncryptor(t, c.policy, 0)
		for kind, want := range c.want {
			checkRead(t, c.policy.String()+"/"+kind.String(), e, stored[kind], plain[kind], want, want)
		}
	}
}

// TestPlaintextPolicyDecrypt covers §10.3, decrypt columns: every
// PlaintextPolicy × every kind of item, without and with a legacy
// configuration. DecryptItem never returns a plaintext item; a legacy item
// without a legacy configuration is refused, never passed through.
func TestPlaintextPolicyDecrypt(t *testing.T) {
	stored, plain := migItems(t)
	plainRead, plainRefused := readAs(ddbenc.PlaintextItem), refused(ddbenc.ErrPlaintextItem)
	for _, lp := range []ddbenc.LegacyPolicy{noLegacy, ddbenc.ForbidLegacyEncryptAllowLegacyDecrypt} {
		legacy := refused(ddbenc.ErrLegacyItem)
		if lp != noLegacy {
			legacy = readAs(ddbenc.LegacyItem)
		}
		for _, c := range []struct {
			policy ddbenc.PlaintextPolicy
			plain  readOutcome
		}{
			{ddbenc.ForbidPlaintextWriteForbidPlaintextRead, plainRefused},
			{ddbenc.ForbidPlaintextWriteAllowPlaintextRead, plainRead},
			{ddbenc.ForcePlaintextWriteAllowPlaintextRead, plainRead},
		} {
			e := migEncryptor(t, lp, c.policy)
			name := c.policy.String() + "/legacy " + lp.String() + "/"
			checkRead(t, name+"plaintext", e, stored[ddbenc.PlaintextItem], plain[ddbenc.PlaintextItem], c.plain, plainRefused)
			checkRead(t, name+"db-esdk", e, stored[ddbenc.DBESDKItem], plain[ddbenc.DBESDKItem], readAs(ddbenc.DBESDKItem), readAs(ddbenc.DBESDKItem))
			checkRead(t, name+"legacy", e, stored[ddbenc.LegacyItem], plain[ddbenc.LegacyItem], legacy, legacy)
		}
	}
	// The message of DecryptItem's refusal points to ReadItem.
	_, err := migEncryptor(t, noLegacy, ddbenc.ForbidPlaintextWriteAllowPlaintextRead).DecryptItem(context.Background(), migPlain("p"))
	var de *ddbenc.Error
	if !errors.As(err, &de) || de.Table != migTable || !strings.Contains(err.Error(), "ReadItem") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("DecryptItem(plaintext) = %v, want an error naming the table and ReadItem, without values", err)
	}
}

// kindOf tells a stored item's kind the way a reader sees it, checking that
// it carries the attributes of one format only.
func kindOf(t *testing.T, item map[string]types.AttributeValue) ddbenc.ItemFormat {
	t.Helper()
	_, sig := item[sigAttr]
	_, desc := item[descAttr]
	_, head := item["aws_dbe_head"]
	_, foot := item["aws_dbe_foot"]
	switch {
	case sig && desc && !head && !foot:
		return ddbenc.LegacyItem
	case head && foot && !sig && !desc:
		return ddbenc.DBESDKItem
	case !sig && !desc && !head && !foot:
		return ddbenc.PlaintextItem
	}
	t.Fatalf("stored item has attributes of both formats or half of one")
	return 0
}

// TestPolicyEncrypt covers the encrypt columns of §10.2 and §10.3: what a
// table under each policy writes, and that the written item reads back with
// the legacy table (legacy items), the same table (all) and not as anything
// else.
func TestPolicyEncrypt(t *testing.T) {
	ctx := context.Background()
	old := oldLegacyEncryptor(t)
	for _, c := range []struct {
		lp   ddbenc.LegacyPolicy
		pp   ddbenc.PlaintextPolicy
		want ddbenc.ItemFormat
	}{
		{noLegacy, ddbenc.ForbidPlaintextWriteForbidPlaintextRead, ddbenc.DBESDKItem},
		{noLegacy, ddbenc.ForbidPlaintextWriteAllowPlaintextRead, ddbenc.DBESDKItem},
		{noLegacy, ddbenc.ForcePlaintextWriteAllowPlaintextRead, ddbenc.PlaintextItem},
		{ddbenc.ForceLegacyEncryptAllowLegacyDecrypt, 0, ddbenc.LegacyItem},
		{ddbenc.ForbidLegacyEncryptAllowLegacyDecrypt, 0, ddbenc.DBESDKItem},
		{ddbenc.ForbidLegacyEncryptForbidLegacyDecrypt, 0, ddbenc.DBESDKItem},
		{ddbenc.ForceLegacyEncryptAllowLegacyDecrypt, ddbenc.ForbidPlaintextWriteAllowPlaintextRead, ddbenc.LegacyItem},
		{ddbenc.ForbidLegacyEncryptAllowLegacyDecrypt, ddbenc.ForcePlaintextWriteAllowPlaintextRead, ddbenc.PlaintextItem},
	} {
		name := c.lp.String() + "/" + c.pp.String()
		e := migEncryptor(t, c.lp, c.pp)
		plain := migPlain("w")
		out, err := e.EncryptItem(ctx, plain)
		if err != nil {
			t.Errorf("%s: EncryptItem: %v", name, err)
			continue
		}
		if got := kindOf(t, out); got != c.want {
			t.Errorf("%s: wrote a %v item, want %v", name, got, c.want)
			continue
		}
		switch c.want {
		case ddbenc.PlaintextItem:
			if d := avtest.DiffItems(plain, out); d != "" {
				t.Errorf("%s: plaintext write changed the item:\n%s", name, d)
			}
			out["visits"] = n("4")
			if plain["visits"].(*types.AttributeValueMemberN).Value != "3" {
				t.Errorf("%s: the plaintext write returned the caller's map", name)
			}
			continue
		case ddbenc.LegacyItem:
			back, err := old.DecryptItem(ctx, out)
			if err != nil {
				t.Errorf("%s: the legacy table cannot read the item: %v", name, err)
			} else if d := avtest.DiffItems(plain, back); d != "" {
				t.Errorf("%s: legacy round trip differs:\n%s", name, d)
			}
			if _, ok := out["secret"].(*types.AttributeValueMemberB); !ok {
				t.Errorf("%s: secret is not encrypted in the legacy item", name)
			}
		case ddbenc.DBESDKItem:
			if _, err := old.DecryptItem(ctx, out); !errors.Is(err, ddbenc.ErrMalformed) {
				t.Errorf("%s: the legacy table read a DB-ESDK item: %v", name, err)
			}
		}
		back, f, err := e.ReadItem(ctx, out)
		if err != nil || f != c.want {
			t.Errorf("%s: ReadItem of the written item = %v, %v; want %v", name, f, err, c.want)
		} else if d := avtest.DiffItems(plain, back); d != "" {
			t.Errorf("%s: round trip differs:\n%s", name, d)
		}
	}
}

// TestPolicyEncryptRefuses: under every policy, items with the reserved
// names of either format (the legacy ones when there is a legacy
// configuration) are refused, and the Force policies check the key
// attributes first and the DB-ESDK configuration's rules.
func TestPolicyEncryptRefuses(t *testing.T) {
	ctx := context.Background()
	type policy struct {
		lp ddbenc.LegacyPolicy
		pp ddbenc.PlaintextPolicy
	}
	all := []policy{{noLegacy, 0}, {noLegacy, ddbenc.ForbidPlaintextWriteAllowPlaintextRead}, {noLegacy, ddbenc.ForcePlaintextWriteAllowPlaintextRead},
		{ddbenc.ForceLegacyEncryptAllowLegacyDecrypt, 0}, {ddbenc.ForbidLegacyEncryptAllowLegacyDecrypt, 0}, {ddbenc.ForbidLegacyEncryptForbidLegacyDecrypt, 0},
		{ddbenc.ForbidLegacyEncryptAllowLegacyDecrypt, ddbenc.ForcePlaintextWriteAllowPlaintextRead}}
	for _, p := range all {
		name := p.lp.String() + "/" + p.pp.String()
		e := migEncryptor(t, p.lp, p.pp)
		check := func(what string, item map[string]types.AttributeValue, want error, attr string) {
			t.Helper()
			out, err := e.EncryptItem(ctx, item)
			var de *ddbenc.Error
			if out != nil || !errors.Is(err, want) || !errors.As(err, &de) || de.Attribute != attr || de.Table != migTable {
				t.Errorf("%s: %s: EncryptItem = %v, %v; want nothing and %v naming %q", name, what, out != nil, err, want, attr)
			}
		}
		check("aws_dbe_ name", withAttr(migPlain("r"), "aws_dbe_head", s("x")), ddbenc.ErrInvalidItem, "aws_dbe_head")
		check("aws_dbe_ name", withAttr(migPlain("r"), "aws_dbe_x", s("x")), ddbenc.ErrInvalidItem, "aws_dbe_x")
		if p.lp != noLegacy {
			check("legacy signature name", withAttr(migPlain("r"), sigAttr, s("x")), ddbenc.ErrInvalidItem, sigAttr)
			check("legacy description name", withAttr(migPlain("r"), descAttr, s("x")), ddbenc.ErrInvalidItem, descAttr)
		}
		noKey := migPlain("r")
		delete(noKey, pk)
		check("missing partition key", noKey, ddbenc.ErrMissingAttribute, pk)
		if p.lp == ddbenc.ForceLegacyEncryptAllowLegacyDecrypt || p.pp == ddbenc.ForcePlaintextWriteAllowPlaintextRead {
			// Keys come before anything else.
			check("missing partition key and a reserved name", withAttr(noKey, "aws_dbe_x", s("x")), ddbenc.ErrMissingAttribute, pk)
			check("empty partition key", withAttr(migPlain("r"), pk, s("")), ddbenc.ErrInvalidItem, pk)
		}
		check("attribute outside the configuration", withAttr(migPlain("r"), "other", s("x")), ddbenc.ErrInvalidItem, "other")
	}
}

// TestPolicyConfigErrors: the policies' configuration rules.
func TestPolicyConfigErrors(t *testing.T) {
	legacyCfg := func(t *testing.T) *ddbenc.LegacyConfig {
		return &ddbenc.LegacyConfig{Policy: ddbenc.ForbidLegacyEncryptAllowLegacyDecrypt, Provider: providers(t)["static-hmac"], Actions: migLegacyActions}
	}
	for name, c := range map[string]struct {
		edit func(*ddbenc.TableConfig)
		ok   bool
		attr string
	}{
		"legacy-format table with Legacy": {edit: func(c *ddbenc.TableConfig) {
			*c = peopleConfig(t)
			c.Legacy = legacyCfg(t)
		}},
		"legacy-format table with a plaintext policy": {edit: func(c *ddbenc.TableConfig) {
			*c = peopleConfig(t)
			c.PlaintextPolicy = ddbenc.ForbidPlaintextWriteAllowPlaintextRead
		}},
		"Legacy without a policy":   {edit: func(c *ddbenc.TableConfig) { c.Legacy.Policy = 0 }},
		"unknown legacy policy":     {edit: func(c *ddbenc.TableConfig) { c.Legacy.Policy = 9 }},
		"unknown plaintext policy":  {edit: func(c *ddbenc.TableConfig) { c.PlaintextPolicy = 9 }},
		"Legacy without a provider": {edit: func(c *ddbenc.TableConfig) { c.Legacy.Provider = nil }},
		"legacy action sign-and-include": {edit: func(c *ddbenc.TableConfig) {
			c.Legacy.Actions.Attributes = map[string]actions.Action{"tag": actions.SignAndIncludeInEncryptionContext}
		}, attr: "tag"},
		"legacy default sign-and-include": {edit: func(c *ddbenc.TableConfig) { c.Legacy.Actions.Default = actions.SignAndIncludeInEncryptionContext }},
		"legacy default not set":          {edit: func(c *ddbenc.TableConfig) { c.Legacy.Actions.Default = 0 }},
		"legacy actions sign nothing":     {edit: func(c *ddbenc.TableConfig) { c.Legacy.Actions = actions.Map{Default: actions.DoNothing} }},
		"legacy action on an aws_dbe_ name": {edit: func(c *ddbenc.TableConfig) {
			c.Legacy.Actions.Attributes = map[string]actions.Action{"aws_dbe_x": actions.SignOnly}
		}, attr: "aws_dbe_x"},
		"legacy action encrypts an index key": {edit: func(c *ddbenc.TableConfig) {
			c.Indexes = []ddbenc.Index{{Name: "byTag", PartitionKey: "tag"}}
		}, attr: "tag"},
		"DB-ESDK action on a legacy name": {edit: func(c *ddbenc.TableConfig) {
			c.Actions.Attributes[sigAttr] = actions.DoNothing
			c.AllowedUnsignedAttributes = append(c.AllowedUnsignedAttributes, sigAttr)
		}, attr: sigAttr},
		"both Force policies": {edit: func(c *ddbenc.TableConfig) {
			c.Legacy.Policy = ddbenc.ForceLegacyEncryptAllowLegacyDecrypt
			c.PlaintextPolicy = ddbenc.ForcePlaintextWriteAllowPlaintextRead
		}},
		"legacy ordering invalid": {edit: func(c *ddbenc.TableConfig) { c.Legacy.Ordering = 9 }},
		// Allowed (AWS refuses a legacy configuration with a plaintext
		// policy; the classifier here tells the three kinds apart).
		"Legacy and plaintext read": {edit: func(c *ddbenc.TableConfig) { c.PlaintextPolicy = ddbenc.ForbidPlaintextWriteAllowPlaintextRead }, ok: true},
		"Force legacy and plaintext read": {edit: func(c *ddbenc.TableConfig) {
			c.Legacy.Policy = ddbenc.ForceLegacyEncryptAllowLegacyDecrypt
			c.PlaintextPolicy = ddbenc.ForbidPlaintextWriteAllowPlaintextRead
		}, ok: true},
		"Force plaintext and legacy read": {edit: func(c *ddbenc.TableConfig) { c.PlaintextPolicy = ddbenc.ForcePlaintextWriteAllowPlaintextRead }, ok: true},
		"legacy settings": {edit: func(c *ddbenc.TableConfig) {
			c.Legacy.SignedTableName, c.Legacy.Ordering = "Old", ddbenc.PythonOrdering
		}, ok: true},
	} {
		cfg := migConfig(t, noLegacy, 0)
		cfg.Legacy = legacyCfg(t)
		c.edit(&cfg)
		e, err := ddbenc.NewEncryptor(cfg)
		if c.ok {
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		var de *ddbenc.Error
		if e != nil || !errors.Is(err, ddbenc.ErrInvalidConfig) || !errors.As(err, &de) || de.Attribute != c.attr {
			t.Errorf("%s: NewEncryptor = %v, want ErrInvalidConfig naming %q", name, err, c.attr)
		}
		// The Client refuses the same configuration.
		if _, err := ddbenc.NewClient(&recorder{}, []ddbenc.TableConfig{cfg}); !errors.Is(err, ddbenc.ErrInvalidConfig) {
			t.Errorf("%s: NewClient = %v, want ErrInvalidConfig", name, err)
		}
	}
}

// TestLegacySettingsUsed: the legacy settings reach the legacy encryptor:
// items of a legacy table signed under another table name read only with
// Legacy.SignedTableName.
func TestLegacySettingsUsed(t *testing.T) {
	ctx := context.Background()
	other, err := ddbenc.NewEncryptor(ddbenc.TableConfig{TableName: "Old", PartitionKey: pk, SortKey: sk,
		Actions: migLegacyActions, Provider: providers(t)["static-hmac"]})
	if err != nil {
		t.Fatal(err)
	}
	item, err := other.EncryptItem(ctx, migPlain("o"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := migEncryptor(t, ddbenc.ForbidLegacyEncryptAllowLegacyDecrypt, 0).DecryptItem(ctx, item); !errors.Is(err, ddbenc.ErrSignature) {
		t.Errorf("legacy item of another table: %v, want ErrSignature", err)
	}
	cfg := migConfig(t, ddbenc.ForbidLegacyEncryptAllowLegacyDecrypt, 0)
	cfg.Legacy.SignedTableName = "Old"
	e, err := ddbenc.NewEncryptor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.DecryptItem(ctx, item); err != nil {
		t.Errorf("with Legacy.SignedTableName: %v", err)
	}
	// The logical table name is the legacy table name by default.
	cfg = migConfig(t, ddbenc.ForbidLegacyEncryptAllowLegacyDecrypt, 0)
	cfg.TableName, cfg.LogicalTableName = "Mig-replica", "Old"
	if e, err = ddbenc.NewEncryptor(cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := e.DecryptItem(ctx, item); err != nil {
		t.Errorf("with LogicalTableName: %v", err)
	}
}

// TestLegacyTamperedAndHalfItems: a legacy item under an allowing policy is
// verified (tampering detected), a legacy item with one of its two
// attributes fails in the legacy decryption, and a DB-ESDK item with one of
// its two fails in the DB-ESDK one; none is read as plaintext, whatever the
// plaintext policy.
func TestLegacyTamperedAndHalfItems(t *testing.T) {
	ctx := context.Background()
	stored, _ := migItems(t)
	for _, pp := range []ddbenc.PlaintextPolicy{0, ddbenc.ForbidPlaintextWriteAllowPlaintextRead} {
		e := migEncryptor(t, ddbenc.ForbidLegacyEncryptAllowLegacyDecrypt, pp)
		noLegacyCfg := migEncryptor(t, noLegacy, pp)
		for name, c := range map[string]struct {
			e    *ddbenc.Encryptor
			item map[string]types.AttributeValue
			want error
		}{
			"legacy, tag changed":         {e, withAttr(stored[ddbenc.LegacyItem], "email", s("x@example.com")), ddbenc.ErrSignature},
			"legacy without signature":    {e, without(stored[ddbenc.LegacyItem], sigAttr), ddbenc.ErrMissingAttribute},
			"legacy without description":  {e, without(stored[ddbenc.LegacyItem], descAttr), ddbenc.ErrMissingAttribute},
			"legacy without desc, no cfg": {noLegacyCfg, without(stored[ddbenc.LegacyItem], descAttr), ddbenc.ErrLegacyItem},
			"legacy without sig, no cfg":  {noLegacyCfg, without(stored[ddbenc.LegacyItem], sigAttr), ddbenc.ErrLegacyItem},
			"db-esdk without footer":      {e, without(stored[ddbenc.DBESDKItem], "aws_dbe_foot"), ddbenc.ErrMissingAttribute},
			"db-esdk without header":      {e, without(stored[ddbenc.DBESDKItem], "aws_dbe_head"), ddbenc.ErrMissingAttribute},
			"both formats":                {e, withAttr(stored[ddbenc.DBESDKItem], sigAttr, stored[ddbenc.LegacyItem][sigAttr]), ddbenc.ErrMalformed},
			"plaintext without key":       {e, without(migPlain("p"), sk), ddbenc.ErrMissingAttribute},
		} {
			out, f, err := c.e.ReadItem(ctx, c.item)
			if out != nil || !errors.Is(err, c.want) {
				t.Errorf("%s/%s: ReadItem = %v, %v, %v; want nothing and %v", pp, name, out != nil, f, err, c.want)
			}
		}
	}
}

func without(m map[string]types.AttributeValue, name string) map[string]types.AttributeValue {
	out := avtest.Clone(m)
	delete(out, name)
	return out
}

// TestMigrationActions: with a legacy configuration, the Client's checks
// use the stricter of the two actions.
func TestMigrationActions(t *testing.T) {
	e := migEncryptor(t, ddbenc.ForbidLegacyEncryptAllowLegacyDecrypt, 0)
	for name, want := range map[string]actions.Action{
		pk: actions.SignOnly, "secret": actions.EncryptAndSign, "email": actions.SignOnly,
		"tag":    actions.EncryptAndSign, // signed here, encrypted in legacy items
		"memo":   actions.SignOnly,       // allowed unsigned here, signed in legacy items
		"visits": actions.DoNothing, "other": 0, "aws_dbe_head": 0, sigAttr: 0, descAttr: 0,
	} {
		if got := e.Action(name); got != want {
			t.Errorf("Action(%s) = %v, want %v", name, got, want)
		}
	}
	plain := migEncryptor(t, noLegacy, ddbenc.ForcePlaintextWriteAllowPlaintextRead)
	if got := plain.Action("secret"); got != actions.EncryptAndSign {
		t.Errorf("ForcePlaintextWrite: Action(secret) = %v, want the DB-ESDK action", got)
	}
}

func newMigClient(t *testing.T, lp ddbenc.LegacyPolicy, pp ddbenc.PlaintextPolicy) (*ddbenc.Client, *recorder) {
	t.Helper()
	rec := &recorder{}
	c, err := ddbenc.NewClient(rec, []ddbenc.TableConfig{migConfig(t, lp, pp)}, func(o *ddbenc.Options) { o.PassThroughTables = []string{"Plain"} })
	if err != nil {
		t.Fatal(err)
	}
	return c, rec
}

// TestMigrationClientChecks: requests the stricter actions refuse fail
// before sending; requests both formats allow are sent.
func TestMigrationClientChecks(t *testing.T) {
	ctx := context.Background()
	table := aws.String(migTable)
	k := map[string]types.AttributeValue{pk: s("a"), sk: n("1")}
	for _, pp := range []ddbenc.PlaintextPolicy{0, ddbenc.ForcePlaintextWriteAllowPlaintextRead} {
		for name, c := range map[string]struct {
			call func(*ddbenc.Client) error
			want error
			attr string
		}{
			"filter on an attribute encrypted in legacy items": {func(c *ddbenc.Client) error {
				_, err := c.Scan(ctx, &dynamodb.ScanInput{TableName: table, FilterExpression: aws.String("tag = :v"), ExpressionAttributeValues: map[string]types.AttributeValue{":v": s("t")}})
				return err
			}, ddbenc.ErrUnsupportedOperation, "tag"},
			"update of an attribute signed in legacy items": {func(c *ddbenc.Client) error {
				_, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: table, Key: k, UpdateExpression: aws.String("SET memo = :v"), ExpressionAttributeValues: map[string]types.AttributeValue{":v": s("m")}})
				return err
			}, ddbenc.ErrUnsupportedOperation, "memo"},
			"condition on the legacy signature": {func(c *ddbenc.Client) error {
				_, err := c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: table, Key: k, ConditionExpression: aws.String("attribute_exists(#s)"), ExpressionAttributeNames: map[string]string{"#s": sigAttr}})
				return err
			}, ddbenc.ErrUnsupportedOperation, sigAttr},
			"projection of the legacy description": {func(c *ddbenc.Client) error {
				_, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: k, ProjectionExpression: aws.String("#d"), ExpressionAttributeNames: map[string]string{"#d": descAttr}})
				return err
			}, ddbenc.ErrUnsupportedOperation, descAttr},
			"put of an item with a legacy name": {func(c *ddbenc.Client) error {
				_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: table, Item: withAttr(migPlain("a"), descAttr, s("x"))})
				return err
			}, ddbenc.ErrInvalidItem, descAttr},
			"filter on an encrypted attribute": {func(c *ddbenc.Client) error {
				_, err := c.Query(ctx, &dynamodb.QueryInput{TableName: table, KeyConditionExpression: aws.String("pk = :p"), FilterExpression: aws.String("secret = :v"),
					ExpressionAttributeValues: map[string]types.AttributeValue{":p": s("a"), ":v": s("x")}})
				return err
			}, ddbenc.ErrUnsupportedOperation, "secret"},
		} {
			cl, rec := newMigClient(t, ddbenc.ForbidLegacyEncryptAllowLegacyDecrypt, pp)
			err := c.call(cl)
			var de *ddbenc.Error
			if !errors.Is(err, c.want) || !errors.As(err, &de) || de.Attribute != c.attr {
				t.Errorf("%s/%s: %v, want %v naming %q", pp, name, err, c.want, c.attr)
			}
			if n := len(rec.sent()); n != 0 {
				t.Errorf("%s/%s: %d requests sent", pp, name, n)
			}
		}
		// Allowed by both: an update of visits, a filter on email.
		c, rec := newMigClient(t, ddbenc.ForbidLegacyEncryptAllowLegacyDecrypt, pp)
		if _, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: table, Key: k, UpdateExpression: aws.String("SET visits = :v"), ExpressionAttributeValues: map[string]types.AttributeValue{":v": n("4")}}); err != nil {
			t.Errorf("%s: update of visits: %v", pp, err)
		}
		if _, err := c.Scan(ctx, &dynamodb.ScanInput{TableName: table, FilterExpression: aws.String("email = :v"), ExpressionAttributeValues: map[string]types.AttributeValue{":v": s("x")}}); err != nil {
			t.Errorf("%s: filter on email: %v", pp, err)
		}
		if n := len(rec.sent()); n != 2 {
			t.Errorf("%s: %d requests sent, want 2", pp, n)
		}
	}
}

// TestClientForceWrites: a Force-legacy Client sends legacy items, a
// Force-plaintext Client sends the item unchanged, the default sends
// DB-ESDK items.
func TestClientForceWrites(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		lp   ddbenc.LegacyPolicy
		pp   ddbenc.PlaintextPolicy
		want ddbenc.ItemFormat
	}{
		{ddbenc.ForceLegacyEncryptAllowLegacyDecrypt, 0, ddbenc.LegacyItem},
		{noLegacy, ddbenc.ForcePlaintextWriteAllowPlaintextRead, ddbenc.PlaintextItem},
		{ddbenc.ForbidLegacyEncryptAllowLegacyDecrypt, ddbenc.ForbidPlaintextWriteAllowPlaintextRead, ddbenc.DBESDKItem},
	} {
		cl, rec := newMigClient(t, c.lp, c.pp)
		if _, err := cl.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(migTable), Item: migPlain("w")}); err != nil {
			t.Fatal(err)
		}
		if _, err := cl.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{
			migTable: {{PutRequest: &types.PutRequest{Item: migPlain("b")}}}}}); err != nil {
			t.Fatal(err)
		}
		sent := rec.sent()
		put := sent[0].(*dynamodb.PutItemInput).Item
		batch := sent[1].(*dynamodb.BatchWriteItemInput).RequestItems[migTable][0].PutRequest.Item
		for _, it := range []map[string]types.AttributeValue{put, batch} {
			if got := kindOf(t, it); got != c.want {
				t.Errorf("%v/%v: sent a %v item, want %v", c.lp, c.pp, got, c.want)
			}
		}
		if c.want == ddbenc.PlaintextItem {
			if d := avtest.DiffItems(migPlain("w"), put); d != "" {
				t.Errorf("plaintext put changed the item:\n%s", d)
			}
		}
	}
}

// TestClientItemFormats: each read call records the format of every item
// it returns; a plaintext item is never returned unmarked, and under the
// forbidding policies a read with one fails without returning items.
func TestClientItemFormats(t *testing.T) {
	ctx := context.Background()
	stored, plain := migItems(t)
	order := []ddbenc.ItemFormat{ddbenc.LegacyItem, ddbenc.DBESDKItem, ddbenc.PlaintextItem}
	page := []map[string]types.AttributeValue{stored[ddbenc.LegacyItem], stored[ddbenc.DBESDKItem], stored[ddbenc.PlaintextItem]}
	wantItems := []map[string]types.AttributeValue{plain[ddbenc.LegacyItem], plain[ddbenc.DBESDKItem], plain[ddbenc.PlaintextItem]}
	table := aws.String(migTable)
	k := map[string]types.AttributeValue{pk: s("a"), sk: n("1")}

	c, rec := newMigClient(t, ddbenc.ForbidLegacyEncryptAllowLegacyDecrypt, ddbenc.ForbidPlaintextWriteAllowPlaintextRead)
	rec.returns("Query", &dynamodb.QueryOutput{Items: page}, nil)
	rec.returns("Scan", &dynamodb.ScanOutput{Items: page}, nil)
	q, err := c.Query(ctx, &dynamodb.QueryInput{TableName: table, KeyConditionExpression: aws.String("pk = :p"), ExpressionAttributeValues: map[string]types.AttributeValue{":p": s("a")}})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := c.Scan(ctx, &dynamodb.ScanInput{TableName: table})
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string]struct {
		items []map[string]types.AttributeValue
		md    middleware.Metadata
	}{"Query": {q.Items, q.ResultMetadata}, "Scan": {sc.Items, sc.ResultMetadata}} {
		if d := diffItemLists(wantItems, got.items); d != "" {
			t.Errorf("%s items differ:\n%s", name, d)
		}
		if f := ddbenc.ItemFormats(got.md); !slices.Equal(f, order) {
			t.Errorf("%s: ItemFormats = %v, want %v", name, f, order)
		}
	}

	// GetItem: one entry per kind, none without an item.
	for _, kind := range order {
		rec.returns("GetItem", &dynamodb.GetItemOutput{Item: stored[kind]}, nil)
		out, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: k})
		if err != nil {
			t.Fatal(err)
		}
		if f := ddbenc.ItemFormats(out.ResultMetadata); !slices.Equal(f, []ddbenc.ItemFormat{kind}) {
			t.Errorf("GetItem %v: ItemFormats = %v", kind, f)
		}
	}
	rec.returns("GetItem", &dynamodb.GetItemOutput{}, nil)
	if out, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: k}); err != nil || ddbenc.ItemFormats(out.ResultMetadata) == nil || len(ddbenc.ItemFormats(out.ResultMetadata)) != 0 {
		t.Errorf("GetItem without item: %v, %v; want an empty record", err, out)
	}

	// BatchGetItem: per table, with a pass-through table marked plaintext.
	rec.returns("BatchGetItem", &dynamodb.BatchGetItemOutput{Responses: map[string][]map[string]types.AttributeValue{
		migTable: page, "Plain": {migPlain("x")},
	}}, nil)
	bg, err := c.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
		migTable: {Keys: []map[string]types.AttributeValue{k}}, "Plain": {Keys: []map[string]types.AttributeValue{k}}}})
	if err != nil {
		t.Fatal(err)
	}
	bf := ddbenc.BatchItemFormats(bg.ResultMetadata)
	if !slices.Equal(bf[migTable], order) || !slices.Equal(bf["Plain"], []ddbenc.ItemFormat{ddbenc.PlaintextItem}) || len(bf) != 2 {
		t.Errorf("BatchItemFormats = %v", bf)
	}
	if d := diffItemLists(wantItems, bg.Responses[migTable]); d != "" {
		t.Errorf("BatchGetItem items differ:\n%s", d)
	}

	// TransactGetItems: aligned with Responses.
	rec.returns("TransactGetItems", &dynamodb.TransactGetItemsOutput{Responses: []types.ItemResponse{{Item: page[0]}, {Item: page[1]}, {Item: page[2]}, {}}}, nil)
	get := types.TransactGetItem{Get: &types.Get{TableName: table, Key: k}}
	tg, err := c.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: []types.TransactGetItem{get, get, get, get}})
	if err != nil {
		t.Fatal(err)
	}
	if f := ddbenc.ItemFormats(tg.ResultMetadata); !slices.Equal(f, append(order, ddbenc.PlaintextItem)) {
		t.Errorf("TransactGetItems: ItemFormats = %v", f)
	}

	// Returned attributes of a put.
	rec.returns("PutItem", &dynamodb.PutItemOutput{Attributes: stored[ddbenc.PlaintextItem]}, nil)
	pu, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: table, Item: migPlain("a"), ReturnValues: types.ReturnValueAllOld})
	if err != nil {
		t.Fatal(err)
	}
	if f := ddbenc.ItemFormats(pu.ResultMetadata); !slices.Equal(f, []ddbenc.ItemFormat{ddbenc.PlaintextItem}) {
		t.Errorf("PutItem ALL_OLD: ItemFormats = %v", f)
	}

	// An item carried by an error cannot be marked: a plaintext one is
	// removed and the error says why.
	rec.returns("DeleteItem", nil, &types.ConditionalCheckFailedException{Item: stored[ddbenc.PlaintextItem]})
	_, err = c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: table, Key: k, ConditionExpression: aws.String("attribute_exists(pk)")})
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) || ccf.Item != nil || !errors.Is(err, ddbenc.ErrPlaintextItem) {
		t.Errorf("condition failure with a plaintext item: %v (item kept: %v)", err, ccf != nil && ccf.Item != nil)
	}
	rec.returns("DeleteItem", nil, &types.ConditionalCheckFailedException{Item: stored[ddbenc.LegacyItem]})
	_, err = c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: table, Key: k, ConditionExpression: aws.String("attribute_exists(pk)")})
	if !errors.As(err, &ccf) || avtest.DiffItems(plain[ddbenc.LegacyItem], ccf.Item) != "" || errors.Is(err, ddbenc.ErrPlaintextItem) {
		t.Errorf("condition failure with a legacy item: %v", err)
	}

	// Outputs without a record have no formats: never read as "verified".
	if f := ddbenc.ItemFormats(middleware.Metadata{}); f != nil {
		t.Errorf("ItemFormats(empty) = %v, want nil", f)
	}
	if f := ddbenc.BatchItemFormats(middleware.Metadata{}); f != nil {
		t.Errorf("BatchItemFormats(empty) = %v, want nil", f)
	}
	// The record is a copy.
	f := ddbenc.ItemFormats(q.ResultMetadata)
	f[2] = ddbenc.DBESDKItem
	if ddbenc.ItemFormats(q.ResultMetadata)[2] != ddbenc.PlaintextItem {
		t.Error("ItemFormats returned the record itself")
	}

	// Pass-through Query: plaintext.
	rec.returns("Query", &dynamodb.QueryOutput{Items: []map[string]types.AttributeValue{migPlain("x")}}, nil)
	pq, err := c.Query(ctx, &dynamodb.QueryInput{TableName: aws.String("Plain")})
	if err != nil {
		t.Fatal(err)
	}
	if f := ddbenc.ItemFormats(pq.ResultMetadata); !slices.Equal(f, []ddbenc.ItemFormat{ddbenc.PlaintextItem}) {
		t.Errorf("pass-through Query: ItemFormats = %v", f)
	}

	// The forbidding policies: one item of a refused kind fails the read.
	for _, cc := range []struct {
		lp   ddbenc.LegacyPolicy
		pp   ddbenc.PlaintextPolicy
		item map[string]types.AttributeValue
		want error
	}{
		{ddbenc.ForbidLegacyEncryptForbidLegacyDecrypt, ddbenc.ForbidPlaintextWriteAllowPlaintextRead, stored[ddbenc.LegacyItem], ddbenc.ErrLegacyItem},
		{noLegacy, ddbenc.ForbidPlaintextWriteAllowPlaintextRead, stored[ddbenc.LegacyItem], ddbenc.ErrLegacyItem},
		{ddbenc.ForbidLegacyEncryptAllowLegacyDecrypt, ddbenc.ForbidPlaintextWriteForbidPlaintextRead, stored[ddbenc.PlaintextItem], ddbenc.ErrPlaintextItem},
	} {
		c, rec := newMigClient(t, cc.lp, cc.pp)
		rec.returns("Scan", &dynamodb.ScanOutput{Items: []map[string]types.AttributeValue{stored[ddbenc.DBESDKItem], cc.item}}, nil)
		out, err := c.Scan(ctx, &dynamodb.ScanInput{TableName: table})
		var de *ddbenc.Error
		if out != nil || !errors.Is(err, cc.want) || !errors.As(err, &de) || de.Key == "" {
			t.Errorf("%v/%v: Scan = %v, %v; want nothing and %v naming the item", cc.lp, cc.pp, out != nil, err, cc.want)
		}
		rec.returns("GetItem", &dynamodb.GetItemOutput{Item: cc.item}, nil)
		if out, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: k}); out != nil || !errors.Is(err, cc.want) {
			t.Errorf("%v/%v: GetItem = %v, %v; want nothing and %v", cc.lp, cc.pp, out != nil, err, cc.want)
		}
	}
}

// TestMigrationDiscoveredSchema: a Client that reads the key schema with
// DescribeTable builds the legacy encryptor from the configuration as it was
// given, not as the caller changed it afterwards.
func TestMigrationDiscoveredSchema(t *testing.T) {
	ctx := context.Background()
	cfg := migConfig(t, ddbenc.ForbidLegacyEncryptAllowLegacyDecrypt, 0)
	cfg.PartitionKey, cfg.SortKey = "", ""
	cfg.Legacy.Actions = actions.Map{Default: migLegacyActions.Default, Attributes: map[string]actions.Action{
		"email": actions.SignOnly, "visits": actions.DoNothing, "memo": actions.SignOnly}}
	rec := &recorder{desc: &types.TableDescription{KeySchema: []types.KeySchemaElement{
		{AttributeName: aws.String(pk), KeyType: types.KeyTypeHash}, {AttributeName: aws.String(sk), KeyType: types.KeyTypeRange}}}}
	c, err := ddbenc.NewClient(rec, []ddbenc.TableConfig{cfg})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Legacy.Actions.Attributes["email"] = actions.EncryptAndSign
	cfg.Legacy.Policy = ddbenc.ForbidLegacyEncryptForbidLegacyDecrypt
	stored, plain := migItems(t)
	rec.returns("GetItem", &dynamodb.GetItemOutput{Item: stored[ddbenc.LegacyItem]}, nil)
	out, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(migTable), Key: map[string]types.AttributeValue{pk: s("legacy"), sk: n("1")}})
	if err != nil {
		t.Fatal(err)
	}
	if d := avtest.DiffItems(plain[ddbenc.LegacyItem], out.Item); d != "" || !slices.Equal(ddbenc.ItemFormats(out.ResultMetadata), []ddbenc.ItemFormat{ddbenc.LegacyItem}) {
		t.Errorf("legacy item through a discovered schema: %s %v", d, ddbenc.ItemFormats(out.ResultMetadata))
	}
}
