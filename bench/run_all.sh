#!/usr/bin/env bash
# Run every benchmark in turn; each prints its table and rewrites its section of BENCHMARKS.md.
# Extra arguments are ignored; tune a single benchmark with its own --help options.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
for bench in rpcs_per_request idle_cost cold_start throughput orm checkout_wait recovery; do
    echo "=== bench.$bench"
    "$PY" -m "bench.$bench"
done
