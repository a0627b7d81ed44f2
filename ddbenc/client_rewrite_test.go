package ddbenc_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/internal/avtest"
)

// The request and response rewrites of the Client, asserted on what the
// recorder saw and on what the caller gets back.

type item = map[string]types.AttributeValue

func n(v string) *types.AttributeValueMemberN { return &types.AttributeValueMemberN{Value: v} }

// person returns a plaintext item of the People table.
func person(name, sortVal string) item {
	return item{pk: s(name), sk: n(sortVal), "name": s("Name of " + name), "email": s(name + "@example.com"),
		"visits": n("3"), "ssn": s("123-45-6789")}
}

// stored returns plain as the People table stores it: encrypted and signed.
func stored(t *testing.T, plain item) item {
	t.Helper()
	e, err := ddbenc.NewEncryptor(peopleConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	out, err := e.EncryptItem(context.Background(), plain)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// tampered returns a stored item whose encrypted attribute was replaced.
func tampered(t *testing.T, plain item) item {
	t.Helper()
	out := stored(t, plain)
	out["ssn"] = &types.AttributeValueMemberB{Value: []byte("not the ciphertext..............")}
	return out
}

// project returns the named attributes of it.
func project(it item, names ...string) item {
	out := item{}
	for _, a := range names {
		if v, ok := it[a]; ok {
			out[a] = v
		}
	}
	return out
}

// diffItemLists compares lists of items after normalization.
func diffItemLists(want, got []item) string {
	norm := func(items []item) []map[string]any {
		out := make([]map[string]any, len(items))
		for i, it := range items {
			out[i] = avtest.NormalizeItem(it)
		}
		return out
	}
	return cmp.Diff(norm(want), norm(got))
}

// sentRead is the part of a read request that the Client rewrites.
type sentRead struct {
	Projection      string
	AttributesToGet []string
	Names           map[string]string
	Select          types.Select
}

// TestProjectionsAppliedAfterVerification: a projection is stripped from the
// request, so that whole items come back to be verified, and applied to the
// decrypted items; placeholders only the projection used are dropped and
// Select SPECIFIC_ATTRIBUTES becomes the default.
func TestProjectionsAppliedAfterVerification(t *testing.T) {
	ctx := context.Background()
	table := aws.String("People")
	alice, bob := person("alice", "1"), person("bob", "2")
	names := map[string]string{"#n": "name", "#e": "email"}
	cases := []struct {
		name   string
		answer func(t *testing.T, rec *recorder)
		call   func(c *ddbenc.Client) ([]item, error)
		sent   func(in any) sentRead
		want   sentRead
		items  []item
	}{
		{
			name:   "GetItem ProjectionExpression",
			answer: func(t *testing.T, rec *recorder) { rec.item = stored(t, alice) },
			call: func(c *ddbenc.Client) ([]item, error) {
				out, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: key("alice", "1"), ProjectionExpression: aws.String("#n, visits"), ExpressionAttributeNames: names})
				if err != nil {
					return nil, err
				}
				return []item{out.Item}, nil
			},
			sent: func(in any) sentRead {
				r := in.(*dynamodb.GetItemInput)
				return sentRead{aws.ToString(r.ProjectionExpression), r.AttributesToGet, r.ExpressionAttributeNames, ""}
			},
			items: []item{project(alice, "name", "visits")},
		},
		{
			name:   "GetItem AttributesToGet",
			answer: func(t *testing.T, rec *recorder) { rec.item = stored(t, alice) },
			call: func(c *ddbenc.Client) ([]item, error) {
				out, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: key("alice", "1"), AttributesToGet: []string{"ssn", pk}})
				if err != nil {
					return nil, err
				}
				return []item{out.Item}, nil
			},
			sent: func(in any) sentRead {
				r := in.(*dynamodb.GetItemInput)
				return sentRead{aws.ToString(r.ProjectionExpression), r.AttributesToGet, r.ExpressionAttributeNames, ""}
			},
			items: []item{project(alice, "ssn", pk)},
		},
		{
			name: "Query",
			answer: func(t *testing.T, rec *recorder) {
				rec.returns("Query", &dynamodb.QueryOutput{Items: []item{stored(t, alice), stored(t, bob)}, Count: 2}, nil)
			},
			call: func(c *ddbenc.Client) ([]item, error) {
				out, err := c.Query(ctx, &dynamodb.QueryInput{TableName: table, KeyConditionExpression: aws.String("#p = :p"), FilterExpression: aws.String("#v > :z"),
					ProjectionExpression: aws.String("#n, ssn"), Select: types.SelectSpecificAttributes,
					ExpressionAttributeNames: map[string]string{"#p": pk, "#v": "visits", "#n": "name"}})
				if err != nil {
					return nil, err
				}
				return out.Items, nil
			},
			sent: func(in any) sentRead {
				r := in.(*dynamodb.QueryInput)
				return sentRead{aws.ToString(r.ProjectionExpression), r.AttributesToGet, r.ExpressionAttributeNames, r.Select}
			},
			want:  sentRead{Names: map[string]string{"#p": pk, "#v": "visits"}},
			items: []item{project(alice, "name", "ssn"), project(bob, "name", "ssn")},
		},
		{
			name: "Scan",
			answer: func(t *testing.T, rec *recorder) {
				rec.returns("Scan", &dynamodb.ScanOutput{Items: []item{stored(t, bob)}}, nil)
			},
			call: func(c *ddbenc.Client) ([]item, error) {
				out, err := c.Scan(ctx, &dynamodb.ScanInput{TableName: table, FilterExpression: aws.String("#v > :z"), AttributesToGet: []string{"email"},
					Select: types.SelectSpecificAttributes, ExpressionAttributeNames: map[string]string{"#v": "visits"}})
				if err != nil {
					return nil, err
				}
				return out.Items, nil
			},
			sent: func(in any) sentRead {
				r := in.(*dynamodb.ScanInput)
				return sentRead{aws.ToString(r.ProjectionExpression), r.AttributesToGet, r.ExpressionAttributeNames, r.Select}
			},
			want:  sentRead{Names: map[string]string{"#v": "visits"}},
			items: []item{project(bob, "email")},
		},
		{
			name: "BatchGetItem",
			answer: func(t *testing.T, rec *recorder) {
				rec.returns("BatchGetItem", &dynamodb.BatchGetItemOutput{Responses: map[string][]item{"People": {stored(t, alice), stored(t, bob)}}}, nil)
			},
			call: func(c *ddbenc.Client) ([]item, error) {
				out, err := c.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{"People": {
					Keys: []item{key("alice", "1"), key("bob", "2")}, ProjectionExpression: aws.String("#e, ssn"), ExpressionAttributeNames: names}}})
				if err != nil {
					return nil, err
				}
				return out.Responses["People"], nil
			},
			sent: func(in any) sentRead {
				r := in.(*dynamodb.BatchGetItemInput).RequestItems["People"]
				return sentRead{aws.ToString(r.ProjectionExpression), r.AttributesToGet, r.ExpressionAttributeNames, ""}
			},
			items: []item{project(alice, "email", "ssn"), project(bob, "email", "ssn")},
		},
		{
			name: "TransactGetItems",
			answer: func(t *testing.T, rec *recorder) {
				rec.returns("TransactGetItems", &dynamodb.TransactGetItemsOutput{Responses: []types.ItemResponse{{Item: stored(t, alice)}, {Item: stored(t, bob)}}}, nil)
			},
			call: func(c *ddbenc.Client) ([]item, error) {
				out, err := c.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: []types.TransactGetItem{
					{Get: &types.Get{TableName: table, Key: key("alice", "1"), ProjectionExpression: aws.String("#n"), ExpressionAttributeNames: names}},
					{Get: &types.Get{TableName: table, Key: key("bob", "2")}},
				}})
				if err != nil {
					return nil, err
				}
				var items []item
				for _, r := range out.Responses {
					items = append(items, r.Item)
				}
				return items, nil
			},
			sent: func(in any) sentRead {
				r := in.(*dynamodb.TransactGetItemsInput).TransactItems[0].Get
				return sentRead{aws.ToString(r.ProjectionExpression), nil, r.ExpressionAttributeNames, ""}
			},
			items: []item{project(alice, "name"), bob},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, rec := newRecordedClient(t)
			tc.answer(t, rec)
			got, err := tc.call(c)
			if err != nil {
				t.Fatal(err)
			}
			sent := rec.sent()
			if len(sent) != 1 {
				t.Fatalf("%d requests sent, want 1", len(sent))
			}
			if diff := cmp.Diff(tc.want, tc.sent(sent[0])); diff != "" {
				t.Errorf("request sent (-want +got):\n%s", diff)
			}
			if diff := diffItemLists(tc.items, got); diff != "" {
				t.Errorf("items returned (-want +got):\n%s", diff)
			}
		})
	}
}

