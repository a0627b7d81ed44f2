package tablejob

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/internal/ddbjson"
)

// Checkpoint item attributes.
const (
	attrJob         = "job"
	attrSegment     = "segment"
	attrState       = "state"
	attrOwner       = "owner"
	attrExpiry      = "expiry" // lease expiry, unix ms
	attrLastKey     = "lastKey"
	attrRead        = "read"
	attrTransformed = "transformed"
	attrSkipped     = "skipped"
	attrVerified    = "verified"
	attrConflicted  = "conflicted"
	attrFailed      = "failed"
	attrUpdated     = "updated" // unix ms of the last checkpoint
)

// Segment states.
const (
	statePending = "pending"
	stateLeased  = "leased"
	stateDone    = "done"
)

// CreateTableAPI is what CreateCheckpointTable calls; *dynamodb.Client
// satisfies it.
type CreateTableAPI interface {
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

// CreateCheckpointTable creates a checkpoint table (partition key job S,
// sort key segment N, on-demand) and waits until it is active. A table of
// that name that already exists is waited for, not an error.
func CreateCheckpointTable(ctx context.Context, api CreateTableAPI, name string) error {
	_, err := api.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String(name),
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(attrJob), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(attrSegment), AttributeType: types.ScalarAttributeTypeN},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(attrJob), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(attrSegment), KeyType: types.KeyTypeRange},
		},
		BillingMode: types.BillingModePayPerRequest,
	})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return &Error{Op: "create checkpoint table", Table: name, Segment: -1, Err: err}
	}
	w := dynamodb.NewTableExistsWaiter(api, func(o *dynamodb.TableExistsWaiterOptions) { o.MinDelay = 100 * time.Millisecond })
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 5*time.Minute); err != nil {
		return &Error{Op: "create checkpoint table", Table: name, Segment: -1, Err: err}
	}
	return nil
}

// checkpoint is a segment's checkpoint item.
type checkpoint struct {
	state   string
	owner   string
	expiry  int64
	lastKey map[string]types.AttributeValue
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func (j *Job) cpKey(seg int) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrJob: str(j.cfg.JobID), attrSegment: num(int64(seg))}
}

func (j *Job) cpErr(seg int, err error) error {
	return &Error{Op: "checkpoint", Table: j.cfg.CheckpointTable, Segment: seg, Err: err}
}

func parseCheckpoint(item map[string]types.AttributeValue) (checkpoint, error) {
	var c checkpoint
	if v, ok := item[attrState].(*types.AttributeValueMemberS); ok {
		c.state = v.Value
	}
	if v, ok := item[attrOwner].(*types.AttributeValueMemberS); ok {
		c.owner = v.Value
	}
	if v, ok := item[attrExpiry].(*types.AttributeValueMemberN); ok {
		n, err := strconv.ParseInt(v.Value, 10, 64)
		if err != nil {
			return c, fmt.Errorf("malformed %s", attrExpiry)
		}
		c.expiry = n
	}
	if v, ok := item[attrLastKey].(*types.AttributeValueMemberS); ok && v.Value != "" {
		k, err := ddbjson.UnmarshalItem([]byte(v.Value))
		if err != nil {
			return c, fmt.Errorf("malformed %s: %w", attrLastKey, err)
		}
		c.lastKey = k
	}
	return c, nil
}

