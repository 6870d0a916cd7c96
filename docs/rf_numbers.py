"""Prints the worst relative error of the two random-feature equations that
docs/random_features.md quotes.

    python docs/rf_numbers.py

Float64, the 1,300 fixed-seed cases of tests/regression/test_random_features.py
(`test_rf_equations_hold_on_wide_random_spectra`: P = 1, 2, 40 with 400 cases each and
P = 1000 with 100; eigenvalues over 1e+-12, ridges over 1e+-10, n and N in [0.05 P, 3 P]):
max |z + delta / kappa - n| / n and max |z + N kappa / gamma - N| / N, z = sum_i L_i.
"""

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)

from theorytk.regression import rf_risk  # noqa: E402

worst = [0.0, 0.0]
for p, count in ((1, 400), (2, 400), (40, 400), (1000, 100)):
    rng = np.random.default_rng(p)
    lam = 10.0 ** rng.uniform(-12.0, 12.0, (count, p))
    v2 = rng.uniform(0.0, 10.0, (count, p))
    n = np.maximum(1.0, p * rng.uniform(0.05, 3.0, count))
    n_feat = np.maximum(1.0, p * rng.uniform(0.05, 3.0, count))
    ridge = 10.0 ** rng.uniform(-10.0, 10.0, count)
    out = jax.jit(jax.vmap(lambda *a: rf_risk(a[0], a[1], n=a[2], n_features=a[3], ridge=a[4])))(
        lam, v2, n, n_feat, ridge
    )
    gamma, kappa = np.asarray(out["gamma"]), np.asarray(out["kappa"])
    z = np.sum(lam / (lam + gamma[:, None]), axis=1)
    worst[0] = max(worst[0], float(np.max(np.abs(z + ridge / kappa - n) / n)))
    worst[1] = max(worst[1], float(np.max(np.abs(z + n_feat * kappa / gamma - n_feat) / n_feat)))
print(f"1,300 cases: worst relative error {worst[0]:.1e} (n equation), {worst[1]:.1e} (N equation)")
