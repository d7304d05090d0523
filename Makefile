# Two commands on a fresh machine (each installs what it needs itself):
#   make book   install, write the synthetic data, run every notebook (cpu profile), build _build/html
#   make test   install, run the tests (including a smoke-profile execution of every notebook)
# An active virtual environment is used as it is; otherwise one is made in .venv.
PROFILE ?= cpu
# The notebooks and their experiments on a local Dask cluster: one single-threaded worker per core, as many
# notebooks at once as workers. WORKERS= (empty) runs them one after another in this process's threads.
WORKERS ?= auto
PYTHON ?= python3
ifdef VIRTUAL_ENV
VENV := $(VIRTUAL_ENV)
else
VENV := $(CURDIR)/.venv
endif
PY := $(VENV)/bin/python
STAMP := $(VENV)/.defectbook-installed
# Real data for the cpu profile's real-data sections, where present (users: set DEFECTBOOK_DATA).
ifeq ($(DEFECTBOOK_DATA),)
ifneq ($(wildcard ../shared/data/mtd),)
export DEFECTBOOK_DATA := $(abspath ../shared/data)
endif
endif

# glibc malloc: large tensors from the heap, freed memory kept, one heap for all threads (defectbook.settings.HEAP_ENV,
# which the CLI also sets for its kernels and Dask workers): the backbone passes run 1.2-2x faster (bench_heap.py).
export MALLOC_MMAP_MAX_ ?= 0
export MALLOC_TRIM_THRESHOLD_ ?= 1099511627776
export MALLOC_ARENA_MAX ?= 1

.PHONY: install book notebooks html test smoke dry-run clean browser

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

notebooks: install
	$(VENV)/bin/defectbook reproduce --profile $(PROFILE) $(if $(WORKERS),--workers $(WORKERS))

html: install
	$(VENV)/bin/defectbook book

book: install
	$(VENV)/bin/defectbook data synth --profile $(PROFILE)
	-$(VENV)/bin/defectbook reproduce --profile $(PROFILE) $(if $(WORKERS),--workers $(WORKERS))
	$(VENV)/bin/defectbook book
	@echo "The book is in _build/html/index.html"

test: install
	DEFECTBOOK_OFFLINE=1 $(PY) -m pytest

# The browser test (tests/integration/test_browser.py) drives the system's Chromium through Playwright: Debian's
# chromium package (no browser download) and the playwright Python package (in the dev extra).
browser: install
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ]; then apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
		else sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; fi; fi

smoke: install
	$(VENV)/bin/defectbook reproduce --profile smoke

# every notebook at the paper profile's settings on replica data, capped, random weights (see defectbook.pipeline.spec)
dry-run: install
	$(VENV)/bin/defectbook reproduce --profile paper --dry-run

clean:
	rm -rf _build book/executed