// TestReadRewrites: Query and Scan share the rewrite of Select and of the
// expression attribute names.
func TestReadRewrites(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name       string
		projection string
		attrsToGet []string
		filter     string
		names      map[string]string
		sel        types.Select
		want       sentRead
	}{
		{name: "SPECIFIC_ATTRIBUTES with a projection becomes the default",
			projection: "email", sel: types.SelectSpecificAttributes, want: sentRead{}},
		{name: "SPECIFIC_ATTRIBUTES with AttributesToGet becomes the default",
			attrsToGet: []string{"email"}, sel: types.SelectSpecificAttributes, want: sentRead{}},
		{name: "COUNT without a projection is kept",
			sel: types.SelectCount, want: sentRead{Select: types.SelectCount}},
		{name: "ALL_ATTRIBUTES without a projection is kept",
			sel: types.SelectAllAttributes, want: sentRead{Select: types.SelectAllAttributes}},
		{name: "names without a projection are kept, used or not",
			filter: "#v > :z", names: map[string]string{"#v": "visits", "#unused": "x"},
			want: sentRead{Names: map[string]string{"#v": "visits", "#unused": "x"}}},
		{name: "names only the projection used are dropped",
			projection: "#n, #e", names: map[string]string{"#n": "name", "#e": "email"}, want: sentRead{}},
		{name: "names the filter uses are kept",
			projection: "#n, #v", filter: "#v > :z", names: map[string]string{"#n": "name", "#v": "visits"},
			want: sentRead{Names: map[string]string{"#v": "visits"}}},
		{name: "nested names the filter uses are kept",
			projection: "#n", filter: "#v.#x = :z", names: map[string]string{"#n": "name", "#v": "visits", "#x": "inner"},
			want: sentRead{Names: map[string]string{"#v": "visits", "#x": "inner"}}},
		{name: "names unused by any expression are dropped with the projection",
			projection: "#n", filter: "visits > :z", names: map[string]string{"#n": "name", "#unused": "x"}, want: sentRead{}},
	}
	for _, tc := range cases {
		opt := func(s string) *string {
			if s == "" {
				return nil
			}
			return aws.String(s)
		}
		t.Run("Query/"+tc.name, func(t *testing.T) {
			c, rec := newRecordedClient(t)
			in := &dynamodb.QueryInput{TableName: aws.String("People"), KeyConditionExpression: aws.String("pk = :p"), FilterExpression: opt(tc.filter),
				ProjectionExpression: opt(tc.projection), AttributesToGet: tc.attrsToGet, ExpressionAttributeNames: cloneNames(tc.names), Select: tc.sel}
			if _, err := c.Query(ctx, in); err != nil {
				t.Fatal(err)
			}
			r := rec.sent()[0].(*dynamodb.QueryInput)
			got := sentRead{aws.ToString(r.ProjectionExpression), r.AttributesToGet, r.ExpressionAttributeNames, r.Select}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("request sent (-want +got):\n%s", diff)
			}
			if in.Select != tc.sel || aws.ToString(in.ProjectionExpression) != tc.projection || !cmp.Equal(in.ExpressionAttributeNames, tc.names) {
				t.Error("the caller's request was modified")
			}
		})
		t.Run("Scan/"+tc.name, func(t *testing.T) {
			c, rec := newRecordedClient(t)
			in := &dynamodb.ScanInput{TableName: aws.String("People"), FilterExpression: opt(tc.filter),
				ProjectionExpression: opt(tc.projection), AttributesToGet: tc.attrsToGet, ExpressionAttributeNames: cloneNames(tc.names), Select: tc.sel}
			if _, err := c.Scan(ctx, in); err != nil {
				t.Fatal(err)
			}
			r := rec.sent()[0].(*dynamodb.ScanInput)
			got := sentRead{aws.ToString(r.ProjectionExpression), r.AttributesToGet, r.ExpressionAttributeNames, r.Select}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("request sent (-want +got):\n%s", diff)
			}
			if in.Select != tc.sel || aws.ToString(in.ProjectionExpression) != tc.projection || !cmp.Equal(in.ExpressionAttributeNames, tc.names) {
				t.Error("the caller's request was modified")
			}
		})
	}
}

