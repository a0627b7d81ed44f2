module github.com/ddbec/ddbec-go

go 1.26

require (
	github.com/aws/aws-sdk-go-v2/service/dynamodb v1.73.1
	github.com/google/go-cmp v0.7.0
)

require github.com/aws/smithy-go v1.28.8 // indirect
