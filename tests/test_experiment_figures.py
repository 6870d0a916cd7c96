"""Every experiment's --quick figure passes `figure_problems`: legend entries drawn, no text
off the canvas, no overlapping titles, no bare variable names on axes or colourbars."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from experiments.phase_diagram import EXPERIMENTS

ROOT = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).with_name("figure_worker.py")


def checked_figures(tmp_path: Path, *source: str) -> dict[str, list[str]]:
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    report = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, str(WORKER), str(tmp_path / "out"), str(report), *source],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(report.read_text())


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_quick_figure_of_every_experiment_has_no_problems(name, tmp_path):
    figures = checked_figures(tmp_path, "--experiment", name)
    assert figures, f"{name} saved no figure"
    assert {f: p for f, p in figures.items() if p} == {}
