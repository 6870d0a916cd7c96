"""`figure_problems` finds each kind of problem it names, and nothing in a clean figure."""

from __future__ import annotations

import numpy as np
import pytest
from figure_checks import figure_problems
from matplotlib.figure import Figure


def clean() -> tuple[Figure, object]:
    fig = Figure(figsize=(5, 3.5))
    ax = fig.add_subplot()
    x = np.linspace(1, 10, 20)
    ax.plot(x, 1 / x, label="theory")
    ax.plot(x, 1 / x + 0.01, "o", label="simulation")
    ax.set(xlabel="training set size n", ylabel="test error")
    ax.set_title("a clean figure")
    return fig, ax


def test_clean_figure_has_no_problems():
    fig, ax = clean()
    mesh = ax.inset_axes([0.5, 0.5, 0.3, 0.3]).pcolormesh(np.ones((2, 2)))
    fig.colorbar(mesh, ax=ax, label="relative deviation")
    ax.legend()
    fig.tight_layout()
    assert figure_problems(fig) == []


def test_a_proxy_entry_matching_a_drawn_line_is_fine():
    fig, ax = clean()
    ax.axhline(0.5, ls="--", color="k")
    ax.plot([], [], "k--", label="limit")
    ax.legend()
    fig.tight_layout()
    assert figure_problems(fig) == []


def test_error_bars_and_bars_count_as_drawn():
    fig, ax = clean()
    ax.errorbar([2, 4], [0.5, 0.3], yerr=[0.1, 0.1], fmt="s", label="with error bars")
    ax.bar([6, 8], [0.2, 0.4], label="bars")
    ax.legend()
    fig.tight_layout()
    assert figure_problems(fig) == []


def test_legend_entry_without_any_drawn_line_is_found():
    fig, ax = clean()
    ax.plot([], [], "r-.", label="theory line never drawn")
    ax.legend()
    fig.tight_layout()
    assert figure_problems(fig) == [
        "legend entry 'theory line never drawn' stands for nothing drawn in its axes"
    ]


def test_legend_entry_with_invisible_symbol_is_found():
    fig, ax = clean()
    ax.plot([1, 2], [0.5, 0.6], linestyle="none", label="no symbol")
    ax.legend()
    fig.tight_layout()
    assert figure_problems(fig) == ["legend entry 'no symbol' has no visible symbol"]


def test_legend_entry_whose_data_lie_outside_the_view_is_found():
    fig, ax = clean()
    ax.plot([100, 200], [5, 6], label="off the axes")
    ax.set(xlim=(1, 10), ylim=(0, 1.2))
    ax.legend()
    fig.tight_layout()
    assert figure_problems(fig) == [
        "legend entry 'off the axes' stands for nothing drawn in its axes"
    ]


def test_text_outside_the_canvas_is_found():
    fig, _ = clean()
    fig.tight_layout()
    fig.text(0.97, 0.5, "a long note that runs off the right edge")
    assert figure_problems(fig) == [
        "text 'a long note that runs off the right edge' lies (partly) outside the canvas"
    ]


def test_cut_title_is_found():
    fig, ax = clean()
    ax.set_title("a very long title " * 6)
    problems = figure_problems(fig)
    assert any("outside the canvas" in p and "a very long title" in p for p in problems)


def test_overlapping_titles_are_found():
    fig = Figure(figsize=(5, 3.5))
    ax = fig.add_subplot()
    ax.set_title("axes title")
    fig.subplots_adjust(top=0.85)
    fig.suptitle("figure title", y=0.87, va="center")
    assert figure_problems(fig) == ["titles 'axes title' and 'figure title' overlap"]


@pytest.mark.parametrize("label", ["alpha_T", "test_mse", "$dw_perp$", "lr", "B", "lam"])
def test_bare_variable_names_on_axes_and_colourbars_are_found(label):
    fig, ax = clean()
    ax.set_xlabel(label)
    mesh = ax.inset_axes([0.5, 0.5, 0.3, 0.3]).pcolormesh(np.ones((2, 2)))
    fig.colorbar(mesh, ax=ax, label=label)
    fig.tight_layout()
    assert figure_problems(fig) == [
        f"x label {label!r} is a bare variable name",
        f"y label {label!r} is a bare variable name",
    ]


@pytest.mark.parametrize(
    "label", ["alpha T", "width", "test error [MSE]", "$\\alpha T$", "batch size B", "depth"]
)
def test_words_and_symbols_are_not_bare_names(label):
    fig, ax = clean()
    ax.set_xlabel(label)
    fig.tight_layout()
    assert figure_problems(fig) == []
