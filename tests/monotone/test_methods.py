"""Oracle counts, unbiased estimators, variance-reduced Halpern's budget, and solutions."""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from theorytk import monotone, sweep

EG, EAG_C, HALPERN = monotone.extragradient(), monotone.eag_c(), monotone.halpern()
VR_HALPERN, INEXACT = monotone.vr_halpern(), monotone.inexact_vr_halpern(inner_factor=0.2)
VR_EG = monotone.vr_extragradient()


def _states(problem, method, updates):
    """The initial state and the states after each of `updates` updates (key 0)."""
    key = jax.random.key(0)
    state = method.init(problem, monotone.start_point(problem))

    def one(s, t):
        s = method.update(problem, s, jax.random.fold_in(key, t + 1))
        return s, s

    _, states = jax.lax.scan(one, state, jnp.arange(updates))
    return state, states


@pytest.fixture(scope="module")
def cocoercive():
    make = jax.jit(
        lambda k: monotone.random_cocoercive_linear(k, 6, n=49, condition=10.0, heterogeneity=0.5)
    )
    return make(jax.random.key(3))


def test_components_average_to_the_operator_for_every_problem_family():
    # F = (1/n) sum_i F_i is an identity; float64 round-off only.
    key = jax.random.key(0)
    problems = [
        monotone.policeman_burglar(key, n=12),
        monotone.authors_quadratic(10),
        monotone.random_monotone_linear(key, 5, n=7, heterogeneity=1.0),
        monotone.finite_sum_minmax(key, 3, n=9, heterogeneity=2.0),
    ]
    both = eqx.filter_jit(lambda p, z: (p.batch(jnp.arange(p.n), z), p.operator(z)))
    for problem in problems:
        mean, full = both(problem, jax.random.normal(jax.random.key(1), (problem.dim,)))
        np.testing.assert_allclose(mean, full, rtol=1e-10, atol=1e-10)


@eqx.filter_jit
def _spreads(p, us):
    """(1/n) sum_i ||F_i(u) - F_i(0)||^2 for each u, and along the top eigenvector of the gram."""
    comps = jax.vmap(p.component, in_axes=(0, None))

    def spread(u):
        return jnp.mean(
            jnp.sum((comps(jnp.arange(p.n), u) - comps(jnp.arange(p.n), 0 * u)) ** 2, 1)
        )

    top = jnp.linalg.eigh(p.mean_square_gram())[1][:, -1]
    return jax.vmap(spread)(us), spread(top), p.mean_lipschitz()


def test_mean_lipschitz_constant_is_attained_and_never_exceeded(cocoercive):
    # (1/n) sum_i ||F_i(u) - F_i(v)||^2 <= L_avg^2 ||u - v||^2, with equality along the top
    # eigenvector of (1/n) sum_i J_i^T J_i.
    game = monotone.policeman_burglar(jax.random.key(0), n=8)
    for p in (game, cocoercive):
        us = jax.random.normal(jax.random.key(1), (5, p.dim))
        spreads, top, lip = _spreads(p, us)
        assert np.all(np.asarray(spreads) <= float(lip) ** 2 * np.sum(us**2, 1) * (1 + 1e-10))
        np.testing.assert_allclose(top, float(lip) ** 2, rtol=1e-8)


def _in_dtype(problem, dtype):
    """The problem with its floating-point arrays stored in `dtype`."""

    def cast(a):
        floating = eqx.is_array(a) and jnp.issubdtype(a.dtype, jnp.floating)
        return a.astype(dtype) if floating else a

    return jax.tree_util.tree_map(cast, problem)


@pytest.mark.parametrize("d", [10, 40])
def test_mean_cocoercivity_in_float32_matches_float64_on_the_same_condition_1e4_problems(d):
    # beta_avg comes from the matrices (eigh of S = sym(B), then the top eigenvalue of
    # S^-1/2 G S^-1/2 with G = (1/n) sum_i M_i^T M_i), not from differences of operator values
    # at nearby points, so float32 loses nothing to cancellation. The same problems (drawn in
    # float64, n = 64, condition 1e4, heterogeneity 0.05 ... 5, 4 keys) stored in float32:
    # float32 rounding (6e-8) amplified by at most the condition 1e4 of S is ~6e-4; measured
    # <= 2.6e-5 relative (d = 10 and 40, 8 keys); bound 1e-4.
    def betas(key, h):
        p = monotone.random_cocoercive_linear(key, d, n=64, condition=1e4, heterogeneity=h)
        return tuple(_in_dtype(p, t).mean_cocoercivity() for t in (jnp.float32, jnp.float64))

    keys = jax.random.split(jax.random.key(0), 4)
    hs = jnp.geomspace(0.05, 5.0, 5)
    single, double = jax.jit(jax.vmap(jax.vmap(betas, (None, 0)), (0, None)))(keys, hs)
    assert single.dtype == jnp.float32 and double.dtype == jnp.float64
    assert float(double.max()) > 5  # the family reaches beta_avg >> 1 at h = 5
    np.testing.assert_allclose(single, double, rtol=1e-4)


