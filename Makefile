# propwatch build and test entry points. `make test` is the command the README
# and CI run; everything else is for development.

GO       ?= go
PKGS     ?= ./...
FUZZTIME ?= 2m
BIN      := bin/propwatch

.PHONY: all build test bench fuzz lint clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/propwatch

# The test command of the README and of .ci/run: vet, then every test. Tests
# that need root and eBPF skip when they cannot run, unless
# PROPWATCH_REQUIRE_BPF=1 (CI sets it) turns the skip into a failure.
test:
	$(GO) vet $(PKGS)
	$(GO) test -count=1 $(PKGS)

# Hot-path benchmarks with allocation counts.
bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

# Run every fuzz target for FUZZTIME each, one after another. New crashers
# land in the package's testdata/fuzz and become regression seeds.
fuzz:
	@set -e; for pkg in $$($(GO) list ./internal/...); do \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "== $$pkg $$target"; \
			$(GO) test $$pkg -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) -parallel 1; \
		done; \
	done

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet $(PKGS)
	$(GO) tool staticcheck $(PKGS)

clean:
	rm -rf bin