// TestReadFailureNamesItem: one item that fails verification fails a
// multi-item read, and the error names the operation and the item's key.
func TestReadFailureNamesItem(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		call func(t *testing.T, c *ddbenc.Client, rec *recorder) error
	}{
		{"Query", func(t *testing.T, c *ddbenc.Client, rec *recorder) error {
			rec.returns("Query", &dynamodb.QueryOutput{Items: []item{stored(t, person("alice", "1")), tampered(t, person("bob", "2"))}}, nil)
			_, err := c.Query(ctx, &dynamodb.QueryInput{TableName: aws.String("People"), KeyConditionExpression: aws.String("pk = :p")})
			return err
		}},
		{"Scan", func(t *testing.T, c *ddbenc.Client, rec *recorder) error {
			rec.returns("Scan", &dynamodb.ScanOutput{Items: []item{tampered(t, person("bob", "2"))}}, nil)
			_, err := c.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String("People")})
			return err
		}},
		{"BatchGetItem", func(t *testing.T, c *ddbenc.Client, rec *recorder) error {
			rec.returns("BatchGetItem", &dynamodb.BatchGetItemOutput{Responses: map[string][]item{"People": {tampered(t, person("bob", "2"))}}}, nil)
			_, err := c.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{"People": {Keys: []item{key("bob", "2")}}}})
			return err
		}},
		{"TransactGetItems", func(t *testing.T, c *ddbenc.Client, rec *recorder) error {
			rec.returns("TransactGetItems", &dynamodb.TransactGetItemsOutput{Responses: []types.ItemResponse{{Item: tampered(t, person("bob", "2"))}}}, nil)
			_, err := c.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: []types.TransactGetItem{{Get: &types.Get{TableName: aws.String("People"), Key: key("bob", "2")}}}})
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, rec := newRecordedClient(t)
			err := tc.call(t, c, rec)
			var de *ddbenc.Error
			if !errors.Is(err, ddbenc.ErrSignature) || !errors.As(err, &de) {
				t.Fatalf("got %v, want ErrSignature", err)
			}
			if !strings.HasPrefix(de.Op, tc.name) || !strings.Contains(de.Key, `"bob"`) || de.Table != "People" {
				t.Errorf("got Op %q, Table %q, Key %q; want the operation %s, the table and bob's key", de.Op, de.Table, de.Key, tc.name)
			}
			if strings.Contains(err.Error(), "123-45-6789") {
				t.Errorf("error contains a value: %v", err)
			}
		})
	}
}

// TestUnprocessedRequestsRestored: unprocessed BatchWriteItem puts come back
// as the caller's plaintext items, and unprocessed BatchGetItem keys with the
// caller's own settings, under the caller's table names.
func TestUnprocessedRequestsRestored(t *testing.T) {
	ctx := context.Background()
	t.Run("BatchWriteItem", func(t *testing.T) {
		c, rec := newRecordedClient(t)
		rec.on("BatchWriteItem", func(in any) (any, error) { // nothing processed
			return &dynamodb.BatchWriteItemOutput{UnprocessedItems: in.(*dynamodb.BatchWriteItemInput).RequestItems}, nil
		})
		alice := person("alice", "1.0") // stored with the canonical key 1
		bob := person("bob", "2")
		plain := item{"id": s("p1"), "note": s("plaintext table")}
		in := &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{
			tableARN: {{PutRequest: &types.PutRequest{Item: alice}}, {DeleteRequest: &types.DeleteRequest{Key: key("carol", "3")}}, {PutRequest: &types.PutRequest{Item: bob}}},
			"Plain":  {{PutRequest: &types.PutRequest{Item: plain}}},
		}}
		out, err := c.BatchWriteItem(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		sent := rec.sent()[0].(*dynamodb.BatchWriteItemInput).RequestItems[tableARN]
		for _, i := range []int{0, 2} {
			if _, signed := sent[i].PutRequest.Item[sigAttr]; !signed {
				t.Errorf("put request %d was sent unsigned", i)
			}
			if _, ok := sent[i].PutRequest.Item["ssn"].(*types.AttributeValueMemberB); !ok {
				t.Errorf("put request %d was sent with ssn in plaintext", i)
			}
		}
		got := out.UnprocessedItems[tableARN]
		if len(got) != 3 {
			t.Fatalf("%d unprocessed requests for the table, want 3", len(got))
		}
		for i, want := range []item{alice, nil, bob} {
			if want == nil {
				if got[i].DeleteRequest == nil || avtest.DiffItems(key("carol", "3"), got[i].DeleteRequest.Key) != "" {
					t.Errorf("unprocessed request %d = %+v, want the caller's delete", i, got[i])
				}
				continue
			}
			if got[i].PutRequest == nil {
				t.Fatalf("unprocessed request %d has no put", i)
			}
			if diff := cmp.Diff(avtest.NormalizeItem(want), avtest.NormalizeItem(got[i].PutRequest.Item)); diff != "" || got[i].PutRequest.Item[sk].(*types.AttributeValueMemberN).Value != want[sk].(*types.AttributeValueMemberN).Value {
				t.Errorf("unprocessed put %d is not the caller's item (-want +got):\n%s", i, diff)
			}
		}
		if p := out.UnprocessedItems["Plain"]; len(p) != 1 || avtest.DiffItems(plain, p[0].PutRequest.Item) != "" {
			t.Errorf("unprocessed pass-through requests = %+v, want the caller's", p)
		}
		if _, signed := in.RequestItems[tableARN][0].PutRequest.Item[sigAttr]; signed {
			t.Error("the caller's request was modified")
		}
	})
	t.Run("BatchWriteItem unprocessed put matching no request", func(t *testing.T) {
		c, rec := newRecordedClient(t)
		rec.returns("BatchWriteItem", &dynamodb.BatchWriteItemOutput{UnprocessedItems: map[string][]types.WriteRequest{
			"People": {{PutRequest: &types.PutRequest{Item: stored(t, person("dave", "4"))}}}}}, nil)
		_, err := c.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{
			"People": {{PutRequest: &types.PutRequest{Item: person("alice", "1")}}}}})
		if !errors.Is(err, ddbenc.ErrMalformed) {
			t.Errorf("got %v, want ErrMalformed", err)
		}
	})
	t.Run("BatchGetItem", func(t *testing.T) {
		c, rec := newRecordedClient(t)
		rec.on("BatchGetItem", func(in any) (any, error) { // the second key of each table left
			out := &dynamodb.BatchGetItemOutput{UnprocessedKeys: map[string]types.KeysAndAttributes{}}
			for name, ka := range in.(*dynamodb.BatchGetItemInput).RequestItems {
				ka.Keys = ka.Keys[1:]
				out.UnprocessedKeys[strings.TrimPrefix(name, "arn:aws:dynamodb:us-east-1:111122223333:table/")] = ka // DynamoDB answers by name
			}
			return out, nil
		})
		names := map[string]string{"#n": "name"}
		in := &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
			tableARN: {Keys: []item{key("alice", "1"), key("bob", "2")}, ProjectionExpression: aws.String("#n"), ExpressionAttributeNames: names, ConsistentRead: aws.Bool(true)},
			"Plain":  {Keys: []item{{"id": s("p1")}, {"id": s("p2")}}, ProjectionExpression: aws.String("note")},
		}}
		out, err := c.BatchGetItem(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		sent := rec.sent()[0].(*dynamodb.BatchGetItemInput).RequestItems[tableARN]
		if sent.ProjectionExpression != nil || sent.ExpressionAttributeNames != nil {
			t.Errorf("projection sent: %q %v", aws.ToString(sent.ProjectionExpression), sent.ExpressionAttributeNames)
		}
		if len(out.UnprocessedKeys) != 2 {
			t.Fatalf("unprocessed keys of %d tables, want 2", len(out.UnprocessedKeys))
		}
		got, ok := out.UnprocessedKeys[tableARN]
		if !ok {
			t.Fatalf("unprocessed keys %v not under the caller's table name %q", out.UnprocessedKeys, tableARN)
		}
		if aws.ToString(got.ProjectionExpression) != "#n" || !cmp.Equal(got.ExpressionAttributeNames, names) || !aws.ToBool(got.ConsistentRead) {
			t.Errorf("unprocessed keys carry projection %q, names %v, consistent read %v; want the caller's", aws.ToString(got.ProjectionExpression), got.ExpressionAttributeNames, aws.ToBool(got.ConsistentRead))
		}
		if diff := diffItemLists([]item{key("bob", "2")}, got.Keys); diff != "" {
			t.Errorf("unprocessed keys (-want +got):\n%s", diff)
		}
		plain := out.UnprocessedKeys["Plain"]
		if aws.ToString(plain.ProjectionExpression) != "note" || diffItemLists([]item{{"id": s("p2")}}, plain.Keys) != "" {
			t.Errorf("unprocessed pass-through keys = %+v, want the caller's settings and p2", plain)
		}
	})
	for name, out := range map[string]*dynamodb.BatchGetItemOutput{
		"BatchGetItem response of a table not requested":         {Responses: map[string][]item{"Other": {}}},
		"BatchGetItem unprocessed keys of a table not requested": {UnprocessedKeys: map[string]types.KeysAndAttributes{"Other": {Keys: []item{key("a", "1")}}}},
	} {
		t.Run(name, func(t *testing.T) {
			c, rec := newRecordedClient(t)
			rec.returns("BatchGetItem", out, nil)
			_, err := c.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{"People": {Keys: []item{key("alice", "1")}}}})
			if !errors.Is(err, ddbenc.ErrMalformed) {
				t.Errorf("got %v, want ErrMalformed", err)
			}
		})
	}
}

