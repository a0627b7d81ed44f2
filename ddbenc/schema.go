package ddbenc

import "strconv"

// What an Encryptor knows of its table's schema, for the Client's table type
// (client.go): the unexported accessors beside the exported TableName and
// Action.

// partitionKey returns the partition key attribute name.
func (e *Encryptor) partitionKey() string { return e.cfg.PartitionKey }

// index returns the secondary index of that name, if configured.
func (e *Encryptor) index(name string) (Index, bool) {
	ix, ok := e.indexes[name]
	return ix, ok
}

// signsNothing reports whether every action is DoNothing: items are stored
// as they are, without signature or material description.
func (e *Encryptor) signsNothing() bool { return e.allNothing }

// keyList renders the primary key attribute names for messages.
func (e *Encryptor) keyList() string {
	if e.cfg.SortKey == "" {
		return strconv.Quote(e.cfg.PartitionKey)
	}
	return strconv.Quote(e.cfg.PartitionKey) + ", " + strconv.Quote(e.cfg.SortKey)
}
