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
# The whole frequency range (alpha_paper = 1 + a in [0, 2]); about 65 min on a shared 2-core CPU.
toyscale run experiments/superposition_strong_alpha.toml --out out/superposition_strong_alpha --no-progress
python experiments/superposition_phase.py budget out/superposition_strong_alpha --figure figures/superposition_strong_alpha/budget.png
python experiments/superposition_phase.py overlap out/superposition_strong_alpha --figure figures/superposition_strong_alpha/overlap.png
toyscale run experiments/superposition_strong_budget.toml --out out/superposition_strong_budget --no-progress
python experiments/superposition_phase.py budget out/superposition_strong_budget --figure figures/superposition_strong_budget/budget.png
toyscale run experiments/superposition_strong_alpha_sweep.toml --out out/superposition_strong_alpha_sweep --no-progress --no-report
python experiments/superposition_phase.py grid out/superposition_strong_alpha_sweep --figure figures/superposition_strong_alpha_sweep/map.png
toyscale run experiments/superposition_grid.toml --quick --out out/superposition_grid-quick --no-progress --no-report
python experiments/superposition_phase.py grid out/superposition_grid-quick --figure figures/superposition_grid/map.png
python experiments/superposition_phase.py overlap out/superposition_grid-quick --figure figures/superposition_grid/overlap.png
# The mechanism per feature and the time axis (stored under results/: resumed, redrawn; ~35 min fresh).
toyscale run experiments/superposition_dynamics.toml --out results/superposition_dynamics --no-progress --no-report
for law in power exponential linear; do
  toyscale run "experiments/superposition_large_$law.toml" --quick --out "results/superposition_large_$law-quick" --no-progress --no-report
done
python experiments/superposition_dynamics.py dynamics results/superposition_dynamics --figure figures/superposition_dynamics/time_exponents.png
python experiments/superposition_dynamics.py profile results/superposition_dynamics results/superposition_large_power-quick --figure figures/superposition_dynamics/profile.png
toyscale run experiments/superposition_strong.toml --quick --out results/superposition_strong-quick --no-progress --no-report
python experiments/superposition_dynamics.py converged results/superposition_strong-quick results/superposition_strong_alpha \
  results/superposition_strong_budget --json figures/superposition_dynamics/converged.json
# Random features trained by GD/SGD, associative memories, lottery tickets. The
# stored results under results/ are reused (toyscale resumes); a fresh run of all of them takes
# about 1.5 h on a 2-core CPU (the trained associative-memory grid about 20 min of it).
for name in rf_gd_time rf_frontier_phase1a rf_frontier_phase2 rf_sgd_phase3 rf_width_smooth \
            assoc_threshold assoc_true assoc_seen assoc_trained_grid ticket_ensemble lottery_x2; do
  src="out/$name"; [ -d "results/$name" ] && src="results/$name"
  toyscale run "experiments/$name.toml" --out "$src" --no-progress --no-report
  toyscale report "$src" --figures "figures/$name" > "out/$name.table.md"
done
toyscale run experiments/rf_phase_diagram.toml --quick --out out/rf_phase_diagram-quick --no-progress
toyscale report out/rf_phase_diagram-quick --figures figures/rf_phase_diagram > out/rf_phase_diagram.table.md
toyscale run experiments/rf_phase_diagram_plrf.toml --quick --out results/rf_phase_diagram_plrf-quick --no-progress --no-report
toyscale report results/rf_phase_diagram_plrf-quick --figures figures/rf_phase_diagram_plrf > out/rf_phase_diagram_plrf.table.md
python experiments/rf_phase_table.py results/rf_phase_diagram_plrf-quick --drift > results/rf_phase_diagram_plrf-quick/phase_table.md
toyscale report results/rf_de_width --figures figures/rf_de_width > out/rf_de_width.table.md
python experiments/assoc_figures.py grid results/assoc_trained_grid --figure figures/assoc_trained_grid/grid.png
python experiments/lottery_figures.py results/lottery_x2 --figures figures/lottery_x2
for d in results/*-h100; do
  name=$(basename "$d")
  toyscale report "$d" --figures "figures/$name" > "out/$name.table.md"
  cat "out/$name.table.md"
done
python experiments/superposition_phase.py phase results/superposition_phase-h100 --figure figures/superposition_phase_h100.png
python experiments/superposition_phase.py grid results/superposition_phase-h100 --figure figures/superposition_grid-h100/map.png
# Model collapse from tail-cut data: stored results reused; a fresh run takes about 25 min on a
# shared 2-core CPU.
for name in collapse_tail_cut collapse_mixing collapse_generations; do
  toyscale run "experiments/$name.toml" --out "results/$name" --no-progress --no-report
  toyscale report "results/$name" --figures "figures/$name" > "out/$name.table.md"
done
python experiments/collapse_figures.py --tail-cut results/collapse_tail_cut --generations results/collapse_generations \
  --mixing results/collapse_mixing --figures figures/model_collapse
