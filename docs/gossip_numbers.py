"""Prints the DADAO and token-SGD numbers quoted in docs/gossip.md that no experiment prints.

    python docs/gossip_numbers.py

Float64, the setting of tests/gossip/test_dadao.py (8 nodes, d = 3, curvatures in [1, 4],
the same keys): the graph rates chi_1, chi_2 and lambda = sqrt(2 chi_1 chi_2) of the ring
and the complete graph; the mean squared distance to x* from x = 0 at T = 0, 100, 200, 300
and the fitted log-linear rate on t in [100, 200]; the drift of alpha~ sum z + alpha sum z~
over 2000 events; the gradient and communication event rates over 400 runs on [0, 10].
Then the setting of tests/gossip/test_srrw.py's reweighted token SGD (10 quadratics in d = 2
on the lollipop, degree target, alpha = 2, 20,000 steps, 16 walks): the mean distance of the
final model to x* of (1/N) sum_i f_i, and how far the optimum of sum_i mu_i f_i lies from it.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax

jax.config.update("jax_enable_x64", True)

from theorytk import gossip  # noqa: E402

N, D = 8, 3


def setup(graph):
    config = gossip.DadaoConfig(graph=graph, n_nodes=N, dim=D)
    problem, adj = config.setup()
    return config, problem, adj


for graph in ("ring", "complete"):
    rates = gossip.graph_rates(setup(graph)[2])
    print(
        f"{graph}: chi_1 = {float(rates.chi_1):.2f}, chi_2 = {float(rates.chi_2):.2f}, "
        f"lambda = {float(rates.comm_rate):.2f}"
    )

for graph in ("ring", "complete"):
    config, problem, adj = setup(graph)

    def error(s, problem=problem):
        return {"error": jnp.mean(jnp.sum((s.x - problem.optimum) ** 2, axis=1))}

    x0 = jnp.zeros((N, D))
    # 300 (N + lambda) expected events at most 5,500 on these graphs: 8,000 is > 6 sd above.
    _, traces, status = gossip.dadao(
        problem,
        adj,
        x0,
        jax.random.key(3),
        mu=config.mu,
        smoothness=config.smoothness,
        horizon=300.0,
        events=8000,
        metrics=error,
    )
    assert int(status) == 0, status
    t, err = np.asarray(traces["t"]), np.asarray(traces["error"])
    at = [float(error(gossip.dadao_init(x0))["error"])]
    at += [float(err[t <= horizon][-1]) for horizon in (100.0, 200.0, 300.0)]
    late = (t > 100) & (t <= 200)
    slope = np.polyfit(t[late], np.log(err[late]), 1)[0]
    print(
        f"{graph}: mean squared distance to x* at T = 0, 100, 200, 300 (last event before T): "
        + ", ".join(f"{v:.2g}" for v in at)
        + f"; least-squares slope of log error on t in [100, 200]: {slope:.3f}"
    )

config, problem, adj = setup("ring")
c = gossip.dadao_constants(gossip.graph_rates(adj), N, config.mu, config.smoothness)
parts = jax.random.normal(jax.random.key(1), (6, N, D))
zero = jnp.asarray(0)
start = gossip.DadaoState(*parts, jnp.asarray(0.0), zero, zero, jnp.asarray(0.0))
_, traces, _ = gossip.dadao(
    problem,
    adj,
    start.x,
    jax.random.key(2),
    mu=config.mu,
    smoothness=config.smoothness,
    horizon=100.0,
    events=2000,
    metrics=lambda s: {"invariant": gossip.invariant(s, c)},
    init=start,
)
drift = np.abs(np.asarray(traces["invariant"]) - np.asarray(gossip.invariant(start, c))).max()
print(f"ring: largest drift of alpha~ sum z + alpha sum z~ over 2000 events: {drift:.1e}")

horizon, runs = 10.0, 400
config = gossip.DadaoConfig(graph="ring", n_nodes=N, dim=D, events=500)
simulate = jax.jit(
    jax.vmap(lambda params, key: gossip.dadao_simulate(params, key, config=config), (None, 0))
)
for scale in (1.0, 3.0):
    out = simulate(
        {"horizon": horizon, "comm_scale": scale}, jax.random.split(jax.random.key(4), runs)
    )
    theory = gossip.dadao_theory({"horizon": horizon, "comm_scale": scale}, config=config)
    for name in ("grad_rate", "comm_rate"):
        counts = np.asarray(out[name]) * horizon
        rate, se = counts.mean() / horizon, counts.std(ddof=1) / np.sqrt(runs) / horizon
        print(
            f"ring, comm_scale {scale:g}: {name} {rate:.2f} +- {se:.2f} (expected "
            f"{float(theory[name]):.2f}), variance / mean of the counts "
            f"{counts.var(ddof=1) / counts.mean():.2f}"
        )

problem = gossip.random_quadratic(jax.random.key(2), 10, 2, mu=1.0, smoothness=2.0)
p, mu, _ = gossip.SrrwConfig(graph="lollipop", target="degree").walk()
opt = optax.sgd(lambda k: 1.0 / (k + 10.0))
token = jax.jit(
    jax.vmap(
        lambda key: (
            gossip.token_sgd(problem, p, mu, opt, jnp.zeros(2), key, alpha=2.0, steps=20000).params
        )
    )
)
final = np.asarray(token(jax.random.split(jax.random.key(4), 16)))
dist = np.linalg.norm(final - np.asarray(problem.optimum), axis=1)
a, c = (np.asarray(problem.data[k]) for k in ("a", "c"))
weights = np.asarray(mu)[:, None] * a
biased = (weights * c).sum(0) / weights.sum(0)  # argmin of sum_i mu_i f_i
print(
    f"lollipop, degree target: reweighted token SGD ends {dist.mean():.4f} from x* on average "
    f"(16 walks); the optimum of sum_i mu_i f_i is "
    f"{np.linalg.norm(biased - np.asarray(problem.optimum)):.3f} away"
)
