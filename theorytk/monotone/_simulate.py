"""The sweepable model: a named problem family and method, run to a tolerance or a budget."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from .. import sweep
from .._validation import check_integer, check_scalar
from ._generators import (
    authors_quadratic,
    finite_sum_minmax,
    policeman_burglar,
    random_cocoercive_linear,
    random_matrix_game,
    random_monotone_linear,
)
from ._methods import Method, eag_c, eag_v, extragradient, halpern, vr_extragradient
from ._problems import AffineProblem
from ._run import check_budget, run_metrics, solve_loop
from ._vr_halpern import inexact_vr_halpern, vr_halpern


def _components(params: Mapping[str, Any], config: RunConfig) -> dict[str, Any]:
    """n (and the components stored) of a random family: params["n"] padded to config.n."""
    if "n" not in params:
        return {"n": config.n}
    n = jnp.clip(jnp.asarray(params["n"]), 1, config.n).astype(jnp.int32)  # INVALID if not
    return {"n": n, "size": config.n}


def _family(generator: Callable[..., AffineProblem]) -> Callable[..., AffineProblem]:
    def make(params: Mapping[str, Any], key: Array, config: RunConfig) -> AffineProblem:
        return generator(
            key,
            config.d,
            **_components(params, config),
            condition=params.get("condition", config.condition),
            heterogeneity=params.get("heterogeneity", config.heterogeneity),
        )

    return make


def _monotone(params: Mapping[str, Any], key: Array, config: RunConfig) -> AffineProblem:
    heterogeneity = params.get("heterogeneity", config.heterogeneity)
    return random_monotone_linear(
        key, config.d, **_components(params, config), heterogeneity=heterogeneity
    )


def _fixed(make: Callable[[Array, RunConfig], AffineProblem]) -> Callable[..., AffineProblem]:
    """A family whose n sets its matrices: params["n"] is refused."""

    def family(params: Mapping[str, Any], key: Array, config: RunConfig) -> AffineProblem:
        if "n" in params:
            raise ValueError(
                f"params n (a padded number of components) applies to the random linear "
                f"families {sorted(PADDED)}, not to {config.problem!r}; sweep config.n instead"
            )
        return make(key, config)

    return family


PADDED = ("cocoercive", "minmax", "monotone")
PROBLEMS: dict[str, Callable[[Mapping[str, Any], Array, Any], AffineProblem]] = {
    "cocoercive": _family(random_cocoercive_linear),
    "minmax": _family(finite_sum_minmax),
    "monotone": _monotone,
    "policeman_burglar": _fixed(lambda key, config: policeman_burglar(key, config.n)),
    "random_game": _fixed(lambda key, config: random_matrix_game(key, config.n)),
    "authors_quadratic": _fixed(lambda key, config: authors_quadratic(config.n)),
}
"""Problem families by name: `make(params, key, config) -> problem` with config.n components
(for the random linear families, params["n"] <= config.n of them, padded to config.n)."""

METHODS: dict[str, Callable[..., Method]] = {
    "halpern": halpern,
    "extragradient": extragradient,
    "eag_c": eag_c,
    "eag_v": eag_v,
    "vr_extragradient": vr_extragradient,
    "vr_halpern": vr_halpern,
    "inexact_vr_halpern": inexact_vr_halpern,
}
"""Methods by name: `factory(step_scale=...) -> Method`."""

DETERMINISTIC = ("halpern", "extragradient", "eag_c", "eag_v")


class RunConfig(eqx.Module):
    """The static part of a run: problem family, method, sizes, target and budget.

    Args:
        problem: a key of `PROBLEMS`.
        method: a key of `METHODS`.
        n: number of components; with params["n"] (the families in `PADDED`), the components
            stored, of which the first params["n"] are summed (pad and mask: one compilation
            for every n up to config.n).
        d: dimension parameter of the random families (x and y each have d for "minmax").
        eps: residual tolerance, > 0.
        max_epochs: oracle budget in epochs (n calls each), > 0.
        condition: default eigenvalue spread of the random families (params may override).
        heterogeneity: default component spread (params may override).
    """

    problem: str = eqx.field(static=True)
    method: str = eqx.field(static=True)
    n: int = eqx.field(static=True)
    d: int = eqx.field(static=True, default=20)
    eps: float = eqx.field(static=True, default=1e-3)
    max_epochs: float = eqx.field(static=True, default=1000.0)
    condition: float = eqx.field(static=True, default=10.0)
    heterogeneity: float = eqx.field(static=True, default=0.0)

    def __check_init__(self) -> None:
        if self.problem not in PROBLEMS:
            raise ValueError(f"problem must be one of {sorted(PROBLEMS)}, got {self.problem!r}")
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {sorted(METHODS)}, got {self.method!r}")
        check_integer("n", self.n)
        check_integer("d", self.d)
        check_scalar("eps", self.eps, "> 0", lambda e: e > 0)
        check_scalar("max_epochs", self.max_epochs, "> 0", lambda e: e > 0)
        check_budget(METHODS[self.method](), self.n, self.max_epochs)
        check_scalar("condition", self.condition, ">= 1", lambda c: c >= 1)
        check_scalar("heterogeneity", self.heterogeneity, ">= 0", lambda h: h >= 0)


DOMAIN = {
    "n": sweep.POSITIVE_INTEGER,
    "heterogeneity": sweep.NONNEGATIVE,
    "step_scale": sweep.POSITIVE,
    "condition": sweep.Constraint(">= 1", lambda v: v >= 1),
}
"""The allowed values of `simulate`'s params (grid values are checked before tracing)."""


