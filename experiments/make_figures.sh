#!/usr/bin/env bash
# Regenerate the figures the README shows: run each shipped experiment (resumes if already
# stored under out/), then redraw its figures from the stored results into figures/NAME/.
set -euo pipefail
cd "$(dirname "$0")/.."
# The superposition experiments train models: about 25 min on a 2-core CPU when not yet stored.
# The GPU-sized runs (results/*-h100, see docs/superposition.md) are redrawn from the committed
# results, without recomputing.
for name in quickstart rf_width rf_samples rf_mrs rf_variance rf_phase \
            superposition_strong superposition_strong_alpha_ends superposition_weak "$@"; do
  toyscale run "experiments/$name.toml" --out "out/$name" --no-progress --no-report
  toyscale report "out/$name" --figures "figures/$name" > "out/$name.table.md"
  cat "out/$name.table.md"
done
toyscale run experiments/superposition_phase.toml --quick --out out/superposition_phase-quick --no-progress --no-report
python experiments/superposition_phase.py phase out/superposition_phase-quick --figure figures/superposition_phase.png
for name in superposition_strong superposition_strong_alpha_ends superposition_weak; do
  python experiments/superposition_phase.py curves "out/$name" --figure "figures/${name}_curves.png"
done
for d in results/*-h100; do
  name=$(basename "$d")
  toyscale report "$d" --figures "figures/$name" > "out/$name.table.md"
  cat "out/$name.table.md"
done
python experiments/superposition_phase.py phase results/superposition_phase-h100 --figure figures/superposition_phase_h100.png
