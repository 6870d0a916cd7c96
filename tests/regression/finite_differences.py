"""Central finite differences against a jacrev Jacobian, shared by the risk-theory tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


def assert_jacobian_matches_central_differences(
    risk_of: Callable[..., dict],
    jacobian: dict,
    args: Sequence,
    metrics: Sequence[str],
    modes: Sequence[int] = (0, 30),
) -> None:
    """Check d metric / d arg for every scalar arg and the given modes of every vector arg.

    Relative step 1e-4: truncation O(h^2) ~ 1e-8 relative. The risks carry a few ulps of
    rounding from root finding: 64 ulps of f over 2h bounds that part absolutely.
    """
    for metric in metrics:
        value = float(risk_of(*args)[metric])
        for i, arg in enumerate(args):
            for k in modes if np.ndim(arg) else (None,):
                shift = [0.0 * a for a in args]
                shift[i] = 1.0 if k is None else np.eye(np.size(arg))[k]
                h = 1e-4 * (arg if k is None else arg[k])
                plus = risk_of(*(a + h * e for a, e in zip(args, shift, strict=True)))[metric]
                minus = risk_of(*(a - h * e for a, e in zip(args, shift, strict=True)))[metric]
                grad = jacobian[metric][i] if k is None else jacobian[metric][i][k]
                rounding = 64 * np.finfo(float).eps * abs(value) / h
                np.testing.assert_allclose(grad, (plus - minus) / (2 * h), rtol=1e-6, atol=rounding)
