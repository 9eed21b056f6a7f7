# numa-conformance: see README.md. Every target prints how long it took.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go
BIN := bin/numa-conformance
VECTORS ?= $(wildcard testdata/vectors/*.json)
LOCAL_CLOUD_STATE ?= $(or $(NUMA_CLOUD_STATE),/var/lib/numa-conformance/local-cloud)

# time runs a phase and prints its wall time, so CI logs show where time goes.
define time
	@start=$$EPOCHREALTIME; echo "==> $(1)"; \
	$(2); \
	awk -v s=$$start -v e=$$EPOCHREALTIME 'BEGIN { printf "<== %s: %.1fs\n", "$(1)", e - s }'
endef

.PHONY: chromium sweep cloud-up cloud-down cloud-smoke all build test lint unit libvirt-local vectors oracle differential-quick differential fuzz bench bench-fitter conformance clean

all: build

build:
	$(call time,build,$(GO) build $(if $(wildcard .git),-buildvcs=true) -o $(BIN) ./cmd/numa-conformance)

## test: everything the project checks about itself; CI runs this.
test: lint oracle unit vectors differential-quick

lint:
	$(call time,lint,\
	  out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt wants changes in:"; echo "$$out"; exit 1; fi; \
	  $(GO) vet ./...; \
	  $(GO) tool staticcheck ./...; \
	  command -v shellcheck >/dev/null || apt-get -o DPkg::Lock::Timeout=600 install -y -qq shellcheck >/dev/null || \
	    { apt-get -o DPkg::Lock::Timeout=600 update -qq && apt-get -o DPkg::Lock::Timeout=600 install -y -qq shellcheck >/dev/null; }; \
	  shellcheck -S warning $$(git ls-files '*.sh' .ci/run 2>/dev/null || find . -name '*.sh'))

# The oracle's and the differential package's tests run real Nova, and the
# host-access tests a real libvirtd: both are installed and started first,
# and NUMA_REQUIRE_LIBVIRT turns a missing libvirtd into a failure, not a skip.
unit: oracle libvirt-local chromium
	$(call time,unit tests,NUMA_REQUIRE_LIBVIRT=1 NUMA_REQUIRE_CHROMIUM=1 $(GO) test -count=1 ./...)

## chromium: Debian's chromium, for the HTML report's headless-browser tests (pkg/report).
chromium:
	$(call time,chromium,bash ci/chromium/install.sh)

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

## cloud-up / cloud-down / cloud-smoke: the embedded local cloud (ci/local-cloud).
cloud-up:
	$(call time,cloud-up,bash ci/local-cloud/cloud-up.sh)
cloud-down:
	$(call time,cloud-down,bash ci/local-cloud/cloud-down.sh)
cloud-smoke:
	$(call time,cloud-smoke,bash ci/local-cloud/smoke.sh)

## conformance: the main job, the Ginkgo suites in suites/. Without OS_CLOUD (or openrc
## variables: OS_AUTH_URL) it brings up the
## embedded local cloud (ci/local-cloud) and runs them against it: first everything but the
## pinned fixtures, then, with the compute host switched to dedicated CPUs (cpu-mode.sh split),
## the pinned ones, then the thread-policy and emulator-threads ones again on a compute VM
## without thread siblings and cpu_shared_set (COMPUTE_SMP_THREADS=1, cpu-mode.sh dedicated),
## then it switches back; then the migration fixtures with a second compute VM
## (second-compute.sh up, then down); then it checks that an interrupted run leaves nothing
## behind. With OS_CLOUD=<name> it runs them against that cloud, configured by
## NUMA_HARNESS_CONFIG (default harness.yaml). Select specs with LABELS (a Ginkgo label filter,
## e.g. LABELS=negative) or GINKGO_FLAGS (e.g. GINKGO_FLAGS='--focus manual-split').
## The local cloud stays up for the next run: `make cloud-down` stops it.
SUITE_PROCS ?= 2
GINKGO_FLAGS ?=
LABELS ?=
NUMA_HARNESS_CONFIG ?= harness.yaml
HARNESS_VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
# label_filter ANDs LABELS with a phase's own filter.
label_filter = --label-filter='$(if $(strip $(LABELS)),($(LABELS)) && )$(1)'
# Suites run from their own directory; reports land in reports/<time>-<run ID>/.
suites = cd suites/numa && NUMA_HARNESS_VERSION=$(HARNESS_VERSION) $(GO) tool ginkgo \
	  --procs=$(1) --timeout=80m --poll-progress-after=5m --no-color $(GINKGO_FLAGS)
SUITES = $(call suites,$(SUITE_PROCS))
# The embedded host has two dedicated CPUs: pinned fixtures would take them from each other.
PINNED_SUITES = $(call suites,1)
# selects succeeds when the phase's label filter (with LABELS and GINKGO_FLAGS) selects a spec:
# a phase that would run nothing skips its compute-host switches.
selects = ( $(call suites,1) --dry-run $(call label_filter,$(1)) ) 2>&1 | grep 'Will run [1-9]'
# Run again on a host without thread siblings (isolate) and without cpu_shared_set (emulator
# threads then float over the guest's own CPUs).
NO_SIBLINGS = pinned && (thread-policy || emulator-threads)
LOCAL_CLOUD_ENV = OS_CLIENT_CONFIG_FILE=$(LOCAL_CLOUD_STATE)/clouds.yaml OS_CLOUD=local \
	  NUMA_HARNESS_CONFIG=$(LOCAL_CLOUD_STATE)/harness.yaml NUMA_COMPUTE_VM_SCRIPT=$(CURDIR)/ci/local-cloud/compute-vm.sh
CPU_MODE = bash $(CURDIR)/ci/local-cloud/cpu-mode.sh
conformance:
ifeq ($(strip $(OS_CLOUD)$(OS_AUTH_URL)),)
	$(call time,cloud-up,bash ci/local-cloud/cloud-up.sh; $(CPU_MODE) none)
	$(call time,libvirt-local (scratch libvirtd for altered-domain specs; after cloud-up so that its probe sees the host as the image build left it),\
	  bash ci/libvirt-local/up.sh --tcp --tls --ssh)
	$(call time,NUMA suites against the local cloud (shared CPUs),\
	  export $(LOCAL_CLOUD_ENV); $(SUITES) $(call label_filter,!pinned && !migration))
	$(call time,NUMA suites against the local cloud (pinned; dedicated CPUs with thread siblings),\
	  if $(call selects,pinned); then $(CPU_MODE) split; \
	    ( export $(LOCAL_CLOUD_ENV); $(PINNED_SUITES) $(call label_filter,pinned) ); \
	  else echo "no pinned spec selected: phase skipped"; fi)
	$(call time,NUMA suites against the local cloud (thread policies and emulator threads; only dedicated CPUs and no thread siblings),\
	  if $(call selects,$(NO_SIBLINGS)); then COMPUTE_SMP_THREADS=1 $(CPU_MODE) dedicated; rc=0; \
	    ( export $(LOCAL_CLOUD_ENV); $(PINNED_SUITES) $(call label_filter,$(NO_SIBLINGS)) ) || rc=$$?; \
	    $(CPU_MODE) none; test $$rc -eq 0; \
	  else $(CPU_MODE) none; echo "no thread-policy or emulator-threads spec selected: phase skipped"; fi)
	$(call time,NUMA suites against the local cloud (migrations; a second compute host),\
	  if $(call selects,migration && !pinned); then bash ci/local-cloud/second-compute.sh up; rc=0; \
	    ( export $(LOCAL_CLOUD_ENV); $(PINNED_SUITES) $(call label_filter,migration && !pinned) ) || rc=$$?; \
	    bash ci/local-cloud/second-compute.sh down; test $$rc -eq 0; \
	  else echo "no migration spec selected: phase skipped"; fi)
	$(call time,OpenStack access and pre-flight and audit tests against the local cloud,\
	  $(LOCAL_CLOUD_ENV) NUMA_REQUIRE_CLOUD=1 $(GO) test -count=1 -timeout 30m ./pkg/clouds/openstack/ ./pkg/harness/ ./pkg/audit/)
	$(call time,whole runs: interrupted runs leave nothing behind; libvirtd restarts under a running harness,\
	  $(LOCAL_CLOUD_ENV) NUMA_REQUIRE_CLOUD=1 $(GO) test -count=1 -timeout 30m ./suites/runs/)
	@echo "conformance: the local cloud is still up (make cloud-down stops it)."
else
	$(call time,NUMA suites against $(or $(OS_CLOUD),the cloud of the OS_* variables),\
	  export NUMA_HARNESS_CONFIG=$(abspath $(NUMA_HARNESS_CONFIG)); $(SUITES) $(if $(strip $(LABELS)),--label-filter='$(LABELS)'))
endif

## sweep: list what earlier runs left on the cloud (DELETE=1 deletes it).
sweep: build
	$(call time,sweep,$(if $(OS_CLOUD)$(OS_AUTH_URL),,$(LOCAL_CLOUD_ENV)) $(BIN) sweep $(if $(DELETE),--delete))

clean:
	rm -rf bin
