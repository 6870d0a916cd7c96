"""Draw the topologies the gossip experiments use, with their spectral gaps and chi values.

    python -m experiments.draw_graphs docs/img/gossip_graphs.png

Nodes on a circle (the lollipop's path on a line), edges as straight segments; each title
gives the spectral gap 1 - rho of the Metropolis-Hastings W and sqrt(chi_1 chi_2) (DADAO).
"""

from __future__ import annotations

import sys

import numpy as np
from matplotlib.figure import Figure

from theorytk import gossip

GRAPHS = (("ring", 16), ("torus", 16), ("exponential", 16), ("complete", 16), ("star", 16))


def positions(n: int) -> np.ndarray:
    angle = 2 * np.pi * np.arange(n) / n
    return np.stack([np.cos(angle), np.sin(angle)], axis=1)


def lollipop_positions(clique: int, path: int) -> np.ndarray:
    head = positions(clique) * 0.6 - np.array([0.6, 0.0])
    head = np.roll(head, -1 - clique // 2, axis=0)
    tail = np.stack([np.linspace(0.2, 1.4, path), np.zeros(path)], axis=1)
    return np.concatenate([head, tail])


def draw(ax, adjacency: np.ndarray, xy: np.ndarray, title: str) -> None:
    rows, cols = np.nonzero(np.triu(adjacency, 1))
    for i, j in zip(rows, cols, strict=True):
        ax.plot(xy[[i, j], 0], xy[[i, j], 1], color="0.55", lw=0.8, zorder=1)
    ax.scatter(xy[:, 0], xy[:, 1], s=28, color="C0", zorder=2)
    ax.set_title(title, fontsize=9)
    ax.set_aspect("equal")
    ax.axis("off")


def main(path: str) -> None:
    fig = Figure(figsize=(15, 3.4), layout="constrained")
    axes = fig.subplots(1, len(GRAPHS) + 1)
    for ax, (name, n) in zip(axes, GRAPHS, strict=False):
        adj = gossip.named_graph(name, n)
        gap = gossip.spectral_gap(gossip.metropolis_hastings(adj))
        rates = gossip.graph_rates(adj)
        chi = np.sqrt(rates.chi_1 * rates.chi_2)
        draw(ax, adj, positions(n), f"{name}, n = {n}\ngap {gap:.3f}, sqrt(chi1 chi2) {chi:.1f}")
    lolli = gossip.lollipop(5, 5)
    lam = np.sort(
        gossip.chain_spectrum(gossip.metropolis_hastings_chain(lolli), np.full(10, 0.1))[0]
    )
    draw(
        axes[-1],
        lolli,
        lollipop_positions(5, 5),
        f"lollipop K5 + 5-path (SRRW)\nlambda_2 = {lam[-2]:.3f}",
    )
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "gossip_graphs.png")