// TestReturnedAttributesDecrypted: ALL_OLD and ALL_NEW attributes come back
// verified and decrypted; UPDATED_* attributes (do-nothing only) as stored.
func TestReturnedAttributesDecrypted(t *testing.T) {
	ctx := context.Background()
	table := aws.String("People")
	k := key("alice", "1")
	alice := person("alice", "1")
	visits := item{"visits": n("4")}
	cases := []struct {
		name     string
		returned func(t *testing.T) item
		call     func(c *ddbenc.Client, rec *recorder, returned item) (item, error)
		want     item
		wantErr  string // in the error of an item that fails verification
	}{
		{"PutItem ALL_OLD", func(t *testing.T) item { return stored(t, alice) }, func(c *ddbenc.Client, rec *recorder, r item) (item, error) {
			rec.returns("PutItem", &dynamodb.PutItemOutput{Attributes: r}, nil)
			out, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: table, Item: alice, ReturnValues: types.ReturnValueAllOld})
			if err != nil {
				return nil, err
			}
			return out.Attributes, nil
		}, alice, ""},
		{"PutItem ALL_OLD failing verification", func(t *testing.T) item { return tampered(t, alice) }, func(c *ddbenc.Client, rec *recorder, r item) (item, error) {
			rec.returns("PutItem", &dynamodb.PutItemOutput{Attributes: r}, nil)
			_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: table, Item: alice, ReturnValues: types.ReturnValueAllOld})
			return nil, err
		}, nil, "the put succeeded"},
		{"DeleteItem ALL_OLD", func(t *testing.T) item { return stored(t, alice) }, func(c *ddbenc.Client, rec *recorder, r item) (item, error) {
			rec.returns("DeleteItem", &dynamodb.DeleteItemOutput{Attributes: r}, nil)
			out, err := c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: table, Key: k, ReturnValues: types.ReturnValueAllOld})
			if err != nil {
				return nil, err
			}
			return out.Attributes, nil
		}, alice, ""},
		{"DeleteItem ALL_OLD failing verification", func(t *testing.T) item { return tampered(t, alice) }, func(c *ddbenc.Client, rec *recorder, r item) (item, error) {
			rec.returns("DeleteItem", &dynamodb.DeleteItemOutput{Attributes: r}, nil)
			_, err := c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: table, Key: k, ReturnValues: types.ReturnValueAllOld})
			return nil, err
		}, nil, "the delete succeeded"},
		{"UpdateItem ALL_NEW", func(t *testing.T) item { return stored(t, alice) }, func(c *ddbenc.Client, rec *recorder, r item) (item, error) {
			rec.returns("UpdateItem", &dynamodb.UpdateItemOutput{Attributes: r}, nil)
			out, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: table, Key: k, UpdateExpression: aws.String("SET visits = :v"), ReturnValues: types.ReturnValueAllNew})
			if err != nil {
				return nil, err
			}
			return out.Attributes, nil
		}, alice, ""},
		{"UpdateItem ALL_OLD", func(t *testing.T) item { return stored(t, alice) }, func(c *ddbenc.Client, rec *recorder, r item) (item, error) {
			rec.returns("UpdateItem", &dynamodb.UpdateItemOutput{Attributes: r}, nil)
			out, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: table, Key: k, UpdateExpression: aws.String("SET visits = :v"), ReturnValues: types.ReturnValueAllOld})
			if err != nil {
				return nil, err
			}
			return out.Attributes, nil
		}, alice, ""},
		{"UpdateItem ALL_NEW failing verification", func(t *testing.T) item { return tampered(t, alice) }, func(c *ddbenc.Client, rec *recorder, r item) (item, error) {
			rec.returns("UpdateItem", &dynamodb.UpdateItemOutput{Attributes: r}, nil)
			_, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: table, Key: k, UpdateExpression: aws.String("SET visits = :v"), ReturnValues: types.ReturnValueAllNew})
			return nil, err
		}, nil, "the update succeeded"},
		{"UpdateItem UPDATED_NEW", func(t *testing.T) item { return visits }, func(c *ddbenc.Client, rec *recorder, r item) (item, error) {
			rec.returns("UpdateItem", &dynamodb.UpdateItemOutput{Attributes: r}, nil)
			out, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: table, Key: k, UpdateExpression: aws.String("SET visits = :v"), ReturnValues: types.ReturnValueUpdatedNew})
			if err != nil {
				return nil, err
			}
			return out.Attributes, nil
		}, visits, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, rec := newRecordedClient(t)
			got, err := tc.call(c, rec, tc.returned(t))
			if tc.wantErr != "" {
				var de *ddbenc.Error
				if !errors.Is(err, ddbenc.ErrSignature) || !errors.As(err, &de) || !strings.Contains(de.Op, tc.wantErr) || !strings.Contains(de.Key, `"alice"`) {
					t.Errorf("got %v; want ErrSignature saying %q and naming alice's key", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := avtest.DiffItems(tc.want, got); diff != "" {
				t.Errorf("returned attributes (-want +got):\n%s", diff)
			}
		})
	}
}

