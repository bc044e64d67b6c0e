# Two entry points, both safe to run on a fresh machine:
#   make demo   set up .venv, build every workbook into dist/ and write a filled demo with its report
#   make test   set up .venv with the test tools and system packages, then run the whole suite
# For the inner loop: make test-fast (no LibreOffice, no SMTP server; a minute or two).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test test-fast setup setup-test system-deps lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

setup: $(BIN)/python
	$(BIN)/python -m pip install --quiet .

setup-test: $(BIN)/python system-deps
	$(BIN)/python -m pip install --quiet -e ".[test]"

system-deps:
	bash scripts/install-system-deps.sh

demo: setup
	$(BIN)/python build.py
	$(BIN)/perprisk demo --out dist/demo

test: setup-test
	$(BIN)/python -m pytest -q
	$(BIN)/python -m ruff check .
	$(BIN)/python -m mypy

test-fast: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	$(BIN)/python -m pytest -q -x -m "not libreoffice and not smtp" -p no:cacheprovider

lint: setup-test
	$(BIN)/python -m ruff check .
	$(BIN)/python -m mypy

clean:
	rm -rf $(VENV) dist build *.egg-info

# Not part of `test`: needs Chromium. Writes the demo report and email, their screenshots at
# desktop and 390-pixel phone width, each chart and the first printed pages of the demo
# workbook (LibreOffice, poppler) into dist/render.
.PHONY: render
render: $(BIN)/python
	$(BIN)/python -m addin.delivery.preview dist/render
