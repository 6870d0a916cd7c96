"""Run a named theory-vs-simulation experiment and draw its phase diagram.

    python -m experiments.phase_diagram                 # the default: ridge double descent
    python -m experiments.phase_diagram --list
    python -m experiments.phase_diagram ridge --quick --grid lam=1e-4:10:16:log --seeds 4

Files go to --out (default `results/`): NAME.png, NAME.zarr and NAME.nc, and the
resumable progress of the simulation sweeps in `checkpoints/` (what `--resume` continues).
"""

from __future__ import annotations

import argparse
import importlib
import os
import shlex
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jax
import numpy as np

from experiments._experiment import Experiment, Options, UsageError, provenance
from theorytk import sweep

EXPERIMENTS = {
    "ridge": "experiments.ridge",
    "krr_digits": "experiments.krr_digits",
    "lr_batch": "experiments.lr_batch",
    "gossip": "experiments.gossip",
    "halpern": "experiments.halpern",
    "halpern_authors": "experiments.halpern_authors",
    "halpern_scaling": "experiments.halpern_scaling",
    "ntk": "experiments.ntk",
    "ntk_depth": "experiments.ntk_depth",
    "perceptron": "experiments.perceptron",
    "rf": "experiments.rf",
    "scaling": "experiments.scaling",
    "sgd_noise": "experiments.sgd_noise",
}
DEFAULT = "ridge"


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


def parse_setting(spec: str, defaults: dict[str, Any], experiment: str) -> tuple[str, Any]:
    """Parse `--set NAME=VALUE` to the type of the experiment's default for NAME.

    Ints, floats and strings parse as such; a tuple default takes `V1,V2,...` (of the type
    of its first element).
    """
    name, sep, text = spec.partition("=")
    if not sep or not text:
        raise UsageError(f"--set {spec!r}: expected NAME=VALUE")
    if name not in defaults:
        known = ", ".join(defaults) or "none"
        raise UsageError(
            f"--set {spec!r}: experiment {experiment!r} has no setting {name!r}; "
            f"its settings are {known}"
        )
    default = defaults[name]
    try:
        if isinstance(default, tuple):
            kind = type(default[0]) if default else float
            return name, tuple(_parse_scalar(v, kind) for v in text.split(","))
        return name, _parse_scalar(text, type(default))
    except ValueError:
        raise UsageError(
            f"--set {spec!r}: {name} takes {_describe(default)}, e.g. {name}={_example(default)}"
        ) from None


def _parse_scalar(text: str, kind: type) -> Any:
    if kind is bool:
        if text.lower() not in ("true", "false"):
            raise ValueError(text)
        return text.lower() == "true"
    if kind is int:
        return int(text)
    if kind is float:
        value = float(text)
        if not np.isfinite(value):
            raise ValueError(text)
        return value
    return text


def _describe(default: Any) -> str:
    if isinstance(default, tuple):
        return f"a comma-separated list of {type(default[0]).__name__ if default else 'float'}"
    return f"a {type(default).__name__}"


def _example(default: Any) -> str:
    return ",".join(map(str, default)) if isinstance(default, tuple) else str(default)


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
    parser.add_argument(
        "--resume", action="store_true", help="continue an interrupted run from --out"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace results already in --out")
    parser.add_argument(
        "--quick", action="store_true", help="a small grid (10-80 s per experiment on 2 CPU cores)"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="NAME=START:STOP:NUM[:log|lin]",
        help="override one axis of the default grid (repeatable, once per axis)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override one static setting (width, depth, batch, ...; repeatable); --list "
        "shows each experiment's settings",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; exit 0 on success, 2 on a usage error, 130 when interrupted.

    A bug inside theorytk is not a usage error: it keeps its traceback (exit 1).
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    try:
        if args.list:
            for name in EXPERIMENTS:
                experiment = load_experiment(name)
                settings = experiment.settings(False)
                extra = f"  [--set {' '.join(f'{k}={_example(v)}' for k, v in settings.items())}]"
                print(f"{name:12s} {experiment.summary}{extra if settings else ''}")
            return 0
        experiment = load_experiment(args.name)
        axes = grid_axes(experiment, args)
        options = run_options(experiment, args)
        check_out(options.out, experiment.name, args)
    except (UsageError, sweep.GridError) as error:
        return usage_error(error)
    command = shlex.join(["python -m experiments.phase_diagram", *argv])
    try:
        with provenance(
            experiment=experiment.name,
            command=command,
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            n_devices=jax.device_count(),
            n_processes=jax.process_count(),
        ):
            print(experiment.run(axes, options))
        return 0
    except (UsageError, sweep.GridError) as error:
        return usage_error(error)
    except sweep.ResumeError as error:
        return usage_error(
            f"--resume: {error}".replace(
                "use resume=False to start over", "rerun with --overwrite to start over"
            )
        )
    except KeyboardInterrupt:
        resume = command if args.resume else f"{command} --resume"
        print(
            f"\ninterrupted: finished chunks are saved in {options.out / 'checkpoints'}; "
            f"continue with: {resume}",
            file=sys.stderr,
        )
        return 130


def usage_error(error: Exception | str) -> int:
    print(f"phase_diagram: error: {error}", file=sys.stderr)
    return 2


def grid_axes(experiment: Experiment, args: argparse.Namespace) -> dict[str, np.ndarray]:
    """The experiment's default axes with the command line's --grid overrides."""
    axes = experiment.axes(args.quick)
    seen: set[str] = set()
    for spec in args.grid:
        name, values = parse_axis(spec)
        if name not in axes:
            raise UsageError(
                f"--grid {spec!r}: experiment {experiment.name!r} has no axis {name!r}; "
                f"its axes are {', '.join(axes)}"
            )
        if name in seen:
            raise UsageError(f"--grid {spec!r}: axis {name!r} is given twice; give it once")
        seen.add(name)
        sweep.Grid(**{name: values})  # empty, non-finite or repeated values: a GridError now
        axes[name] = values
    return axes


def run_options(experiment: Experiment, args: argparse.Namespace) -> Options:
    seeds = experiment.default_seeds(args.quick) if args.seeds is None else args.seeds
    if seeds < 1 or args.chunk_size < 1:
        raise UsageError("--seeds and --chunk-size must be integers >= 1")
    if args.resume and args.overwrite:
        raise UsageError(
            "--resume continues the results in --out, --overwrite replaces them: give one of them"
        )
    settings = experiment.settings(args.quick)
    given: set[str] = set()
    for spec in args.set:
        name, value = parse_setting(spec, settings, experiment.name)
        if name in given:
            raise UsageError(f"--set {spec!r}: setting {name!r} is given twice; give it once")
        given.add(name)
        settings[name] = value
    return Options(
        args.out,
        seeds,
        args.chunk_size,
        args.resume,
        args.quick,
        progress=not args.no_progress,
        settings=settings,
    )


def check_out(out: Path, name: str, args: argparse.Namespace) -> None:
    """UsageError before any compute if --out is unusable or would lose earlier results."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {str(out)!r} is a file; give a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"--out {str(out)!r}: cannot create it ({error.strerror})") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise UsageError(f"--out {str(out)!r} is not writable")
    existing = [p.name for p in (out / f"{name}.zarr", out / f"{name}.nc") if p.exists()]
    if existing and not (args.resume or args.overwrite):
        raise UsageError(
            f"--out {str(out)!r} already holds {name} results ({', '.join(existing)}); "
            "pass --resume to continue them or --overwrite to replace them"
        )


if __name__ == "__main__":
    sys.exit(main())
