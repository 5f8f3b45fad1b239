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

.PHONY: install test test-integration test-slow search search-distributed tasks tensorboard bench clean

install: $(BIN)/tfopt

$(BIN)/tfopt: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $@

# pytest-xdist: two worker processes, one a core (`make test` 2x faster on 2 cores, measured).
PYTEST = TFOPT_DATA_DIR=$(DATA_DIR) $(BIN)/pytest -n 2 --dist loadgroup

# The fast suite (under 5 min on 2 cores): everything but `integration` and `slow`.
test: install
	$(PYTEST) $(PYTEST_ARGS)

# What starts processes (a notebook, kill -9 and resume, chief/worker, clusters, the JAX path
# with TensorFlow blocked, a TensorBoard server); CI runs it. Its longest cases (two more
# notebooks, two more kill points, a frozen worker, a restarted chief, a killed cluster
# member) are also `slow`: `make test-slow` runs them, keeping CI under 20 minutes.
test-integration: install
	$(PYTEST) -m "integration and not slow" $(PYTEST_ARGS)

# The long ones: accuracy floors on real data and the whole kill -9 sweep.
test-slow: install
	$(PYTEST) -m slow $(PYTEST_ARGS)

search: install
	env -u WORKERS $(BIN)/python -c 'import sys, tfopt.cli; sys.exit(tfopt.cli.make_search())'

search-distributed: install
	WORKERS=$(WORKERS) $(BIN)/python -c 'import sys, tfopt.cli; sys.exit(tfopt.cli.make_search())'

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
