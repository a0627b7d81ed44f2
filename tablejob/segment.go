package tablejob

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/internal/dbesdk"
	"github.com/ddbec/ddbec-go/internal/legacy"
)

// segment processes segment seg from checkpoint c until it is done.
func (j *Job) segment(ctx context.Context, r *run, seg int, c checkpoint) error {
	lastKey := c.lastKey
	renewed := j.now()
	for {
		in := &dynamodb.ScanInput{
			TableName:              aws.String(j.cfg.Table),
			Segment:                aws.Int32(int32(seg)),
			TotalSegments:          aws.Int32(int32(j.cfg.TotalSegments)),
			ConsistentRead:         aws.Bool(true),
			Limit:                  aws.Int32(j.cfg.PageSize),
			ExclusiveStartKey:      lastKey,
			ReturnConsumedCapacity: types.ReturnConsumedCapacityTotal,
		}
		page, err := retry(ctx, j, func() (*dynamodb.ScanOutput, error) {
			if err := j.rcu.wait(ctx); err != nil {
				return nil, err
			}
			out, err := j.cfg.API.Scan(ctx, in)
			if out != nil {
				j.rcu.take(out.ConsumedCapacity)
			}
			return out, err
		})
		if err != nil {
			return &Error{Op: "scan", Table: j.cfg.Table, Segment: seg, Err: err}
		}
		var pc pageCounts
		for _, item := range page.Items {
			if j.now().Sub(renewed) >= j.cfg.LeaseDuration/3 {
				if err := j.renew(ctx, seg); err != nil {
					return err
				}
				renewed = j.now()
			}
			if err := j.item(ctx, r, &pc, seg, item); err != nil {
				return err
			}
		}
		lastKey = page.LastEvaluatedKey
		if err := j.save(ctx, seg, lastKey, pc); err != nil {
			return err
		}
		renewed = j.now()
		if len(lastKey) == 0 {
			r.rep.Segments = append(r.rep.Segments, seg)
			r.progress(seg)
			return nil
		}
		r.progress(seg)
	}
}

// outcome of one attempt at an item.
type outcome uint8

const (
	outWrite outcome = iota
	outSkip
	outVerified
)

// item processes one scanned item. Its error is non-nil only when the job
// cannot go on; the item's own failures are counted in r and pc.
func (j *Job) item(ctx context.Context, r *run, pc *pageCounts, seg int, stored map[string]types.AttributeValue) error {
	r.rep.Read++
	pc.read++
	key := j.keyEnc.KeyString(stored)
	itemErr := func(err error) *Error {
		op := "transform"
		if j.cfg.Kind == Verify {
			op = "verify"
		}
		return &Error{Op: op, Table: j.cfg.Table, Segment: seg, Key: key, Err: err}
	}
	for attempt := 0; ; attempt++ {
		out, next, err := j.transform(ctx, stored)
		if err != nil {
			r.fail(itemErr(err), key, false)
			pc.failed++
			return nil
		}
		switch out {
		case outSkip:
			r.rep.Skipped++
			pc.skipped++
			return nil
		case outVerified:
			r.rep.Verified++
			pc.verified++
			return nil
		}
		upd, err := buildUpdate(j.keys, stored, next)
		if err != nil {
			r.fail(itemErr(err), key, false)
			pc.failed++
			return nil
		}
		upd.TableName = aws.String(j.cfg.Table)
		upd.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
		_, err = retry(ctx, j, func() (*dynamodb.UpdateItemOutput, error) {
			if err := j.wcu.wait(ctx); err != nil {
				return nil, err
			}
			out, err := j.cfg.API.UpdateItem(ctx, upd)
			if out != nil {
				j.wcu.take(out.ConsumedCapacity)
			}
			return out, err
		})
		switch {
		case err == nil:
			r.rep.Transformed++
			pc.transformed++
			return nil
		case isConditionFailed(err):
			if attempt >= j.cfg.ConflictRetries {
				r.fail(itemErr(fmt.Errorf("%w (%d attempts)", ErrConflict, attempt+1)), key, true)
				pc.conflicted++
				return nil
			}
		case isItemError(err):
			r.fail(itemErr(err), key, false)
			pc.failed++
			return nil
		default:
			return itemErr(err)
		}
		got, err := retry(ctx, j, func() (*dynamodb.GetItemOutput, error) {
			if err := j.rcu.wait(ctx); err != nil {
				return nil, err
			}
			out, err := j.cfg.API.GetItem(ctx, &dynamodb.GetItemInput{
				TableName: aws.String(j.cfg.Table), Key: upd.Key, ConsistentRead: aws.Bool(true),
				ReturnConsumedCapacity: types.ReturnConsumedCapacityTotal,
			})
			if out != nil {
				j.rcu.take(out.ConsumedCapacity)
			}
			return out, err
		})
		if err != nil {
			return itemErr(err)
		}
		if len(got.Item) == 0 { // deleted meanwhile: nothing to do
			r.rep.Skipped++
			pc.skipped++
			return nil
		}
		stored = got.Item
	}
}

