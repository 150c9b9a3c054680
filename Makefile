# The two commands of the README: `make demo` and `make test`. Both set up .venv on a fresh machine
# that has Python 3.11+ and Java 17+.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PROFILE ?= demo

.PHONY: demo test bench truth setup jvm-archive check-prereqs browser-packages lint clean

demo: $(STAMP) jvm-archive
	$(VENV)/bin/workbench demo --profile $(PROFILE)

# --durations: every run lists its slowest tests, to keep the suite within its budget.
# Two pytest-xdist workers, a test file each at a time: much of the suite waits (JVM and kernel
# starts, browsers, subprocesses), and two workers fill those waits on a 2-core machine.
TEST_WORKERS ?= 2
test: $(STAMP) browser-packages jvm-archive
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --durations=25 $(PYTEST_ARGS)

# The benchmark pack (README, Scale and benchmarks): prints the table, writes bench/RESULTS.md.
# Its dashboard timings and load test drive the same Chromium as the browser tests.
bench: $(STAMP) browser-packages jvm-archive
	$(VENV)/bin/workbench bench $(BENCH_ARGS)

# The truth table on the truth profile (README, Truth), in a project of its own under truth/:
# generate, build, the churn and cross-sell reports, then every row; exits 1 when a row fails.
truth: $(STAMP) jvm-archive
	$(VENV)/bin/workbench truth --workdir truth --profile truth $(TRUTH_ARGS)

setup: $(STAMP) jvm-archive

# The Spark driver's class archive (workbench/jvm_archive.py): half the CPU of every JVM start;
# first, with a JDK's javac, the local file system without a chmod process per file written
# (workbench/local_fs.py). Made once per JDK and PySpark (about 20 s); then this finds the files.
jvm-archive: $(STAMP)
	@$(PY) -m workbench.jvm_archive

lint: $(STAMP)
	$(VENV)/bin/ruff check workbench tests bench pipelines
	$(VENV)/bin/ruff format --check workbench tests bench pipelines

# Reinstall whenever the pins change.
$(STAMP): pyproject.toml | check-prereqs
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

check-prereqs:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
	  || { echo "error: Python 3.11 or newer is required (found: $$($(PYTHON) --version 2>&1))." >&2; exit 1; }
	@command -v java >/dev/null 2>&1 \
	  || { echo "error: Java 17 or newer is required by Spark and was not found on PATH." >&2; \
	       echo "       Install it (Debian/Ubuntu: apt-get install openjdk-17-jre-headless) or set JAVA_HOME." >&2; exit 1; }
	@major=$$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1); \
	  [ -n "$$major" ] && [ "$$major" -ge 17 ] \
	  || { echo "error: Java 17 or newer is required by Spark (found: $$(java -version 2>&1 | head -1))." >&2; exit 1; }

# The browser tests and the benchmark's dashboard steps drive Debian's Chromium (never a browser
# downloaded by Playwright), with a CJK font so the apps' Chinese labels render in their
# screenshots: installed from apt when missing, so that `make test` or `make bench` alone sets a
# fresh machine up.
BROWSER_PACKAGES := $(if $(wildcard /usr/bin/chromium),,chromium) \
                 $(if $(shell fc-list :lang=zh 2>/dev/null),,fonts-wqy-microhei)
browser-packages:
	@pkgs="$(strip $(BROWSER_PACKAGES))"; [ -z "$$pkgs" ] && exit 0; \
	  command -v apt-get >/dev/null 2>&1 \
	    || { echo "error: the browser tests and the benchmark need $$pkgs (Debian's /usr/bin/chromium); install them." >&2; exit 1; }; \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  echo "installing $$pkgs from apt for the browser tests and the benchmark"; \
	  $$sudo apt-get update -qq \
	  && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$pkgs >/dev/null

clean:
	rm -rf $(VENV) .pytest_cache tests/artifacts
