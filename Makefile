# cdp — build, run, test. `make run` and `make test` are the README's quick start.
GO      ?= go
BIN     ?= bin/cdp
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/collision-detection-platform/distributed-platform/host/cli.version=$(VERSION)
SIMULATE ?= 2000

.PHONY: build run test test-short bench lint plugins fuzz clean

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./host/cmd/cdp

## run: the whole server on embedded defaults, fed by simulated traffic
run: build
	./$(BIN) serve --simulate $(SIMULATE)

## test: every test CI runs
test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 25m ./...

test-short:
	$(GO) test -short -count=1 ./...

## bench: the benchmarks, with allocations
bench:
	$(GO) test -run '^$$' -bench . -benchmem -timeout 60m ./...

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

## fuzz: a short run of every fuzz target
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzGridOracle -fuzztime 30s ./grid

clean:
	rm -rf bin
