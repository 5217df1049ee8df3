"""Theory side of each model: predicted exponents per axis and regime, finite-size curves."""