// TestConditionFailureItemDecrypted: the item a
// ConditionalCheckFailedException carries comes back decrypted, or removed
// when it fails verification.
func TestConditionFailureItemDecrypted(t *testing.T) {
	ctx := context.Background()
	table := aws.String("People")
	alice := person("alice", "1")
	calls := map[string]func(c *ddbenc.Client) error{
		"PutItem": func(c *ddbenc.Client) error {
			_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: table, Item: alice, ConditionExpression: aws.String("attribute_not_exists(pk)"),
				ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld})
			return err
		},
		"DeleteItem": func(c *ddbenc.Client) error {
			_, err := c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: table, Key: key("alice", "1"), ConditionExpression: aws.String("visits > :v"),
				ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld})
			return err
		},
		"UpdateItem": func(c *ddbenc.Client) error {
			_, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: table, Key: key("alice", "1"), UpdateExpression: aws.String("SET visits = :v"),
				ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld})
			return err
		},
	}
	for op, call := range calls {
		for _, tc := range []struct {
			name     string
			item     func(t *testing.T) item
			want     item // nil: removed
			wantSigs bool // the error also reports the failed verification
		}{
			{"verified", func(t *testing.T) item { return stored(t, alice) }, alice, false},
			{"failing verification", func(t *testing.T) item { return tampered(t, alice) }, nil, true},
		} {
			t.Run(op+"/"+tc.name, func(t *testing.T) {
				c, rec := newRecordedClient(t)
				rec.returns(op, nil, &types.ConditionalCheckFailedException{Message: aws.String("failed"), Item: tc.item(t)})
				err := call(c)
				var ccf *types.ConditionalCheckFailedException
				if !errors.As(err, &ccf) {
					t.Fatalf("got %v, want ConditionalCheckFailedException", err)
				}
				if got := errors.Is(err, ddbenc.ErrSignature); got != tc.wantSigs {
					t.Errorf("errors.Is(err, ErrSignature) = %v, want %v (%v)", got, tc.wantSigs, err)
				}
				if tc.want == nil {
					if ccf.Item != nil {
						t.Errorf("item that failed verification returned: %v", ccf.Item)
					}
					return
				}
				if diff := avtest.DiffItems(tc.want, ccf.Item); diff != "" {
					t.Errorf("item (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// TestCancellationReasonsDecrypted: the items of a
// TransactionCanceledException come back decrypted per entry; an item that
// fails verification is removed and reported, and items of pass-through
// tables are left as they are.
func TestCancellationReasonsDecrypted(t *testing.T) {
	ctx := context.Background()
	table := aws.String("People")
	alice, bob := person("alice", "1"), person("bob", "2")
	plain := item{"id": s("p1"), "note": s("kept")}
	for _, tc := range []struct {
		name     string
		bob      func(t *testing.T) item
		wantBob  item
		wantSigs bool
	}{
		{"all verified", func(t *testing.T) item { return stored(t, bob) }, bob, false},
		{"one failing verification", func(t *testing.T) item { return tampered(t, bob) }, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, rec := newRecordedClient(t)
			rec.returns("TransactWriteItems", nil, &types.TransactionCanceledException{Message: aws.String("canceled"), CancellationReasons: []types.CancellationReason{
				{Code: aws.String("ConditionalCheckFailed"), Item: stored(t, alice)},
				{Code: aws.String("ConditionalCheckFailed"), Item: plain},
				{Code: aws.String("ConditionalCheckFailed"), Item: tc.bob(t)},
				{Code: aws.String("None")},
			}})
			_, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
				{ConditionCheck: &types.ConditionCheck{TableName: table, Key: key("alice", "1"), ConditionExpression: aws.String("visits > :v")}},
				{ConditionCheck: &types.ConditionCheck{TableName: aws.String("Plain"), Key: item{"id": s("p1")}, ConditionExpression: aws.String("note = :n")}},
				{Delete: &types.Delete{TableName: table, Key: key("bob", "2"), ConditionExpression: aws.String("visits > :v")}},
				{Put: &types.Put{TableName: table, Item: person("carol", "3")}},
			}})
			var tce *types.TransactionCanceledException
			if !errors.As(err, &tce) {
				t.Fatalf("got %v, want TransactionCanceledException", err)
			}
			if got := errors.Is(err, ddbenc.ErrSignature); got != tc.wantSigs {
				t.Errorf("errors.Is(err, ErrSignature) = %v, want %v (%v)", got, tc.wantSigs, err)
			}
			r := tce.CancellationReasons
			if diff := avtest.DiffItems(alice, r[0].Item); diff != "" {
				t.Errorf("reason 0 item (-want +got):\n%s", diff)
			}
			if diff := avtest.DiffItems(plain, r[1].Item); diff != "" {
				t.Errorf("reason 1 (pass-through) item (-want +got):\n%s", diff)
			}
			if tc.wantBob == nil && r[2].Item != nil {
				t.Errorf("reason 2 item that failed verification returned: %v", r[2].Item)
			} else if diff := avtest.DiffItems(tc.wantBob, r[2].Item); tc.wantBob != nil && diff != "" {
				t.Errorf("reason 2 item (-want +got):\n%s", diff)
			}
			if r[3].Item != nil {
				t.Errorf("reason 3 has an item: %v", r[3].Item)
			}
		})
	}
}

// TestPassThroughUnchanged: requests to a pass-through table (by name or by
// ARN) go out as the caller wrote them, unchecked, and answers come back as
// DynamoDB gave them.
func TestPassThroughUnchanged(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"Plain", "arn:aws:dynamodb:us-east-1:111122223333:table/Plain"} {
		table := aws.String(name)
		// What an encrypted table would refuse or rewrite.
		k := item{"id": s("p1"), "extra": s("x")}
		it := item{"id": s("p1"), sigAttr: s("not ours")}
		proj, names := aws.String("#s"), map[string]string{"#s": sigAttr}
		returned := []item{{"id": s("p1"), "note": s("as stored")}}
		cases := []struct {
			name string
			call func(c *ddbenc.Client, rec *recorder) (sent any, got any, want any, err error)
		}{
			{"PutItem", func(c *ddbenc.Client, rec *recorder) (any, any, any, error) {
				in := &dynamodb.PutItemInput{TableName: table, Item: it, ConditionExpression: aws.String("attribute_exists(#s)"), ExpressionAttributeNames: names}
				want := &dynamodb.PutItemOutput{Attributes: returned[0]}
				rec.returns("PutItem", want, nil)
				got, err := c.PutItem(ctx, in)
				return in, got, want, err
			}},
			{"GetItem", func(c *ddbenc.Client, rec *recorder) (any, any, any, error) {
				in := &dynamodb.GetItemInput{TableName: table, Key: k, ProjectionExpression: proj, ExpressionAttributeNames: names}
				want := &dynamodb.GetItemOutput{Item: returned[0]}
				rec.returns("GetItem", want, nil)
				got, err := c.GetItem(ctx, in)
				return in, got, want, err
			}},
			{"DeleteItem", func(c *ddbenc.Client, rec *recorder) (any, any, any, error) {
				in := &dynamodb.DeleteItemInput{TableName: table, Key: k, ReturnValues: types.ReturnValueAllOld}
				want := &dynamodb.DeleteItemOutput{Attributes: returned[0]}
				rec.returns("DeleteItem", want, nil)
				got, err := c.DeleteItem(ctx, in)
				return in, got, want, err
			}},
			{"UpdateItem", func(c *ddbenc.Client, rec *recorder) (any, any, any, error) {
				in := &dynamodb.UpdateItemInput{TableName: table, Key: k, UpdateExpression: aws.String("REMOVE #s"), ExpressionAttributeNames: names, ReturnValues: types.ReturnValueAllNew}
				want := &dynamodb.UpdateItemOutput{Attributes: returned[0]}
				rec.returns("UpdateItem", want, nil)
				got, err := c.UpdateItem(ctx, in)
				return in, got, want, err
			}},
			{"Query", func(c *ddbenc.Client, rec *recorder) (any, any, any, error) {
				in := &dynamodb.QueryInput{TableName: table, KeyConditionExpression: aws.String("id = :p"), ProjectionExpression: proj, ExpressionAttributeNames: names, Select: types.SelectSpecificAttributes}
				want := &dynamodb.QueryOutput{Items: returned}
				rec.returns("Query", want, nil)
				got, err := c.Query(ctx, in)
				return in, got, want, err
			}},
			{"Scan", func(c *ddbenc.Client, rec *recorder) (any, any, any, error) {
				in := &dynamodb.ScanInput{TableName: table, IndexName: aws.String("anyIndex"), ProjectionExpression: proj, ExpressionAttributeNames: names, ExclusiveStartKey: k}
				want := &dynamodb.ScanOutput{Items: returned}
				rec.returns("Scan", want, nil)
				got, err := c.Scan(ctx, in)
				return in, got, want, err
			}},
		}
		for _, tc := range cases {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				c, rec := newRecordedClient(t)
				in, got, want, err := tc.call(c, rec)
				if err != nil {
					t.Fatal(err)
				}
				if sent := rec.sent(); len(sent) != 1 || sent[0] != in {
					t.Errorf("sent %v, want the caller's request itself", sent)
				}
				if got != want {
					t.Errorf("got output %+v, want DynamoDB's own %+v", got, want)
				}
			})
		}

		t.Run(name+"/batch and transaction entries", func(t *testing.T) {
			c, rec := newRecordedClient(t)
			ka := types.KeysAndAttributes{Keys: []item{k}, ProjectionExpression: proj, ExpressionAttributeNames: names}
			rec.returns("BatchGetItem", &dynamodb.BatchGetItemOutput{Responses: map[string][]item{name: returned}}, nil)
			bg, err := c.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{name: ka}})
			if err != nil {
				t.Fatal(err)
			}
			if diff := diffItemLists(returned, bg.Responses[name]); diff != "" {
				t.Errorf("BatchGetItem responses (-want +got):\n%s", diff)
			}
			wrs := []types.WriteRequest{{PutRequest: &types.PutRequest{Item: it}}, {DeleteRequest: &types.DeleteRequest{Key: k}}}
			if _, err := c.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{name: wrs}}); err != nil {
				t.Fatal(err)
			}
			tw := []types.TransactWriteItem{
				{Put: &types.Put{TableName: table, Item: it}},
				{Update: &types.Update{TableName: table, Key: k, UpdateExpression: aws.String("REMOVE #s"), ExpressionAttributeNames: names}},
				{Delete: &types.Delete{TableName: table, Key: k}},
				{ConditionCheck: &types.ConditionCheck{TableName: table, Key: k, ConditionExpression: aws.String("attribute_exists(#s)"), ExpressionAttributeNames: names}},
			}
			if _, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tw}); err != nil {
				t.Fatal(err)
			}
			tg := []types.TransactGetItem{{Get: &types.Get{TableName: table, Key: k, ProjectionExpression: proj, ExpressionAttributeNames: names}}}
			rec.returns("TransactGetItems", &dynamodb.TransactGetItemsOutput{Responses: []types.ItemResponse{{Item: returned[0]}}}, nil)
			tgOut, err := c.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: tg})
			if err != nil {
				t.Fatal(err)
			}
			if diff := avtest.DiffItems(returned[0], tgOut.Responses[0].Item); diff != "" {
				t.Errorf("TransactGetItems response (-want +got):\n%s", diff)
			}

			sent := rec.sent()
			if len(sent) != 4 {
				t.Fatalf("%d requests sent, want 4", len(sent))
			}
			if got := sent[0].(*dynamodb.BatchGetItemInput).RequestItems[name]; got.ProjectionExpression != proj || !cmp.Equal(got.ExpressionAttributeNames, names) || len(got.Keys) != 1 {
				t.Errorf("BatchGetItem entry sent: %+v, want the caller's", got)
			}
			if got := sent[1].(*dynamodb.BatchWriteItemInput).RequestItems[name]; len(got) != 2 || got[0].PutRequest.Item[sigAttr] != it[sigAttr] || got[1].DeleteRequest.Key["extra"] != k["extra"] {
				t.Errorf("BatchWriteItem entries sent: %+v, want the caller's", got)
			}
			gotTW := sent[2].(*dynamodb.TransactWriteItemsInput).TransactItems
			if len(gotTW) != 4 || gotTW[0].Put != tw[0].Put || gotTW[1].Update != tw[1].Update || gotTW[2].Delete != tw[2].Delete || gotTW[3].ConditionCheck != tw[3].ConditionCheck {
				t.Errorf("TransactWriteItems entries sent: %+v, want the caller's", gotTW)
			}
			if got := sent[3].(*dynamodb.TransactGetItemsInput).TransactItems; len(got) != 1 || got[0].Get != tg[0].Get {
				t.Errorf("TransactGetItems entries sent: %+v, want the caller's", got)
			}
		})
	}
}

