#!/usr/bin/env bash
# Regenerate the figures the README shows: run each shipped experiment (resumes if already
# stored under out/), then redraw its figures from the stored results into figures/NAME/.
set -euo pipefail
cd "$(dirname "$0")/.."
for name in quickstart rf_width rf_samples rf_mrs rf_variance rf_phase "$@"; do
  toyscale run "experiments/$name.toml" --out "out/$name" --no-progress --no-report
  toyscale report "out/$name" --figures "figures/$name" > "out/$name.table.md"
  cat "out/$name.table.md"
done
