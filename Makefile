# tfopt: `make install`, `make test`, `make search TASK=mnist`, `make tensorboard`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The shared offline data sets, when this checkout sits beside them.
DATA_DIR ?= $(abspath $(wildcard ../shared/datasets))
TASK ?= mnist
# Your own data (a folder, .csv/.tsv/.jsonl or .npz) instead of TASK, and a search-space file.
DATA ?=
SPACE ?=
INIT_FROM ?=
MODEL ?=
TUNER ?=
TRIALS ?=
EPOCHS ?=
OUT ?=
SEED ?=
SEEDS ?=
ENSEMBLE ?=
EXPORT ?=
RETRAIN ?=
BUDGET ?=
PLAN ?=
QUICK ?=
PORT ?= 6006
WORKERS ?= 2

SEARCH_ARGS := $(if $(DATA),--data $(DATA),--task $(TASK)) $(if $(SPACE),--space $(SPACE)) \
	$(if $(INIT_FROM),--init-from $(INIT_FROM)) \
	$(if $(MODEL),--model $(MODEL)) $(if $(TUNER),--tuner $(TUNER)) \
	$(if $(TRIALS),--max-trials $(TRIALS)) $(if $(EPOCHS),--epochs $(EPOCHS)) \
	$(if $(OUT),--out $(OUT)) $(if $(SEED),--seed $(SEED)) $(if $(DATA_DIR),--data-dir $(DATA_DIR)) \
	$(if $(SEEDS),--seeds $(SEEDS)) $(if $(ENSEMBLE),--ensemble $(ENSEMBLE)) \
	$(if $(EXPORT),--export $(EXPORT)) $(if $(filter no,$(RETRAIN)),--no-retrain) \
	$(if $(BUDGET),--budget $(BUDGET)) $(if $(filter 1 yes,$(PLAN)),--plan)

.PHONY: install test test-slow test-faults search search-distributed tasks tensorboard bench clean

install: $(BIN)/tfopt

$(BIN)/tfopt: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $@

test: install
	TFOPT_DATA_DIR=$(DATA_DIR) $(BIN)/pytest $(PYTEST_ARGS)

test-slow: install
	TFOPT_DATA_DIR=$(DATA_DIR) $(BIN)/pytest -m slow $(PYTEST_ARGS)

# The slow fault tests that CI runs (about 6 min): processes killed, frozen and restarted,
# and three points of the kill sweep (`make test-slow` runs all 35 and the accuracy floors).
SWEEP_CI := $(foreach p,write-16 between-20 batch-44,"tests/test_recovery.py::test_kill_sweep_loses_nothing[$(p)]")
test-faults: install
	TFOPT_DATA_DIR=$(DATA_DIR) $(BIN)/pytest -m slow tests/test_distributed.py \
		tests/test_distribute.py $(SWEEP_CI) $(PYTEST_ARGS)

search: install
	$(BIN)/tfopt search $(SEARCH_ARGS)

search-distributed: install
	$(BIN)/tfopt search $(SEARCH_ARGS) --workers $(WORKERS)

bench: install
	TFOPT_DATA_DIR=$(DATA_DIR) $(BIN)/python -m benchmarks $(if $(filter 1 yes,$(QUICK)),--quick) $(BENCH_ARGS)

tasks: install
	@$(BIN)/tfopt tasks

tensorboard: install
	@mkdir -p runs
	$(BIN)/tensorboard --logdir runs --host 127.0.0.1 --port $(PORT)

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
