"""Run a named theory-vs-simulation experiment and draw its phase diagram.

    python -m experiments.phase_diagram                 # the default: ridge double descent
    python -m experiments.phase_diagram --list
    python -m experiments.phase_diagram ridge --quick --grid ridge=1e-4:10:16:log --seeds 4

Files go to --out (default `results/`): NAME.png, NAME.zarr and NAME.nc.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from experiments._experiment import Experiment, Options

EXPERIMENTS = {
    "ridge": "experiments.ridge",
    "krr_digits": "experiments.krr_digits",
    "ntk": "experiments.ntk",
    "ntk_depth": "experiments.ntk_depth",
    "perceptron": "experiments.perceptron",
    "rf": "experiments.rf",
    "sgd_noise": "experiments.sgd_noise",
}
DEFAULT = "ridge"


class UsageError(Exception):
    """A malformed command line: reported in one line, exit code 2."""


def parse_axis(spec: str) -> tuple[str, np.ndarray]:
    """Parse `NAME=START:STOP:NUM[:log|lin]` or `NAME=V1,V2,...` into an axis.

    >>> parse_axis("ridge=1e-4:10:3:log")[1]
    array([1.00000000e-04, 1.00000000e-01, 1.00000000e+02])
    """
    name, sep, values = spec.partition("=")
    if not sep or not name.isidentifier() or not values:
        raise UsageError(
            f"--grid {spec!r}: expected NAME=START:STOP:NUM[:log|lin] or NAME=V1,V2,..."
        )
    try:
        if ":" not in values:
            return name, np.array([float(v) for v in values.split(",")])
        parts = values.split(":")
        if len(parts) not in (3, 4) or (len(parts) == 4 and parts[3] not in ("log", "lin")):
            raise ValueError
        start, stop, num = float(parts[0]), float(parts[1]), int(parts[2])
    except ValueError:
        raise UsageError(
            f"--grid {spec!r}: expected NAME=START:STOP:NUM[:log|lin] or NAME=V1,V2,... "
            "with numbers, e.g. ridge=1e-4:10:32:log"
        ) from None
    if num < 1:
        raise UsageError(f"--grid {spec!r}: NUM must be >= 1, got {num}")
    if len(parts) == 4 and parts[3] == "log":
        if start <= 0 or stop <= 0:
            raise UsageError(f"--grid {spec!r}: a log axis needs START > 0 and STOP > 0")
        return name, np.geomspace(start, stop, num)
    return name, np.linspace(start, stop, num)


def load_experiment(name: str) -> Experiment:
    if name not in EXPERIMENTS:
        raise UsageError(f"unknown experiment {name!r}; choose one of: {', '.join(EXPERIMENTS)}")
    return importlib.import_module(EXPERIMENTS[name]).EXPERIMENT


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.phase_diagram",
        description="Sweep a model's theory and simulation over a grid and draw the phase diagram.",
    )
    parser.add_argument("name", nargs="?", default=DEFAULT, help=f"experiment (default {DEFAULT})")
    parser.add_argument("--list", action="store_true", help="list the experiments and exit")
    parser.add_argument("--out", type=Path, default=Path("results"), help="output folder")
    parser.add_argument("--seeds", type=int, help="simulation seeds per grid point")
    parser.add_argument("--chunk-size", type=int, default=256, help="points per vmapped call")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run")
    parser.add_argument("--quick", action="store_true", help="a small grid (seconds)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="NAME=START:STOP:NUM[:log|lin]",
        help="override one axis of the default grid (repeatable)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.list:
            for name in EXPERIMENTS:
                print(f"{name:12s} {load_experiment(name).summary}")
            return 0
        experiment = load_experiment(args.name)
        axes = experiment.axes(args.quick)
        for spec in args.grid:
            name, values = parse_axis(spec)
            if name not in axes:
                raise UsageError(
                    f"--grid {spec!r}: experiment {experiment.name!r} has no axis {name!r}; "
                    f"its axes are {', '.join(axes)}"
                )
            axes[name] = values
        seeds = experiment.default_seeds(args.quick) if args.seeds is None else args.seeds
        if seeds < 1 or args.chunk_size < 1:
            raise UsageError("--seeds and --chunk-size must be integers >= 1")
        options = Options(
            args.out, seeds, args.chunk_size, args.resume, args.quick, progress=not args.no_progress
        )
        print(experiment.run(axes, options))
        return 0
    except (UsageError, ValueError) as error:  # ValueError: theorytk rejected a grid value
        print(f"phase_diagram: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
