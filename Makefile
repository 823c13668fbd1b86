# synack: the two commands of the README, and the checks CI runs.
SHELL := /bin/bash
BIN := target/release/synack
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: demo build test lint deps bench

## Build, then compare persistent and non-persistent transfers on loopback with packet capture.
demo: build
	$(SUDO) $(BIN) compare $(ARGS)

build:
	scripts/install-deps.sh
	cargo build --release

## Every test; the live-capture ones need root (CI runs them as root).
test:
	scripts/install-deps.sh --test
	cargo test --all-targets

## The link emulator against its settings, and against plain loopback (needs root).
bench:
	scripts/install-deps.sh
	$(SUDO) env "PATH=$$PATH" cargo bench --bench link

lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
