# Two commands for a newcomer: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint install services browser bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml setup.py gateway/enforcement/masking/_hmac_tokens.c gateway/enforcement/masking/_partial_masks.c gateway/enforcement/masking/_arrow_offsets.h
	# OpenSSL headers for the hash mask's native kernel (optional: without them the
	# install succeeds and the mask uses the slower pure-Python path)
	@test -f /usr/include/openssl/sha.h || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q libssl-dev) || echo "no OpenSSL headers: the hash mask will use its Python path"
	$(BIN)/pip install -q -e '.[test]'
	# Real OPA (Go) engine in process, the compatibility oracle for the Rego policies.
	# Its metadata asks for Python 3.14 but the wheel is py3-none and works on 3.11.
	$(BIN)/pip install -q --ignore-requires-python opa-golib-python-bindings
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/sluice demo

services:
	.ci/services

# Debian's chromium for the Playwright browser tests of the gateway's pages (/docs, /redoc)
browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium) || (echo "cannot install chromium: the browser tests will fail" && false)

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

test: install services browser lint
	$(BIN)/pytest -n 2 --dist loadgroup -q

bench: install services
	@command -v wrk >/dev/null 2>&1 || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk) || echo "wrk not installed: the bench falls back to an httpx process pool"
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .sluice
