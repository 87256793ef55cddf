#!/bin/bash
# table.md from the records in this folder (<folder>--<model>-seed<s>-{results.json,metrics.jsonl}):
# each run's two files put back into OUT/<folder>/<model>-seed<s>/, then bench/converged_summary.py
#   bash results/converged-mnist5k-protocols/summary.sh --out-file results/converged-mnist5k-protocols/table.md
set -e
R=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d)
for f in "$R"/*--*-seed?-results.json; do
  b=$(basename "$f" -results.json); folder=${b%%--*}; run=${b#*--}
  case $folder in small-*) continue;; esac  # the InfoVAE small-data runs: their own table
  mkdir -p "$T/$folder/$run"; cp "$f" "$T/$folder/$run/results.json"
  cp "$R/$b-metrics.jsonl" "$T/$folder/$run/metrics.jsonl"
done
cd "$R/../.." && python bench/converged_summary.py "$T/presets" "$T/shortrun-k5-learned" \
  "$T/shortrun-k20-learned" "$T/shortrun-2layer" "$@"
rm -rf "$T"