// listCheckpoints reads the job's checkpoint items by segment.
func (j *Job) listCheckpoints(ctx context.Context) (map[int]checkpoint, error) {
	out := map[int]checkpoint{}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(j.cfg.CheckpointTable),
		KeyConditionExpression:    aws.String("#j = :j"),
		ExpressionAttributeNames:  map[string]string{"#j": attrJob},
		ExpressionAttributeValues: map[string]types.AttributeValue{":j": str(j.cfg.JobID)},
		ConsistentRead:            aws.Bool(true),
	}
	for {
		page, err := retry(ctx, j, func() (*dynamodb.QueryOutput, error) { return j.cp.Query(ctx, in) })
		if err != nil {
			return nil, j.cpErr(-1, err)
		}
		for _, it := range page.Items {
			sv, ok := it[attrSegment].(*types.AttributeValueMemberN)
			if !ok {
				continue
			}
			s, err := strconv.Atoi(sv.Value)
			if err != nil {
				continue
			}
			c, err := parseCheckpoint(it)
			if err != nil {
				return nil, j.cpErr(s, err)
			}
			out[s] = c
		}
		if len(page.LastEvaluatedKey) == 0 {
			return out, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

func isConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// claim takes the lease of segment seg if it is not done and its lease is
// free, expired or already this worker's. ok is false when another worker
// holds it or it is done.
func (j *Job) claim(ctx context.Context, seg int) (checkpoint, bool, error) {
	now := j.now().UnixMilli()
	in := &dynamodb.UpdateItemInput{
		TableName:           aws.String(j.cfg.CheckpointTable),
		Key:                 j.cpKey(seg),
		UpdateExpression:    aws.String("SET #st = :leased, #o = :me, #e = :exp"),
		ConditionExpression: aws.String("attribute_not_exists(#st) OR (#st <> :done AND (#st = :pending OR #e <= :now OR #o = :me))"),
		ExpressionAttributeNames: map[string]string{
			"#st": attrState, "#o": attrOwner, "#e": attrExpiry,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":leased": str(stateLeased), ":done": str(stateDone), ":pending": str(statePending),
			":me": str(j.cfg.Owner), ":now": num(now), ":exp": num(now + j.cfg.LeaseDuration.Milliseconds()),
		},
		ReturnValues: types.ReturnValueAllNew,
	}
	out, err := retry(ctx, j, func() (*dynamodb.UpdateItemOutput, error) { return j.cp.UpdateItem(ctx, in) })
	if isConditionFailed(err) {
		return checkpoint{}, false, nil
	}
	if err != nil {
		return checkpoint{}, false, j.cpErr(seg, err)
	}
	c, err := parseCheckpoint(out.Attributes)
	if err != nil {
		return c, false, j.cpErr(seg, err)
	}
	return c, true, nil
}

// pageCounts are one page's counts, added to the checkpoint.
type pageCounts struct {
	read, transformed, skipped, verified, conflicted, failed int
}

// save writes segment seg's checkpoint after a page: its last evaluated key
// (none: the segment is done), the page's counts and a renewed lease, if
// this worker still holds the lease.
func (j *Job) save(ctx context.Context, seg int, lastKey map[string]types.AttributeValue, pc pageCounts) error {
	now := j.now().UnixMilli()
	vals := map[string]types.AttributeValue{
		":leased": str(stateLeased), ":me": str(j.cfg.Owner), ":now": num(now),
		":r": num(int64(pc.read)), ":t": num(int64(pc.transformed)), ":s": num(int64(pc.skipped)),
		":v": num(int64(pc.verified)), ":c": num(int64(pc.conflicted)), ":f": num(int64(pc.failed)),
	}
	names := map[string]string{
		"#st": attrState, "#o": attrOwner, "#e": attrExpiry, "#lk": attrLastKey, "#u": attrUpdated,
		"#r": attrRead, "#t": attrTransformed, "#s": attrSkipped, "#v": attrVerified, "#c": attrConflicted, "#f": attrFailed,
	}
	var set string
	if len(lastKey) == 0 {
		vals[":done"] = str(stateDone)
		set = "SET #st = :done, #u = :now REMOVE #lk, #e"
	} else {
		b, err := ddbjson.MarshalItem(lastKey)
		if err != nil {
			return j.cpErr(seg, fmt.Errorf("last evaluated key: %w", err))
		}
		vals[":lk"] = str(string(b))
		vals[":exp"] = num(now + j.cfg.LeaseDuration.Milliseconds())
		set = "SET #lk = :lk, #e = :exp, #u = :now"
	}
	in := &dynamodb.UpdateItemInput{
		TableName:                 aws.String(j.cfg.CheckpointTable),
		Key:                       j.cpKey(seg),
		UpdateExpression:          aws.String(set + " ADD #r :r, #t :t, #s :s, #v :v, #c :c, #f :f"),
		ConditionExpression:       aws.String("#st = :leased AND #o = :me"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: vals,
	}
	_, err := retry(ctx, j, func() (*dynamodb.UpdateItemOutput, error) { return j.cp.UpdateItem(ctx, in) })
	if isConditionFailed(err) {
		return j.cpErr(seg, ErrLeaseLost)
	}
	if err != nil {
		return j.cpErr(seg, err)
	}
	return nil
}

// renew extends this worker's lease of seg.
func (j *Job) renew(ctx context.Context, seg int) error {
	now := j.now().UnixMilli()
	in := &dynamodb.UpdateItemInput{
		TableName:                 aws.String(j.cfg.CheckpointTable),
		Key:                       j.cpKey(seg),
		UpdateExpression:          aws.String("SET #e = :exp"),
		ConditionExpression:       aws.String("#st = :leased AND #o = :me"),
		ExpressionAttributeNames:  map[string]string{"#st": attrState, "#o": attrOwner, "#e": attrExpiry},
		ExpressionAttributeValues: map[string]types.AttributeValue{":leased": str(stateLeased), ":me": str(j.cfg.Owner), ":exp": num(now + j.cfg.LeaseDuration.Milliseconds())},
	}
	_, err := retry(ctx, j, func() (*dynamodb.UpdateItemOutput, error) { return j.cp.UpdateItem(ctx, in) })
	if isConditionFailed(err) {
		return j.cpErr(seg, ErrLeaseLost)
	}
	if err != nil {
		return j.cpErr(seg, err)
	}
	return nil
}

// release gives up this worker's lease of seg (best effort, after an
// error): the segment is pending again, and another worker can take it
// without waiting for the lease to expire.
func (j *Job) release(seg int) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = j.cp.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(j.cfg.CheckpointTable),
		Key:                       j.cpKey(seg),
		UpdateExpression:          aws.String("SET #st = :pending, #e = :zero"),
		ConditionExpression:       aws.String("#st = :leased AND #o = :me"),
		ExpressionAttributeNames:  map[string]string{"#st": attrState, "#o": attrOwner, "#e": attrExpiry},
		ExpressionAttributeValues: map[string]types.AttributeValue{":leased": str(stateLeased), ":pending": str(statePending), ":me": str(j.cfg.Owner), ":zero": num(0)},
	})
}
