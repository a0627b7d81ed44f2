// Package ddbenc encrypts and signs Amazon DynamoDB items on the client, in
// the format of the legacy AWS DynamoDB Encryption Client (Java 1.x/2.x,
// Python 3.x; LegacyFormat, the default) or of its successor, the AWS
// Database Encryption SDK for DynamoDB (DBESDKFormat: aws_dbe_head and
// aws_dbe_foot, keys from a [Keyring]; package keyring has raw AES, raw RSA,
// multi and hierarchical keyrings). Items those clients wrote can be read
// here, and items written here can be read by them. A table has one format
// (TableConfig.Format); items of the other format are refused, except by
// the migration policies of a DBESDKFormat table (below). The Client
// and an Encryptor serve either format.
//
// A [Client] wraps a *dynamodb.Client with the same method signatures:
// PutItem, GetItem, Query, Scan, BatchGetItem, BatchWriteItem, DeleteItem,
// UpdateItem, TransactWriteItems and TransactGetItems encrypt on the way in and
// verify and decrypt on the way out; calls that cannot be made safely
// (expressions on encrypted attributes, updates of signed attributes, PartiQL)
// fail with ErrUnsupportedOperation before any request. Tables without a
// TableConfig fail with ErrUnknownTable unless passed through explicitly.
//
// The items of one multi-item call (Query, Scan, BatchGetItem,
// BatchWriteItem, TransactGetItems, TransactWriteItems) are encrypted or
// decrypted concurrently, [Options].Concurrency at a time
// ([DefaultConcurrency], 16, by default), so that their KMS round trips
// overlap; 1 processes them one after another in the calling goroutine.
// Nothing else changes: results keep the items' order (ResultMetadata's
// item formats too), one failing item fails the call with the error of the
// first failing item in item order, the call's context cancels the work,
// and no goroutine outlives the call.
//
// An [Encryptor] serves one table. Each attribute gets an action from an
// actions.Map: encrypted and signed, only signed, or left alone. Keys come
// from a [MaterialsProvider] (package provider: direct KMS bound to a regional
// key ARN, static, wrapped and asymmetric static providers).
//
// # Security model
//
// Encrypted (EncryptAndSign): the attribute's value, serialized and encrypted
// with AES-CBC under a content key, with a fresh random IV per attribute. The
// attribute keeps its name; its type becomes B.
//
// Signed (SignOnly and EncryptAndSign): the signature (HMAC-SHA256 or RSA) in
// *amzn-ddb-map-sig* covers the table name, and for every signed attribute
// present its name, whether it is encrypted, and its stored value. Adding,
// removing or changing a signed attribute, moving an item to another table,
// or changing its key values is detected. The signature is verified before
// anything is decrypted, and nothing is returned when verification or
// decryption fails.
//
// Plaintext and unprotected:
//   - primary key attributes are never encrypted (DynamoDB needs them); they
//     are signed whenever the table signs anything, whatever the default
//     action (TableConfig.LegacyUnsignedKeys restores the legacy rule, for
//     migrations only);
//   - secondary-index key attributes are never encrypted either: an action
//     that would encrypt one is an ErrInvalidConfig;
//   - attribute names, and the number and size of values;
//   - DoNothing attributes, and the legacy global-table attributes
//     aws:rep:deleting, aws:rep:updatetime and aws:rep:updateregion;
//   - the material description in *amzn-ddb-map-desc* (algorithm names and the
//     wrapped content key). It is not signed; editing it makes unwrapping or
//     decryption fail instead;
//   - deleting an item, or replacing it with an older version of the same item
//     signed under the same keys (replay), is not detected.
//
// Actions are configuration, not stored in the item: reading needs the same
// actions and table name as writing (see TableConfig.SignedTableName for
// items copied between tables). Every such setting lives in the table's
// TableConfig.
//
// The Client checks every request before it leaves: key maps hold only key
// attributes, the encryptor's own attributes appear in no expression,
// projection or update, each transaction entry sets one operation, and an
// UpdateItem carries attribute_exists on the partition key so that it never
// creates an unsigned item.
//
// # Migrations
//
// A DBESDKFormat table can read the items of the table it replaces
// (docs/dbesdk-format.md §10). TableConfig.Legacy, with a required
// LegacyPolicy, reads (ForbidLegacyEncryptAllowLegacyDecrypt) or also writes
// (ForceLegacyEncryptAllowLegacyDecrypt) items of the legacy format with a
// legacy encryptor of the same logical table name and keys.
// TableConfig.PlaintextPolicy reads (ForbidPlaintextWriteAllowPlaintextRead)
// or also writes (ForcePlaintextWriteAllowPlaintextRead) plaintext items;
// its zero value refuses them. The defaults refuse both kinds
// ([ErrLegacyItem], [ErrPlaintextItem]). One classifier tells the kinds
// apart: any legacy attribute makes a legacy item, aws_dbe_head or
// aws_dbe_foot a DB-ESDK item, both families a malformed one, neither a
// plaintext one. Unlike AWS, a legacy configuration and a plaintext-read
// policy may be combined; both Force policies may not.
//
// A plaintext item is never returned as if verified: [Encryptor.DecryptItem]
// refuses it; [Encryptor.ReadItem] returns it with [PlaintextItem]; the
// Client records the [ItemFormat] of every returned item in the output's
// ResultMetadata ([ItemFormats], [BatchItemFormats]). A nil record means
// "not verified" too. Items carried by errors cannot be marked, so plaintext
// ones are removed from them. With a legacy configuration the Client's
// request checks use the stricter of each attribute's DB-ESDK and legacy
// actions; under ForcePlaintextWriteAllowPlaintextRead they stay those of
// the DB-ESDK configuration.
//
// # Streams
//
// The images of a table's DynamoDB stream are stored items and are read with
// the table's Encryptor ([Client.Encryptor]): [DecryptStreamRecord] verifies
// and decrypts a record of the Streams API (service/dynamodbstreams/types)
// with [Encryptor.ReadItem], so the migration policies apply and
// [StreamImages] reports each image's [ItemFormat]. Missing images are nil;
// an image that fails fails the record, naming the table and the record's
// key. [ConvertStreamItem] converts the Streams API's AttributeValue union
// into the DynamoDB one. Package lambdaevents does the same for the events
// AWS Lambda delivers, so that this package does not depend on
// aws-lambda-go.
//
// # Orderings
//
// The two legacy clients sort some strings and binary sets differently
// (docs/legacy-format.md §8.1). Writers use TableConfig.Ordering
// (JavaOrdering by default, or PythonOrdering); readers
// accept either. Under the Python ordering, signed plaintext numbers with
// more than 28 significant digits or negative zero are refused on write, and
// legacy Python signatures over numbers rounded to 28 digits are accepted only
// with TableConfig.AllowPythonRoundedNumbers.
//
// # Errors
//
// Every error about an item is an *[Error] naming the operation, table and
// attribute and wrapping a sentinel ([ErrSignature], [ErrDecryption],
// [ErrMissingAttribute], [ErrWrongKey], [ErrKeyUnavailable],
// [ErrInvalidConfig], [ErrInvalidItem], [ErrMalformed], [ErrLegacyItem],
// [ErrPlaintextItem]); KMS errors keep the
// SDK error reachable with errors.As. Errors never contain attribute values, plaintext or key
// material. Context cancellation and deadlines are returned unchanged.
package ddbenc
