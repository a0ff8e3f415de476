# The quick start: `make demo` answers three questions, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint run index clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/qa-bot ask "Who is in charge?" "Who condemned it?" "How many coups?"

index: $(STAMP)
	$(BIN)/qa-bot index

run: $(STAMP)
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

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
