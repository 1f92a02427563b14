# The README's two commands: `make demo` and `make test`.
SHELL := /bin/bash
SWIFT ?= swift

.PHONY: build test unit-test integration-test demo demo-stop servers-start servers-stop clean

build:
	scripts/install-deps.sh
	$(SWIFT) build

# Unit and integration tests against throwaway MariaDB and Redis; exits non-zero on any failure.
test:
	scripts/test.sh

demo:
	scripts/demo.sh

demo-stop:
	scripts/demo.sh stop

servers-start:
	scripts/servers.sh start

servers-stop:
	scripts/servers.sh stop

clean:
	rm -rf .build