// transform decides what to do with a stored item and returns the item to
// write for outWrite.
func (j *Job) transform(ctx context.Context, stored map[string]types.AttributeValue) (outcome, map[string]types.AttributeValue, error) {
	if j.cfg.Kind == Verify {
		_, f, err := j.cfg.Source.ReadItem(ctx, stored)
		if err != nil {
			return 0, nil, err
		}
		if f == ddbenc.PlaintextItem {
			return 0, nil, fmt.Errorf("%w: the item is plaintext (not verified)", ErrUnexpectedFormat)
		}
		return outVerified, nil, nil
	}
	t := j.cfg.Target
	if _, f, err := t.ReadItem(ctx, stored); err == nil && f == t.WriteFormat() {
		return outSkip, nil, nil
	}
	var plain map[string]types.AttributeValue
	if j.cfg.Source == nil {
		for n := range stored {
			if legacy.IsReserved(n) || strings.HasPrefix(n, dbesdk.ReservedPrefix) {
				return 0, nil, fmt.Errorf("%w: attribute %q of an encryption format in an item of an %s job without a Source", ErrUnexpectedFormat, n, j.cfg.Kind)
			}
		}
		plain = stored
	} else {
		p, f, err := j.cfg.Source.ReadItem(ctx, stored)
		if err != nil {
			return 0, nil, err
		}
		want := ""
		switch {
		case j.cfg.Kind == Encrypt && f != ddbenc.PlaintextItem:
			want = "plaintext"
		case j.cfg.Kind == Migrate && f != ddbenc.LegacyItem:
			want = "legacy"
		case j.cfg.Kind == Reencrypt && f == ddbenc.PlaintextItem:
			want = "encrypted"
		}
		if want != "" {
			return 0, nil, fmt.Errorf("%w: Source read a %s item, a %s job transforms %s items", ErrUnexpectedFormat, f, j.cfg.Kind, want)
		}
		plain = p
	}
	next, err := t.EncryptItem(ctx, plain)
	if err != nil {
		return 0, nil, err
	}
	return outWrite, next, nil
}

// maxExpressionLen is DynamoDB's limit on an expression's length. (Its 2 MB
// limit on the substitutions cannot be reached: both items are at most
// 400 KB.)
const maxExpressionLen = 4 * 1024