// TestDynamoDBErrorsReturned: an error DynamoDB answers with comes back
// unchanged (errors.Is finds it) from every call.
func TestDynamoDBErrorsReturned(t *testing.T) {
	ctx := context.Background()
	table := aws.String("People")
	k := key("alice", "1")
	boom := errors.New("throttled")
	calls := map[string]func(c *ddbenc.Client) error{
		"PutItem": func(c *ddbenc.Client) error {
			_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: table, Item: person("alice", "1")})
			return err
		},
		"GetItem": func(c *ddbenc.Client) error {
			_, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: k})
			return err
		},
		"DeleteItem": func(c *ddbenc.Client) error {
			_, err := c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: table, Key: k})
			return err
		},
		"UpdateItem": func(c *ddbenc.Client) error {
			_, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: table, Key: k, UpdateExpression: aws.String("SET visits = :v")})
			return err
		},
		"Query": func(c *ddbenc.Client) error {
			_, err := c.Query(ctx, &dynamodb.QueryInput{TableName: table, KeyConditionExpression: aws.String("pk = :p")})
			return err
		},
		"Scan": func(c *ddbenc.Client) error {
			_, err := c.Scan(ctx, &dynamodb.ScanInput{TableName: table})
			return err
		},
		"BatchGetItem": func(c *ddbenc.Client) error {
			_, err := c.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{"People": {Keys: []item{k}}}})
			return err
		},
		"BatchWriteItem": func(c *ddbenc.Client) error {
			_, err := c.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{"People": {{DeleteRequest: &types.DeleteRequest{Key: k}}}}})
			return err
		},
		"TransactWriteItems": func(c *ddbenc.Client) error {
			_, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{{Delete: &types.Delete{TableName: table, Key: k}}}})
			return err
		},
		"TransactGetItems": func(c *ddbenc.Client) error {
			_, err := c.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: []types.TransactGetItem{{Get: &types.Get{TableName: table, Key: k}}}})
			return err
		},
		"DescribeTable": func(c *ddbenc.Client) error {
			_, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: table})
			return err
		},
	}
	for op, call := range calls {
		t.Run(op, func(t *testing.T) {
			c, rec := newRecordedClient(t)
			rec.returns(op, nil, boom)
			if err := call(c); !errors.Is(err, boom) {
				t.Errorf("got %v, want DynamoDB's error %v", err, boom)
			}
			if n := len(rec.sent()); n != 1 {
				t.Errorf("%d requests sent, want 1", n)
			}
		})
	}
}

