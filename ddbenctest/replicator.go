package ddbenctest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	stypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/ddbec/ddbec-go/internal/legacy"
)

// Replicator simulates DynamoDB global-table replication of one table from
// a source to a destination Region of DynamoDB Local (which has no global
// tables): it reads the source table's stream and writes each new image,
// byte for byte, into the same-named table of the destination, and deletes
// removed items. It never decrypts anything. Running one each way gives
// both directions (Env.CreateGlobalTable does); a write that changes nothing
// is not applied again, so an item does not bounce between Regions.
type Replicator struct {
	table   string
	src     *dynamodb.Client
	streams *dynamodbstreams.Client
	dst     *dynamodb.Client
	poll    time.Duration

	mu       sync.Mutex
	applied  int
	err      error
	cancel   context.CancelFunc
	done     chan struct{}
	lastPoll time.Time
}

// NewReplicator begins replicating table (which must have a stream with new
// images) from src to dst. Close it when done.
func NewReplicator(ctx context.Context, table string, src *dynamodb.Client, streams *dynamodbstreams.Client, dst *dynamodb.Client) (*Replicator, error) {
	d, err := src.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &table})
	if err != nil {
		return nil, err
	}
	if d.Table.LatestStreamArn == nil {
		return nil, fmt.Errorf("ddbenctest: replicator: table %s has no stream", table)
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r := &Replicator{table: table, src: src, streams: streams, dst: dst, poll: 50 * time.Millisecond, cancel: cancel, done: make(chan struct{})}
	go r.run(ctx, *d.Table.LatestStreamArn)
	return r, nil
}

// Close stops replication and returns the first error it met, if any.
func (r *Replicator) Close() error {
	r.cancel()
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Err returns the error that stopped replication, if any.
func (r *Replicator) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Applied returns how many records were written to the destination.
func (r *Replicator) Applied() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.applied
}

func (r *Replicator) run(ctx context.Context, streamARN string) {
	defer close(r.done)
	iterators := map[string]*string{} // shard id → next iterator; nil when closed
	for {
		if err := r.refreshShards(ctx, streamARN, iterators); err != nil && ctx.Err() == nil {
			r.fail(err)
			return
		}
		for shard, it := range iterators {
			if it == nil {
				continue
			}
			out, err := r.streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it})
			var trimmed *stypes.TrimmedDataAccessException
			var expired *stypes.ExpiredIteratorException
			switch {
			case ctx.Err() != nil:
				return
			case errors.As(err, &trimmed), errors.As(err, &expired):
				// Start the shard again from its oldest record; applying a
				// record twice is harmless (same image, or an echo skipped).
				delete(iterators, shard)
				continue
			case err != nil:
				r.fail(err)
				return
			}
			for _, rec := range out.Records {
				if err := r.apply(ctx, rec); err != nil {
					if ctx.Err() != nil {
						return
					}
					r.fail(err)
					return
				}
			}
			iterators[shard] = out.NextShardIterator
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(r.poll):
		}
	}
}

func (r *Replicator) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		r.err = fmt.Errorf("ddbenctest: replicator %s: %w", r.table, err)
	}
}

func (r *Replicator) refreshShards(ctx context.Context, arn string, iterators map[string]*string) error {
	var start *string
	for {
		out, err := r.streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: &arn, ExclusiveStartShardId: start})
		if err != nil {
			return err
		}
		for _, sh := range out.StreamDescription.Shards {
			id := *sh.ShardId
			if _, known := iterators[id]; known {
				continue
			}
			it, err := r.streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
				StreamArn: &arn, ShardId: sh.ShardId, ShardIteratorType: stypes.ShardIteratorTypeTrimHorizon,
			})
			if err != nil {
				return err
			}
			iterators[id] = it.ShardIterator
		}
		if out.StreamDescription.LastEvaluatedShardId == nil {
			return nil
		}
		start = out.StreamDescription.LastEvaluatedShardId
	}
}

func (r *Replicator) apply(ctx context.Context, rec stypes.Record) error {
	if rec.Dynamodb == nil {
		return nil
	}
	// The SDK's converter copies every value byte for byte.
	keys, err := attributevalue.FromDynamoDBStreamsMap(rec.Dynamodb.Keys)
	if err != nil {
		return err
	}
	switch rec.EventName {
	case stypes.OperationTypeInsert, stypes.OperationTypeModify:
		if rec.Dynamodb.NewImage == nil {
			return errors.New("stream has no new images (use StreamViewType NEW_IMAGE or NEW_AND_OLD_IMAGES)")
		}
		img, err := attributevalue.FromDynamoDBStreamsMap(rec.Dynamodb.NewImage)
		if err != nil {
			return err
		}
		cur, err := r.dst.GetItem(ctx, &dynamodb.GetItemInput{TableName: &r.table, Key: keys, ConsistentRead: aws.Bool(true)})
		if err != nil {
			return err
		}
		if sameItem(cur.Item, img) {
			return nil // already there: our own echo from the other direction
		}
		if _, err := r.dst.PutItem(ctx, &dynamodb.PutItemInput{TableName: &r.table, Item: img}); err != nil {
			return err
		}
	case stypes.OperationTypeRemove:
		cur, err := r.dst.GetItem(ctx, &dynamodb.GetItemInput{TableName: &r.table, Key: keys, ConsistentRead: aws.Bool(true)})
		if err != nil {
			return err
		}
		if cur.Item == nil {
			return nil
		}
		if _, err := r.dst.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &r.table, Key: keys}); err != nil {
			return err
		}
	default:
		return nil
	}
	r.mu.Lock()
	r.applied++
	r.mu.Unlock()
	return nil
}

// sameItem compares two items by their canonical serialization (sets and
// maps sorted, numbers canonical), so that set order does not matter.
func sameItem(a, b map[string]types.AttributeValue) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	sa, errA := legacy.Serialize(&types.AttributeValueMemberM{Value: a}, legacy.JavaOrdering)
	sb, errB := legacy.Serialize(&types.AttributeValueMemberM{Value: b}, legacy.JavaOrdering)
	return errA == nil && errB == nil && bytes.Equal(sa, sb)
}
