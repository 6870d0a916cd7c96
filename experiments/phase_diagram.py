"""Run a named theory-vs-simulation experiment and draw its phase diagram.

    python -m experiments.phase_diagram                 # the default: ridge double descent
    python -m experiments.phase_diagram --list
    python -m experiments.phase_diagram ridge --quick --grid lam=1e-4:10:16:log --seeds 4

Files go to --out (default `results/`): NAME.png, NAME.zarr and NAME.nc, and the
resumable progress of the simulation sweeps in `checkpoints/` (what `--resume` continues).
Compiled programs are kept in JAX's persistent compilation cache, in a folder of
`COMPILE_CACHE` ($XDG_CACHE_HOME/theorytk/jax, by default ~/.cache/theorytk/jax) named by
this machine's CPU, so a second run of an experiment skips compilation and a home folder
shared between machines never loads programs built for another CPU; `--no-compile-cache`
turns it off. jaxlib logs a spurious machine-feature mismatch (XLA's tuning flags such as
+prefer-no-gather) for every program it loads from the cache, so with the cache on and
TF_CPP_MIN_LOG_LEVEL unset, XLA's C++ log is limited to fatal messages.

The command line is parsed and checked against the experiment's spec (`experiments._specs`:
axes, settings, their domains, and an estimate of the run's memory and work) before JAX is
imported: a usage error is one line on stderr, exit code 2, within a second.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import os
import platform
import shlex
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from experiments._spec import (
    LARGE,
    Run,
    Spec,
    UsageError,
    check_cost,
    check_grid_values,
)
from experiments._specs import SPECS

EXPERIMENTS = {
    "ridge": "experiments.ridge",
    "krr_digits": "experiments.krr_digits",
    "lr_batch": "experiments.lr_batch",
    "gossip": "experiments.gossip",
    "dfedsam": "experiments.dfedsam",
    "vanishing_variance": "experiments.vanishing_variance",
    "dadao": "experiments.dadao",
    "srrw": "experiments.srrw",
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
COMPILE_CACHE = (
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "theorytk" / "jax"
)
MAX_NUM = 100_000  # values per --grid axis


def cpu_name() -> str:
    """A short name for this machine's CPU: its architecture and a digest of its features."""
    try:
        flags = next(
            line
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith(("flags", "Features"))
        )
    except (OSError, StopIteration):
        flags = platform.processor()
    return f"{platform.machine()}-{hashlib.sha256(flags.encode()).hexdigest()[:12]}"


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
    if not 1 <= num <= MAX_NUM:
        raise UsageError(f"--grid {spec!r}: NUM must be in [1, {MAX_NUM}], got {num}")
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


def find_spec(name: str) -> Spec:
    """The spec of experiment `name` (imports nothing heavy for the experiments of SPECS)."""
    if name not in EXPERIMENTS:
        raise UsageError(f"unknown experiment {name!r}; choose one of: {', '.join(EXPERIMENTS)}")
    return SPECS[name] if name in SPECS else load_experiment(name)


def load_experiment(name: str) -> Any:
    """The `Experiment` of `name` (imports its module, JAX and theorytk)."""
    if name not in EXPERIMENTS:
        raise UsageError(f"unknown experiment {name!r}; choose one of: {', '.join(EXPERIMENTS)}")
    return importlib.import_module(EXPERIMENTS[name]).EXPERIMENT


# Each experiment's --quick run on this machine (2 CPU cores) while other jobs kept the load
# average at 20-27: (wall seconds, CPU seconds = user + system), from
#   /usr/bin/time -f "%e %U+%S" python -m experiments.phase_diagram NAME --quick --out DIR
QUICK_SECONDS = {
    "ridge": (34, 8),
    "krr_digits": (185, 39),
    "lr_batch": (40, 10),
    "gossip": (74, 13),
    "dfedsam": (90, 21),
    "vanishing_variance": (157, 45),
    "dadao": (75, 28),
    "srrw": (61, 17),
    "halpern": (84, 16),
    "halpern_authors": (176, 79),
    "halpern_scaling": (324, 91),
    "ntk": (300, 62),
    "ntk_depth": (170, 20),
    "perceptron": (198, 37),
    "rf": (166, 38),
    "scaling": (256, 42),
    "sgd_noise": (328, 80),
}


def quick_times() -> str:
    """The measured --quick times, for --help."""
    parts = [f"{name} {wall} s ({cpu} s CPU)" for name, (wall, cpu) in QUICK_SECONDS.items()]
    return (
        "--quick wall times measured on 2 CPU cores under a load average of 20-27 from other "
        "jobs (an idle 2-core machine should need between half the CPU time and about the CPU "
        f"time): {', '.join(parts)}."
    )


