GO       ?= go
FUZZTIME ?= 30s
KEYS     := testdata/vectors/legacy/encrypted_item/keys.json

.PHONY: test demo demo-cli bench fuzz fmt-check build

## test: gofmt check, go vet, and every test with the race detector.
test: fmt-check
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...
	$(GO) test -count=1 -run 'MutationMatrix' ./ddbenc

fmt-check:
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

build:
	$(GO) build -o bin/ddbec ./cmd/ddbec
	$(GO) build -o bin/fakekms ./cmd/fakekms

## demo: the global-table story (examples/globaltable) with DynamoDB Local and the fake KMS.
demo:
	$(GO) run ./examples/globaltable

## demo-cli: the same MRK story through the ddbec CLI and the fakekms binary, then inspect.
demo-cli: build
	@KEYS=$(KEYS) BIN=bin ./scripts/demo.sh

## bench: item benchmarks and their lower bound, parallel scaling at 1 and 2 CPUs, the
## end-to-end benchmark against DynamoDB Local and the fake KMS, and multi-item calls with
## 5 ms of KMS latency at Options.Concurrency 1 and 16. Compare runs with benchstat.
BENCHCOUNT ?= 5
bench:
	$(GO) test -run '^$$' -bench '^Benchmark(EncryptItem|DecryptItem|LowerBoundEncrypt|LowerBoundDecrypt|MostRecentCached)$$' -count $(BENCHCOUNT) ./ddbenc
	$(GO) test -run '^$$' -bench '^Benchmark(EncryptItem|DecryptItem)Parallel$$' -cpu 1,2 -count $(BENCHCOUNT) ./ddbenc
	$(GO) test -run '^$$' -bench '^BenchmarkMostRecentCachedParallel$$' -cpu 1,2 -count $(BENCHCOUNT) ./provider
	$(GO) test -run '^$$' -bench '^BenchmarkDBESDK(EncryptItem|DecryptItem|LowerBoundEncrypt|LowerBoundDecrypt)$$' -count $(BENCHCOUNT) ./ddbenc
	$(GO) test -run '^$$' -bench '^BenchmarkEndToEnd$$' -benchtime 1000x -count $(BENCHCOUNT) ./integration
	$(GO) test -run '^$$' -bench '^Benchmark(QueryPageKMS|BatchWriteKMS|QueryPageCached)$$' -benchtime 10x -count $(BENCHCOUNT) ./integration

## fuzz: run each fuzz target for FUZZTIME.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDeserialize$$' -fuzztime $(FUZZTIME) ./internal/legacy
	$(GO) test -run '^$$' -fuzz '^FuzzParseDescription$$' -fuzztime $(FUZZTIME) ./internal/legacy
	$(GO) test -run '^$$' -fuzz '^FuzzCanonical$$' -fuzztime $(FUZZTIME) ./internal/legacy
	$(GO) test -run '^$$' -fuzz '^FuzzUnmarshalItem$$' -fuzztime $(FUZZTIME) ./internal/ddbjson
	$(GO) test -run '^$$' -fuzz '^FuzzDecryptItem$$' -fuzztime $(FUZZTIME) ./ddbenc
	$(GO) test -run '^$$' -fuzz '^FuzzParseHeader$$' -fuzztime $(FUZZTIME) ./internal/dbesdk
	$(GO) test -run '^$$' -fuzz '^FuzzParseTerminal$$' -fuzztime $(FUZZTIME) ./internal/dbesdk
	$(GO) test -run '^$$' -fuzz '^FuzzFooter$$' -fuzztime $(FUZZTIME) ./internal/dbesdk
	$(GO) test -run '^$$' -fuzz '^FuzzDecryptItem$$' -fuzztime $(FUZZTIME) ./internal/dbesdk
