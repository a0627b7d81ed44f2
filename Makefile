GO       ?= go
FUZZTIME ?= 30s
KEYS     := testdata/vectors/legacy/encrypted_item/keys.json

.PHONY: test demo demo-cli bench fuzz fmt-check build setup

## setup: install Java and npm for DynamoDB Local when missing (scripts/setup.sh says what it does).
setup:
	@./scripts/setup.sh

## test: gofmt check, go vet, and every test with the race detector.
## Tests that could not start DynamoDB Local (and CI is not true) are skipped, listed in
## $(SKIP_REPORT) and summarised loudly at the end.
SKIP_REPORT ?= $(CURDIR)/.skipped-tests
test: setup fmt-check
	@rm -f $(SKIP_REPORT)
	$(GO) vet ./...
	DDBEC_SKIP_REPORT=$(SKIP_REPORT) $(GO) test -race -count=1 ./...
	$(GO) test -count=1 -run 'MutationMatrix' ./ddbenc
	@if [ -s $(SKIP_REPORT) ]; then \
	  echo; echo "################################################################"; \
	  echo "## WARNING: $$(wc -l < $(SKIP_REPORT)) test(s) SKIPPED: DynamoDB Local could not start."; \
	  echo "## Integration tests did not run. Set CI=true to make this a failure."; \
	  echo "################################################################"; \
	  sed 's/^/##   /' $(SKIP_REPORT); \
	fi

fmt-check:
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

build:
	$(GO) build -o bin/ddbec ./cmd/ddbec
	$(GO) build -o bin/fakekms ./cmd/fakekms

## demo: the global-table story (examples/globaltable) with DynamoDB Local and the fake KMS.
demo: setup
	$(GO) run ./examples/globaltable

## demo-cli: the same MRK story through the ddbec CLI and the fakekms binary, then inspect.
demo-cli: build
	@KEYS=$(KEYS) BIN=bin ./scripts/demo.sh

## bench: item benchmarks and their lower bound, parallel scaling at 1 and 2 CPUs, the
## end-to-end benchmark against DynamoDB Local and the fake KMS, and multi-item calls with
## 5 ms of KMS latency at Options.Concurrency 1 and 16, and a 5,000-item tablejob Encrypt with
## 1 and 4 workers. Compare runs with benchstat.
BENCHCOUNT ?= 5
bench:
	$(GO) test -run '^$$' -bench '^Benchmark(EncryptItem|DecryptItem|LowerBoundEncrypt|LowerBoundDecrypt|MostRecentCached)$$' -count $(BENCHCOUNT) ./ddbenc
	$(GO) test -run '^$$' -bench '^Benchmark(EncryptItem|DecryptItem)Parallel$$' -cpu 1,2 -count $(BENCHCOUNT) ./ddbenc
	$(GO) test -run '^$$' -bench '^BenchmarkMostRecentCachedParallel$$' -cpu 1,2 -count $(BENCHCOUNT) ./provider
	$(GO) test -run '^$$' -bench '^BenchmarkDBESDK(EncryptItem|DecryptItem|LowerBoundEncrypt|LowerBoundDecrypt|HierarchicalEncryptItem|HierarchicalDecryptItem)$$' -count $(BENCHCOUNT) ./ddbenc
	$(GO) test -run '^$$' -bench '^BenchmarkEndToEnd$$' -benchtime 1000x -count $(BENCHCOUNT) ./integration
	$(GO) test -run '^$$' -bench '^Benchmark(QueryPageKMS|BatchWriteKMS|QueryPageCached)$$' -benchtime 10x -count $(BENCHCOUNT) ./integration
	$(GO) test -run '^$$' -bench '^BenchmarkTableJob$$' -benchtime 1x -count $(BENCHCOUNT) ./integration

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
