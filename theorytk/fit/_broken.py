"""A smoothly broken power law (one break), fitted from a grid of starts with `fit_law`.

    y = a + b (x / x_c)^(-c0) (1 + (x / d)^(1/f))^(-c1 f)

(Caballero et al. 2023, "Broken Neural Scaling Laws", eq. 1 with one break): exponent c0
before the break at x ~ d, c0 + c1 after it, f the sharpness of the break. x_c = exp(mean
log x) is fixed so that b is the scale at the centre of the data. Fitted in log space:
log y_hat = LSE(log a, log b - c0 t - c1 f softplus((log x - log d) / f)), t = log(x / x_c).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from ._law import LawFit, _check_positive, fit_law, grid_starts


def broken_log_law(theta: dict[str, Array], x: Float[Array, "m 2"]) -> Float[Array, " m"]:
    """log y_hat of the broken power law; x holds (log x, log x - log x_c) per row."""
    f = jnp.exp(theta["log_f"])
    bend = f * jax.nn.softplus((x[:, 0] - theta["log_d"]) / f)
    power = theta["log_b"] - theta["c0"] * x[:, 1] - theta["c1"] * bend
    return jnp.logaddexp(theta["log_a"], power)


def fit_broken_power_law(
    x: Float[ArrayLike, " m"],
    y: Float[ArrayLike, " m"],
    *,
    objective: str = "huber_log",
    n_bootstrap: int = 0,
    key: PRNGKeyArray | None = None,
    max_steps: int = 300,
) -> LawFit:
    """Fit y = a + b (x/x_c)^-c0 (1 + (x/d)^(1/f))^(-c1 f) from 576 starts, vmapped.

    Starts: log a in log min(y) + {-2, -0.5}, log b in log max(y) + {-2, -0.5, 1},
    c0, c1 in {0, 0.5, 1, 2}, log d at the 25/50/75% quantiles of log x, log f in {-1, 0}.
    The result's `params` are log_a, log_b, c0, c1, log_d, log_f (a = exp(log_a), ...).

    Args:
        x: `Float[ArrayLike, "m"]` abscissae (> 0), e.g. compute or model size.
        y: `Float[ArrayLike, "m"]` losses (> 0).
        objective, n_bootstrap, key, max_steps: as in `fit_law`.
    """
    x_arr, y_arr = np.asarray(x, float), np.asarray(y, float)
    if x_arr.ndim != 1 or x_arr.shape != y_arr.shape:
        raise ValueError(f"x and y must be 1-D of one length, got {x_arr.shape}, {y_arr.shape}")
    if not np.all(np.isfinite(x_arr)):
        raise ValueError("x must be finite, got NaN or inf")
    _check_positive("x", x_arr, "the law uses log x")
    log_x = np.log(x_arr)
    y_safe = y_arr[np.isfinite(y_arr) & (y_arr > 0)]
    low, high = (np.log(y_safe.min()), np.log(y_safe.max())) if y_safe.size else (0.0, 0.0)
    starts = grid_starts(
        log_a=low + np.array([-2.0, -0.5]),
        log_b=high + np.array([-2.0, -0.5, 1.0]),
        c0=[0.0, 0.5, 1.0, 2.0],
        c1=[0.0, 0.5, 1.0, 2.0],
        log_d=np.quantile(log_x, [0.25, 0.5, 0.75]),
        log_f=[-1.0, 0.0],
    )
    features = np.stack([log_x, log_x - log_x.mean()], axis=1)
    return fit_law(
        broken_log_law,
        features,
        y_arr,
        starts,
        objective=objective,
        law_is_log=True,
        n_bootstrap=n_bootstrap,
        key=key,
        max_steps=max_steps,
    )
