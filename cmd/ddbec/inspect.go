package main

import (
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/internal/ddbjson"
	"github.com/ddbec/ddbec-go/internal/legacy"
)

// inspection is what inspect prints for one item: no values and no key
// material, only types, sizes, actions and the material description with the
// wrapped key replaced by its length.
type inspection struct {
	Attributes          map[string]attributeInfo `json:"attributes"`
	Encrypted           []string                 `json:"encrypted"`
	Signed              []string                 `json:"signed"`
	MaterialDescription map[string]string        `json:"material_description,omitempty"`
	SignatureBytes      int                      `json:"signature_bytes,omitempty"`
	Problems            []string                 `json:"problems,omitempty"`
}

type attributeInfo struct {
	Type   string `json:"type"`
	Action string `json:"action"`
	Bytes  int    `json:"bytes,omitempty"`
}

func inspect(item map[string]types.AttributeValue, acts actions.Map) ([]byte, error) {
	in := inspection{Attributes: map[string]attributeInfo{}, Encrypted: []string{}, Signed: []string{}}
	for name, v := range item {
		switch name {
		case legacy.SignatureAttribute:
			if b, ok := v.(*types.AttributeValueMemberB); ok {
				in.SignatureBytes = len(b.Value)
			} else {
				in.Problems = append(in.Problems, "signature attribute is not binary")
			}
			continue
		case legacy.MaterialDescriptionAttribute:
			b, ok := v.(*types.AttributeValueMemberB)
			if !ok {
				in.Problems = append(in.Problems, "material description attribute is not binary")
				continue
			}
			d, err := legacy.ParseDescription(b.Value)
			if err != nil {
				in.Problems = append(in.Problems, err.Error())
				continue
			}
			if k, ok := d[legacy.EnvelopeKey]; ok {
				d[legacy.EnvelopeKey] = "<wrapped key, invalid base64>"
				if raw, err := legacy.DecodeEnvelopeKey(k); err == nil {
					d[legacy.EnvelopeKey] = fmt.Sprintf("<wrapped key, %d bytes>", len(raw))
				}
			}
			in.MaterialDescription = d
			continue
		}
		info := attributeInfo{Type: ddbjson.TypeName(v), Action: "unknown"}
		if acts.Default.Valid() {
			a := acts.Get(name)
			info.Action = a.String()
			switch a {
			case actions.EncryptAndSign:
				in.Encrypted = append(in.Encrypted, name)
				in.Signed = append(in.Signed, name)
			case actions.SignOnly:
				in.Signed = append(in.Signed, name)
			}
		}
		if b, ok := v.(*types.AttributeValueMemberB); ok {
			info.Bytes = len(b.Value)
		}
		in.Attributes[name] = info
	}
	if in.SignatureBytes == 0 && len(in.Signed) > 0 {
		in.Problems = append(in.Problems, "no signature attribute")
	}
	slices.Sort(in.Encrypted)
	slices.Sort(in.Signed)
	return ddbjson.Marshal(in)
}
