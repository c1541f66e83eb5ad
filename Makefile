# depthlens: `make run` starts the dashboard on the embedded local exchange; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ARGS ?=
# Exact versions of every package: requirements.lock (runtime + the test extra) for .venv and CI,
# requirements-runtime.lock (a subset of it, same versions) for the image. `make lock` refreshes both.
LOCK := requirements.lock
RUNTIME_LOCK := requirements-runtime.lock
# pip-tools lives in its own venv, so neither .venv nor the image carries it.
LOCK_TOOLS := build/lock-tools
LOCK_ARGS ?=

.PHONY: setup run test bench lock docker-test clean

setup: $(STAMP)

# Reinstall only when the pins or the project's metadata change, so `make run` stays fast.
$(STAMP): $(LOCK) pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) scripts/check_lock.py
	touch $(STAMP)

run: setup
	$(PY) main.py $(ARGS)

test: setup
	bash scripts/ensure_chromium.sh
	$(PY) -m pytest -q $(PYTEST_ARGS)

bench: setup
	$(PY) benchmarks/replay_throughput.py

# Re-resolve the locks after a change to pyproject.toml. Pins still allowed are kept;
# `make lock LOCK_ARGS=--upgrade` (or `LOCK_ARGS='--upgrade-package NAME'`) moves them on.
lock:
	test -x $(LOCK_TOOLS)/bin/pip-compile || { $(PYTHON) -m venv $(LOCK_TOOLS) && \
	  $(LOCK_TOOLS)/bin/pip install --quiet 'pip-tools>=7.4,<8'; }
	CUSTOM_COMPILE_COMMAND='make lock' $(LOCK_TOOLS)/bin/pip-compile --quiet $(LOCK_ARGS) \
	  --extra test --output-file $(LOCK) $(PIP_COMPILE_FLAGS) pyproject.toml
	CUSTOM_COMPILE_COMMAND='make lock' $(LOCK_TOOLS)/bin/pip-compile --quiet \
	  --constraint $(LOCK) --output-file $(RUNTIME_LOCK) $(PIP_COMPILE_FLAGS) pyproject.toml

PIP_COMPILE_FLAGS := --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links \
	--no-emit-trusted-host

# Builds the image and checks it serves (Docker; no registry needed): not part of `make test`.
docker-test: setup
	bash scripts/docker_test.sh

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