// TestKeySchemaDiscovery: a table configured without its key schema reads it
// once with DescribeTable, however many calls race for it; a failed
// DescribeTable fails the call and is tried again on the next.
func TestKeySchemaDiscovery(t *testing.T) {
	ctx := context.Background()
	cfg := ddbenc.TableConfig{TableName: "People", Actions: actions.Map{Default: actions.EncryptAndSign}, Provider: providers(t)["static-hmac"]}
	desc := &types.TableDescription{TableName: aws.String("People"), KeySchema: []types.KeySchemaElement{
		{AttributeName: aws.String(pk), KeyType: types.KeyTypeHash}, {AttributeName: aws.String(sk), KeyType: types.KeyTypeRange}}}

	t.Run("once for concurrent calls", func(t *testing.T) {
		rec := &recorder{desc: desc}
		c, err := ddbenc.NewClient(rec, []ddbenc.TableConfig{cfg})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("People"), Item: item{pk: s("a"), sk: n(string(rune('0' + i))), "x": s("secret")}}); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		describes := 0
		for _, in := range rec.sent() {
			if _, ok := in.(*dynamodb.DescribeTableInput); ok {
				describes++
			} else if put := in.(*dynamodb.PutItemInput); put.Item[sigAttr] == nil {
				t.Error("put sent unsigned")
			}
		}
		if describes != 1 {
			t.Errorf("%d DescribeTable calls, want 1", describes)
		}
	})

	for _, tc := range []struct {
		name   string
		answer func(in any) (any, error)
		want   error
	}{
		{"DescribeTable fails", func(any) (any, error) { return nil, &types.ResourceNotFoundException{Message: aws.String("no table")} }, nil},
		{"DescribeTable returns no table", func(any) (any, error) { return &dynamodb.DescribeTableOutput{}, nil }, ddbenc.ErrMalformed},
		{"DescribeTable returns no key schema", func(any) (any, error) { return &dynamodb.DescribeTableOutput{Table: &types.TableDescription{}}, nil }, ddbenc.ErrInvalidConfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			rec.on("DescribeTable", tc.answer)
			c, err := ddbenc.NewClient(rec, []ddbenc.TableConfig{cfg})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("People"), Key: key("a", "1")})
			var de *ddbenc.Error
			if !errors.As(err, &de) || de.Table != "People" {
				t.Fatalf("got %v, want an *ddbenc.Error naming the table", err)
			}
			var rnf *types.ResourceNotFoundException
			if tc.want == nil && !errors.As(err, &rnf) {
				t.Errorf("got %v, want DynamoDB's error wrapped", err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
			rec.on("DescribeTable", func(any) (any, error) { return &dynamodb.DescribeTableOutput{Table: desc}, nil })
			if _, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("People"), Key: key("a", "1")}); err != nil {
				t.Errorf("after DescribeTable succeeds: %v", err)
			}
			if n := len(rec.sent()); n != 3 {
				t.Errorf("%d requests sent, want 3 (DescribeTable twice, GetItem)", n)
			}
		})
	}
}