def test_deterministic_methods_count_n_per_operator_evaluation(cocoercive):
    n = cocoercive.n
    for method, per_update, first in ((EG, 2 * n, n), (EAG_C, 2 * n, n), (HALPERN, n, 0)):
        _, states = _states(cocoercive, method, 5)
        np.testing.assert_array_equal(states.oracle, first + per_update * np.arange(1, 6))


def test_vr_halpern_counts_full_refreshes_as_n_and_minibatches_as_2b(cocoercive):
    n, b = cocoercive.n, monotone.batch_size(cocoercive.n)
    initial, states = _states(cocoercive, VR_HALPERN, 300)
    increments = np.diff(np.concatenate([[int(initial.oracle)], np.asarray(states.oracle)]))
    assert set(increments.tolist()) <= {n, 2 * b}
    assert increments[0] == increments[1] == n  # p_0 = p_1 = 1: two full evaluations
    # a full evaluation makes the estimate exact: increments of n <=> estimate == F(x_k)
    previous = jnp.concatenate([initial.z[None], states.z[:-1]])
    exact = jnp.all(jnp.isclose(states.estimate, jax.vmap(cocoercive.operator)(previous)), 1)
    np.testing.assert_array_equal(np.asarray(exact)[increments == n], True)


def test_inexact_vr_halpern_counts_the_first_evaluation_of_every_inner_solve(cocoercive):
    n = cocoercive.n
    initial, states = _states(cocoercive, INEXACT, 400)
    assert int(initial.oracle) == n  # G(w_0) at the first outer point
    oracle = np.concatenate([[int(initial.oracle)], np.asarray(states.oracle)])
    increments = np.diff(oracle)
    ks = np.concatenate([[0], np.asarray(states.k)])
    done = np.diff(ks) == 1
    w_prev = np.concatenate([np.asarray(initial.w)[None], np.asarray(states.w)[:-1]])
    refreshed = np.any(np.asarray(states.w) != w_prev, axis=1)
    np.testing.assert_array_equal(increments, 2 + n * (done | refreshed))
    assert np.all(increments[done] == 2 + n)
    # the k-th resolvent takes exactly M_k inner steps
    ends = np.flatnonzero(done)
    lengths = np.diff(np.concatenate([[-1], ends]))
    expected = [int(monotone.inner_iterations(k, n, 0.2)) for k in range(len(ends))]
    np.testing.assert_array_equal(lengths, expected)


def _assert_mean_within_5_se(draws: np.ndarray, target: np.ndarray) -> None:
    # Every coordinate of the mean of the draws within 5 standard errors of the target: a true
    # mean fails a coordinate with probability 6e-7 (normal approximation, thousands of draws).
    se = draws.std(0, ddof=1) / np.sqrt(draws.shape[0])
    assert np.all(np.abs(draws.mean(0) - target) <= 5 * se)
    assert np.all(se > 0)  # the draws do vary: the check is not vacuous


def test_page_estimator_is_unbiased(cocoercive):
    # From g_{k-1} = F(x_{k-1}), a minibatch update gives E[g_k] = F(x_k). Tolerance: each of
    # the d coordinates of the mean of >= 2000 minibatch draws within 5 standard errors.
    z, prev = (jax.random.normal(jax.random.key(s), (cocoercive.dim,)) for s in (1, 2))
    state = VR_HALPERN.init(cocoercive, z)._replace(
        z=z, previous=prev, estimate=cocoercive.operator(prev), k=jnp.asarray(100, jnp.int32)
    )
    keys = jax.random.split(jax.random.key(7), 4000)
    new = jax.vmap(lambda k: VR_HALPERN.update(cocoercive, state, k))(keys)
    mini = np.asarray(new.oracle - state.oracle) == 2 * monotone.batch_size(cocoercive.n)
    draws = np.asarray(new.estimate)[mini]
    assert draws.shape[0] >= 2000
    _assert_mean_within_5_se(draws, np.asarray(cocoercive.operator(z)))


