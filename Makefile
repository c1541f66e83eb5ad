# depthlens: `make run` starts the dashboard on the embedded local exchange; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ARGS ?=

.PHONY: setup run test bench clean

setup: $(STAMP)

# Reinstall only when the dependency list changes, so `make run` stays fast after the first time.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: setup
	$(PY) main.py $(ARGS)

test: setup
	bash scripts/ensure_chromium.sh
	$(PY) -m pytest -q $(PYTEST_ARGS)

bench: setup
	$(PY) benchmarks/replay_throughput.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
