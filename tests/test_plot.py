"""Tests of theorytk.plot: headless rendering, axis/edge helpers, failure hatching, errors.

Datasets are built by hand following the sweep-result conventions (one dim per grid axis, one
variable per metric, int8 ``status`` with 0 = ok).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import xarray as xr
from matplotlib.collections import PolyCollection, QuadMesh
from matplotlib.colors import LogNorm
from matplotlib.contour import ContourSet
from matplotlib.figure import Figure

from theorytk import plot

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

N = np.array([10, 20, 40, 80, 160])  # geometric
D = np.array([1.0, 2.0, 3.0, 4.0])  # arithmetic
SEEDS = np.arange(3)


def _sweep(status_cells=(), *, seeds: bool = False, extra: bool = False) -> xr.Dataset:
    """A sweep-like Dataset over (n, d[, ridge][, seed]) with given failed (n_idx, d_idx) cells."""
    rng = np.random.default_rng(0)
    dims = ["n", "d"]
    coords: dict[str, np.ndarray] = {"n": N, "d": D}
    shape = [N.size, D.size]
    if extra:
        dims.append("ridge")
        coords["ridge"] = np.array([0.01, 1.0])
        shape.append(2)
    if seeds:
        dims.append("seed")
        coords["seed"] = SEEDS
        shape.append(SEEDS.size)
    base = (N[:, None] / 10.0) * D[None, :]
    base = base.reshape(base.shape + (1,) * (len(shape) - 2))
    err = base * (1.0 + 0.1 * rng.random(shape))
    status = np.zeros(shape, np.int8)
    for cell in status_cells:
        status[cell] = 2
    err = np.where(status != 0, np.nan, err)
    ds = xr.Dataset(
        {
            "test_error": (dims, err, {"long_name": "test error", "units": "MSE"}),
            "status": (dims, status),
        },
        coords=coords,
    )
    ds["n"].attrs.update(long_name="samples", units="count")
    return ds


def _assert_png(path) -> None:
    assert path.exists()
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > 5_000  # a rendered plot, not an empty canvas


def _mesh(ax) -> QuadMesh:
    meshes = [c for c in ax.collections if isinstance(c, QuadMesh)]
    assert len(meshes) == 1
    return meshes[0]


def _hatched(ax, hatch: str) -> list[PolyCollection]:
    return [c for c in ax.collections if isinstance(c, PolyCollection) and c.get_hatch() == hatch]


# ------------------------------------------------------------------------------ helpers


def test_is_geometric_accepts_log_grids_and_rejects_linear_ones():
    assert plot.is_geometric([1e-3, 1e-2, 1e-1, 1.0])
    assert plot.is_geometric(N)
    assert plot.is_geometric([1000, 100, 10])  # descending
    # rounded integer logspace: ratios only roughly constant
    assert plot.is_geometric(np.unique(np.round(np.logspace(0, 2, 10))))
    assert not plot.is_geometric(D)
    assert not plot.is_geometric([0.0, 1.0, 2.0])  # non-positive
    assert not plot.is_geometric([-1.0, -10.0, -100.0])
    assert not plot.is_geometric([1.0, 3.0, 2.0])  # not monotone
    assert not plot.is_geometric([5.0])
    assert plot.is_geometric([1.0, 100.0])  # two values a decade or more apart
    assert not plot.is_geometric([1.0, 2.0])


def test_cell_edges_are_geometric_midpoints_on_log_axes():
    edges = plot.cell_edges([1.0, 10.0, 100.0], log=True)
    np.testing.assert_allclose(edges, 10.0 ** np.array([-0.5, 0.5, 1.5, 2.5]), rtol=1e-12)
    # auto-detection picks the same edges for a geometric grid
    np.testing.assert_allclose(plot.cell_edges([1, 10, 100]), edges, rtol=1e-12)


def test_cell_edges_are_arithmetic_midpoints_on_linear_axes():
    np.testing.assert_allclose(plot.cell_edges([0.0, 1.0, 3.0]), [-0.5, 0.5, 2.0, 4.0])
    np.testing.assert_allclose(plot.cell_edges([2.0]), [1.5, 2.5])
    with pytest.raises(ValueError, match="positive"):
        plot.cell_edges([0.0, 1.0], log=True)


# ------------------------------------------------------------------------------ phase_diagram


def test_phase_diagram_saves_a_png_creating_parent_directories(tmp_path):
    path = tmp_path / "a" / "b" / "pd.png"
    fig = plot.phase_diagram(_sweep([(1, 1)]), "test_error", x="n", y="d", path=path)
    assert isinstance(fig, Figure)
    _assert_png(path)


def test_phase_diagram_uses_log_axis_for_geometric_and_linear_for_arithmetic_coordinate():
    fig = plot.phase_diagram(_sweep(), "test_error", x="n", y="d")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert ax.get_yscale() == "linear"
    fig = plot.phase_diagram(_sweep(), "test_error", x="d", y="n")
    assert (fig.axes[0].get_xscale(), fig.axes[0].get_yscale()) == ("linear", "log")


def test_phase_diagram_mesh_edges_are_cell_edges_of_the_coordinates():
    fig = plot.phase_diagram(_sweep(), "test_error", x="n", y="d")
    ax = fig.axes[0]
    coords = _mesh(ax).get_coordinates()  # (ny + 1, nx + 1, 2)
    np.testing.assert_allclose(coords[0, :, 0], plot.cell_edges(N, log=True))
    np.testing.assert_allclose(coords[:, 0, 1], plot.cell_edges(D, log=False))
    np.testing.assert_allclose(ax.get_xlim(), plot.cell_edges(N)[[0, -1]])


def test_failed_cells_are_hatched_and_not_coloured():
    failed = [(1, 2), (3, 0)]
    fig = plot.phase_diagram(_sweep(failed), "test_error", x="n", y="d")
    ax = fig.axes[0]
    layers = _hatched(ax, "///")
    assert len(layers) == 1
    assert len(layers[0].get_paths()) == len(failed)
    arr = _mesh(ax).get_array()  # (ny, nx) = (d, n)
    expected = np.zeros((D.size, N.size), bool)
    for i, j in failed:
        expected[j, i] = True
    np.testing.assert_array_equal(np.ma.getmaskarray(arr), expected)
    assert np.all(np.isfinite(arr.compressed()))
    _, labels = ax.get_legend_handles_labels()
    assert any(lab.startswith("failed: diverged ×2") for lab in labels)
    assert fig.legends  # the legend is drawn


def test_no_hatching_when_every_cell_is_ok():
    fig = plot.phase_diagram(_sweep(), "test_error", x="n", y="d")
    ax = fig.axes[0]
    assert not any(isinstance(c, PolyCollection) and c.get_hatch() for c in ax.collections)
    assert not np.ma.getmaskarray(_mesh(ax).get_array()).any()


def test_nonfinite_values_without_status_are_masked_and_hatched_separately():
    da = _sweep()["test_error"].copy()
    da[0, 0] = np.nan
    fig = plot.phase_diagram(da, x="n", y="d")
    ax = fig.axes[0]
    assert _hatched(ax, "///") == []
    assert len(_hatched(ax, "xxx")) == 1
    assert np.ma.getmaskarray(_mesh(ax).get_array())[0, 0]


def test_log_color_uses_lognorm_and_colorbar_has_name_and_units():
    fig = plot.phase_diagram(_sweep(), "test_error", x="n", y="d", log_color=True)
    ax, cax = fig.axes
    assert isinstance(_mesh(ax).norm, LogNorm)
    assert cax.get_ylabel() == "test error [MSE]"
    assert ax.get_xlabel() == "samples [count]"
    assert ax.get_ylabel() == "d"
    assert ax.get_title() == "test error"


def test_extra_dims_must_be_selected_and_the_error_names_them():
    ds = _sweep(seeds=True, extra=True)
    with pytest.raises(ValueError, match=r"ridge \(size 2\), seed \(size 3\).*'mean'"):
        plot.phase_diagram(ds, "test_error", x="n", y="d")
    fig = plot.phase_diagram(ds, "test_error", x="n", y="d", ridge=1.0, isel={"seed": 2})
    arr = _mesh(fig.axes[0]).get_array()
    np.testing.assert_allclose(arr, ds["test_error"].sel(ridge=1.0).isel(seed=2).values.T)
    assert fig.axes[0].get_title() == "test error (seed=2, ridge=1)"


def test_mean_reduction_averages_ok_seeds_and_hatches_cells_with_a_failed_seed():
    ds = _sweep([(0, 0, 1), (2, 3, 0), (2, 3, 1), (2, 3, 2)], seeds=True)
    fig = plot.phase_diagram(ds, "test_error", x="n", y="d", seed="mean")
    arr = _mesh(fig.axes[0]).get_array()
    ok = ds["test_error"].where(ds["status"] == 0)
    expected = ok.mean("seed").values.T
    mask = np.ma.getmaskarray(arr)
    # status after reduction is the max over seeds (as in seed_mean): both cells are failed
    assert mask[0, 0] and mask[3, 2] and mask.sum() == 2
    np.testing.assert_allclose(arr.compressed(), expected[~mask], rtol=1e-12)


def test_phase_diagram_draws_contours_and_lines(tmp_path):
    ds = _sweep()
    theory = ds["test_error"].rename("theory_error")
    lines = [(N, N / 40.0, "n = 40 d"), (N, np.full(N.size, 2.5), "flat", {"c": "k", "ls": ":"})]
    fig = plot.phase_diagram(
        ds,
        "test_error",
        x="n",
        y="d",
        contour=theory,
        levels=[2.0, 8.0],
        lines=lines,
        path=tmp_path / "c.png",
    )
    ax = fig.axes[0]
    contours = [c for c in ax.collections if isinstance(c, ContourSet)]
    assert len(contours) == 1
    np.testing.assert_allclose(contours[0].levels, [2.0, 8.0])
    labels = [ln.get_label() for ln in ax.get_lines()]
    assert "n = 40 d" in labels and "theory_error level sets" in labels
    # the caller's matplotlib aliases (c, ls) override the defaults
    flat = [ln for ln in ax.get_lines() if ln.get_label() == "flat"][0]
    assert flat.get_color() == "k" and flat.get_linestyle() == ":"
    np.testing.assert_allclose(ax.get_xlim(), plot.cell_edges(N)[[0, -1]])  # lines don't widen
    _assert_png(tmp_path / "c.png")


def test_phase_diagram_into_given_axes_returns_that_figure():
    fig = Figure()
    ax1, ax2 = fig.subplots(1, 2)
    out = plot.phase_diagram(_sweep([(0, 0)]), "test_error", x="n", y="d", ax=ax2)
    assert out is fig
    assert len([c for c in ax2.collections if isinstance(c, QuadMesh)]) == 1
    assert ax2.get_legend() is not None and not fig.legends


def test_categorical_coordinate_is_drawn_with_tick_labels():
    ds = _sweep().assign_coords(d=["a", "b", "c", "e"])
    fig = plot.phase_diagram(ds, "test_error", x="n", y="d")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "c", "e"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"var": "train_loss", "x": "n", "y": "d"}, r"unknown variable 'train_loss'.*test_error"),
        ({"var": "test_error", "x": "width", "y": "d"}, r"unknown dimension 'width'.*\['n', 'd'"),
        ({"var": "test_error", "x": "n", "y": "n"}, "must differ"),
        ({"var": "test_error", "x": "n", "y": "d", "lr": 0.1}, "unknown dimension 'lr'"),
        ({"var": "test_error", "x": "n", "y": "d", "n": 10}, "plotted dimension"),
        ({"var": "test_error", "x": "n", "y": "d", "seed": 7}, r"seed=7 is not a coordinate"),
        ({"var": "test_error", "x": "n", "y": "d", "isel": {"seed": 9}}, "integer index"),
        ({"var": "test_error", "x": "n", "y": "d", "seed": 0, "xscale": "lin"}, "scale"),
        ({"var": "test_error", "x": "n", "y": "d", "seed": 0, "lines": [(1,)]}, "lines"),
    ],
)
def test_phase_diagram_errors_name_what_exists(kwargs, match):
    ds = _sweep(seeds=True)
    var = kwargs.pop("var")
    with pytest.raises(ValueError, match=match):
        plot.phase_diagram(ds, var, **kwargs)


def test_phase_diagram_rejects_log_colour_with_only_nonpositive_range():
    ds = _sweep()
    with pytest.raises(ValueError, match="vmin > 0"):
        plot.phase_diagram(ds, "test_error", x="n", y="d", log_color=True, vmin=-1.0)


# ------------------------------------------------------------------------------ side by side


def test_compare_shares_the_colour_scale_and_draws_relative_difference(tmp_path):
    sim = _sweep([(1, 1, 0), (1, 1, 1), (1, 1, 2)], seeds=True)
    theory = _sweep()[["test_error"]] * 1.0  # no status, no seed
    theory["test_error"] = theory["test_error"] * 1.5
    path = tmp_path / "cmp.png"
    fig = plot.compare(theory, sim, "test_error", x="n", y="d", seed="mean", path=path)
    _assert_png(path)
    t_ax, s_ax, d_ax = fig.axes[:3]
    t_mesh, s_mesh, d_mesh = _mesh(t_ax), _mesh(s_ax), _mesh(d_ax)
    assert (t_mesh.norm.vmin, t_mesh.norm.vmax) == (s_mesh.norm.vmin, s_mesh.norm.vmax)
    values = np.concatenate([t_mesh.get_array().compressed(), s_mesh.get_array().compressed()])
    assert t_mesh.norm.vmin == values.min() and t_mesh.norm.vmax == values.max()
    s_mean = sim["test_error"].where(sim["status"] == 0).mean("seed").values.T
    rel = (s_mean - theory["test_error"].values.T) / np.abs(theory["test_error"].values.T)
    diff = d_mesh.get_array()
    assert np.ma.getmaskarray(diff)[1, 1]
    np.testing.assert_allclose(diff.compressed(), rel[~np.ma.getmaskarray(diff)], rtol=1e-12)
    assert d_mesh.norm.vmin == -d_mesh.norm.vmax  # symmetric diverging scale
    assert len(_hatched(s_ax, "///")) == 1 and len(_hatched(d_ax, "///")) == 1
    assert _hatched(t_ax, "///") == []


def test_compare_interpolates_a_finer_theory_grid_in_log_space():
    sim = _sweep()
    n_fine = np.geomspace(10, 160, 17)
    theory = xr.Dataset(
        {"test_error": (("n", "d"), (n_fine[:, None] / 10.0) * D[None, :])},
        coords={"n": n_fine, "d": D},
    )
    fig = plot.compare(theory, sim, "test_error", x="n", y="d", diff="absolute")
    d = _mesh(fig.axes[2]).get_array()
    expected = sim["test_error"].values.T - (N[None, :] / 10.0) * D[:, None]
    np.testing.assert_allclose(d, expected, rtol=1e-9, atol=1e-9)
    # every panel shows the same extent although the theory grid is finer
    limits = {ax.get_xlim() for ax in fig.axes[:3]}
    assert len(limits) == 1
    np.testing.assert_allclose(limits.pop(), plot.cell_edges(N)[[0, -1]], rtol=1e-12)


def test_compare_hatches_cells_where_the_theory_grid_does_not_reach():
    sim = _sweep()
    theory = sim[["test_error"]].isel(n=slice(0, 3))  # no theory for the two largest n
    fig = plot.compare(theory, sim, "test_error", x="n", y="d")
    d_ax = fig.axes[2]
    assert len(_hatched(d_ax, "xxx")[0].get_paths()) == 2 * D.size
    assert np.ma.getmaskarray(_mesh(d_ax).get_array())[:, 3:].all()


def test_phase_diagrams_from_a_dict_titles_each_panel(tmp_path):
    ds = _sweep(extra=True)
    fig = plot.phase_diagrams(
        {"small": ds.sel(ridge=0.01), "large": ds.sel(ridge=1.0)},
        "test_error",
        x="n",
        y="d",
        path=tmp_path / "many.png",
    )
    _assert_png(tmp_path / "many.png")
    assert [ax.get_title() for ax in fig.axes[:2]] == ["small", "large"]
    assert len(fig.axes) == 3  # two panels and one shared colourbar
    with pytest.raises(ValueError, match="unknown dimension 'lr'"):
        plot.phase_diagrams([ds, ds], "test_error", x="n", y="d", ridge=1.0, lr=1)


def test_compare_draws_contours_on_data_panels_and_lines_on_every_panel():
    sim = _sweep([(1, 1)])
    theory = sim[["test_error"]] * 1.2
    lines = [(N, N / 40.0, "n = 40 d")]
    fig = plot.compare(theory, sim, "test_error", x="n", y="d", contour="test_error", lines=lines)
    t_ax, s_ax, d_ax = fig.axes[:3]
    for ax in (t_ax, s_ax):
        assert len([c for c in ax.collections if isinstance(c, ContourSet)]) == 1
        assert _mesh(ax).get_cmap().name == "viridis"
    # the difference panel: no contours, its own diverging colormap, the same reference lines
    assert not [c for c in d_ax.collections if isinstance(c, ContourSet)]
    assert _mesh(d_ax).get_cmap().name == "RdBu_r"
    for ax in (t_ax, s_ax, d_ax):
        assert "n = 40 d" in [ln.get_label() for ln in ax.get_lines()]


def test_phase_diagrams_without_shared_norm_colour_each_panel_over_its_own_range():
    ds = _sweep(extra=True)
    fig = plot.phase_diagrams(
        [ds.sel(ridge=0.01), 3.0 * ds.sel(ridge=1.0)], "test_error", x="n", y="d", share_norm=False
    )
    assert len(fig.axes) == 4  # two panels, one colourbar each
    for ax in fig.axes[:2]:
        mesh = _mesh(ax)
        values = mesh.get_array().compressed()
        assert (mesh.norm.vmin, mesh.norm.vmax) == (values.min(), values.max())
    assert _mesh(fig.axes[0]).norm.vmax < _mesh(fig.axes[1]).norm.vmax


# ------------------------------------------------------------------------------ overlay


def _curves(status_cells=()) -> tuple[xr.Dataset, xr.Dataset]:
    sim = _sweep(status_cells, seeds=True, extra=True).isel(d=0)
    n_fine = np.geomspace(10, 160, 30)
    theory = xr.Dataset(
        {"test_error": (("n", "ridge"), np.outer(n_fine / 10.0, [1.0, 1.1]))},
        coords={"n": n_fine, "ridge": [0.01, 1.0]},
    )
    return theory, sim


def test_overlay_draws_one_coloured_line_and_point_set_per_hue_value(tmp_path):
    theory, sim = _curves([(2, 0, 0, 0), (2, 0, 0, 1), (2, 0, 0, 2), (3, 0, 1, 0)])
    path = tmp_path / "ov.png"
    fig = plot.overlay(theory, sim, x="n", var="test_error", path=path)
    _assert_png(path)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    lines = [ln for ln in ax.get_lines() if ln.get_linestyle() == "-" and len(ln.get_xdata()) > 1]
    containers = ax.containers  # one ErrorbarContainer per hue value
    assert len(lines) == 2 and len(containers) == 2
    for line, cont in zip(lines, containers, strict=True):
        assert line.get_color() == cont.lines[0].get_color()
    # points: mean over ok seeds; the all-failed point is not drawn (NaN)
    ok = sim["test_error"].where(sim["status"] == 0)
    for k, r in enumerate([0.01, 1.0]):
        y = containers[k].lines[0].get_ydata()
        np.testing.assert_allclose(y, ok.sel(ridge=r).mean("seed").values, rtol=1e-12)
    assert np.isnan(containers[0].lines[0].get_ydata()[2])
    labels = ax.get_legend().get_texts()
    assert [t.get_text() for t in labels][:2] == ["ridge = 0.01", "ridge = 1"]


def test_overlay_error_bars_are_standard_errors_over_ok_seeds():
    theory, sim = _curves([(0, 0, 0, 0)])
    fig = plot.overlay(theory, sim, x="n", var="test_error", hue="ridge")
    bars = fig.axes[0].containers[0].lines[2][0].get_segments()
    ok = sim["test_error"].where(sim["status"] == 0).sel(ridge=0.01)
    sem = ok.std("seed", ddof=1) / np.sqrt((sim["status"].sel(ridge=0.01) == 0).sum("seed"))
    half = np.array([(s[1, 1] - s[0, 1]) / 2 for s in bars])
    np.testing.assert_allclose(half, sem.values, rtol=1e-10)


def test_overlay_accepts_seed_mean_style_dataset_and_linear_x():
    sim = xr.Dataset(
        {
            "err": ("p", [1.0, 2.0, 3.0]),
            "err_sem": ("p", [0.1, 0.2, 0.3]),
            "n_ok": ("p", [3, 0, 3]),
        },
        coords={"p": [1.0, 2.0, 3.0]},
    )
    theory = xr.Dataset({"err": ("p", np.linspace(1, 3, 9))}, coords={"p": np.linspace(1, 3, 9)})
    fig = plot.overlay(theory, sim, x="p", var="err")
    ax = fig.axes[0]
    assert ax.get_xscale() == "linear"
    y = ax.containers[0].lines[0].get_ydata()
    assert np.isnan(y[1]) and y[0] == 1.0 and y[2] == 3.0  # n_ok == 0 point dropped
    assert len(ax.containers[0].lines[2][0].get_segments()) == 3


def test_overlay_errors_on_ambiguous_or_unknown_dimensions():
    theory, sim = _curves()
    sim2 = _sweep(seeds=True, extra=True)
    with pytest.raises(ValueError, match=r"more than one dimension.*hue="):
        plot.overlay(None, sim2, x="n", var="test_error")
    with pytest.raises(ValueError, match="unknown dimension 'm'"):
        plot.overlay(theory, sim, x="m", var="test_error")
    with pytest.raises(ValueError, match="unknown variable 'loss'"):
        plot.overlay(theory, sim, x="n", var="loss")
    with pytest.raises(ValueError, match="unknown hue"):
        plot.overlay(theory, sim, x="n", var="test_error", hue="width")


# ------------------------------------------------------------------------------ scaling_plot


def test_scaling_plot_is_log_log_and_annotates_the_exponent(tmp_path):
    x = np.geomspace(10, 1e4, 10)
    fit = SimpleNamespace(a=2.0, b=0.5, c=0.1, stderr={"a": 0.1, "b": 0.02, "c": 0.01})
    y = fit.a * x**-fit.b + fit.c
    path = tmp_path / "scaling.png"
    fig = plot.scaling_plot(x, y, fit, xlabel="N", ylabel="loss", path=path)
    _assert_png(path)
    ax = fig.axes[0]
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    curve = next(ln for ln in ax.get_lines() if "fit" in ln.get_label())
    assert "b = 0.5 ± 0.02" in curve.get_label()
    np.testing.assert_allclose(
        curve.get_ydata(), fit.a * curve.get_xdata() ** -fit.b + fit.c, rtol=1e-12
    )


def test_scaling_plot_uses_a_callable_fit_and_rejects_non_power_laws():
    class Fit:
        a, b, c = 1.0, 1.0, 0.0

        def __call__(self, x):
            return 3.0 * np.asarray(x)

    x = np.array([1.0, 10.0, 100.0])
    fig = plot.scaling_plot(x, 3 * x, Fit())
    curve = next(ln for ln in fig.axes[0].get_lines() if "fit" in ln.get_label())
    np.testing.assert_allclose(curve.get_ydata(), 3.0 * curve.get_xdata())
    with pytest.raises(ValueError, match="attributes a, b, c"):
        plot.scaling_plot(x, x, SimpleNamespace(a=1.0))
    with pytest.raises(ValueError, match="finite positive"):
        plot.scaling_plot([-1.0, 0.0], [1.0, 2.0])


def test_scaling_plot_growing_form_draws_a_times_x_to_the_b_plus_c():
    x = np.geomspace(1.0, 100.0, 6)
    fit = SimpleNamespace(a=2.0, b=0.7, c=0.5, b_stderr=0.01)
    fig = plot.scaling_plot(x, fit.a * x**fit.b + fit.c, fit, form="a*x^b+c")
    curve = next(ln for ln in fig.axes[0].get_lines() if "fit" in ln.get_label())
    assert "b = 0.7 ± 0.01" in curve.get_label()
    np.testing.assert_allclose(
        curve.get_ydata(), fit.a * curve.get_xdata() ** fit.b + fit.c, rtol=1e-12
    )


def test_values_beyond_float32_are_hatched_instead_of_breaking_the_colour_scale(tmp_path):
    values = np.array([[1e308, -1e308], [1.0, 2.0]])
    ds = xr.Dataset({"y": (("a", "b"), values)}, coords={"a": [1.0, 2.0], "b": [0.1, 0.2]})
    for log_color in (False, True):
        fig = plot.phase_diagram(ds, "y", x="a", y="b", log_color=log_color, path=None)
        norm = fig.axes[0].collections[0].norm
        assert (norm.vmin, norm.vmax) == (1.0, 2.0)
        legends = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
        labels = fig.axes[0].get_legend_handles_labels()[1] + legends
        assert any("3.4e38" in text for text in labels), labels
        fig.savefig(tmp_path / f"overflow_{log_color}.png")


def test_a_single_value_axis_gets_one_tick_at_that_value():
    ds = xr.Dataset({"y": (("a", "b"), [[3.0, 4.0]])}, coords={"a": [0.25], "b": [0.1, 0.2]})
    fig = plot.phase_diagram(ds, "y", x="b", y="a", path=None)
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.get_yticks(), [0.25])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0.25"]


def _legend_texts(fig: Figure) -> list[str]:
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    return [t.get_text() for legend in legends for t in legend.get_texts()]


def test_a_contour_that_crosses_no_level_gets_no_legend_entry():
    values = np.arange(12.0).reshape(3, 4) / 12
    ds = xr.Dataset({"y": (("a", "b"), values)}, coords={"a": [1.0, 2.0, 3.0], "b": [1, 2, 3, 4.0]})
    crossing = plot.phase_diagram(
        ds, "y", x="a", y="b", contour="y", levels=[0.5], contour_label="theory line"
    )
    assert "theory line" in _legend_texts(crossing)
    missing = plot.phase_diagram(
        ds, "y", x="a", y="b", contour="y", levels=[5.0], contour_label="theory line"
    )
    assert "theory line" not in _legend_texts(missing)


def test_overlay_without_theory_has_no_theory_legend_entry():
    sim = xr.Dataset(
        {"acc": (("h", "x", "seed"), np.random.default_rng(0).random((2, 3, 4)))},
        coords={"h": [0.1, 10.0], "x": [1.0, 2.0, 4.0], "seed": np.arange(4)},
    ).assign(status=lambda d: xr.zeros_like(d["acc"], dtype=np.int8))
    fig = plot.overlay(None, sim, x="x", var="acc", hue="h")
    texts = _legend_texts(fig)
    assert "theory" not in texts and any("simulation" in t for t in texts), texts
