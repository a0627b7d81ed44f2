// Package apptest is an application outside the ddbec-go module, with its
// own go.mod, that tests itself with ddbenctest: it shows that a user's
// tests need only the public packages (ddbenc, provider, keyring,
// ddbenctest) to check a write in one Region and a read in another.
//
// Store is the application: customer records whose email is encrypted and
// signed, in a DynamoDB table (a global table in production), in either
// item format.
package apptest

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/keyring"
	"github.com/ddbec/ddbec-go/provider"
)

// Store keeps customers in one table through the encrypting client.
type Store struct {
	table  string
	client *ddbenc.Client
}

// Customer is one record; Email is the secret.
type Customer struct {
	ID, Email, Plan string
}

// NewStore configures the table for the Region of ddb and kmsClient, with
// keyARN (that Region's ARN of a multi-Region key): the legacy format with
// DirectKMS, or the DB-ESDK format with the KMS MRK keyring.
func NewStore(ddb *dynamodb.Client, kmsClient *kms.Client, table, keyARN string, format ddbenc.Format) (*Store, error) {
	acts := actions.Map{Default: actions.EncryptAndSign, Attributes: map[string]actions.Action{
		"id": actions.SignOnly, "plan": actions.SignOnly,
	}}
	cfg := ddbenc.TableConfig{TableName: table, PartitionKey: "id", Actions: acts, Format: format}
	switch format {
	case ddbenc.LegacyFormat:
		p, err := provider.NewDirectKMS(kmsClient, keyARN)
		if err != nil {
			return nil, err
		}
		cfg.Provider = p
	case ddbenc.DBESDKFormat:
		kr, err := keyring.NewKMSMRK(kmsClient, keyARN)
		if err != nil {
			return nil, err
		}
		cfg.Keyring = kr
	default:
		return nil, fmt.Errorf("unknown format %v", format)
	}
	c, err := ddbenc.NewClient(ddb, []ddbenc.TableConfig{cfg})
	if err != nil {
		return nil, err
	}
	return &Store{table: table, client: c}, nil
}

// Put stores c.
func (s *Store) Put(ctx context.Context, c Customer) error {
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: map[string]types.AttributeValue{
		"id":    &types.AttributeValueMemberS{Value: c.ID},
		"email": &types.AttributeValueMemberS{Value: c.Email},
		"plan":  &types.AttributeValueMemberS{Value: c.Plan},
	}})
	return err
}

// ErrNotFound: no customer has the id.
var ErrNotFound = errors.New("apptest: customer not found")

// Get reads, verifies and decrypts the customer id.
func (s *Store) Get(ctx context.Context, id string) (Customer, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: map[string]types.AttributeValue{
		"id": &types.AttributeValueMemberS{Value: id},
	}})
	if err != nil {
		return Customer{}, err
	}
	if out.Item == nil {
		return Customer{}, ErrNotFound
	}
	str := func(name string) string {
		v, _ := out.Item[name].(*types.AttributeValueMemberS)
		if v == nil {
			return ""
		}
		return v.Value
	}
	return Customer{ID: str("id"), Email: str("email"), Plan: str("plan")}, nil
}
