# flowgate — `make run` and `make test` work on a fresh Debian 12 machine: as root they first
# install every missing package with apt-get; otherwise they print the one apt-get line needed.

BUILD_DIR ?= build
CONFIG    ?= config/demo.json
JOBS      ?= $(shell nproc 2>/dev/null || echo 2)

# Debian 12 packages the build and the tests need (postgresql for the tests that start a throwaway
# server of their own; chromium for the dashboard's browser tests; clang
# and its runtimes, libFuzzer and the sanitizers, for the fuzz targets that `make test` runs briefly;
# kannel and kannel-extras — bearerbox, smsbox, fakesmsc — for the Kannel end-to-end test; systemd
# for systemd-analyze, which checks deploy/systemd/flowgate.service; nginx, which runs
# deploy/nginx/flowgate.conf in front of the server; prometheus for promtool, which tests
# deploy/prometheus/alerts.yml). On a machine that runs systemd, Debian starts the kannel, nginx,
# postgresql and prometheus services when it installs them; the tests use none of them (their own
# processes, on their own ports): `systemctl disable --now kannel nginx postgresql prometheus` if you
# do not want them.
# Node.js and npm run those tests too; Debian's are installed only when there is no npm at all, since
# a Node.js from elsewhere (NodeSource's bundles npm) conflicts with Debian's npm package.
PACKAGES := g++ cmake ninja-build ccache pkg-config \
            libboost-dev libssl-dev libsqlite3-dev libpq-dev postgresql nlohmann-json3-dev libjemalloc-dev \
            libgtest-dev libphonenumber-dev libicu-dev \
            ca-certificates curl \
            chromium fonts-dejavu-core \
            clang libclang-rt-14-dev \
            kannel kannel-extras systemd nginx prometheus \
            libbenchmark-dev

FUZZ_BUILD_DIR ?= build-fuzz
FUZZ_SECONDS   ?= 60

.PHONY: all deps build run test bench crash-test fuzz clean

all: build data/demo.key

deps:
	@missing=""; \
	if command -v dpkg-query >/dev/null 2>&1; then \
	  for p in $(PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	  done; \
	fi; \
	command -v npm >/dev/null 2>&1 || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing:$$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; \
	  else \
	    echo "flowgate needs these packages; run:"; \
	    echo "  sudo apt-get install -y$$missing"; \
	    exit 1; \
	  fi; \
	fi

$(BUILD_DIR)/build.ninja: CMakeLists.txt | deps
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build data/demo.key
	$(BUILD_DIR)/flowgate serve --config $(CONFIG)

# The demo's data key (config/demo.json reads it): 32 random bytes as hex, readable by its owner
# only. Made once; a real deployment keeps its key elsewhere (docs/security.md, "Data at rest").
data/demo.key:
	@mkdir -p data
	@umask 077 && head -c 32 /dev/urandom | od -An -v -tx1 | tr -d ' \n' > $@.tmp && mv $@.tmp $@
	@chmod 600 $@
	@echo "made $@ (the demo's data key; mode 0600)"

test: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS)

# The figures of docs/performance.md: Google Benchmark's micro-benchmarks, then the real server
# under signed webhooks, a broadcast and its sends; medians of BENCH_RUNS runs. BENCH_ARGS adds
# flowgate_bench options (--webhooks N, --connections N, --only inbound|outbound, ...).
BENCH_RUNS ?= 3
BENCH_ARGS ?=
bench: deps $(BUILD_DIR)/build.ninja
	cmake $(BUILD_DIR)
	cmake --build $(BUILD_DIR) -j $(JOBS) --target flowgate flowgate_bench flowgate_micro
	$(BUILD_DIR)/flowgate_micro --benchmark_min_time=0.2
	$(BUILD_DIR)/flowgate_bench --runs $(BENCH_RUNS) $(BENCH_ARGS)

# The long crash run (docs/security.md, "Crash safety"): kill -9 at random moments, ROUNDS times.
ROUNDS ?= 20
crash-test: build
	FLOWGATE_CRASH_ROUNDS=$(ROUNDS) $(BUILD_DIR)/flowgate_crash_test

# Every fuzz target for FUZZ_SECONDS each (docs/security.md "Fuzzing"); FUZZ_TARGETS="urn form" for some.
fuzz: deps
	JOBS=$(JOBS) bash fuzz/run.sh $(FUZZ_BUILD_DIR) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

clean:
	rm -rf $(BUILD_DIR) $(FUZZ_BUILD_DIR)
