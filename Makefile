# make demo | make test | make bench -- each one sets up .venv itself on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum setup.py | cut -d' ' -f1)
export TF_CPP_MIN_LOG_LEVEL := 3

.PHONY: install test test-fast demo bench bench-digits bench-compress clean

$(STAMP): setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[cpu,dev,serving,compress,tune]"
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" tests

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

bench: $(STAMP)
	$(BIN)/python scripts/bench_models.py
	$(BIN)/python scripts/bench_pipeline.py
	$(BIN)/python scripts/bench_serving.py

bench-digits: $(STAMP)
	$(BIN)/python scripts/bench_digits.py

bench-compress: $(STAMP)
	$(BIN)/python scripts/bench_compress.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
