"""Every script in examples/ runs at its small size, passes its own comparison against
theory (its last line is `check passed: ...`) and writes its figure, which passes
`figure_problems` (run through tests/figure_worker.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).with_name("figure_worker.py")
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.py") if not p.name.startswith("_"))
# Examples whose small size takes about 20 s of CPU or more (measured on 2 cores): they run
# with `pytest -m slow`, so the default suite grows by about a minute, not four.
SLOW = {
    "krr_learning_curves",
    "multi_host_sweep",
    "ntk_width",
    "perceptron_noise",
    "rf_optimal_ridge",
    "scaling_law_csv",
}


def test_there_are_at_least_twelve_examples():
    assert len(EXAMPLES) >= 12, [p.name for p in EXAMPLES]


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(p, id=p.stem, marks=[pytest.mark.slow] if p.stem in SLOW else [])
        for p in EXAMPLES
    ],
)
def test_example_runs_and_its_check_holds(path: Path, tmp_path: Path):
    env = dict(os.environ)
    env["THEORYTK_EXAMPLES_SMALL"] = "1"
    env["THEORYTK_EXAMPLES_OUT"] = str(tmp_path)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env["MPLBACKEND"] = "Agg"
    report = tmp_path / "figures.json"
    proc = subprocess.run(
        [sys.executable, str(WORKER), str(tmp_path), str(report), "--example", str(path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("check passed: "), proc.stdout[-2000:]
    figures = list(tmp_path.glob("*.png"))
    assert figures, f"{path.name} wrote no PNG into THEORYTK_EXAMPLES_OUT"
    assert {f: p for f, p in json.loads(report.read_text()).items() if p} == {}


def test_examples_use_only_documented_public_names():
    """Every `theorytk.<module>.<name>` an example calls is public (in `__all__`, so the API
    reference renders it) and has a docstring."""
    import importlib
    import re

    modules = ("sweep", "plot", "fit", "regression", "kernels", "perceptron", "monotone", "gossip")
    used = {
        (module, name)
        for path in EXAMPLES
        for module, name in re.findall(rf"\b({'|'.join(modules)})\.(\w+)", path.read_text())
    }
    undocumented = []
    for module, name in sorted(used):
        package = importlib.import_module(f"theorytk.{module}")
        obj = getattr(package, name, None)
        if name not in package.__all__ or not (getattr(obj, "__doc__", None) or "").strip():
            undocumented.append(f"{module}.{name}")
    assert undocumented == []
