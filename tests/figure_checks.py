"""`figure_problems(fig)`: what a reader of a matplotlib figure would object to.

Checks, after drawing the figure once:

- every legend entry is drawn: its handle is visible (a line with a line style or a marker,
  a patch with a face, an edge or a hatch) and the axes hold a visible artist with finite data
  inside the view limits that it stands for: one with the same label, or, for a proxy entry
  (an empty artist made only for the legend), one with the same style;
- no text lies outside the canvas (titles, labels, tick labels, legends, annotations);
- no two titles overlap (axes titles and the figure's suptitle);
- no axis or colourbar label is a bare variable name (one token with an underscore, such as
  `alpha_T` or `test_mse`, or of at most three characters, such as `lr` or `B`: the name in
  the data, not words for the reader).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import Collection
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Text

# one identifier with an underscore (`alpha_T`), or an identifier of at most three characters
# (`lr`, `B`, `lam`): a name from the data, not words for the reader
BARE_NAME = re.compile(r"^\$?([A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)+|[A-Za-z][A-Za-z0-9]{0,2})\$?$")
TOLERANCE = 1.0  # pixels a text may poke past the canvas edge (antialiasing)


def figure_problems(fig: Figure) -> list[str]:
    """One line per problem found in `fig` (an empty list for a clean figure)."""
    if not hasattr(fig.canvas, "get_renderer"):  # a bare Figure(): draw it with Agg
        FigureCanvasAgg(fig)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    problems: list[str] = []
    for legend, axes in _legends(fig):
        problems += _legend_problems(legend, axes)
    problems += _texts_outside(fig, renderer)
    problems += _overlapping_titles(fig, renderer)
    problems += _bare_labels(fig)
    return problems


def _legends(fig: Figure) -> Iterator[tuple[Legend, list[Axes]]]:
    """Each legend with the axes whose artists it may describe."""
    for ax in fig.axes:
        if ax.get_legend() is not None:
            yield ax.get_legend(), [ax]
    for legend in fig.legends:
        yield legend, list(fig.axes)


def _legend_problems(legend: Legend, axes: list[Axes]) -> list[str]:
    problems = []
    for handle, text in zip(legend.legend_handles, legend.get_texts(), strict=False):
        label = text.get_text()
        if handle is None or not _handle_visible(handle):
            problems.append(f"legend entry {label!r} has no visible symbol")
            continue
        artists = [a for ax in axes for a in _data_artists(ax)]
        if any(a.get_label() == label and _shows_data(a) for a in artists):
            continue
        containers = [c for ax in axes for c in ax.containers if c.get_label() == label]
        if any(_shows_data(a) for c in containers for a in c.get_children()):
            continue  # error bars, bar charts: the label is on the container
        if not any(_shows_data(a) and _same_style(handle, a) for a in artists):
            problems.append(f"legend entry {label!r} stands for nothing drawn in its axes")
    return problems


def _handle_visible(handle: Artist) -> bool:
    if not handle.get_visible() or handle.get_alpha() == 0:
        return False
    if isinstance(handle, Line2D):
        line = (
            handle.get_linestyle() not in ("None", "none", "", " ") and handle.get_linewidth() > 0
        )
        marker = handle.get_marker() not in ("None", "none", "", " ", None)
        return line or marker
    if isinstance(handle, Patch):
        face = to_rgba(handle.get_facecolor())[3] > 0 and handle.get_fill()
        edge = to_rgba(handle.get_edgecolor())[3] > 0 and handle.get_linewidth() > 0
        return face or edge or bool(handle.get_hatch())
    return True


def _data_artists(ax: Axes) -> list[Artist]:
    return [*ax.lines, *ax.collections, *ax.patches, *ax.images]


def _shows_data(artist: Artist) -> bool:
    """Visible, and with at least one finite point inside the axes' view limits."""
    if not artist.get_visible() or artist.get_alpha() == 0:
        return False
    ax = artist.axes
    if isinstance(artist, Line2D):
        x, y = (np.asarray(v, float) for v in artist.get_data(orig=False))
        if artist.get_transform() != ax.transData:  # axhline, axvline: always in view
            return x.size > 0
        return bool(np.any(_inside(ax, x, y)))
    if isinstance(artist, Collection):
        paths = artist.get_paths()
        if not paths and len(artist.get_offsets()) == 0:
            return False
        if len(artist.get_offsets()) and artist.get_offset_transform() == ax.transData:
            xy = np.asarray(artist.get_offsets(), float)
            if not np.any(_inside(ax, xy[:, 0], xy[:, 1])):
                return False
        return True
    return True