// TestNewClientRefusesConfigurations: configurations NewClient refuses.
func TestNewClientRefusesConfigurations(t *testing.T) {
	p := providers(t)["static-hmac"]
	acts := actions.Map{Default: actions.EncryptAndSign}
	cases := []struct {
		name   string
		api    ddbenc.DynamoDBAPI
		tables []ddbenc.TableConfig
	}{
		{"no DynamoDB client", nil, nil},
		{"table configured twice", &recorder{}, []ddbenc.TableConfig{{TableName: "A", PartitionKey: pk, Actions: acts, Provider: p}, {TableName: "A", PartitionKey: pk, Actions: acts, Provider: p}}},
		{"no table name, to be described", &recorder{}, []ddbenc.TableConfig{{Actions: acts, Provider: p}}},
		{"invalid actions, to be described", &recorder{}, []ddbenc.TableConfig{{TableName: "A", Actions: actions.Map{Default: 99}, Provider: p}}},
		{"invalid table", &recorder{}, []ddbenc.TableConfig{{TableName: "A", PartitionKey: pk, SortKey: pk, Actions: acts, Provider: p}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ddbenc.NewClient(tc.api, tc.tables); !errors.Is(err, ddbenc.ErrInvalidConfig) {
				t.Errorf("got %v, want ErrInvalidConfig", err)
			}
		})
	}
}

// TestKeySchemaDiscoveryHoldsNoLock: while the first caller's DescribeTable
// is in flight, a caller whose context ends returns at once, and a waiting
// caller gets the first caller's result; one DescribeTable in all.
func TestKeySchemaDiscoveryHoldsNoLock(t *testing.T) {
	cfg := ddbenc.TableConfig{TableName: "People", Actions: actions.Map{Default: actions.EncryptAndSign}, Provider: providers(t)["static-hmac"]}
	desc := &types.TableDescription{TableName: aws.String("People"), KeySchema: []types.KeySchemaElement{{AttributeName: aws.String(pk), KeyType: types.KeyTypeHash}}}
	entered, release := make(chan struct{}), make(chan struct{})
	rec := &recorder{}
	rec.on("DescribeTable", func(any) (any, error) {
		close(entered)
		<-release
		return &dynamodb.DescribeTableOutput{Table: desc}, nil
	})
	c, err := ddbenc.NewClient(rec, []ddbenc.TableConfig{cfg})
	if err != nil {
		t.Fatal(err)
	}
	get := func(ctx context.Context) error {
		_, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("People"), Key: map[string]types.AttributeValue{pk: s("a")}})
		return err
	}
	first := make(chan error, 1)
	go func() { first <- get(context.Background()) }()
	<-entered
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if err := get(cancelled); !errors.Is(err, context.Canceled) {
		t.Fatalf("caller with an ended context during discovery: %v, want context.Canceled", err)
	}
	waiter := make(chan error, 1)
	go func() { waiter <- get(context.Background()) }()
	close(release)
	for name, ch := range map[string]chan error{"first": first, "waiter": waiter} {
		if err := <-ch; err != nil {
			t.Errorf("%s caller: %v", name, err)
		}
	}
	describes := 0
	for _, in := range rec.sent() {
		if _, ok := in.(*dynamodb.DescribeTableInput); ok {
			describes++
		}
	}
	if describes != 1 {
		t.Errorf("%d DescribeTable calls, want 1", describes)
	}
}

// TestKeySchemaDiscoveryPanic: when the DescribeTable of the first caller
// panics, the panic reaches that caller and no waiter hangs; the next
// discovery succeeds.
func TestKeySchemaDiscoveryPanic(t *testing.T) {
	cfg := ddbenc.TableConfig{TableName: "People", Actions: actions.Map{Default: actions.EncryptAndSign}, Provider: providers(t)["static-hmac"]}
	desc := &types.TableDescription{TableName: aws.String("People"), KeySchema: []types.KeySchemaElement{{AttributeName: aws.String(pk), KeyType: types.KeyTypeHash}}}
	entered, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	rec := &recorder{}
	rec.on("DescribeTable", func(any) (any, error) {
		if calls.Add(1) == 1 {
			close(entered)
			<-release
			panic("DescribeTable exploded")
		}
		return &dynamodb.DescribeTableOutput{Table: desc}, nil
	})
	c, err := ddbenc.NewClient(rec, []ddbenc.TableConfig{cfg})
	if err != nil {
		t.Fatal(err)
	}
	get := func() error {
		_, err := c.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String("People"), Key: map[string]types.AttributeValue{pk: s("a")}})
		return err
	}
	panicked := make(chan any, 1)
	go func() {
		defer func() { panicked <- recover() }()
		get()
	}()
	<-entered
	waiter := make(chan error, 1)
	go func() { waiter <- get() }()
	close(release)
	if p := <-panicked; p == nil {
		t.Error("the first caller did not see the panic")
	}
	<-waiter // returns: either the incomplete discovery's error or, if it started after, success
	if err := get(); err != nil {
		t.Errorf("discovery after the panic: %v", err)
	}
}
