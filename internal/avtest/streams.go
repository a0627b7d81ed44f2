package avtest

import (
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	streamstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// ToStreams converts an item into the DynamoDB Streams types, as a stream
// record carries it (for tests of the conversion the other way).
func ToStreams(item map[string]types.AttributeValue) map[string]streamstypes.AttributeValue {
	if item == nil {
		return nil
	}
	out := make(map[string]streamstypes.AttributeValue, len(item))
	for k, v := range item {
		out[k] = ToStreamsValue(v)
	}
	return out
}

// ToStreamsValue converts one value into the DynamoDB Streams types; it
// panics on a type it does not know.
func ToStreamsValue(av types.AttributeValue) streamstypes.AttributeValue {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		return &streamstypes.AttributeValueMemberS{Value: v.Value}
	case *types.AttributeValueMemberN:
		return &streamstypes.AttributeValueMemberN{Value: v.Value}
	case *types.AttributeValueMemberB:
		return &streamstypes.AttributeValueMemberB{Value: v.Value}
	case *types.AttributeValueMemberSS:
		return &streamstypes.AttributeValueMemberSS{Value: v.Value}
	case *types.AttributeValueMemberNS:
		return &streamstypes.AttributeValueMemberNS{Value: v.Value}
	case *types.AttributeValueMemberBS:
		return &streamstypes.AttributeValueMemberBS{Value: v.Value}
	case *types.AttributeValueMemberBOOL:
		return &streamstypes.AttributeValueMemberBOOL{Value: v.Value}
	case *types.AttributeValueMemberNULL:
		return &streamstypes.AttributeValueMemberNULL{Value: v.Value}
	case *types.AttributeValueMemberL:
		var l []streamstypes.AttributeValue
		if v.Value != nil {
			l = make([]streamstypes.AttributeValue, len(v.Value))
			for i, e := range v.Value {
				l[i] = ToStreamsValue(e)
			}
		}
		return &streamstypes.AttributeValueMemberL{Value: l}
	case *types.AttributeValueMemberM:
		var m map[string]streamstypes.AttributeValue
		if v.Value != nil {
			m = ToStreams(v.Value)
		}
		return &streamstypes.AttributeValueMemberM{Value: m}
	}
	panic("avtest: unknown attribute value type")
}
