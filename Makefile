# make demo | make test | make bench -- each one sets up .venv itself on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum setup.py | cut -d' ' -f1)
export TF_CPP_MIN_LOG_LEVEL := 3

B := efficientnet-b
SWEEP := $(B)0,$(B)1,$(B)2,$(B)3,$(B)4,$(B)5,$(B)6,$(B)7,resnet-18,resnet-34,resnet-50,resnet-101,resnet-152

.PHONY: install test test-fast demo bench bench-digits bench-compress gpu-wheels clean

$(STAMP): setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[cpu,dev,serving,compress,tune,pretrained,bench]"
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

# One pytest worker per CPU (building and tracing models is single-threaded Python, so 2 workers on 2 cores run the
# model tests 1.85x faster). The 25 slowest tests are printed at the end of every run: the budget is in
# tests/README.md.
PYTEST := $(BIN)/python -m pytest -q -n auto --durations=25

test: $(STAMP)
	$(PYTEST) tests

test-fast: $(STAMP)
	$(PYTEST) -m "not slow" tests

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

# Every performance benchmark in one run, each printing ratios against its reference measured in the same run;
# figures as JSON under reports/bench/, and the full comparison (all runtimes, batch 1 and 16, B0-B7 and
# ResNet-18-152 sweep) reusing the demo's trained runs when they match.
bench: $(STAMP)
	mkdir -p reports/bench
	$(BIN)/python scripts/bench_models.py --json reports/bench/models.json
	$(BIN)/python scripts/bench_pipeline.py --json reports/bench/pipeline.json
	$(BIN)/python scripts/bench_train.py --models resnet-18,efficientnet-b0 --batches 16 --image_size 128 --steps 5 \
		--deterministic_cost --json reports/bench/train.json
	$(BIN)/python scripts/bench_serving.py --op_profile --json reports/bench/serving.json
	$(BIN)/python scripts/bench_serving.py --batches 1 --tf_threads 1 --threads 2 --op_profile \
		--json reports/bench/serving-tf-1-thread.json
	$(BIN)/python scripts/bench_serving.py --batches 1 --tf_threads 1 --threads 1 \
		--json reports/bench/serving-1-thread.json
	$(BIN)/python scripts/bench_compress.py --json reports/bench/compress.json
	$(BIN)/python scripts/demo.py --report_dir reports/bench/compare --batches 1,16 --train_batch 16 \
		--train_steps 3 --repeats 10 --batch_repeats 4 --sweep $(SWEEP) \
		--formats keras,tflite_float32,tflite_float16,tflite_int8

# Keras and the small dependencies the accelerator machine lacks (Python 3.12, no registry there), for
# scripts/gpu_check.sh; .wheels/ is ignored by git and carried to that machine.
gpu-wheels: $(STAMP)
	$(BIN)/python -m pip download -q --only-binary=:all: --python-version 3.12 --platform manylinux2014_x86_64 \
		--no-deps keras==3.15.1 namex optree -d .wheels

bench-digits: $(STAMP)
	$(BIN)/python scripts/bench_digits.py

bench-compress: $(STAMP)
	$(BIN)/python scripts/bench_compress.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
