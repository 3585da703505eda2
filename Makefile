# Sunlight: `make demo` and `make test` do everything on a fresh Debian machine.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(HOME)/go/bin:/usr/sbin:$(PATH)
GO ?= go
BIN := bin/sunlight

.PHONY: all deps build web test test-short fuzz bench demo vet clean

all: build

deps:
	@scripts/install-deps.sh

build: web
	$(GO) build -o $(BIN) ./cmd/sunlight

# The web console (web/) built into console/ui/dist, which the binary
# embeds; npm ci runs again only when package-lock.json is newer than
# node_modules. A plain `go build` without it serves a "not built" page.
WEB_SRC := $(shell find web/src web/index.html web/vite.config.js -type f 2>/dev/null)
web: console/ui/dist/index.html

web/node_modules/.package-lock.json: web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	@touch $@

console/ui/dist/index.html: web/node_modules/.package-lock.json $(WEB_SRC)
	cd web && npm run build

vet:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi

# The whole suite against real ClickHouse, RTSP, ffmpeg and Chromium; each
# package's tests start the services they need on free loopback ports.
# The ClickHouse-cluster tests (four servers and a ZooKeeper) run in a step
# of their own, so that their load does not slow the other packages' e2e
# tests, which run alongside each other.
test: deps build vet
	$(GO) test -count=1 -timeout 12m ./...
	SUNLIGHT_CLUSTER_TESTS=1 $(GO) test -count=1 -timeout 8m -run 'Cluster' ./analytics/
	$(MAKE) --no-print-directory fuzz

# A short run of each fuzz target: long enough to find shallow crashes.
# FuzzVerify's seeds are whole export zips: minimizing each new input for the
# default 60 s would spend the run on that, hence -fuzzminimizetime.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeBatch$$' -fuzztime 15s ./ingest/
	$(GO) test -run '^$$' -fuzz '^FuzzPacketize$$' -fuzztime 10s ./streaming/
	$(GO) test -run '^$$' -fuzz '^FuzzVerify$$' -fuzztime 10s -fuzzminimizetime 1s ./evidence/
	$(GO) test -run '^$$' -fuzz '^FuzzWHEPOffer$$' -fuzztime 8s ./streaming/
	# One worker: each starts its own ClickHouse.
	$(GO) test -run '^$$' -fuzz '^FuzzQueryParams$$' -fuzztime 10s -parallel 1 ./console/

# The KPI dashboard benchmark generates this many visits (about six events
# each): 1.7M is about 10M events; SUNLIGHT_KPI_BENCH_ROWS=17000000 make bench
# is about 100M (some 5 minutes more to generate).
SUNLIGHT_KPI_BENCH_ROWS ?= 1700000

bench: deps build
	SUNLIGHT_KPI_BENCH_ROWS=$(SUNLIGHT_KPI_BENCH_ROWS) $(GO) test -run '^$$' -bench . -benchmem -timeout 60m ./...

# Starts ClickHouse, the server and a simulated hall with a month of history;
# prints the console URL and the demo logins. Ctrl-C stops everything.
demo: deps build
	@scripts/demo.sh

clean:
	rm -rf bin web/node_modules console/ui/dist/index.html console/ui/dist/assets
