# cdp — build, run, test. `make run` and `make test` are the README's quick start.
GO      ?= go
BIN     ?= bin/cdp
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# The commit and its time, stamped at link time: `go build` records them in
# the build information itself only with -buildvcs (which GOFLAGS may turn off).
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)
DATE    ?= $(shell git log -1 --format=%cI 2>/dev/null)
CLI     := github.com/collision-detection-platform/distributed-platform/host/cli
LDFLAGS := -s -w -X $(CLI).version=$(VERSION) -X $(CLI).commit=$(COMMIT) -X $(CLI).date=$(DATE)
SIMULATE ?= 2000

.PHONY: build install run test test-short bench lint plugins fuzz clean web

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./host/cmd/cdp

## install: cdp into $(go env GOBIN), or $(go env GOPATH)/bin, which must be on PATH
install:
	$(GO) install -trimpath -ldflags '$(LDFLAGS)' ./host/cmd/cdp
	@d=$$($(GO) env GOBIN); [ -n "$$d" ] || d=$$($(GO) env GOPATH)/bin; echo "installed $$d/cdp"; \
	  case ":$$PATH:" in *":$$d:"*) ;; *) echo "$$d is not on PATH: export PATH=\"$$d:\$$PATH\"";; esac

## run: the whole server on embedded defaults, fed by simulated traffic
run: build
	./$(BIN) serve --simulate $(SIMULATE)

## test: every test CI runs: vet, all tests, the concurrent packages again under the race
## detector, and the deployment checks that need helm and the Kubernetes API types (a module
## of their own, deploy/k8stest; -vet=off there: vet would analyse all of client-go, and
## `make lint` checks its formatting; -mod=mod: it follows cdp's own go.mod through a replace,
## so a dependency cdp adds is recorded there on the way); each run ends with the skipped tests
TESTREPORT = $(abspath bin/testreport)
test:
	$(GO) build -o $(TESTREPORT) ./host/cmd/testreport
	$(GO) vet ./...
	$(TESTREPORT) -count=1 -timeout 25m ./...
	$(TESTREPORT) -race -short -count=1 -timeout 20m ./grid ./host/engine ./host ./api/... ./store/...
	cd deploy/k8stest && GOFLAGS="$$GOFLAGS -mod=mod" $(TESTREPORT) -vet=off -count=1 -timeout 15m ./...

test-short:
	$(GO) test -short -count=1 ./...

## bench: the benchmarks, with allocations
bench:
	$(GO) test -run '^$$' -bench . -benchmem -timeout 60m ./...

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

## plugins: every example plugin built from source to bin/plugins/<example>.wasm; an example
## whose toolchain is missing is skipped and listed (toolchains: .ci/install-toolchains.sh)
PLUGINS_OUT ?= bin/plugins
plugins:
	@GO=$(GO) MAKE=$(MAKE) sh examples/plugins.sh $(PLUGINS_OUT)

## web: the dashboard's files (api/web/dist, committed, embedded in cdp) rebuilt
## from api/web/src with the npm packages of api/web/package-lock.json
web:
	cd api/web && npm ci --no-audit --no-fund --loglevel=error && node build.mjs

## fuzz: a short run (FUZZTIME each, default 20s) of every fuzz target
FUZZTIME ?= 20s
fuzz:
	@set -e; grep -rl --include='*_test.go' '^func Fuzz' . | while read f; do \
	  d=$$(dirname $$f); for t in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
	    echo "== $$d $$t"; $(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) $$d; \
	  done; done

clean:
	rm -rf bin
