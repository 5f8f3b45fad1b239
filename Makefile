# tfopt: `make install`, `make test`, `make search TASK=mnist`, `make tensorboard`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The shared offline data sets, when this checkout sits beside them.
DATA_DIR ?= $(abspath $(wildcard ../shared/datasets))
PORT ?= 6006
WORKERS ?= 2
# `make search` passes its variables (TASK, DATA, MODEL, TUNER, TRIALS, EPOCHS, BUDGET, OUT,
# SEED, SEEDS, ENSEMBLE, EXPORT, RETRAIN=no, PLAN=1, SPACE, INIT_FROM, DATA_DIR) to
# `tfopt search`: each option's variable is declared once, in tfopt/options.py.
export DATA_DIR

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
	env -u WORKERS $(BIN)/python -m tfopt._make

search-distributed: install
	WORKERS=$(WORKERS) $(BIN)/python -m tfopt._make

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
