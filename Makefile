# Two commands for a newcomer:  `make demo`  and  `make test`.
# Both create .venv (Python 3.11) when it is missing and install evalkit into it.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.evalkit-installed

.PHONY: demo test lint install bench clean-demo

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch/torchvision pinned in pyproject.toml; the rest resolves against them.
	$(PY) -m pip install --quiet -e '.[dev,ray]'
	touch $(STAMP)

install: $(STAMP)

## Main job on bundled example data (scikit-image photos): outputs under demo-output/
demo: $(STAMP)
	$(PY) -m evalkit.demo --out demo-output

## Lint (ruff: pyflakes, import order, complexity; config in pyproject.toml), then the test suite
## (offline; uses only data the tests make or packages ship)
test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(PY) bench/metrics.py

clean-demo:
	rm -rf demo-output
