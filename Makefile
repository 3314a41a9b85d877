# Build, test and run the loyalty service. `make test` is the project's test
# command: it installs what the tests need (redis-server, clickhouse-server,
# docker-compose from Debian's packages) and runs every check; see scripts/test.sh.

GO         ?= go
BIN        ?= bin/loyalty
BENCH_ARGS ?=

.PHONY: all run build test vet bench clean

all: build

run:
	$(GO) run ./cmd/loyalty serve

build:
	$(GO) build -o $(BIN) ./cmd/loyalty

test:
	bash scripts/test.sh

vet:
	@unformatted="$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go'))"; \
	if [ -n "$$unformatted" ]; then \
		echo "gofmt: these files need formatting (run gofmt -w):"; echo "$$unformatted"; exit 1; \
	fi
	$(GO) vet ./...

bench:
	$(GO) run ./cmd/loyalty bench $(BENCH_ARGS)

clean:
	rm -rf bin/ coverage.out coverage.html *.rejects.csv
	$(GO) clean -testcache
