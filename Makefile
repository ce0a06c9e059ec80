# nas-exp: common tasks. PYTHONHASHSEED=0 keeps seeded SMAC runs reproducible (see README).
PYTHON ?= .venv/bin/python
SWEEP ?= $(shell ls -d outputs/multirun/*/* 2>/dev/null | tail -n 1)
PAPER_SEEDS ?= 0,1
export PYTHONHASHSEED := 0
export WANDB_MODE ?= offline

.PHONY: install test run sweep figures paper bench gpu-check clean

install:
	test -d .venv || python3 -m venv .venv
	$(PYTHON) -m pip install -q --upgrade pip
	$(PYTHON) -m pip install -q -e '.[dev,data,train,wandb,launchers,parallel,analysis,optuna,dehb]'

test:  # two pytest workers (pytest-xdist); tests of one xdist_group (the SLURM cluster) share a worker
	$(PYTHON) -m pytest -q -n 2 --dist loadgroup

run:
	$(PYTHON) run.py

sweep:
	$(PYTHON) run.py optimizer=smac,random dataset=cifar10-valid -m seed=0,1,2

figures:
	@test -n "$(SWEEP)" || (echo "error: no sweep folder; run 'make sweep' first or pass SWEEP=outputs/multirun/DATE/TIME" >&2; exit 2)
	$(PYTHON) -m nas_exp.analysis $(SWEEP)

paper:  # the NB201 paper preset (needs the nb201-hp12 table, README), then figures of that sweep
	@test -f "$${NAS_EXP_DATA:-$${XDG_DATA_HOME:-$$HOME/.local/share}/nas-exp}/nb201/nb201-hp12/meta.json" || (echo "error: make paper needs NB201's 12-epoch table: run 'python -m nas_exp.data download --source nb201-hp12' (or convert mini-bench-arch-cell-accs.pd, see README)" >&2; exit 2)
	$(PYTHON) run.py -m +experiment=nb201_paper seed=$(PAPER_SEEDS)
	$(MAKE) --no-print-directory figures SWEEP="$$(ls -d outputs/multirun/*/* | tail -n 1)"

bench:
	$(PYTHON) benchmarks/bench_tabular.py

gpu-check:  # one prepared ~8-minute check on a CUDA device (docs/gpu_check.md); CPU smoke run: --dry-run
	$(PYTHON) benchmarks/gpu_check.py --out outputs/gpu_check

clean:
	rm -rf outputs multirun smac3_output .pytest_cache
