#!/usr/bin/env bash
# Batch repair, end to end: generate a NAS-style results folder, repair it, rerun (everything is
# skipped), then repair the same folder on a local Dask cluster started here.
set -euo pipefail
work="${1:-$(mktemp -d)}"
python3 scripts/generate_broken_configs.py "$work/runs" --count 200 --seed 0
convsolve batch-repair "$work/runs" -o "$work/repaired" --workers 2 --report "$work/report.jsonl" || true
convsolve batch-repair "$work/runs" -o "$work/repaired" --workers 2 || true   # a rerun: every file skipped
dask scheduler --host 127.0.0.1 --port 8786 --no-dashboard >"$work/scheduler.log" 2>&1 &
scheduler=$!
dask worker tcp://127.0.0.1:8786 --nworkers 2 --nthreads 1 --no-dashboard >"$work/worker.log" 2>&1 &
worker=$!
trap 'kill $worker $scheduler 2>/dev/null' EXIT
sleep 3
convsolve batch-repair "$work/runs" -o "$work/repaired-dask" --scheduler tcp://127.0.0.1:8786 || true
echo "results in $work"
