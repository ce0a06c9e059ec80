#!/usr/bin/env bash
# Cross-task study (docs/analysis.md): 4 optimizers x 9 tabular tasks (4 spaces) x 10 seeds, 100 evaluations each,
# one Hydra multirun per search space (a sweep cannot cross a space with another space's datasets), all under one
# parent folder, then the analysis of that folder (per-task and cross-task tables/figures, report.tex).
#   benchmarks/cross_task_study.sh [OUT]        # default OUT: outputs/cross_task_study
# Environment: PYTHON (default .venv/bin/python), NAS_EXP_DATA (the table store; built on first use), SEEDS,
# OPTIMIZERS, EVALS to shrink or grow the study; ANALYSIS=0 runs the sweep only.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
OUT=${1:-outputs/cross_task_study}
SEEDS=${SEEDS:-0,1,2,3,4,5,6,7,8,9}
OPTIMIZERS=${OPTIMIZERS:-random,rea,local_search,smac}
EVALS=${EVALS:-100}
export PYTHONHASHSEED=0 WANDB_MODE=${WANDB_MODE:-offline}

declare -A DATASETS=(
  [nb201]=cifar10-valid,cifar100,ImageNet16-120
  [fcnet]=protein_structure,naval_propulsion
  [hpobench_mlp]=australian,credit_g
  [nasbench_graph]=cora,citeseer
)
start=$(date +%s)
for space in nb201 fcnet hpobench_mlp nasbench_graph; do
  "$PYTHON" run.py -m search_space="$space" dataset="${DATASETS[$space]}" optimizer="$OPTIMIZERS" seed="$SEEDS" \
    budget.max_evaluations="$EVALS" budget.max_simulated_seconds=null progress=false \
    hydra.sweep.dir="$OUT/runs/$space"
done
echo "sweep: $(( $(date +%s) - start )) s"
[ "${ANALYSIS:-1}" = 0 ] || "$PYTHON" -m nas_exp.analysis "$OUT/runs" --out "$OUT/figures"
echo "total: $(( $(date +%s) - start )) s"
