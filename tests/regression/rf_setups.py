"""Random-feature setups whose numbers the tests check and docs/rf_numbers.py prints.

The tests import this module from their own folder (pytest puts it on the path); the script
puts tests/regression on the path first. Both run in float64.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from theorytk.regression import LinearRFConfig, linear_rf_theory, rf_risk, simulate_linear_rf

# (P, count) of the wide random cases; the cases of P are drawn with seed P
WIDE_CASES = ((1, 400), (2, 400), (40, 400), (1000, 100))


def wide_random_cases(p: int, count: int, seed: int) -> tuple[np.ndarray, ...]:
    """`count` random problems with P = p: eigenvalues over 1e+-12, ridges over 1e+-10.

    Returns lam, v2 (count, p) and n, N, ridge (count,).
    """
    rng = np.random.default_rng(seed)
    lam = 10.0 ** rng.uniform(-12.0, 12.0, (count, p))
    v2 = rng.uniform(0.0, 10.0, (count, p))
    n = np.maximum(1.0, p * rng.uniform(0.05, 3.0, count))
    n_feat = np.maximum(1.0, p * rng.uniform(0.05, 3.0, count))
    return lam, v2, n, n_feat, 10.0 ** rng.uniform(-10.0, 10.0, count)


def rf_equation_errors(p: int, count: int) -> dict[str, np.ndarray]:
    """`rf_risk`'s roots on the wide random cases of P = p, and the relative error of both
    equations at them, with z = sum_i lam_i / (lam_i + gamma):

        n equation: |z + delta / kappa - n| / n,   N equation: |z + N kappa / gamma - N| / N.

    Returns arrays (count,) `gamma`, `kappa`, `n_equation`, `N_equation`.
    """
    lam, v2, n, n_feat, ridge = wide_random_cases(p, count, seed=p)
    out = jax.jit(jax.vmap(lambda *a: rf_risk(a[0], a[1], n=a[2], n_features=a[3], ridge=a[4])))(
        lam, v2, n, n_feat, ridge
    )
    gamma, kappa = np.asarray(out["gamma"]), np.asarray(out["kappa"])
    z = np.sum(lam / (lam + gamma[:, None]), axis=1)
    return {
        "gamma": gamma,
        "kappa": kappa,
        "n_equation": np.abs(z + ridge / kappa - n) / n,
        "N_equation": np.abs(z + n_feat * kappa / gamma - n_feat) / n_feat,
    }


LINEAR_RF_CONFIG = LinearRFConfig(d=600, n=200, n_features_max=1000, noise=0.1)
LINEAR_RF_SEEDS = 40


def linear_rf_against_theory() -> tuple[jax.Array, jax.Array, dict, dict[str, np.ndarray]]:
    """Seed means of the linear RF simulation against `linear_rf_theory`, in standard errors.

    d = 600, n = 200, lambda_i = v_i^2 = i^-1.5, noise 0.1, N in {100, 200, 300, 1000} x
    delta in {1e-3, 0.1, 1} (flattened, N major), 40 seeds (the keys of
    `split(key(0), 40)`, one per seed for every point). Returns the points' N and delta, the
    theory, and per metric (test_mse, train_mse) z = (mean - theory) / (std / sqrt(40)).
    """
    feats, ridges = (
        a.ravel()
        for a in jnp.meshgrid(
            jnp.array([100.0, 200.0, 300.0, 1000.0]), jnp.array([1e-3, 1e-1, 1.0]), indexing="ij"
        )
    )

    @jax.jit
    def one_seed(key):
        def point(f, r):
            return simulate_linear_rf({"n_features": f, "ridge": r}, key, config=LINEAR_RF_CONFIG)

        return jax.vmap(point)(feats, ridges)

    runs = [one_seed(k) for k in jax.random.split(jax.random.key(0), LINEAR_RF_SEEDS)]
    theory = jax.vmap(
        lambda f, r: linear_rf_theory({"n_features": f, "ridge": r}, config=LINEAR_RF_CONFIG)
    )(feats, ridges)
    z = {}
    for metric in ("test_mse", "train_mse"):
        samples = np.stack([np.asarray(run[metric]) for run in runs])
        mean = samples.mean(axis=0)
        sem = samples.std(axis=0, ddof=1) / np.sqrt(LINEAR_RF_SEEDS)
        z[metric] = (mean - np.asarray(theory[metric])) / sem
    return feats, ridges, theory, z
