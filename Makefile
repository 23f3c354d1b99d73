# stancewire: `make serve` sets everything up and serves the API; `make test` runs the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
MODEL  ?= models/default
HOST   ?= 127.0.0.1
PORT   ?= 8000

.DEFAULT_GOAL := help
.PHONY: help venv model serve test test-fast lint check-data audit clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	# torch first and pinned: 2.13.0 is the CPU wheel on local disk; anything looser pulls a CUDA build
	$(BIN)/pip install --quiet -c constraints.txt torch==2.13.0
	$(BIN)/pip install --quiet -c constraints.txt -e ".[serve,train,archive,ray,dev]"
	touch $@

venv: $(VENV)/.installed  ## create .venv with the pinned dependencies

$(MODEL)/labels.json: | $(VENV)/.installed
	$(BIN)/stancewire train --config configs/default.yaml --out $(MODEL)

model: $(MODEL)/labels.json  ## train the default model into models/default if it is missing

serve: model  ## set up, train if needed, and serve the API on 127.0.0.1:8000
	$(BIN)/stancewire serve --model $(MODEL) --host $(HOST) --port $(PORT)

test: venv  ## lint, then every test (trains the default model once: about 40 min in all on 2 cores)
	$(BIN)/ruff check .
	$(BIN)/pytest -q

test-fast: venv  ## the tests that do not train or run the real base model (about 2 min)
	$(BIN)/pytest -q -m "not slow"

lint: venv  ## ruff
	$(BIN)/ruff check .

check-data: venv  ## validate the authored corpus (schema, duplicates, split leaks, statistics)
	$(BIN)/stancewire data check seeds/corpus

audit:  ## pip-audit over constraints.txt (needs network access to PyPI's vulnerability data or OSV)
	$(PYTHON) -m venv .venv-audit
	.venv-audit/bin/pip install --quiet pip-audit==2.10.1
	# --strict: a package the service cannot look up fails the audit instead of passing unchecked
	.venv-audit/bin/pip-audit --requirement constraints.txt --no-deps --disable-pip --strict

clean:  ## remove the virtual environment and trained models
	rm -rf $(VENV) .venv-audit models