// buildUpdate returns the UpdateItem (without TableName) that turns stored
// into next: Key from stored's key attributes, SET of every non-key
// attribute of next, REMOVE of stored's non-key attributes next lacks, and
// a condition of equality on every attribute of stored.
func buildUpdate(keys []string, stored, next map[string]types.AttributeValue) (*dynamodb.UpdateItemInput, error) {
	isKey := func(n string) bool { return slices.Contains(keys, n) }
	key := map[string]types.AttributeValue{}
	for _, k := range keys {
		v, ok := stored[k]
		if !ok {
			return nil, fmt.Errorf("%w: key attribute %q missing", ddbenc.ErrMissingAttribute, k)
		}
		key[k] = v
	}
	names := map[string]string{}
	refs := map[string]string{}
	values := map[string]types.AttributeValue{}
	name := func(n string) string {
		if r, ok := refs[n]; ok {
			return r
		}
		r := "#n" + strconv.Itoa(len(refs))
		refs[n] = r
		names[r] = n
		return r
	}
	value := func(v types.AttributeValue) string {
		r := ":v" + strconv.Itoa(len(values))
		values[r] = v
		return r
	}
	var set, remove, cond []string
	for _, n := range slices.Sorted(maps.Keys(next)) {
		if !isKey(n) {
			set = append(set, name(n)+" = "+value(next[n]))
		}
	}
	for _, n := range slices.Sorted(maps.Keys(stored)) {
		if _, ok := next[n]; !ok && !isKey(n) {
			remove = append(remove, name(n))
		}
	}
	for _, n := range slices.Sorted(maps.Keys(stored)) {
		cond = append(cond, name(n)+" = "+value(stored[n]))
	}
	var upd strings.Builder
	if len(set) > 0 {
		upd.WriteString("SET " + strings.Join(set, ", "))
	}
	if len(remove) > 0 {
		if upd.Len() > 0 {
			upd.WriteByte(' ')
		}
		upd.WriteString("REMOVE " + strings.Join(remove, ", "))
	}
	if upd.Len() == 0 {
		return nil, fmt.Errorf("%w: nothing to write", ddbenc.ErrInvalidItem)
	}
	c := strings.Join(cond, " AND ")
	switch {
	case upd.Len() > maxExpressionLen:
		return nil, fmt.Errorf("%w: the update expression for its %d attributes would be %d bytes, DynamoDB allows %d", ErrTooLarge, len(set)+len(remove), upd.Len(), maxExpressionLen)
	case len(c) > maxExpressionLen:
		return nil, fmt.Errorf("%w: the condition expression for its %d attributes would be %d bytes, DynamoDB allows %d", ErrTooLarge, len(cond), len(c), maxExpressionLen)
	}
	return &dynamodb.UpdateItemInput{
		Key:                       key,
		UpdateExpression:          aws.String(upd.String()),
		ConditionExpression:       aws.String(c),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	}, nil
}

// isItemError reports whether a write error concerns the item itself (a
// ValidationException: too large after encryption, say), so that the job
// goes on with the other items.
func isItemError(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "ValidationException"
}

func isThrottle(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "ProvisionedThroughputExceededException", "RequestLimitExceeded", "ThrottlingException":
		return true
	}
	return false
}

// Backoff of throttled calls: base doubling up to max, with full jitter
// over its upper half.
const (
	backoffBase = 50 * time.Millisecond
	backoffMax  = 5 * time.Second
)

// retry calls fn, retrying throttled calls up to ThrottleRetries times.
func retry[T any](ctx context.Context, j *Job, fn func() (T, error)) (T, error) {
	for attempt := 0; ; attempt++ {
		v, err := fn()
		if err == nil || !isThrottle(err) || attempt >= j.cfg.ThrottleRetries {
			return v, err
		}
		d := backoffBase << min(attempt, 10)
		d = min(d, backoffMax)
		d = d/2 + rand.N(d/2+1)
		if serr := j.sleep(ctx, d); serr != nil {
			return v, err
		}
	}
}

// bucket is a token bucket of capacity units: rate per second, at most one
// second's worth in reserve. Calls wait while it is negative and take what
// DynamoDB reports they consumed.
type bucket struct {
	rate   float64
	now    func() time.Time
	sleep  func(context.Context, time.Duration) error
	mu     sync.Mutex
	tokens float64
	last   time.Time
}

func newBucket(rate float64, now func() time.Time, sleep func(context.Context, time.Duration) error) *bucket {
	return &bucket{rate: rate, now: now, sleep: sleep, tokens: rate, last: now()}
}

func (b *bucket) refill() {
	t := b.now()
	b.tokens = min(b.rate, b.tokens+t.Sub(b.last).Seconds()*b.rate)
	b.last = t
}

// wait blocks until the bucket is not negative.
func (b *bucket) wait(ctx context.Context) error {
	if b.rate <= 0 {
		return nil
	}
	for {
		b.mu.Lock()
		b.refill()
		deficit := -b.tokens
		b.mu.Unlock()
		if deficit < 0 {
			return nil
		}
		d := time.Duration(deficit / b.rate * float64(time.Second))
		if err := b.sleep(ctx, max(d, time.Millisecond)); err != nil {
			return err
		}
	}
}

// take subtracts consumed capacity.
func (b *bucket) take(cc *types.ConsumedCapacity) {
	if b.rate <= 0 || cc == nil || cc.CapacityUnits == nil {
		return
	}
	b.mu.Lock()
	b.refill()
	b.tokens -= *cc.CapacityUnits
	b.mu.Unlock()
}
