"""Finite-sum monotone inclusions: problems, Halpern, EG, EAG, VR-EG and variance-reduced Halpern.

    import jax
    from theorytk import monotone
    problem = monotone.policeman_burglar(jax.random.key(0), n=100)
    out = monotone.solve(problem, monotone.inexact_vr_halpern(), jax.random.key(1),
                         eps=1e-2, max_epochs=500)
    out.metrics["epochs"], out.metrics["residual"], out.metrics["gap"]

Every method counts its oracle calls exactly (one component F_i = 1, one full F = n);
`solve` stops at a residual tolerance or an oracle budget (a `sweep.Loop`, refilled lanes in
`sweep.run`), `trace` records a fixed-length run for convergence plots.
"""

from ._constraints import (
    Ball,
    Box,
    Constraint,
    Simplex,
    SimplexProduct,
    Unconstrained,
    project_simplex,
)
from ._generators import (
    authors_quadratic,
    finite_sum_minmax,
    matrix_game,
    policeman_burglar,
    random_cocoercive_linear,
    random_matrix_game,
    random_monotone_linear,
)
from ._methods import (
    COUNT_LIMIT,
    ExtragradientState,
    HalpernState,
    Method,
    VREGState,
    eag_c,
    eag_v,
    extragradient,
    forward_operator,
    halpern,
    resolvent_operator,
    vr_extragradient,
)
from ._problems import AffineProblem, LinearProblem, PairSplitProblem, game_matrix
from ._run import Solution, Trace, solve, solve_loop, start_point, trace
from ._simulate import METHODS, PROBLEMS, RunConfig, simulate
from ._vr_halpern import (
    InexactHalpernState,
    VRHalpernState,
    batch_size,
    inexact_vr_halpern,
    inner_iterations,
    refresh_probability,
    vr_halpern,
)

__all__ = [
    "COUNT_LIMIT",
    "METHODS",
    "PROBLEMS",
    "AffineProblem",
    "Ball",
    "Box",
    "Constraint",
    "ExtragradientState",
    "HalpernState",
    "InexactHalpernState",
    "LinearProblem",
    "Method",
    "PairSplitProblem",
    "RunConfig",
    "Simplex",
    "SimplexProduct",
    "Solution",
    "Trace",
    "Unconstrained",
    "VREGState",
    "VRHalpernState",
    "authors_quadratic",
    "batch_size",
    "eag_c",
    "eag_v",
    "extragradient",
    "finite_sum_minmax",
    "forward_operator",
    "game_matrix",
    "halpern",
    "inexact_vr_halpern",
    "inner_iterations",
    "matrix_game",
    "policeman_burglar",
    "project_simplex",
    "random_cocoercive_linear",
    "random_matrix_game",
    "random_monotone_linear",
    "refresh_probability",
    "resolvent_operator",
    "simulate",
    "solve",
    "solve_loop",
    "start_point",
    "trace",
    "vr_extragradient",
    "vr_halpern",
]