def _inside(ax: Axes, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    (x0, x1), (y0, y1) = sorted(ax.get_xlim()), sorted(ax.get_ylim())
    with np.errstate(invalid="ignore"):
        return np.isfinite(x) & np.isfinite(y) & (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)


def _same_style(handle: Artist, artist: Artist) -> bool:
    """A proxy's style matches a drawn artist (line style and colour, or marker; patches)."""
    if isinstance(handle, Line2D) and isinstance(artist, Line2D):
        same_colour = np.allclose(to_rgba(handle.get_color()), to_rgba(artist.get_color()))
        lines = handle.get_linestyle() not in ("None", "none", "")
        if lines and handle.get_linestyle() == artist.get_linestyle():
            return same_colour
        marker = handle.get_marker() not in ("None", "none", "", None)
        return marker and handle.get_marker() == artist.get_marker() and same_colour
    if isinstance(handle, Line2D) and isinstance(artist, Collection):
        return True  # a contour set or error bars drawn as a collection
    if isinstance(handle, Patch) and isinstance(artist, (Patch, Collection)):
        return True
    return False


def _drawn_texts(fig: Figure) -> Iterator[Text]:
    """The texts drawn on the canvas: tick labels only of the ticks inside the view."""
    tick_labels, drawn = set(), []
    for ax in fig.axes:
        for axis in ax._axis_map.values():
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                tick_labels |= {id(tick.label1), id(tick.label2)}
            if axis.get_visible():
                drawn += [t for tick in axis._update_ticks() for t in (tick.label1, tick.label2)]
    for text in [*fig.findobj(Text), *drawn]:
        if id(text) in tick_labels and text not in drawn:
            continue
        if text.get_visible() and text.get_text().strip() and text.figure is not None:
            yield text


def _texts_outside(fig: Figure, renderer) -> list[str]:
    canvas = fig.bbox
    problems = []
    for text in dict.fromkeys(_drawn_texts(fig)):
        box = text.get_window_extent(renderer)
        if (
            box.x0 < canvas.x0 - TOLERANCE
            or box.y0 < canvas.y0 - TOLERANCE
            or box.x1 > canvas.x1 + TOLERANCE
            or box.y1 > canvas.y1 + TOLERANCE
        ):
            problems.append(f"text {text.get_text()!r} lies (partly) outside the canvas")
    return problems


def _titles(fig: Figure) -> list[Text]:
    titles = [t for ax in fig.axes for t in (ax.title, ax._left_title, ax._right_title)]
    if fig._suptitle is not None:
        titles.append(fig._suptitle)
    return [t for t in titles if t.get_visible() and t.get_text().strip()]


def _overlapping_titles(fig: Figure, renderer) -> list[str]:
    titles = _titles(fig)
    boxes = [t.get_window_extent(renderer) for t in titles]
    problems = []
    for i in range(len(titles)):
        for j in range(i + 1, len(titles)):
            if boxes[i].overlaps(boxes[j]):
                problems.append(
                    f"titles {titles[i].get_text()!r} and {titles[j].get_text()!r} overlap"
                )
    return problems


def _bare_labels(fig: Figure) -> list[str]:
    problems = []
    for ax in fig.axes:
        for which, label in (("x", ax.get_xlabel()), ("y", ax.get_ylabel())):
            if BARE_NAME.match(label.strip()):
                problems.append(f"{which} label {label!r} is a bare variable name")
    return problems
