"""Fits for theory research: power laws with intervals, critical lines, scaling laws.

- `fit_power_law` / `bootstrap_ci`: y = a x^-b (+ c), in log space (log y on log x, each
  decade counts alike) or linear space (Levenberg-Marquardt, weighted by 1/sigma^2), with Wald
  and bootstrap intervals; `local_exponents`: the pure law per decade of x, for bending curves.
- `critical_line`: where a swept quantity first crosses a level.
- `fit_joint_law`: L(N, D) = E + A / N^alpha + B / D^beta (Chinchilla approach 3: Huber on
  log residuals, 4,500 starts vmapped over a refilled pool of optimistix BFGS lanes, vmapped
  bootstrap), with the compute-optimal frontier N_opt(C), D_opt(C);
  `check_fixed_irreducible_loss`: the bound [0, min(loss)) on a fixed E.
- `fit_broken_power_law`: a smoothly broken power law; `fit_law`: any law of a parameter
  pytree, from a grid of starts (`grid_starts`).
"""

from ._broken import broken_log_law, fit_broken_power_law
from ._critical_line import critical_line
from ._joint import (
    CHINCHILLA_STARTS,
    JointLawFit,
    check_fixed_irreducible_loss,
    fit_joint_law,
    frontier,
    joint_log_law,
)
from ._law import LawFit, fit_law, grid_starts
from ._multistart import HUBER_DELTA, OBJECTIVES, SOLVERS
from ._power_law import (
    SPACES,
    FitResult,
    LocalExponent,
    PowerLawFit,
    bootstrap_ci,
    fit_power_law,
    local_exponents,
)

__all__ = [
    "CHINCHILLA_STARTS",
    "HUBER_DELTA",
    "OBJECTIVES",
    "SOLVERS",
    "SPACES",
    "FitResult",
    "JointLawFit",
    "LawFit",
    "LocalExponent",
    "PowerLawFit",
    "bootstrap_ci",
    "broken_log_law",
    "check_fixed_irreducible_loss",
    "critical_line",
    "fit_broken_power_law",
    "fit_joint_law",
    "fit_law",
    "fit_power_law",
    "frontier",
    "grid_starts",
    "joint_log_law",
    "local_exponents",
]