def make_loop(config: RunConfig) -> sweep.Loop:
    """The `sweep.Loop` of `simulate` for this configuration.

    A point whose traced params lie outside `DOMAIN`, or with params["n"] > config.n, stops at
    once with NaN metrics and status INVALID.
    """

    def make_problem(params: Mapping[str, Any], key: Array) -> AffineProblem:
        return PROBLEMS[config.problem](params, key, config)

    def make_method(params: Mapping[str, Any]) -> Method:
        return METHODS[config.method](step_scale=params.get("step_scale", 1.0))

    loop = solve_loop(
        make_problem, make_method, n=config.n, eps=config.eps, max_epochs=config.max_epochs
    )

    def init(params: Mapping[str, Any], key: Array) -> tuple[Any, Any]:
        data, state = loop.init(params, key)
        valid = sweep.valid_params(DOMAIN, params) & (params.get("n", config.n) <= config.n)
        return data._replace(valid=valid), state

    def finish(data: Any, result: sweep.LoopResult) -> dict[str, Array]:
        metrics = run_metrics(data, result.state)
        problem = data.problem
        nan = jnp.where(data.valid, 0.0, jnp.nan)
        metrics["lipschitz"] = problem.lipschitz() + nan
        metrics["mean_lipschitz"] = problem.mean_lipschitz() + nan
        return metrics

    return loop._replace(init=init, finish=finish)


@sweep.domain(**DOMAIN)
@sweep.refillable(make_loop)
def simulate(params: Mapping[str, ArrayLike], key: Array, *, config: RunConfig) -> dict[str, Array]:
    """Epochs to reach residual <= eps (or the residual at the budget) of one method on one problem.

    Runs `sweep.run_loop(make_loop(config), params, key)`: the problem `config.problem` drawn
    from `key`, the method `config.method`, until residual <= config.eps or
    config.max_epochs * n oracle calls. `sweep.run` runs it in refilled lanes.

    Args:
        params: optional "heterogeneity" (>= 0), "condition" (>= 1) for the random families,
            "step_scale" (> 0, multiplies the method's default step), and "n" (an integer in
            [1, config.n]: the components of a random linear family, padded to config.n, so
            a sweep over n compiles once and each point equals the run at config.n = n up to
            float rounding); scalars, may be traced.
        key: PRNG key (problem and sampling).
        config: the static run description.

    Returns:
        Scalars `epochs` (oracle calls / n), `residual`, `converged`, `lipschitz`,
        `mean_lipschitz`, `gap` for games, and `status` (OK, BUDGET or DIVERGED).
    """
    return sweep.run_loop(make_loop(config), params, key)