def test_vr_extragradient_estimator_is_unbiased_for_f_at_the_half_point(cocoercive):
    # Second step of VR-EG: z_{k+1} = zbar - tau g with g = F(w) + F_i(z_half) - F_i(w), i uniform,
    # so E[g] = F(z_half). Unconstrained, g = (zbar - z_{k+1}) / tau is read off each draw.
    z, w = (jax.random.normal(jax.random.key(s), (cocoercive.dim,)) for s in (1, 2))
    state = VR_EG.init(cocoercive, z)._replace(z=z, w=w, fw=cocoercive.operator(w))
    zbar = state.alpha * z + (1 - state.alpha) * w
    half = zbar - state.step * state.fw
    keys = jax.random.split(jax.random.key(7), 4000)
    new = jax.vmap(lambda k: VR_EG.update(cocoercive, state, k))(keys)
    draws = np.asarray((zbar - new.z) / state.step)
    _assert_mean_within_5_se(draws, np.asarray(cocoercive.operator(half)))


def test_vr_forb_inner_estimator_is_unbiased_for_the_reflected_direction(cocoercive):
    # Inner step of Algorithm 2 on G(v) = v - x + eta F(v): v_{t+1} = vbar - gamma g with
    # g = G(w_t) + G_i(v_t) - G_i(w_{t-1}), so E[g] = G(v_t) + G(w_t) - G(w_{t-1}) (the
    # forward-reflected direction of VR-FoRB). w_{t-1} != w_t, and M_k is set large so that the
    # draw is an inner step, not the outer update.
    x, v, w, w_prev = (jax.random.normal(jax.random.key(s), (cocoercive.dim,)) for s in range(4))
    base = INEXACT.init(cocoercive, x)

    def g_of(u):
        return u - x + base.step * cocoercive.operator(u)

    state = base._replace(
        v=v, w=w, w_prev=w_prev, gw=g_of(w), inner_total=jnp.asarray(10**6, jnp.int32)
    )
    vbar = (1 - state.p) * v + state.p * w
    keys = jax.random.split(jax.random.key(8), 4000)
    new = jax.vmap(lambda k: INEXACT.update(cocoercive, state, k))(keys)
    assert np.all(np.asarray(new.k) == 0)  # still inside the first resolvent
    draws = np.asarray((vbar - new.v) / state.inner_step)
    _assert_mean_within_5_se(draws, np.asarray(g_of(v) + g_of(w) - g_of(w_prev)))


def test_vr_halpern_reaches_eps_within_its_oracle_budget_on_average_over_seeds():
    # Budget K = 4 beta_avg ||x_0 - x*|| / eps updates: a CHOICE, not the paper's theorem. Its
    # complexity theorem could not be read here (only the abstract, O~(n + sqrt(n) L / eps),
    # was reachable; see docs/halpern.md), so K is twice Lieder's deterministic Halpern
    # constant, as lambda_k = 2/(k+4) halves the anchor's decay. Expected cost
    # n + K (2 floor(sqrt n) + 4 n / (sqrt n + 5)) calls = O(n + sqrt(n) L / eps), the
    # abstract's order. Claim: the mean residual over 8 seeds <= eps.
    problem = monotone.random_cocoercive_linear(
        jax.random.key(11), 10, n=100, condition=100.0, heterogeneity=0.5
    )
    eps = 1e-2
    beta = float(problem.mean_cocoercivity())
    updates = math.ceil(4 * beta * float(jnp.linalg.norm(problem.solution)) / eps)

    def run(k):
        return monotone.trace(problem, VR_HALPERN, k, updates=updates, record_every=updates)

    out = jax.vmap(run)(jax.random.split(jax.random.key(0), 8))
    assert float(out.residual[:, -1].mean()) <= eps
    budget = problem.n + updates * (2 * 10 + 4 * problem.n / (10 + 5)) + problem.n
    assert float(out.epochs[:, -1].mean()) * problem.n <= 1.1 * budget


def test_solutions_of_a_random_game_satisfy_the_inclusion_and_bound_the_gap():
    # For the fixed-point residual r = ||z - P(z - F(z))|| of a bilinear game on two simplices
    # (diameter 2), gap(z) <= r (2 + ||F(z)||) (projection inequality); z is feasible.
    problem = monotone.random_matrix_game(jax.random.key(5), 10)
    for method in (EG, VR_EG):
        out = monotone.solve(problem, method, jax.random.key(1), eps=1e-4, max_epochs=20000)
        r, gap = float(out.metrics["residual"]), float(out.metrics["gap"])
        assert int(out.metrics["status"]) == sweep.Status.OK and r <= 1e-4
        assert 0 <= gap <= r * (2 + float(jnp.linalg.norm(problem.operator(out.z)))) + 1e-12
        np.testing.assert_allclose([out.z[:10].sum(), out.z[10:].sum()], 1.0, rtol=1e-12)
        assert float(out.z.min()) >= 0


