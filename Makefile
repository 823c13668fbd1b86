# synack: the two commands of the README, and the checks CI runs.
SHELL := /bin/bash
BIN := target/release/synack
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: demo build test lint deps bench

## Build, then compare all four modes over an emulated 40 ms path with packet capture (root).
DEMO_ARGS ?= --rtt 40ms --modes non-persistent,persistent,pipelined,parallel
demo: build
	$(SUDO) $(BIN) compare $(DEMO_ARGS) $(ARGS)

build:
	scripts/install-deps.sh
	cargo build --release

## Every test; the live-capture ones need root (CI runs them as root). At most two emulated links
## at a time (tests/common); four test threads, so that a test waiting for a link leaves a core
## to the rest. The bench is no test: `make lint` checks that it builds. A fresh clone gains
## nothing from incremental compilation and pays for writing its caches (synack's own targets:
## about 21 s without, 32 s with, on two cores): off here; INCREMENTAL=1 for repeated runs.
INCREMENTAL ?= 0
test:
	scripts/install-deps.sh --test
	CARGO_INCREMENTAL=$(INCREMENTAL) cargo test --lib --tests -- --test-threads=4

## The link emulator against its settings, and against plain loopback (needs root).
bench:
	scripts/install-deps.sh
	$(SUDO) env "PATH=$$PATH" cargo bench --bench link

lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
