package ddbenc

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/internal/legacy"
)

func TestClassify(t *testing.T) {
	b := &types.AttributeValueMemberB{Value: []byte{1}}
	s := &types.AttributeValueMemberS{Value: "v"}
	for name, c := range map[string]struct {
		item map[string]types.AttributeValue
		want itemFormat
	}{
		"nil":       {nil, formatPlaintext},
		"plaintext": {map[string]types.AttributeValue{"pk": s}, formatPlaintext},
		"only a description": {map[string]types.AttributeValue{"pk": s, legacy.MaterialDescriptionAttribute: b},
			formatPlaintext},
		"legacy":         {map[string]types.AttributeValue{"pk": s, legacy.SignatureAttribute: b, legacy.MaterialDescriptionAttribute: b}, formatLegacy},
		"legacy no desc": {map[string]types.AttributeValue{"pk": s, legacy.SignatureAttribute: b}, formatLegacy},
		"db-esdk":        {map[string]types.AttributeValue{"pk": s, "aws_dbe_head": b, "aws_dbe_foot": b}, formatDBESDK},
		"both":           {map[string]types.AttributeValue{"pk": s, "aws_dbe_head": b, legacy.SignatureAttribute: b}, formatLegacy},
	} {
		if got := classify(c.item); got != c.want {
			t.Errorf("%s: classify = %v, want %v", name, got, c.want)
		}
	}
}