@pytest.mark.slow
def test_inexact_vr_halpern_solves_the_authors_quadratic_to_tolerance():
    # The authors' instance is a lower-bound construction (they run 10^6 epochs); at n = 20
    # eps = 1e-2 is reachable within 5000 epochs.
    problem = monotone.authors_quadratic(20)
    out = monotone.solve(problem, INEXACT, jax.random.key(0), eps=1e-2, max_epochs=5000)
    assert int(out.metrics["status"]) == sweep.Status.OK
    assert float(jnp.linalg.norm(problem.operator(out.z))) <= 1e-2


def test_a_too_large_step_is_reported_as_diverged_not_raised(cocoercive):
    out = monotone.solve(
        cocoercive, monotone.halpern(step_scale=50.0), jax.random.key(0), eps=1e-6, max_epochs=500
    )
    assert int(out.metrics["status"]) == sweep.Status.DIVERGED


def test_bad_input_is_rejected_before_tracing():
    with pytest.raises(ValueError, match="not monotone"):
        monotone.LinearProblem(-jnp.eye(2)[None], jnp.zeros((1, 2)))
    with pytest.raises(ValueError, match=r"\(n, d, d\)"):
        monotone.LinearProblem(jnp.eye(2)[None], jnp.zeros((1, 3)))
    with pytest.raises(ValueError, match="theta"):
        monotone.policeman_burglar(jax.random.key(0), n=5, theta=0.0)
    with pytest.raises(ValueError, match="condition"):
        monotone.random_cocoercive_linear(jax.random.key(0), 3, condition=0.5)
    with pytest.raises(ValueError, match="square"):
        monotone.matrix_game(jnp.ones((2, 3)))
    with pytest.raises(ValueError, match="method"):
        monotone.RunConfig(problem="cocoercive", method="adam", n=4)


@pytest.mark.slow  # compiles the refilled-lane loop (about a minute on a loaded machine)
def test_sweep_rejects_a_negative_step_scale_and_runs_lanes_like_single_points():
    config = monotone.RunConfig(
        problem="cocoercive", method="vr_halpern", n=16, d=4, eps=1e-2, max_epochs=300
    )
    with pytest.raises(ValueError, match="step_scale"):
        sweep.run(
            monotone.simulate,
            sweep.Grid(step_scale=[-1.0, 1.0]),
            key=jax.random.key(0),
            config=config,
        )
    grid = sweep.Grid(heterogeneity=[0.0, 1.0], seed=range(3))
    ds = sweep.run(monotone.simulate, grid, key=jax.random.key(0), config=config, progress=False)
    for flat, (h, s) in enumerate([(h, s) for h in (0.0, 1.0) for s in range(3)]):
        key = jax.random.fold_in(jax.random.key(0), flat)
        direct = monotone.simulate({"heterogeneity": jnp.asarray(h)}, key, config=config)
        np.testing.assert_allclose(
            ds["epochs"].sel(heterogeneity=h, seed=s), direct["epochs"], rtol=1e-12
        )


@pytest.mark.slow  # six compilations of ten updates of eight methods
def test_every_default_moves_the_residual_on_every_problem_family_within_10_updates():
    # A default step of 0 (1/beta_avg with beta_avg = inf on games) leaves z_0 in place: the
    # claim is that each method's smallest residual over its first 10 updates is below r_0,
    # or that the method refuses the problem with a ValueError naming what to pass.
    config = monotone.RunConfig(problem="cocoercive", method="halpern", n=8, d=4)
    methods = {name: make() for name, make in monotone.METHODS.items()}
    resolvent = monotone.halpern(monotone.resolvent_operator)

    @eqx.filter_jit
    def first_residuals(problem, methods):
        key = jax.random.key(1)
        return {k: monotone.trace(problem, m, key, updates=10).residual for k, m in methods.items()}

    for family, make in monotone.PROBLEMS.items():
        problem = make({}, jax.random.key(0), config)
        if problem.constrained:
            with pytest.raises(ValueError, match="forward_operator"):
                monotone.trace(problem, resolvent, jax.random.key(1), updates=10)
            runs = methods
        else:
            runs = {**methods, "halpern_resolvent": resolvent}
        for name, r in first_residuals(problem, runs).items():
            r = np.asarray(r)
            assert r[1:].min() < (1 - 1e-3) * r[0], (family, name, r)


