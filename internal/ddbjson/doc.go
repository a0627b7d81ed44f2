// Package ddbjson reads and writes DynamoDB JSON: the item shape that
// `aws dynamodb get-item` prints, {"name": {"S": "..."}, "blob": {"B": "<base64>"}}.
//
// Errors name the top-level attribute at most. Map keys and values inside an
// attribute's value are data (a decrypted attribute's nested map keys are
// plaintext), so no error message contains them, nor a path into them.
package ddbjson
