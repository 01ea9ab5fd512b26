# Two commands for a newcomer: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
DEMO_DIR ?= demo-output

.PHONY: demo test lint bench clean

$(BIN)/nwb-v1former: pyproject.toml setup.py constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[test]"
	touch $@

demo: $(BIN)/nwb-v1former
	$(BIN)/nwb-v1former demo --out $(DEMO_DIR) --overwrite

test: $(BIN)/nwb-v1former
	$(BIN)/python -m pytest

lint: $(BIN)/nwb-v1former
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: $(BIN)/nwb-v1former
	for script in benchmarks/*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) $(DEMO_DIR) build *.egg-info