class _Parser(argparse.ArgumentParser):
    """argparse with its errors (a bad option, a non-integer --seeds, ...) in one line."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"phase_diagram: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m experiments.phase_diagram",
        description="Sweep a model's theory and simulation over a grid and draw the phase diagram.",
        epilog=quick_times(),
    )
    parser.add_argument("name", nargs="?", default=DEFAULT, help=f"experiment (default {DEFAULT})")
    parser.add_argument(
        "--list", action="store_true", help="list the experiments, their axes and settings"
    )
    parser.add_argument("--out", type=Path, default=Path("results"), help="output folder")
    parser.add_argument("--seeds", type=int, help="simulation seeds per grid point")
    parser.add_argument(
        "--chunk-size",
        type=chunk_size,
        default=256,
        help="points per vmapped call, or auto: the largest chunk that fits in half the "
        "memory available (XLA's memory analysis of the compiled chunk)",
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue an interrupted run from --out"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace results already in --out")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a small grid (measured times below)",
    )
    parser.add_argument(
        "--allow-large",
        action="store_true",
        help=f"run a grid estimated at more than {LARGE:g} times the default run's work "
        "(a run that cannot fit in memory is refused regardless)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument(
        "--no-compile-cache",
        action="store_true",
        help=f"do not keep compiled programs in {COMPILE_CACHE} (JAX's persistent cache)",
    )
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


MAX_SEEDS = 1_000_000  # point keys fold the seed index into 32 bits; far beyond any sweep
MAX_CHUNK = 1 << 20


def chunk_size(text: str) -> int | str:
    """--chunk-size: an integer, or "auto"."""
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid value {text!r}: give an integer or auto"
        ) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; exit 0 on success, 2 on a usage error, 130 when interrupted.

    Arguments are checked before JAX is imported. A bug inside theorytk is not a usage
    error: it keeps its traceback (exit 1).
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    try:
        if args.list:
            print(listing())
            return 0
        spec = find_spec(args.name)
        run = checked_run(spec, args)
        check_out(args.out, spec.name, args)
    except UsageError as error:
        return usage_error(error)
    return compute(args, argv, run)


def compute(args: argparse.Namespace, argv: list[str], run: Run) -> int:
    """Import the experiment (JAX, theorytk), run it and print its summary."""
    use_cache = not (args.no_compile_cache or os.environ.get("JAX_COMPILATION_CACHE_DIR"))
    if use_cache:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # read when jaxlib loads
    import jax

    from experiments._experiment import Options, provenance
    from theorytk import sweep

    if use_cache and not jax.config.jax_compilation_cache_dir:
        jax.config.update("jax_compilation_cache_dir", str(COMPILE_CACHE / cpu_name()))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)

    options = Options(
        args.out,
        run.seeds,
        run.chunk_size,
        args.resume,
        args.quick,
        progress=not args.no_progress,
        settings=run.settings,
    )
    command = shell_command(argv)
    try:
        experiment = load_experiment(args.name)
        with provenance(
            experiment=experiment.name,
            command=command,
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            n_devices=jax.device_count(),
            n_processes=jax.process_count(),
        ):
            print(experiment.run(dict(run.axes), options))
        return 0
    except (UsageError, sweep.GridError) as error:
        return usage_error(error)
    except sweep.ChunkMemoryError as error:
        return usage_error(
            f"--chunk-size auto: {error}".replace(
                "pass an integer chunk_size= to run it anyway, or a larger memory_limit=",
                "give an integer --chunk-size to run it anyway",
            )
        )
    except sweep.ResumeError as error:
        return usage_error(
            f"--resume: {error}".replace(
                "use resume=False to start over", "rerun with --overwrite to start over"
            )
        )
    except KeyboardInterrupt:
        print(interrupted(options.out, args.name, argv), file=sys.stderr)
        return 130


def shell_command(argv: Sequence[str]) -> str:
    """The command line that runs the CLI with `argv`, as a shell runs it when pasted."""
    return shlex.join([sys.executable, "-m", "experiments.phase_diagram", *argv])


def interrupted(out: Path, name: str, argv: Sequence[str]) -> str:
    """What Ctrl-C leaves: the checkpoints and the command that continues them, or nothing."""
    if not checkpoints(out, name):
        return (
            f"\ninterrupted: nothing was saved ({name} left no checkpoints in "
            f"{out / 'checkpoints'}); run it again with: {shell_command(argv)}"
        )
    # the same command with --resume (and without --overwrite, which would start over again)
    keep = [a for a in argv if not (a.startswith("--ov") and "--overwrite".startswith(a))]
    resumes = any(a.startswith("--r") and "--resume".startswith(a) for a in keep)
    resume = shell_command(keep if resumes else [*keep, "--resume"])
    return (
        f"\ninterrupted: finished chunks are saved in {out / 'checkpoints'}; "
        f"continue with: {resume}"
    )


def checkpoints(out: Path, name: str) -> list[Path]:
    """The simulation checkpoints (finished or partial) of experiment `name` in `out`.

    A checkpoint `checkpoints/NAME_..._simulation.zarr[.partial]` belongs to the experiment
    with the longest name it starts with (`ntk_...` is not `ntk_depth_...`).
    """
    folder = out / "checkpoints"
    if not folder.is_dir():
        return []

    def owner(path: Path) -> str | None:
        names = [e for e in EXPERIMENTS if path.name.startswith(f"{e}_")]
        return max(names, key=len, default=None)

    return sorted(
        p
        for p in folder.iterdir()
        if p.name.endswith((".zarr", ".zarr.partial")) and owner(p) == name
    )


def listing() -> str:
    """Each experiment's summary, its grid axes (default values) and its settings."""
    lines = []
    width = max(map(len, EXPERIMENTS))
    pad = " " * (width + 3)
    for name in EXPERIMENTS:
        spec = find_spec(name)
        lines.append(f"{name:{width}s} {spec.summary}")
        axes = "; ".join(f"{axis}={_axis_text(v)}" for axis, v in spec.axes(False).items())
        lines.append(f"{pad}--grid {axes}" if axes else f"{pad}(no grid axes)")
        settings = spec.settings(False)
        if settings:
            lines.append(
                f"{pad}--set {' '.join(f'{k}={_example(v)}' for k, v in settings.items())}"
            )
    return "\n".join(lines)