def test_vr_halpern_default_moves_on_the_policeman_burglar_game():
    problem = monotone.policeman_burglar(jax.random.key(0), n=50)
    out = monotone.solve(problem, VR_HALPERN, jax.random.key(1), eps=1e-2, max_epochs=50)
    initial = float(problem.residual(monotone.start_point(problem)))
    assert float(out.metrics["residual"]) < 0.75 * initial  # the step-0 default returned r_0


def test_budgets_beyond_the_int32_counters_are_refused_and_the_largest_accepted_fits():
    problem = monotone.random_cocoercive_linear(jax.random.key(0), 2, n=8)
    for budget in (2.7e8, 1e12):
        with pytest.raises(ValueError, match="max_epochs must be <="):
            monotone.solve(problem, VR_HALPERN, jax.random.key(0), eps=1e-3, max_epochs=budget)
        with pytest.raises(ValueError, match="max_epochs must be <="):
            monotone.RunConfig(problem="cocoercive", method="vr_halpern", n=8, max_epochs=budget)
    with pytest.raises(ValueError, match="updates must be <="):
        monotone.trace(problem, EG, jax.random.key(0), updates=2**27)
    # A run that spends 2^28 calls per update up to the largest accepted budget: its count
    # ends above the budget and stays positive (no wrap-around), status BUDGET.
    one = monotone.random_cocoercive_linear(jax.random.key(0), 2, n=1)
    costly = monotone.halpern(cost=2**28)
    largest = monotone.COUNT_LIMIT - 2 * 2**28
    out = monotone.solve(one, costly, jax.random.key(0), eps=1e-300, max_epochs=float(largest))
    assert largest <= int(out.state.oracle) <= monotone.COUNT_LIMIT
    assert float(out.metrics["epochs"]) >= largest
    assert int(out.metrics["status"]) == sweep.Status.BUDGET


def test_wrong_start_nan_games_and_nonpositive_eps_are_refused():
    problem = monotone.policeman_burglar(jax.random.key(0), n=5)
    with pytest.raises(ValueError, match=r"z0 must have shape \(10,\)"):
        monotone.solve(problem, EG, jax.random.key(0), eps=1e-2, max_epochs=5, z0=jnp.ones(9))
    with pytest.raises(ValueError, match=r"z0 must have shape \(10,\)"):
        monotone.trace(problem, EG, jax.random.key(0), updates=5, z0=jnp.ones(11))
    with pytest.raises(ValueError, match="finite matrix A"):
        monotone.matrix_game(jnp.array([[0.0, jnp.nan], [1.0, 0.0]]))
    with pytest.raises(ValueError, match="finite B and c"):
        monotone.LinearProblem(jnp.array([[[jnp.inf]]]), jnp.zeros((1, 1)))
    for eps in (0.0, -1e-3):
        with pytest.raises(ValueError, match="eps must be a finite scalar > 0"):
            monotone.solve(problem, EG, jax.random.key(0), eps=eps, max_epochs=5)


def test_traced_negative_heterogeneity_gives_nan_and_status_invalid():
    config = monotone.RunConfig(problem="cocoercive", method="halpern", n=4, d=2, max_epochs=50)
    run = jax.jit(
        lambda h: monotone.simulate({"heterogeneity": h}, jax.random.key(0), config=config)
    )
    bad, good = run(-0.5), run(0.5)
    assert int(bad["status"]) == sweep.Status.INVALID and np.isnan(float(bad["epochs"]))
    assert int(good["status"]) != sweep.Status.INVALID and np.isfinite(float(good["epochs"]))


def test_policeman_burglar_takes_the_authors_house_values():
    # A_ij = w_j (1 - exp(-0.8 |i - j|)) with the authors' w (NumPy seed 1), written as loops.
    n = 30
    w = np.abs(np.random.RandomState(1).standard_normal(n))
    a = np.array([[w[j] * (1 - np.exp(-0.8 * abs(i - j))) for j in range(n)] for i in range(n)])
    problem = monotone.policeman_burglar(w=w)
    assert problem.n == n
    np.testing.assert_allclose(-np.asarray(problem.full[n:, :n]), a, rtol=1e-14, atol=0)
    np.testing.assert_allclose(np.asarray(problem.full[:n, n:]), a.T, rtol=1e-14, atol=0)
    with pytest.raises(ValueError, match="w >= 0"):
        monotone.policeman_burglar(w=-w)
    with pytest.raises(ValueError, match="key or the house values"):
        monotone.policeman_burglar()
