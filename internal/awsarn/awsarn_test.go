package awsarn

import "testing"

func TestParseKMSKey(t *testing.T) {
	a, ok := ParseKMSKey("arn:aws:kms:us-west-2:111122223333:key/mrk-1234abcd")
	if !ok || a != (KMSKey{Partition: "aws", Region: "us-west-2", Account: "111122223333", ID: "mrk-1234abcd"}) || !a.MultiRegion() {
		t.Fatalf("ParseKMSKey = %+v, %v", a, ok)
	}
	if a.String() != "arn:aws:kms:us-west-2:111122223333:key/mrk-1234abcd" {
		t.Errorf("String() = %s", a)
	}
	if s, _ := ParseKMSKey("arn:aws-cn:kms:cn-north-1:111122223333:key/1"); s.MultiRegion() || s.Partition != "aws-cn" {
		t.Errorf("single-Region key = %+v", s)
	}
	for _, bad := range []string{"", "mrk-1234", "alias/x", "arn:aws:kms:us-east-1:111122223333:alias/x", "arn:aws:s3:::bucket",
		"arn:aws:kms::111122223333:key/x", "arn:aws:kms:us-east-1::key/x", "arn::kms:us-east-1:111122223333:key/x",
		"arn:aws:kms:us-east-1:111122223333:key/", "arn:aws:kms:us-east-1:111122223333"} {
		if _, ok := ParseKMSKey(bad); ok {
			t.Errorf("ParseKMSKey(%q) accepted", bad)
		}
	}
}

func TestDynamoDBTable(t *testing.T) {
	if n, ok := DynamoDBTable("arn:aws:dynamodb:us-east-1:111122223333:table/T"); !ok || n != "T" {
		t.Errorf("DynamoDBTable = %q, %v", n, ok)
	}
	for _, bad := range []string{"", "T", "arn:aws:dynamodb:us-east-1:111122223333:table/", "arn:aws:dynamodb:us-east-1:111122223333:table/T/index/I",
		"arn:aws:dynamodb:us-east-1:111122223333:table/T/stream/x", "arn:aws:kms:us-east-1:111122223333:table/T", "arn:aws:dynamodb:us-east-1:111122223333"} {
		if n, ok := DynamoDBTable(bad); ok {
			t.Errorf("DynamoDBTable(%q) = %q", bad, n)
		}
	}
}

func TestDynamoDBStreamTable(t *testing.T) {
	for s, want := range map[string]string{
		"arn:aws:dynamodb:us-east-1:111122223333:table/T/stream/2024-01-01T00:00:00.000":   "T",
		"arn:aws:dynamodb:ddblocal:000000000000:table/t1_x.y-z/stream/2026-01-01T00:00:00": "t1_x.y-z",
	} {
		if n, ok := DynamoDBStreamTable(s); !ok || n != want {
			t.Errorf("DynamoDBStreamTable(%q) = %q, %v; want %q", s, n, ok, want)
		}
	}
	for _, bad := range []string{"", "T", "arn:aws:dynamodb:us-east-1:111122223333:table/T", "arn:aws:dynamodb:us-east-1:111122223333:table/T/index/I",
		"arn:aws:dynamodb:us-east-1:111122223333:table//stream/x", "arn:aws:dynamodb:us-east-1:111122223333:table/T/stream/",
		"arn:aws:dynamodb:us-east-1:111122223333:table/T/stream/x/y", "arn:aws:kms:us-east-1:111122223333:table/T/stream/x",
		"arn:aws:dynamodb:us-east-1:111122223333:table/A/B/stream/x"} {
		if n, ok := DynamoDBStreamTable(bad); ok {
			t.Errorf("DynamoDBStreamTable(%q) = %q", bad, n)
		}
	}
}
