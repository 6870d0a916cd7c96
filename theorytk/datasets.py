"""Real data sets that ship inside a PyPI package, as standardised float arrays.

scikit-learn's handwritten digits (1797 images of 8 x 8 pixels, 16 grey levels) stand in
for MNIST in theory papers' real-data checks: no download, so a fresh machine can run them.
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits

DIGIT_TASKS = ("parity", "one_vs_rest")


def digits(
    task: str = "parity", *, digit: int = 0, dtype: np.dtype | type = np.float64
) -> tuple[np.ndarray, np.ndarray]:
    """The 1797 digits as inputs on the sphere of radius sqrt(64) and +-1 labels.

    Each image is centred by the pixel-wise mean over the data set and rescaled to norm
    sqrt(d), d = 64, so that x.x'/d is a cosine similarity (the convention of the analytic
    kernels in `theorytk.kernels`).

    Args:
        task: "parity" (y = +1 for even digits, -1 for odd; the stand-in for MNIST parity)
            or "one_vs_rest" (y = +1 for `digit`, -1 otherwise).
        digit: the positive class of "one_vs_rest", in 0..9.
        dtype: floating dtype of the returned inputs and labels.

    Returns:
        `(x, y)` with x of shape (1797, 64) and y of shape (1797,), in the data set's order.
    """
    if task not in DIGIT_TASKS:
        raise ValueError(f"digits task {task!r} is not known; choose one of {DIGIT_TASKS}")
    if task == "one_vs_rest" and digit not in range(10):
        raise ValueError(f"digit must be one of 0..9 for task 'one_vs_rest', got {digit!r}")
    images, labels = load_digits(return_X_y=True)
    x = images - images.mean(axis=0)
    x *= np.sqrt(x.shape[1]) / np.linalg.norm(x, axis=1, keepdims=True)
    y = (
        np.where(labels % 2 == 0, 1.0, -1.0)
        if task == "parity"
        else np.where(labels == digit, 1.0, -1.0)
    )
    return x.astype(dtype), y.astype(dtype)


def digits_split(
    task: str = "parity", *, n_train: int, seed: int = 0, digit: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`digits(task)` split at random into n_train training and 1797 - n_train held-out points.

    Args:
        task, digit: as in `digits`.
        n_train: training points, an integer in [1, 1796].
        seed: the NumPy seed of the permutation (the same seed gives the same split).

    Returns:
        `(x_train, y_train, x_test, y_test)`.
    """
    x, y = digits(task, digit=digit)
    if not (isinstance(n_train, int | np.integer) and 1 <= n_train < len(y)):
        raise ValueError(f"n_train must be an integer in [1, {len(y) - 1}], got {n_train!r}")
    order = np.random.default_rng(seed).permutation(len(y))
    train, test = order[:n_train], order[n_train:]
    return x[train], y[train], x[test], y[test]
