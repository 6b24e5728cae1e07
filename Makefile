# Two commands for a newcomer: `make demo` and `make test`.
PY ?= python3
PORT ?= 8000
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint install services browser office bench sanitize complexity clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml setup.py gateway/enforcement/masking/_hmac_tokens.c gateway/enforcement/masking/_partial_masks.c gateway/enforcement/masking/_amount_masks.c gateway/enforcement/masking/_arrow_offsets.h policies/_rego_native.c
	# OpenSSL headers for the hash mask's native kernel (optional: without them the
	# install succeeds and the mask uses the slower pure-Python path)
	@test -f /usr/include/openssl/sha.h || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q libssl-dev) || echo "no OpenSSL headers: the hash mask will use its Python path"
	# JDBC drivers the Spark comparison engine reads SQL sources with (issue 15):
	# Debian's jars land in /usr/share/java (docs/comparison-spark.md)
	@test -f /usr/share/java/postgresql.jar -a -f /usr/share/java/mariadb-java-client.jar -a -f /usr/share/java/sqlite-jdbc.jar || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends libpostgresql-jdbc-java libmariadb-java libxerial-sqlite-jdbc-java) || echo "no JDBC jars: Spark runs read SQL sources through the gateway instead"
	$(BIN)/pip install -q -e '.[test]'
	# Real OPA (Go) engine in process, the compatibility oracle for the Rego policies.
	# Its metadata asks for Python 3.14 but the wheel is py3-none and works on 3.11.
	$(BIN)/pip install -q --ignore-requires-python opa-golib-python-bindings
	touch $(STAMP)

# The console's front-end packages (htmx, Apache ECharts, Pico CSS; axe-core for the
# accessibility test only, a devDependency never served) from the npm registry,
# exactly as package-lock.json pins them, into node_modules/ (not committed): the gateway
# serves them itself (gateway/web/console/assets.py), no CDN at run time.
NPM_STAMP := node_modules/.installed
$(NPM_STAMP): package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q npm)
	npm ci --ignore-scripts --no-audit --no-fund
	touch $(NPM_STAMP)

install: $(STAMP) $(NPM_STAMP)

demo: install
	$(BIN)/sluice demo --port $(PORT)

services:
	.ci/services

# Debian's chromium for the Playwright browser tests of the gateway's pages (/docs, /redoc)
browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium) || (echo "cannot install chromium: the browser tests will fail" && false)
	# a CJK font, so the console's screenshots (docs/screenshots, zh-CN) show Chinese
	@fc-list :lang=zh 2>/dev/null | grep -q . || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q fonts-wqy-microhei) || echo "no CJK font: console screenshots will show boxes for Chinese"

lint: install complexity lint-only

lint-only:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# LibreOffice (headless Calc) for the xlsx round trip in tests/gateway/enforcement/query/test_xlsx.py
office:
	@command -v soffice >/dev/null 2>&1 || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends libreoffice-calc-nogui) || (echo "cannot install LibreOffice: the xlsx round-trip test will fail" && false)

# four workers on two cores: the suite waits more than it computes (sleeps past
# re-check intervals, leases, subprocess and browser start-ups, durable commits; about
# 1.5 cores busy on average with three), so more workers fill the waits
# (tests/scheduling.py): four finished the same code in 525 s against 551 s with three
# lint and the complexity bound run beside the tests (mypy takes ~30 s of one core on a
# clean cache, which the waiting workers leave free); either failing fails `make test`,
# lint's output printed last
test: install services browser office
	@log=$$(mktemp); $(MAKE) --no-print-directory complexity lint-only > $$log 2>&1 & lint=$$!; \
	$(BIN)/pytest -n 4 --dist loadgroup -q; tests=$$?; \
	wait $$lint; linted=$$?; cat $$log; rm -f $$log; \
	[ $$linted -eq 0 ] || echo "make test: lint failed (above)"; \
	[ $$tests -eq 0 ] && [ $$linted -eq 0 ]

# the bench extra: Datasette (the peer of bench/peer.py) and py-spy (python -m bench.profile)
BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install -q -e '.[bench]'
	touch $(BENCH_STAMP)

bench: install services $(BENCH_STAMP)
	@command -v wrk >/dev/null 2>&1 || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk) || echo "wrk not installed: the bench falls back to an httpx process pool"
	$(BIN)/python -m bench

# The C masking kernels under AddressSanitizer + UBSan (not part of `make test`; CI may run
# it): tests/sanitizer/build.py builds setup.py's extensions with the sanitizers into
# build/sanitize, and the kernels' tests (equality with the Python paths, hypothesis on
# random and hostile buffers, exact-size buffers) run against that build.
# tests/sanitizer/sitecustomize.py makes every interpreter of the run — pytest and the
# children it spawns — import the sanitized files, and refuses to start without them or
# without the ASan runtime, which must be loaded first into an uninstrumented python
# (LD_PRELOAD). PYTHONMALLOC=malloc and Arrow's system pool give every Python object and
# Arrow buffer its own malloc block with a red zone after it: with pymalloc's pools and
# Arrow's padded jemalloc buffers a read a few bytes too far lands in memory that is
# still "valid" and nothing is reported. --capture=sys leaves file descriptor 2 alone so
# a report reaches the terminal. Leaks are not checked (CPython keeps memory at exit).
# PYCRYPTODOME_DISABLE_DEEPBIND: pycryptodome (the FF3-1 masks) dlopens its C parts with
# RTLD_DEEPBIND, which the ASan runtime refuses (the whole run stopped at the import).
SANITIZE_DIR := build/sanitize
sanitize: install
	rm -rf $(SANITIZE_DIR)
	$(BIN)/python tests/sanitizer/build.py $(SANITIZE_DIR)
	LD_PRELOAD=$$(gcc -print-file-name=libasan.so) \
	ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 PYCRYPTODOME_DISABLE_DEEPBIND=1 \
	PYTHONMALLOC=malloc ARROW_DEFAULT_MEMORY_POOL=system \
	PYTHONPATH=$(CURDIR)/tests/sanitizer SLUICE_SANITIZED_KERNELS=$(CURDIR)/$(SANITIZE_DIR)/lib \
	$(BIN)/pytest -q -p no:cacheprovider --capture=sys tests/gateway/enforcement/masking/test_masking*.py \
		tests/policies/test_rego_call.py

# Cyclomatic complexity: any product function above 20 (radon rank D or worse) fails
# (part of `lint`); radon only reports, so the target turns a non-empty report into a
# failure.
COMPLEXITY_DIRS := gateway catalog policies adapters audit
complexity: install
	@report="$$($(BIN)/radon cc -n D -s $(COMPLEXITY_DIRS))"; \
	if [ -n "$$report" ]; then \
		echo "functions above cyclomatic complexity 20 (split them):"; echo "$$report"; exit 1; \
	fi; echo "no function above cyclomatic complexity 20"

clean:
	rm -rf $(VENV) .sluice build node_modules
