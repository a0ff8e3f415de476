# The quick start: `make demo` answers three questions, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# What running needs, from requirements.lock; `make test` adds the development tools (requirements-dev.lock).
RUNTIME := $(VENV)/.runtime
STAMP := $(VENV)/.installed
# Every version and hash comes from the lock files; bytecode is compiled on first import, for the modules
# that run only (compiling every module of every package would add about 70 MB to .venv).
PIP := $(BIN)/python -m pip install --quiet --no-compile

.PHONY: demo test test-fast lint run index lock clean

# Python 3.11's venv adds setuptools, which nothing here runs (pip builds qa-bot in an isolated environment
# with the setuptools pyproject.toml asks for): removed, 10 MB.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip uninstall --quiet --yes setuptools

$(RUNTIME): pyproject.toml requirements.lock | $(BIN)/python
	$(PIP) --require-hashes -r requirements.lock
	$(PIP) --no-deps -e .
	touch $(RUNTIME)

$(STAMP): $(RUNTIME) requirements-dev.lock
	$(PIP) --require-hashes -r requirements-dev.lock
	touch $(STAMP)

demo: $(RUNTIME)
	$(BIN)/qa-bot ask "Who is in charge?" "Who condemned it?" "How many coups?"

index: $(RUNTIME)
	$(BIN)/qa-bot index

run: $(RUNTIME)
	$(BIN)/qa-bot run

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest
	$(BIN)/qa-bot check

# The edit-test loop: every test but those marked slow, without the linters.
test-fast: $(STAMP)
	$(BIN)/pytest -m "not slow" -q

# After a change to the dependencies in pyproject.toml: both lock files, every supported Python and platform,
# with hashes. Versions already locked are kept unless pyproject.toml asks for others.
LOCK := $(BIN)/uv pip compile pyproject.toml --quiet --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock"
lock: $(STAMP)
	$(LOCK) -o requirements.lock
	$(LOCK) --extra model --extra test --extra bench -c requirements.lock -o requirements-dev.lock

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
