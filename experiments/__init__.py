"""Named experiments for `python -m experiments.phase_diagram NAME`."""
