// Package tablejob runs a whole-table job over a DynamoDB table: encrypt a
// plaintext table, re-encrypt it under a new key, migrate it from the legacy
// DynamoDB Encryption Client format to the AWS Database Encryption SDK
// format, or verify that every item reads. A job is resumable and can be
// shared by several workers (goroutines or processes, on one machine or
// many).
//
// # Segments
//
// The table is read with a parallel Scan (Segment / TotalSegments,
// ConsistentRead). Config.TotalSegments is fixed for a job: its checkpoints
// are per segment.
//
// # Checkpoints and leases
//
// A checkpoint table (CreateCheckpointTable; key job S, segment N) holds one
// item per segment of a job: its state (pending, leased or done), the owner
// and expiry (unix ms) of its lease, the last evaluated key of the last page
// processed (DynamoDB JSON) and the counts so far. A worker takes a segment
// by a conditional update that succeeds only when the segment is not done
// and its lease is free or expired, renews its lease while it works, and
// writes the checkpoint after every page under the condition that it is
// still the owner. A worker that loses its lease (it stalled past the
// expiry and another worker took the segment) stops that segment. Worker i
// of W first takes the segments s with s % W == i, then any segment not
// yet started, released after an error, or whose lease has expired, so the
// segments of a worker that died are finished by the others; Run returns
// once every segment of the job is done. Expiries are wall-clock times: the
// workers' clocks must agree to well within Config.LeaseDuration. A segment
// that is done is never read again: running a finished job again reads no
// table page.
//
// # Conditional writes
//
// Each item is read under Config.Source (Encryptor.ReadItem; nil means the
// stored items are plaintext), encrypted under Config.Target
// (Encryptor.EncryptItem) and written back with one UpdateItem: SET of every
// attribute of the new item, REMOVE of the attributes of the stored item
// that the new item does not have (the legacy format's attributes, for
// example), and a ConditionExpression of equality on every attribute of the
// stored item as it was read. An application write between the job's read
// and its write that changes or removes an attribute makes the condition
// fail, so it is never overwritten; the job then reads the item again
// (GetItem, ConsistentRead) and retries, up to Config.ConflictRetries
// times, and reports the item as conflicted (Report.ConflictedKeys) if it
// still fails. An attribute that an application adds in between, without
// changing the others, is not part of the condition and survives the
// write; Target must then accept it (as an allowed unsigned attribute,
// say), or the item will not verify.
//
// # Idempotency
//
// Before transforming an item, the job asks Config.Target to read it: an
// item that Target reads in the format it writes (Encryptor.WriteFormat)
// has already been transformed, by this job before a crash or by an
// application writing through an encrypting client, and is skipped. So a
// page processed twice (a worker died after writing items but before its
// checkpoint) transforms nothing twice. For Reencrypt this needs a Target
// that cannot read items under the old key: otherwise every item reads
// under Target and is skipped.
//
// # Rates and retries
//
// Config.MaxRCU and MaxWCU bound the capacity the job's calls on the table
// consume per second (ReturnConsumedCapacity TOTAL, a token bucket per Job).
// Throttling errors are retried with exponential backoff and jitter, at most
// Config.ThrottleRetries times per call.
//
// Errors are *Error values naming the table, the segment and the item's
// primary key (Encryptor.KeyString), never attribute values.
package tablejob
