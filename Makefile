# Two commands: `make up` runs the platform, `make test` runs the checks and tests.
# Each does its own set-up (virtualenv in .venv/, the package, the Kafka jars, the compiled
# live fold) and is idempotent.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JARS   := infra/kafka/target/dependency/.complete
WEB    := api/static/vendor/MANIFEST.json

.PHONY: setup up test lint browser bench soak screenshots clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		(echo "Python 3.11+ is required (set PYTHON=...)" >&2; exit 1)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

$(JARS): infra/kafka/pom.xml
	@command -v java >/dev/null || (echo "Java 17+ is required to run Kafka" >&2; exit 1)
	@command -v mvn >/dev/null || (echo "Maven is required to fetch the Kafka jars" >&2; exit 1)
	mvn -q -B -f infra/kafka/pom.xml dependency:copy-dependencies
	@touch $@

# The pages' ECharts and webfont, from the npm registry (versions pinned in web/package-lock.json)
$(WEB): web/package.json web/package-lock.json web/vendor.py
	@command -v npm >/dev/null || (echo "Node.js and npm are required to fetch the pages' assets" >&2; exit 1)
	npm ci --prefix web --no-audit --no-fund --loglevel=error
	$(PYTHON) web/vendor.py

setup: $(STAMP) $(JARS) $(WEB)
	@$(BIN)/sanjiang build-fold

up: setup
	$(BIN)/sanjiang up --simulate

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The browser tests drive Debian's Chromium through its chromium-driver (nothing downloads a
# browser): installed here when missing and this runs as root, otherwise named.
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's chromium and chromium-driver (browser tests)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			chromium chromium-driver >/dev/null; \
	else \
		echo "The browser tests need Debian's chromium and chromium-driver:" >&2; \
		echo "  sudo apt-get install chromium chromium-driver" >&2; exit 1; \
	fi

test: lint browser
	$(BIN)/pytest

bench: setup
	$(BIN)/python -m bench

# The city-scale soak (bench/soak.py): 6,000 stations at 10,000 events/s for ten minutes, alone
# (`make bench` leaves it out); its plot goes to bench/reports/soak.png
soak: setup
	$(BIN)/python -m bench --suite soak

# The README's screenshots of /screen, /console and /kiosk (api/static/screenshots/), taken from
# the platform running with the simulator in a temporary var folder on free ports
screenshots: setup browser
	$(BIN)/python web/screenshots.py

clean:
	-$(BIN)/sanjiang kafka stop
	rm -rf var .venv infra/kafka/target web/node_modules api/static/vendor .pytest_cache .mypy_cache .ruff_cache streams/_compiled
