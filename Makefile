# numa-conformance: see README.md. Every target prints how long it took.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go
BIN := bin/numa-conformance
VECTORS ?= testdata/vectors/public.json

# time runs a phase and prints its wall time, so CI logs show where time goes.
define time
	@start=$$EPOCHREALTIME; echo "==> $(1)"; \
	$(2); \
	awk -v s=$$start -v e=$$EPOCHREALTIME 'BEGIN { printf "<== %s: %.1fs\n", "$(1)", e - s }'
endef

.PHONY: all build test lint unit libvirt-local vectors oracle differential-quick differential fuzz bench bench-fitter conformance clean

all: build

build:
	$(call time,build,$(GO) build -o $(BIN) ./cmd/numa-conformance)

## test: everything the project checks about itself; CI runs this.
test: lint oracle unit vectors differential-quick

lint:
	$(call time,lint,\
	  out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt wants changes in:"; echo "$$out"; exit 1; fi; \
	  $(GO) vet ./...; \
	  $(GO) tool staticcheck ./...)

# The oracle's and the differential package's tests run real Nova, and the
# host-access tests a real libvirtd: both are installed and started first,
# and NUMA_REQUIRE_LIBVIRT turns a missing libvirtd into a failure, not a skip.
unit: oracle libvirt-local
	$(call time,unit tests,NUMA_REQUIRE_LIBVIRT=1 $(GO) test -count=1 ./...)

## libvirt-local: Debian's libvirtd on this machine (unix socket, and TCP,
## TLS and SSH on loopback) for the host-access tests.
libvirt-local:
	$(call time,libvirt-local,bash ci/libvirt-local/up.sh --tcp --tls --ssh)

## oracle: Debian's python3-nova, the judge of differential runs.
oracle:
	$(call time,oracle install,bash oracle/install.sh)

## vectors: the public Nova vectors through the CLI, as a user would run them.
vectors: build
	$(call time,vectors,$(BIN) vectors $(VECTORS))

## differential-quick: a fixed-seed differential run against real Nova.
DIFF_SEED ?= 20261127
differential-quick: build oracle
	$(call time,differential (2000 cases),$(BIN) differential --cases 2000 --seed $(DIFF_SEED))

## differential: a long run, e.g. make differential N=100000 SEED=7.
N ?= 100000
SEED ?= 1
differential: build oracle
	$(call time,differential ($(N) cases),$(BIN) differential --cases $(N) --seed $(SEED) --timeout 3h)

## fuzz: a short run of every fuzz target (FUZZTIME each).
FUZZTIME ?= 30s
fuzz:
	$(call time,fuzz cpuset,$(GO) test ./pkg/cpuset -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME))
	$(call time,fuzz constraints,$(GO) test ./pkg/expect/constraints -run '^$$' -fuzz FuzzGet -fuzztime $(FUZZTIME))

## bench: Go benchmarks of the fitter, with allocations.
bench:
	$(call time,bench,$(GO) test -run '^$$' -bench . -benchmem ./pkg/expect/...)

## bench-fitter: the fitter against Nova's Python on the same cases: medians and ratio.
bench-fitter: build oracle
	$(call time,bench-fitter,$(BIN) bench)

## conformance: the main job: the suites against a real cloud.
conformance:
	@echo "make conformance: the suites need a cloud with a two-NUMA-node compute host."
	@echo "The embedded local cloud (used when OS_CLOUD is unset) and the suites are not built yet;"
	@echo "see README.md, section Status. Nothing was run."
	@exit 2

clean:
	rm -rf bin
