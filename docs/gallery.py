"""Regenerate the docs' gallery images and example pages.

    python docs/gallery.py                    # both
    python docs/gallery.py --experiments      # docs/img/gallery/NAME.png from each --quick run
    python docs/gallery.py --examples         # docs/examples/NAME.md with each cell's output
    python docs/gallery.py --examples own_model rf_optimal_ridge   # some of them

Experiments: `python -m experiments.phase_diagram NAME --quick` into a temporary folder,
then NAME.png is copied to docs/img/gallery/. Examples: each script runs in its own process
at its small size (THEORYTK_EXAMPLES_SMALL=1), cell by cell, as a notebook would; every
markdown cell becomes text, every code cell a code block followed by what it printed and the
figures it saved (into docs/img/examples/).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
EXAMPLES = ROOT / "examples"
GALLERY_IMG = DOCS / "img" / "gallery"
EXAMPLE_IMG = DOCS / "img" / "examples"
EXAMPLE_PAGES = DOCS / "examples"


def cells(source: str) -> list[tuple[str, str]]:
    """The percent-format cells of a script: ("markdown" | "code", text), in order."""
    out: list[tuple[str, list[str]]] = [("code", [])]
    for line in source.splitlines():
        if line.startswith("# %%"):
            out.append(("markdown" if "[markdown]" in line else "code", []))
        else:
            out[-1][1].append(line)
    parsed = []
    for kind, lines in out:
        if kind == "markdown":
            lines = [line[2:] if line.startswith("# ") else line.lstrip("#") for line in lines]
        text = "\n".join(lines).strip("\n")
        if text.strip():
            parsed.append((kind, text))
    return parsed


def render_example(path: Path) -> str:
    """Run `path` cell by cell (in this process) and return its page as markdown."""
    EXAMPLE_IMG.mkdir(parents=True, exist_ok=True)
    out = Path(tempfile.mkdtemp())
    os.environ["THEORYTK_EXAMPLES_SMALL"] = "1"
    os.environ["THEORYTK_EXAMPLES_OUT"] = str(out)
    os.environ.setdefault("MPLBACKEND", "Agg")
    sys.argv = [str(path)]
    namespace = {"__name__": "__main__", "__file__": str(path)}
    page = []
    for kind, text in cells(path.read_text()):
        if kind == "markdown":
            page.append(text)
            continue
        page.append(f"```python\n{text}\n```")
        before = set(out.glob("*.png"))
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(text + "\n", str(path), "exec"), namespace)
        if printed.getvalue().strip():
            page.append(f"```text\n{printed.getvalue().rstrip()}\n```")
        for png in sorted(set(out.glob("*.png")) - before):
            shutil.copy(png, EXAMPLE_IMG / png.name)
            page.append(f"![{png.stem}](../img/examples/{png.name})")
    command = f"python examples/{path.name}"
    header = (
        f"*Source: `examples/{path.name}` (run it with `{command}`; it opens as a notebook "
        "with jupytext). Shown at its small size, `THEORYTK_EXAMPLES_SMALL=1`; regenerate "
        f"with `python docs/gallery.py --examples {path.stem}`.*"
    )
    title, rest = page[0].split("\n", 1) if "\n" in page[0] else (page[0], "")
    # two blank lines in a row (between functions in the code) are shown as one
    return "\n\n".join([title, header, rest.strip(), *page[1:]]).replace("\n\n\n", "\n\n") + "\n"


def examples(names: list[str]) -> None:
    EXAMPLE_PAGES.mkdir(parents=True, exist_ok=True)
    paths = [EXAMPLES / f"{n}.py" for n in names] if names else sorted(EXAMPLES.glob("[!_]*.py"))
    for path in paths:
        print(f"example {path.stem} ...", flush=True)
        subprocess.run(
            [sys.executable, __file__, "--render-one", str(path)],
            check=True,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
        )


def experiments(names: list[str]) -> None:
    sys.path.insert(0, str(ROOT))
    from experiments.phase_diagram import EXPERIMENTS

    GALLERY_IMG.mkdir(parents=True, exist_ok=True)
    for name in names or list(EXPERIMENTS):
        print(f"experiment {name} ...", flush=True)
        with tempfile.TemporaryDirectory() as out:
            command = [sys.executable, "-m", "experiments.phase_diagram", name, "--quick"]
            subprocess.run([*command, "--out", out, "--no-progress"], check=True, cwd=ROOT)
            shutil.copy(Path(out) / f"{name}.png", GALLERY_IMG / f"{name}.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--experiments", nargs="*", help="experiment names (default: all)")
    parser.add_argument("--examples", nargs="*", help="example names (default: all)")
    parser.add_argument("--render-one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.render_one:
        path = Path(args.render_one)
        (EXAMPLE_PAGES / f"{path.stem}.md").write_text(render_example(path))
        return
    everything = args.experiments is None and args.examples is None
    if everything or args.experiments is not None:
        experiments(args.experiments or [])
    if everything or args.examples is not None:
        examples(args.examples or [])


if __name__ == "__main__":
    main()
