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

## test: every test CI runs: vet, all tests, and the concurrent packages again under the race detector
test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 25m ./...
	$(GO) test -race -short -count=1 -timeout 20m ./grid ./host/engine ./host ./api/... ./store/...

test-short:
	$(GO) test -short -count=1 ./...

## bench: the benchmarks, with allocations
bench:
	$(GO) test -run '^$$' -bench . -benchmem -timeout 60m ./...

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

## plugins: every example plugin built from source to bin/plugins/<example>.wasm
## (toolchains: .ci/install-toolchains.sh plugins)
PLUGINS_OUT ?= bin/plugins
plugins:
	@mkdir -p $(PLUGINS_OUT)/.build
	@set -e; for d in examples/*/; do n=$$(basename $$d); [ -f $$d/Makefile ] || continue; \
	  out=$(abspath $(PLUGINS_OUT))/$$n.wasm; echo "== $$n -> $(PLUGINS_OUT)/$$n.wasm"; \
	  if grep -q '^OUT ?=' $$d/Makefile; then \
	    $(MAKE) -s -C $$d GO=$(GO) OUT=$$out BUILD=$(abspath $(PLUGINS_OUT))/.build; \
	  else \
	    $(MAKE) -s -C $$d GO=$(GO); \
	    cp $$d/$$(sed -n 's/^\([A-Za-z0-9_.-]*\.wasm\):.*/\1/p' $$d/Makefile | head -n1) $$out; \
	  fi; \
	done

## fuzz: a short run (FUZZTIME each, default 20s) of every fuzz target
FUZZTIME ?= 20s
fuzz:
	@set -e; grep -rl --include='*_test.go' '^func Fuzz' . | while read f; do \
	  d=$$(dirname $$f); for t in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
	    echo "== $$d $$t"; $(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) $$d; \
	  done; done

clean:
	rm -rf bin
