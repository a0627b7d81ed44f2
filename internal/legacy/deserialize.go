package legacy

import (
	"encoding/binary"
	"errors"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// ErrMalformed reports serialized data that cannot be deserialized. Its
// message names the problem, never the data.
var ErrMalformed = errors.New("signing: malformed serialized attribute")

type malformedError string

func (e malformedError) Error() string { return ErrMalformed.Error() + ": " + string(e) }
func (e malformedError) Unwrap() error { return ErrMalformed }

// Deserialize parses one serialized attribute value (docs/legacy-format.md §1.6). Trailing
// bytes after the value are an error. Numbers come back as stored (writers
// store the canonical form); set elements come back in stored order.
func Deserialize(data []byte) (types.AttributeValue, error) {
	if len(data) == 0 {
		return nil, malformedError("empty input")
	}
	d := &decoder{data: data}
	av, err := d.value(0)
	if err != nil {
		return nil, err
	}
	if d.off != len(d.data) {
		return nil, malformedError("trailing bytes after value")
	}
	return av, nil
}

type decoder struct {
	data []byte
	off  int
}

func (d *decoder) need(n int) error {
	if n < 0 || len(d.data)-d.off < n {
		return malformedError("length runs past the end of the data")
	}
	return nil
}

func (d *decoder) u32() (int, error) {
	if err := d.need(4); err != nil {
		return 0, err
	}
	v := binary.BigEndian.Uint32(d.data[d.off:])
	d.off += 4
	if uint64(v) > uint64(len(d.data)) {
		return 0, malformedError("length runs past the end of the data")
	}
	return int(v), nil
}

// lv reads a length-prefixed byte string without copying.
func (d *decoder) lv() ([]byte, error) {
	n, err := d.u32()
	if err != nil {
		return nil, err
	}
	if err := d.need(n); err != nil {
		return nil, err
	}
	b := d.data[d.off : d.off+n : d.off+n]
	d.off += n
	return b, nil
}

// count reads an element count. Each element takes at least minSize bytes,
// so a count larger than the remaining data allows is rejected before any
// allocation.
func (d *decoder) count(minSize int) (int, error) {
	n, err := d.u32()
	if err != nil {
		return 0, err
	}
	if n > (len(d.data)-d.off)/minSize {
		return 0, malformedError("count runs past the end of the data")
	}
	return n, nil
}

func (d *decoder) value(depth int) (types.AttributeValue, error) {
	if depth > MaxDepth {
		return nil, malformedError("nested too deeply")
	}
	if err := d.need(2); err != nil {
		return nil, err
	}
	if d.data[d.off] != 0 {
		return nil, malformedError("reserved tag byte is not zero")
	}
	tag := d.data[d.off+1]
	d.off += 2
	switch tag {
	case tagB:
		b, err := d.lv()
		if err != nil {
			return nil, err
		}
		return &types.AttributeValueMemberB{Value: append([]byte{}, b...)}, nil
	case tagN:
		b, err := d.lv()
		if err != nil {
			return nil, err
		}
		return &types.AttributeValueMemberN{Value: string(b)}, nil
	case tagS:
		b, err := d.lv()
		if err != nil {
			return nil, err
		}
		return &types.AttributeValueMemberS{Value: string(b)}, nil
	case tagBOOL:
		if err := d.need(1); err != nil {
			return nil, err
		}
		b := d.data[d.off]
		d.off++
		if b > 1 {
			return nil, malformedError("boolean byte is neither 0 nor 1")
		}
		return &types.AttributeValueMemberBOOL{Value: b == 1}, nil
	case tagNULL:
		return &types.AttributeValueMemberNULL{Value: true}, nil
	case tagBS, tagNS, tagSS:
		n, err := d.count(4)
		if err != nil {
			return nil, err
		}
		raw := make([][]byte, n)
		for i := range raw {
			if raw[i], err = d.lv(); err != nil {
				return nil, err
			}
		}
		switch tag {
		case tagBS:
			out := make([][]byte, n)
			for i, b := range raw {
				out[i] = append([]byte{}, b...)
			}
			return &types.AttributeValueMemberBS{Value: out}, nil
		case tagNS:
			return &types.AttributeValueMemberNS{Value: toStrings(raw)}, nil
		default:
			return &types.AttributeValueMemberSS{Value: toStrings(raw)}, nil
		}
	case tagL:
		n, err := d.count(2)
		if err != nil {
			return nil, err
		}
		out := make([]types.AttributeValue, n)
		for i := range out {
			if out[i], err = d.value(depth + 1); err != nil {
				return nil, err
			}
		}
		return &types.AttributeValueMemberL{Value: out}, nil
	case tagM:
		n, err := d.count(8)
		if err != nil {
			return nil, err
		}
		out := make(map[string]types.AttributeValue, n)
		for range n {
			if err := d.need(2); err != nil {
				return nil, err
			}
			if d.data[d.off] != 0 || d.data[d.off+1] != tagS {
				return nil, malformedError("map key is not a string")
			}
			d.off += 2
			k, err := d.lv()
			if err != nil {
				return nil, err
			}
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			out[string(k)] = v
		}
		return &types.AttributeValueMemberM{Value: out}, nil
	}
	return nil, malformedError("unsupported type tag")
}

func toStrings(raw [][]byte) []string {
	out := make([]string, len(raw))
	for i, b := range raw {
		out[i] = string(b)
	}
	return out
}
