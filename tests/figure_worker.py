"""Run an experiment's --quick run (or an example) and check every figure it saves.

python tests/figure_worker.py OUT_DIR REPORT.json --experiment NAME
python tests/figure_worker.py OUT_DIR REPORT.json --example examples/NAME.py

Each `Figure.savefig` call is checked by `figure_problems` first; REPORT.json maps each
saved file's name to its list of problems.
"""

from __future__ import annotations

import argparse
import json
import os
import runpy
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

os.environ.setdefault("MPLBACKEND", "Agg")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("report")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--experiment")
    group.add_argument("--example")
    args = parser.parse_args()

    from figure_checks import figure_problems
    from matplotlib.figure import Figure

    report: dict[str, list[str]] = {}
    savefig = Figure.savefig

    def checked_savefig(self, fname, *a, **k):
        report[Path(str(fname)).name] = figure_problems(self)
        return savefig(self, fname, *a, **k)

    Figure.savefig = checked_savefig
    try:
        if args.experiment:
            from experiments import phase_diagram

            argv = [args.experiment, "--quick", "--out", args.out, "--no-progress"]
            code = phase_diagram.main(argv)
            if code:
                raise SystemExit(code)
        else:
            os.environ["THEORYTK_EXAMPLES_SMALL"] = "1"
            os.environ["THEORYTK_EXAMPLES_OUT"] = args.out
            sys.argv = [args.example]
            runpy.run_path(args.example, run_name="__main__")
    finally:
        Path(args.report).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
