"""The docs gallery has an entry and an image for every registered experiment, and every
example has its rendered page (with the current code) and figure."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from experiments.phase_diagram import EXPERIMENTS

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
sys.path.insert(0, str(DOCS))
from gallery import cells  # noqa: E402

GALLERY = (DOCS / "gallery.md").read_text()
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.py") if not p.name.startswith("_"))


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_every_experiment_has_a_gallery_entry_with_command_link_and_image(name):
    entry = re.search(rf"^## {name}\n(.*?)(?=^## |\Z)", GALLERY, re.S | re.M)
    assert entry, f"docs/gallery.md has no section '## {name}'"
    text = entry.group(1)
    assert f"python -m experiments.phase_diagram {name}" in text
    pages = re.findall(r"\]\(([a-z_]+\.md)\)", text)
    assert pages and all((DOCS / p).exists() for p in pages), pages
    images = re.findall(r"\]\((img/[\w/]+\.png)\)", text)
    assert images, f"the gallery entry of {name} shows no image"
    assert all((DOCS / image).stat().st_size > 10_000 for image in images)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_has_a_rendered_page_with_its_current_code(path):
    page = DOCS / "examples" / f"{path.stem}.md"
    assert page.exists(), f"run: python docs/gallery.py --examples {path.stem}"
    text = page.read_text()
    stale = f"{page.name} is stale: python docs/gallery.py --examples {path.stem}"
    # the page shows two blank lines in a row as one (as `render_example` writes it)
    code = [c.replace("\n\n\n", "\n\n") for kind, c in cells(path.read_text()) if kind == "code"]
    assert all(c in text for c in code), stale
    images = re.findall(r"\]\(\.\./img/examples/([\w.]+\.png)\)", text)
    assert images and all((DOCS / "img" / "examples" / i).exists() for i in images)
    assert f"examples/{path.stem}.md" in (ROOT / "mkdocs.yml").read_text()
