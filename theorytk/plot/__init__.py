"""Publication-quality figures for sweep results: phase diagrams, theory/simulation overlays and
power-law scaling plots.

One private module per figure kind: ``_phase`` (phase-diagram heatmaps, one or side by side),
``_heatmap`` and ``_layers`` (one heatmap panel and what is drawn on it: hatching of failed
cells, reference lines, contours), ``_compare`` (theory | simulation | difference panels),
``_curves`` (theory lines and simulation points with error bars), ``_scaling`` (power-law fits on
log-log axes); ``_axes``, ``_figure`` and ``_select`` hold what they share (log-or-linear axes and
cell edges, figure creation and saving, selecting the slice to draw).

Every function draws with matplotlib's object API only (``matplotlib.figure.Figure`` and
``Axes`` methods, never ``pyplot``), so it is safe in threads and on headless machines (Agg).
Every function returns the ``Figure`` it drew into; when ``path`` is given the figure is also
saved there (PNG at ``dpi=150`` unless the suffix names another format), creating parent
directories. Callers own the returned figure; nothing is shown and nothing is closed.

Inputs follow the sweep-result conventions of ``theorytk.sweep.run``: one dimension per grid axis
(coordinate = the axis values), one data variable per metric, an optional ``status`` variable
(0 ok, 1 nonfinite, 2 diverged, 3 budget), and for seed-averaged results ``v`` / ``v_sem`` /
``n_ok`` variables (``theorytk.sweep.seed_mean``).

Selecting the 2-D (or 1-D) slice to draw: dimensions that are not plotted must be removed with
keyword arguments, e.g. ``phase_diagram(ds, "test_error", x="n", y="d", ridge=0.1,
seed="mean")``. A keyword value is either a coordinate value (matched with a relative tolerance of
1e-6) or one of the reductions ``"mean"``, ``"median"``, ``"min"``, ``"max"``, which reduce over
the points whose ``status`` is 0 and whose value is finite (the reduced ``status`` is the maximum
over that dimension, as in ``seed_mean``). Positional selection is available through ``isel=``.
Dimensions of length 1 are squeezed automatically.
"""

from ._axes import cell_edges, is_geometric
from ._compare import compare
from ._curves import overlay
from ._phase import phase_diagram, phase_diagrams
from ._scaling import scaling_plot
from ._scaling_law import bootstrap_histograms, iso_loss_contours, loss_vs_compute

__all__ = [
    "bootstrap_histograms",
    "cell_edges",
    "compare",
    "is_geometric",
    "iso_loss_contours",
    "loss_vs_compute",
    "overlay",
    "phase_diagram",
    "phase_diagrams",
    "scaling_plot",
]
