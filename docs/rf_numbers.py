"""Prints the random-feature numbers that docs/random_features.md quotes from the tests.

    python docs/rf_numbers.py

Float64, the 1,300 fixed-seed cases of tests/regression/test_random_features.py
(`test_rf_equations_hold_on_wide_random_spectra`: P = 1, 2, 40 with 400 cases each and
P = 1000 with 100; eigenvalues over 1e+-12, ridges over 1e+-10, n and N in [0.05 P, 3 P]):
max |z + delta / kappa - n| / n and max |z + N kappa / gamma - N| / N, z = sum_i L_i.
Then the slow test of tests/regression/test_linear_rf.py (d = 600, n = 200, lambda_i = v_i^2
= i^-1.5, noise 0.1, N in {100, 200, 300, 1000}, delta in {1e-3, 0.1, 1}, 40 seeds, the
same keys): the largest |seed mean - theory| in standard errors of the test and train MSE.
"""

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)

from theorytk.regression import (  # noqa: E402
    LinearRFConfig,
    linear_rf_theory,
    rf_risk,
    simulate_linear_rf,
)

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

config = LinearRFConfig(d=600, n=200, n_features_max=1000, noise=0.1)
feats, ridges = (
    a.ravel()
    for a in jnp.meshgrid(
        jnp.array([100.0, 200.0, 300.0, 1000.0]), jnp.array([1e-3, 1e-1, 1.0]), indexing="ij"
    )
)


@jax.jit
def one_seed(key):
    def point(f, r):
        return simulate_linear_rf({"n_features": f, "ridge": r}, key, config=config)

    return jax.vmap(point)(feats, ridges)


runs = [one_seed(k) for k in jax.random.split(jax.random.key(0), 40)]
theory = jax.vmap(lambda f, r: linear_rf_theory({"n_features": f, "ridge": r}, config=config))(
    feats, ridges
)
for metric in ("test_mse", "train_mse"):
    samples = np.stack([np.asarray(run[metric]) for run in runs])
    z = (samples.mean(0) - np.asarray(theory[metric])) / (samples.std(0, ddof=1) / np.sqrt(40))
    worst = int(np.argmax(np.abs(z)))
    print(
        f"linear RF, 40 seeds, {metric}: largest |z| {abs(z[worst]):.2f} at N = "
        f"{float(feats[worst]):g}, delta = {float(ridges[worst]):g}"
    )