def _axis_text(values: np.ndarray) -> str:
    """An axis as a --grid value: START:STOP:NUM[:log] when it is one, else V1,V2,..."""
    values = np.asarray(values, float)
    if len(values) > 2:
        start, stop, num = values[0], values[-1], len(values)
        if np.allclose(values, np.linspace(start, stop, num), rtol=1e-9):
            return f"{start:g}:{stop:g}:{num}"
        if start > 0 and np.allclose(values, np.geomspace(start, stop, num), rtol=1e-9):
            return f"{start:g}:{stop:g}:{num}:log"
    return ",".join(f"{v:g}" for v in values)


def usage_error(error: Exception | str) -> int:
    print(f"phase_diagram: error: {error}", file=sys.stderr)
    return 2


def checked_run(spec: Spec, args: argparse.Namespace) -> Run:
    """The run the command line asks for, checked against the spec's domains and cost."""
    if args.resume and args.overwrite:
        raise UsageError(
            "--resume continues the results in --out, --overwrite replaces them: give one of them"
        )
    seeds = spec.default_seeds(args.quick) if args.seeds is None else args.seeds
    if not 1 <= seeds <= MAX_SEEDS:
        raise UsageError(f"--seeds must be an integer in [1, {MAX_SEEDS:,}], got {seeds}")
    if args.chunk_size != "auto" and not 1 <= args.chunk_size <= MAX_CHUNK:
        raise UsageError(
            f"--chunk-size must be an integer in [1, {MAX_CHUNK:,}], got {args.chunk_size}"
        )
    axes, overrides = grid_axes(spec, args)
    settings = spec.settings(args.quick)
    for flag in args.set:
        name, value = parse_setting(flag, settings, spec.name)
        if name in overrides:
            raise UsageError(f"--set {flag!r}: setting {name!r} is given twice; give it once")
        overrides[name] = f"--set {flag}"
        settings[name] = value
    if args.seeds is not None:
        overrides["seeds"] = f"--seeds {seeds}"
    run = Run(axes, settings, seeds, args.chunk_size, args.quick)
    spec.check(run)
    check_cost(run, spec, overrides, args.allow_large)
    return run


def grid_axes(spec: Spec, args: argparse.Namespace) -> tuple[dict[str, np.ndarray], dict]:
    """The experiment's default axes with the command line's --grid overrides, and the
    overrides (axis -> the flag as given)."""
    axes = spec.axes(args.quick)
    given: dict[str, str] = {}
    for flag in args.grid:
        name, values = parse_axis(flag)
        if name not in axes:
            raise UsageError(
                f"--grid {flag!r}: experiment {spec.name!r} has no axis {name!r}; "
                f"its axes are {', '.join(axes)}"
            )
        if name in given:
            raise UsageError(f"--grid {flag!r}: axis {name!r} is given twice; give it once")
        given[name] = f"--grid {flag}"
        check_grid_values(name, values)
        axes[name] = values
    return axes, given


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
    existing += [f"checkpoints/{p.name}" for p in checkpoints(out, name)]
    if existing and not (args.resume or args.overwrite):
        raise UsageError(
            f"--out {str(out)!r} already holds {name} results ({', '.join(existing)}); "
            "pass --resume to continue them or --overwrite to replace them"
        )
    if args.resume and not existing:
        raise UsageError(
            f"--resume: --out {str(out)!r} holds no {name} results or checkpoints to continue; "
            "run without --resume to start"
        )


if __name__ == "__main__":
    sys.exit(main())
