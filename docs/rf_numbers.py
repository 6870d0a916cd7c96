"""Prints the random-feature numbers that docs/random_features.md quotes from the tests.

    python docs/rf_numbers.py

Float64, with the setups of tests/regression/rf_setups.py that the tests run. The 1,300
fixed-seed cases of tests/regression/test_random_features.py
(`test_rf_equations_hold_on_wide_random_spectra`: P = 1, 2, 40 with 400 cases each and
P = 1000 with 100; eigenvalues over 1e+-12, ridges over 1e+-10, n and N in [0.05 P, 3 P]):
max |z + delta / kappa - n| / n and max |z + N kappa / gamma - N| / N, z = sum_i L_i.
Then the slow test of tests/regression/test_linear_rf.py (d = 600, n = 200, lambda_i = v_i^2
= i^-1.5, noise 0.1, N in {100, 200, 300, 1000}, delta in {1e-3, 0.1, 1}, 40 seeds, the
same keys): the largest |seed mean - theory| in standard errors of the test and train MSE.
"""

import sys
from pathlib import Path

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)
sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "regression"))

from rf_setups import WIDE_CASES, linear_rf_against_theory, rf_equation_errors  # noqa: E402

worst = [0.0, 0.0]
for p, count in WIDE_CASES:
    errors = rf_equation_errors(p, count)
    worst[0] = max(worst[0], float(np.max(errors["n_equation"])))
    worst[1] = max(worst[1], float(np.max(errors["N_equation"])))
print(f"1,300 cases: worst relative error {worst[0]:.1e} (n equation), {worst[1]:.1e} (N equation)")

feats, ridges, _, z = linear_rf_against_theory()
for metric, scores in z.items():
    worst = int(np.argmax(np.abs(scores)))
    print(
        f"linear RF, 40 seeds, {metric}: largest |z| {abs(scores[worst]):.2f} at N = "
        f"{float(feats[worst]):g}, delta = {float(ridges[worst]):g}"
    )
