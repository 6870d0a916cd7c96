"""Every experiment's axes, settings, domains and cost estimate, without importing JAX.

The cost estimates count the dominant operations of each experiment's simulation (work, in
units comparable only within one experiment) and the largest arrays of one vmapped chunk
(memory, bytes, with a factor 4 for intermediates); `experiments._spec.check_cost` compares
them with the default run and with this machine's memory.
"""

from __future__ import annotations

import numpy as np

from experiments._spec import (
    Cost,
    Run,
    Spec,
    UsageError,
    check_positive,
    check_range,
    check_settings,
    integer_axis,
    integer_sizes,
)

FLOAT = 8  # bytes per float64
SCRATCH = 4  # intermediates per array of a chunk


def points(run: Run, *names: str) -> int:
    """Points of the grid over axes `names` and the seeds."""
    return int(np.prod([len(run.axes[name]) for name in names])) * run.seeds


def integer_check(run: Run, name: str, most: int) -> None:
    """UsageError unless axis `name` holds distinct integers in [1, most]."""
    integer_axis(run.axes, name, 1, most)


def lanes(run: Run, count: int) -> int:
    """Points computed at once: a chunk of at most `chunk_size` of `count` points; one
    under --chunk-size auto, which refuses at run time, by XLA's memory analysis, a run
    whose single point does not fit, and otherwise takes the largest chunk that does."""
    return 1 if run.chunk_size == "auto" else min(run.chunk_size, count)


# ------------------------------------------------------------------------------- ridge

# below 1e-12 of the Gram's O(1) scale a float64 solve no longer sees the ridge; beyond
# the range a log axis's cell edges overflow when drawn
RIDGE_RANGE = (1e-12, 1e12)


def ridge_dimension(quick: bool) -> int:
    return 40 if quick else 100


def ridge_axes(quick: bool) -> dict[str, np.ndarray]:
    size = 12 if quick else 24
    return {"n_over_d": np.geomspace(0.2, 5.0, size), "lam": np.geomspace(1e-4, 10.0, size)}


def ridge_check(run: Run) -> None:
    check_positive(run.axes, ("lam", "n_over_d"))  # lam = 0 has no unique solution at n < d
    check_range(run.axes, "lam", *RIDGE_RANGE, "a float64 solve at the Gram's O(1) scale")
    integer_sizes(run.axes["n_over_d"], ridge_dimension(run.quick))


def ridge_cost(run: Run) -> Cost:
    d = ridge_dimension(run.quick)
    n_max = np.ceil(run.axes["n_over_d"].max() * d)
    count = points(run, "n_over_d", "lam")
    return Cost(
        count * (n_max * d**2 + d**3),
        lanes(run, count) * (n_max * d + d**2) * FLOAT * SCRATCH,
    )


RIDGE = Spec(
    name="ridge",
    summary="linear ridge regression double descent over (n/d, lam): theory vs simulation "
    "(lam = mean-loss ridge)",
    axes=ridge_axes,
    default_seeds=lambda quick: 4 if quick else 8,
    check=ridge_check,
    cost=ridge_cost,
)

# -------------------------------------------------------------------------- krr_digits

DIGITS = 1797  # scikit-learn's digits


def krr_digits_axes(quick: bool) -> dict[str, np.ndarray]:
    return {"n": np.geomspace(16, 256 if quick else 512, 5 if quick else 6).round()}


def krr_digits_check(run: Run) -> None:
    integer_axis(run.axes, "n", 1, DIGITS - 1)  # at least one digit is held out


def krr_digits_cost(run: Run) -> Cost:
    n_max = run.axes["n"].max()
    count = 2 * points(run, "n")  # two kernels
    return Cost(count * n_max**3 + 2 * DIGITS**3, lanes(run, count) * n_max**2 * FLOAT * SCRATCH)


KRR_DIGITS = Spec(
    name="krr_digits",
    summary="KRR learning curves on digits (RBF, ReLU NTK): pool-eigensystem theory vs simulation",
    axes=krr_digits_axes,
    default_seeds=lambda quick: 6 if quick else 16,
    check=krr_digits_check,
    cost=krr_digits_cost,
)

# ---------------------------------------------------------------------------- lr_batch

LR_BATCH = Spec(
    name="lr_batch",
    summary="SGD on an MLP over (lr, batch size): optimal lr ~ B^gamma and T = lr/B lines",
    axes=lambda quick: {"lr": np.geomspace(0.01, 30.0, 10 if quick else 16)},
    default_seeds=lambda quick: 3 if quick else 4,
    check=lambda run: check_positive(run.axes, ("lr",)),
    cost=lambda run: Cost(points(run, "lr"), 0.0),
)

# ------------------------------------------------------------------------------ gossip


def gossip_axes(quick: bool) -> dict[str, np.ndarray]:
    return {
        "lr": np.geomspace(0.01, 1.0, 7 if quick else 12),
        "Q": np.array([1.0, 4.0] if quick else [1.0, 2.0, 4.0, 8.0]),
        "beta": np.array([0.1, 10.0] if quick else [0.1, 1.0, 10.0]),
    }


def gossip_check(run: Run) -> None:
    check_positive(run.axes, ("lr", "beta"))
    integer_axis(run.axes, "Q")


def gossip_cost(run: Run) -> Cost:
    steps = 300 if run.quick else 1000
    quadratic = 2 * 8 * len(run.axes["lr"]) * steps * 16**2  # 2 methods, <= 8 topologies
    # DFedSAM-MGS: 5 local steps and up to max(Q) gossip steps per round, 16 nodes
    rounds = 20 if run.quick else 60
    digits = 2 * points(run, "beta", "Q") * rounds * (5 + run.axes["Q"].max()) * 16
    return Cost(quadratic + digits * 1e3, 0.0)


GOSSIP = Spec(
    name="gossip",
    summary="D-SGD vs gradient tracking over (spectral gap, step); DFedSAM-MGS accuracy vs Q",
    axes=gossip_axes,
    default_seeds=lambda quick: 2 if quick else 3,
    check=gossip_check,
    cost=gossip_cost,
)

# ----------------------------------------------------------------------------- halpern

HALPERN_DIMENSION = 10


def halpern_axes(quick: bool) -> dict[str, np.ndarray]:
    if quick:
        return {"n": np.array([16.0, 64.0, 256.0]), "heterogeneity": np.geomspace(0.05, 5.0, 4)}
    return {"n": 2.0 ** np.arange(4, 11), "heterogeneity": np.geomspace(0.03, 10.0, 9)}


def halpern_check(run: Run) -> None:
    check_positive(run.axes, ("heterogeneity",))
    integer_axis(run.axes, "n")


def halpern_cost(run: Run) -> Cost:
    budget = 1500.0 if run.quick else 3000.0  # epochs
    d2 = HALPERN_DIMENSION**2
    n = run.axes["n"]
    total = points(run, "n", "heterogeneity")  # one sweep, every problem padded to max(n)
    return Cost(
        total * n.max() * budget * d2,
        lanes(run, total) * n.max() * d2 * FLOAT * SCRATCH,
    )


HALPERN = Spec(
    name="halpern",
    summary="variance-reduced Halpern vs deterministic methods: epochs to eps over (n, h)",
    axes=halpern_axes,
    default_seeds=lambda quick: 2 if quick else 6,
    check=halpern_check,
    cost=halpern_cost,
)

HALPERN_AUTHORS = Spec(
    name="halpern_authors",
    summary="the authors' two figures (policeman-and-burglar game, quadratic) at their steps",
    axes=lambda quick: {},
    default_seeds=lambda quick: 1,
    settings=lambda quick: (
        {"game_epochs": 600, "quadratic_epochs": 1000}
        if quick
        else {"game_epochs": 5000, "quadratic_epochs": 2000}
    ),
    check=lambda run: check_settings(run.settings, positive=("game_epochs", "quadratic_epochs")),
    # epochs of n = 500 (game) and n = 200 (quadratic) components, five methods
    cost=lambda run: Cost(
        5 * (500 * run.settings["game_epochs"] + 200 * run.settings["quadratic_epochs"]), 0.0
    ),
)


def halpern_scaling_check(run: Run) -> None:
    sizes = integer_axis(run.axes, "n", 2)
    if sizes.size < 3:
        raise UsageError(f"--grid n: needs at least 3 values for a slope, got {sizes.tolist()}")
    if run.seeds < 2:
        raise UsageError(f"--seeds: needs at least 2 for the bands, got {run.seeds}")


def halpern_scaling_cost(run: Run) -> Cost:
    budget = 4000.0 if run.quick else 20000.0  # epochs
    d2 = HALPERN_DIMENSION**2
    n = run.axes["n"]
    return Cost(
        run.seeds * n.sum() * budget * d2,
        lanes(run, run.seeds) * n.max() * d2 * FLOAT * SCRATCH,
    )


HALPERN_SCALING = Spec(
    name="halpern_scaling",
    summary="epochs to eps against n: VR-Halpern's n^(-1/2) against flat deterministic methods",
    axes=lambda quick: {
        "n": np.array([16.0, 64.0, 256.0, 1024.0]) if quick else 2.0 ** np.arange(4, 13)
    },
    default_seeds=lambda quick: 5 if quick else 8,
    check=halpern_scaling_check,
    cost=halpern_scaling_cost,
)

# --------------------------------------------------------------------------------- ntk


def ntk_axes(quick: bool) -> dict[str, np.ndarray]:
    """Widths 16..256 x depths {1, 4} (quick), widths 16..512 x depths {1, 2, 4, 8}."""
    if quick:
        return {"width": np.geomspace(16, 256, 5), "depth": np.array([1.0, 4.0])}
    return {"width": np.geomspace(16, 512, 6), "depth": np.array([1.0, 2.0, 4.0, 8.0])}


def ntk_check(run: Run) -> None:
    integer_axis(run.axes, "width")
    integer_axis(run.axes, "depth")


def ntk_cost(run: Run) -> Cost:
    n, steps, d = (16, 100, 8) if run.quick else (32, 200, 8)  # NTKRegimeTask
    width, depth = np.meshgrid(run.axes["width"], run.axes["depth"])
    params = d * width + (depth - 1) * width**2 + width
    per_point = (steps * n + 2 * n**2) * params  # GD steps and two empirical NTKs
    # per seed: one layer's Jacobian (the NTK is summed layer by layer) and GD's parameters
    per_lane = n * width.max() ** 2 + SCRATCH * params.max()
    return Cost(run.seeds * per_point.sum(), lanes(run, run.seeds) * per_lane * FLOAT)


NTK = Spec(
    name="ntk",
    summary="finite-width NTK over (width, depth): deviation from the analytic NTK, drift under GD",
    axes=ntk_axes,
    default_seeds=lambda quick: 4 if quick else 8,
    check=ntk_check,
    cost=ntk_cost,
)

# --------------------------------------------------------------------------- ntk_depth

DEEPEST = 2048  # beyond, every family's normalised kernel underflows in float64


def ntk_depth_axes(quick: bool) -> dict[str, np.ndarray]:
    """Depths 1, 4, ..., 1024 (quick) or 1, 2, 4, ..., 2048, plus 2..8 for the 1-NN family."""
    powers = 4.0 ** np.arange(6) if quick else 2.0 ** np.arange(12)
    return {"depth": np.union1d(powers, np.arange(1.0, 9.0))}


def ntk_depth_cost(run: Run) -> Cost:
    n = 60 + (400 if run.quick else 1000)
    depth = run.axes["depth"]
    return Cost(4 * run.seeds * (depth.max() * n**2 + len(depth) * 60**3), 0.0)


NTK_DEPTH = Spec(
    name="ntk_depth",
    summary="NTK classifier error vs depth for relu, erf, a singular kernel and 1-NN limits",
    axes=ntk_depth_axes,
    default_seeds=lambda quick: 2 if quick else 8,
    check=lambda run: integer_check(run, "depth", DEEPEST),
    cost=ntk_depth_cost,
)

# -------------------------------------------------------------------------- perceptron

P_TEST = 2048


def perceptron_settings(quick: bool) -> dict:
    return {"batch": 2, "d": 16, "budget": 200_000 if quick else 2_000_000}


def perceptron_axes(quick: bool) -> dict[str, np.ndarray]:
    sizes = [64.0, 128.0, 256.0] if quick else [128.0, 256.0, 512.0, 1024.0]
    return {
        "chi": np.array([0.0, 1.0, 3.0]),
        "P": np.array(sizes),
        "alpha_T": np.geomspace(0.1, 1e4, 6 if quick else 11),
    }


def check_chi(values: np.ndarray, flag: str) -> None:
    """chi-data needs chi > -1 (its density |x_1|^chi is normalisable)."""
    if np.any(np.asarray(values, float) <= -1):
        raise UsageError(f"{flag}: chi must be > -1, got {np.asarray(values).tolist()}")


def perceptron_check(run: Run) -> None:
    settings = run.settings
    check_settings(settings, positive=("batch", "d", "budget"))
    check_positive(run.axes, ("alpha_T",))
    check_chi(run.axes["chi"], "--grid chi")
    sizes = integer_axis(run.axes, "P")
    if sizes.min() < settings["batch"]:
        raise UsageError(
            f"--grid P: values must be >= batch = {settings['batch']}, got {sizes.min()}"
        )


def perceptron_cost(run: Run) -> Cost:
    s = run.settings
    count = points(run, "chi", "P", "alpha_T")
    rows = run.axes["P"].max() + P_TEST
    return Cost(
        count * s["budget"] * s["batch"] * s["d"],
        lanes(run, count) * rows * s["d"] * FLOAT * SCRATCH,
    )


PERCEPTRON = Spec(
    name="perceptron",
    summary="perceptron under SGD noise over (alpha T, P) for chi = 0, 1, 3: T_c(P), exponents",
    axes=perceptron_axes,
    default_seeds=lambda quick: 2 if quick else 6,
    settings=perceptron_settings,
    check=perceptron_check,
    cost=perceptron_cost,
)

# ---------------------------------------------------------------------------------- rf


def rf_task(quick: bool) -> tuple[int, int]:
    """(d, n): modes and samples of the simulated task."""
    return (100, 50) if quick else (200, 100)


def rf_axes(quick: bool) -> dict[str, np.ndarray]:
    size = 10 if quick else 18
    return {
        "n_features_over_n": np.geomspace(0.1, 10.0, size),
        "ridge": np.geomspace(1e-4, 1e2, size),
    }


def rf_check(run: Run) -> None:
    check_positive(run.axes, ("ridge", "n_features_over_n"))  # N = n is singular at ridge 0
    check_range(run.axes, "ridge", *RIDGE_RANGE, "a float64 solve at the Gram's O(1) scale")
    integer_sizes(run.axes["n_features_over_n"], rf_task(run.quick)[1], "n_features_over_n")


def rf_cost(run: Run) -> Cost:
    d, n = rf_task(run.quick)
    features = np.ceil(run.axes["n_features_over_n"].max() * n)
    count = points(run, "n_features_over_n", "ridge")
    size = features * d + features * n + d**2 + n**2
    return Cost(count * (features * d * n + n**3), lanes(run, count) * size * FLOAT * SCRATCH)


RF = Spec(
    name="rf",
    summary="random-feature ridge regression over (N/n, ridge): theory vs simulation, "
    "more is better, obligatory overfitting",
    axes=rf_axes,
    default_seeds=lambda quick: 4 if quick else 8,
    check=rf_check,
    cost=rf_cost,
)

# ----------------------------------------------------------------------------- scaling

SCALING_POOL = 1200  # training pool of the digits; the remaining 597 are held out


def scaling_widths(quick: bool) -> list[int]:
    """MLP widths (a static axis: one compile each), N = 66 w + 1 parameters."""
    return [1, 2, 4, 8, 16] if quick else [1, 2, 4, 8, 16, 32, 64]


def scaling_steps(quick: bool) -> int:
    """Full-batch Adam steps per run (the held-out loss is the least over checkpoints)."""
    return 400 if quick else 1000


def scaling_check(run: Run) -> None:
    integer_check(run, "n", SCALING_POOL)
    E = run.settings["E"]
    if not (np.isfinite(E) and E >= 0):
        raise UsageError(f"--set E: the fixed irreducible loss must be >= 0, got {E!r}")


def scaling_cost(run: Run) -> Cost:
    """Every step of every run touches the whole padded pool with all the MLP's weights."""
    width = np.asarray(scaling_widths(run.quick), float)
    per_step = SCALING_POOL * np.sum(66 * width + 1)
    return Cost(points(run, "n") * scaling_steps(run.quick) * per_step, 0.0)


SCALING = Spec(
    name="scaling",
    summary="MLPs on digits over width x data: joint scaling law L(N, D) with bootstrap intervals",
    axes=lambda quick: {
        "n": np.asarray(
            [100, 200, 400, 800] if quick else [100, 150, 200, 300, 400, 600, 800, 1200], float
        )
    },
    default_seeds=lambda quick: 3 if quick else 8,
    settings=lambda quick: {"E": 0.0},
    check=scaling_check,
    cost=scaling_cost,
)

# --------------------------------------------------------------------------- sgd_noise

DATA_SETS = ("chi", "digits")
DIGITS_TEST = 512  # digits held out as the test set
DIGITS_TRAIN = DIGITS - DIGITS_TEST


def sgd_noise_settings(quick: bool) -> dict:
    return {
        "width": 32,
        "depth": 3,
        "batch": 16,
        "alpha": 4096.0,  # the lazy alpha of the T_c(P) sweep
        "P": (128, 256, 512) if quick else (128, 256, 512, 1024),
        "data": "chi,digits",
        "diagram_P": 1024,  # 0 skips the phase diagram
        "d": 16,
        "chi": 0.0,
        "dw_levels": (0.002, 0.005, 0.01),  # fixed levels of ||w - w0|| / ||w0||
        "ntk_levels": (0.01, 0.03),  # fixed levels of the relative NTK change
        "collapse_floor": 0.002,  # the collapse uses ||w - w0|| / ||w0|| >= this
    }


def sgd_noise_axes(quick: bool) -> dict[str, np.ndarray]:
    return {
        # quick: the cells that finish within the quick budget (at T <= 1e-3 the feature and
        # intermediate regimes need more steps, at alpha = 2^-8 large T diverges)
        "alpha": 2.0 ** np.linspace(-4, 12, 5) if quick else 2.0 ** np.linspace(-8, 12, 9),
        "T": np.geomspace(3e-3, 1e-1, 4) if quick else np.geomspace(1e-4, 1e-1, 7),
        "T_lazy": np.geomspace(1e-4, 1e-2, 3) if quick else np.geomspace(3e-5, 1e-2, 6),
    }


def data_sets(settings: dict) -> list[str]:
    """The data sets of the `data` setting: distinct names of `DATA_SETS`."""
    chosen = [name.strip() for name in settings["data"].split(",")]
    if any(name not in DATA_SETS for name in chosen) or len(set(chosen)) < len(chosen):
        raise UsageError(
            f"--set data: comma-separated distinct names of {', '.join(DATA_SETS)}, "
            f"got {settings['data']!r}"
        )
    return chosen


def sgd_noise_check(run: Run) -> None:
    s = run.settings
    check_positive(run.axes, ("alpha", "T", "T_lazy"))
    check_settings(
        s,
        positive=(
            "width", "depth", "batch", "alpha", "P", "d", "dw_levels", "ntk_levels",
            "collapse_floor",
        ),
    )  # fmt: skip
    datas = data_sets(s)
    check_chi([s["chi"]], "--set chi")
    sizes = np.asarray(s["P"])
    if len(np.unique(sizes)) < len(sizes):
        raise UsageError(f"--set P: values must be distinct, got {s['P']!r}")
    if sizes.min() < s["batch"]:
        raise UsageError(
            f"--set batch={s['batch']}: must be <= every training-set size P (smallest "
            f"{sizes.min()}) and diagram_P"
        )
    if "digits" in datas and sizes.min() > DIGITS_TRAIN:
        raise UsageError(
            f"--set P: the digits hold {DIGITS_TRAIN} training images; give a P <= "
            f"{DIGITS_TRAIN}, got {s['P']!r}"
        )
    diagram_p = s["diagram_P"]
    largest = DIGITS_TRAIN if "digits" in datas else np.inf
    if diagram_p != 0 and not s["batch"] <= diagram_p <= largest:
        raise UsageError(
            f"--set diagram_P: 0 (no phase diagram) or an integer in [batch = {s['batch']}, "
            f"{largest:g}], got {diagram_p}"
        )


def sgd_noise_cost(run: Run) -> Cost:
    s = run.settings
    d = max(s["d"], 64)  # the digits have 64 pixels
    params = d * s["width"] + (s["depth"] - 1) * s["width"] ** 2 + s["width"]
    step = s["batch"] * params
    diagram = points(run, "alpha", "T") * (8_000 if run.quick else 60_000) * step
    sizes = np.asarray(s["P"], float)
    lazy_steps = np.maximum(
        30_000, 4000 / (s["alpha"] * run.axes["T_lazy"].min()) * (sizes / 1024) ** 1.7
    )
    lazy = points(run, "T_lazy") * lazy_steps.sum() * step
    rows = max(sizes.max(), s["diagram_P"]) + 2048
    count = max(points(run, "alpha", "T"), points(run, "T_lazy") * len(sizes))
    memory = lanes(run, count) * (rows * d + 32 * params) * FLOAT * SCRATCH
    return Cost(len(data_sets(s)) * (diagram * bool(s["diagram_P"]) + lazy), memory)


SGD_NOISE = Spec(
    name="sgd_noise",
    summary="FC network under SGD noise: (alpha, T) phase diagram (chi-data, digits), T_c vs P",
    axes=sgd_noise_axes,
    default_seeds=lambda quick: 2 if quick else 3,
    settings=sgd_noise_settings,
    check=sgd_noise_check,
    cost=sgd_noise_cost,
)

# ------------------------------------------------------- decentralised: dadao, dfedsam, ...


def dadao_check(run: Run) -> None:
    sizes = integer_axis(run.axes, "n", 4)
    if np.any(np.round(np.sqrt(sizes)) ** 2 != sizes):
        raise UsageError(f"--grid n: values must be squares (the torus), got {sizes.tolist()}")
    check_positive(run.axes, ("lr",))
    check_settings(run.settings, positive=("tolerance", "budget"))


DADAO = Spec(
    name="dadao",
    summary="DADAO gradient and communication counts to eps vs sqrt(chi_1 chi_2), against D-SGD/GT",
    axes=lambda quick: {
        "n": np.array([16.0] if quick else [16.0, 36.0, 64.0]),
        "lr": np.geomspace(0.01, 1.0, 9) if quick else np.geomspace(1e-3, 1.0, 16),
    },
    default_seeds=lambda quick: 3 if quick else 8,
    settings=lambda quick: {
        "tolerance": 1e-2 if quick else 1e-3,
        "budget": 3000 if quick else 20000,
    },
    check=dadao_check,
    cost=lambda run: Cost(
        points(run, "lr")
        * run.settings["budget"]
        * run.axes["n"].sum() ** 2
        * np.log(1 / run.settings["tolerance"]),
        0.0,
    ),  # fmt: skip
)


def dfedsam_settings(quick: bool) -> dict:
    topologies = (
        ("lazy_ring", "ring", "torus", "exponential")
        if quick
        else ("lazy_ring", "ring", "lazy_torus", "lazy_exponential", "torus", "exponential")
    )
    return {
        "topologies": topologies,
        "beta": 0.1,
        "rounds": 15 if quick else 30,
        "local_steps": 3 if quick else 5,
    }


def dfedsam_check(run: Run) -> None:
    integer_axis(run.axes, "Q")
    check_settings(run.settings, positive=("beta", "rounds", "local_steps"))


def dfedsam_cost(run: Run) -> Cost:
    s = run.settings
    steps = s["rounds"] * (s["local_steps"] + run.axes["Q"].max())
    return Cost(points(run, "Q") * len(s["topologies"]) * steps, 0.0)


DFEDSAM = Spec(
    name="dfedsam",
    summary="DFedSAM-MGS consensus error and test loss over (spectral gap, Q) vs its rate term",
    axes=lambda quick: {"Q": np.array([1.0, 4.0, 16.0] if quick else [1.0, 2.0, 4.0, 8.0, 16.0])},
    default_seeds=lambda quick: 2 if quick else 8,
    settings=dfedsam_settings,
    check=dfedsam_check,
    cost=dfedsam_cost,
)


def srrw_check(run: Run) -> None:
    alpha = run.axes["alpha"]
    if np.any(alpha < 0) or 0.0 not in alpha:
        raise UsageError(f"--grid alpha: values must be >= 0 and include 0, got {_list(alpha)}")


SRRW = Spec(
    name="srrw",
    summary="SRRW variance ratio sigma^2(alpha)/sigma^2(0) vs theory, and token-SGD error vs alpha",
    axes=lambda quick: {
        "alpha": np.array(
            [0.0, 1.0, 5.0, 20.0]
            if quick
            else [0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0]
        )
    },
    default_seeds=lambda quick: 200 if quick else 1000,
    check=srrw_check,
    cost=lambda run: Cost(points(run, "alpha"), 0.0),
)


def vanishing_variance_check(run: Run) -> None:
    integer_axis(run.axes, "n", 2)
    check_settings(run.settings, positive=("rounds", "local_steps", "lr", "beta"))
    if not 0 < run.settings["target"] < 1:
        raise UsageError(f"--set target: must be in (0, 1), got {run.settings['target']}")


VANISHING_VARIANCE = Spec(
    name="vanishing_variance",
    summary="Plain vs variance-corrected averaging of n independent models: accuracy vs rounds",
    axes=lambda quick: {"n": np.array([2.0, 8.0, 32.0] if quick else [2.0, 4.0, 8.0, 16.0, 32.0])},
    default_seeds=lambda quick: 4 if quick else 8,
    settings=lambda quick: {
        "rounds": 30 if quick else 50,
        "local_steps": 2,
        "lr": 0.2,
        "beta": 1.0,
        "target": 0.75,
    },
    check=vanishing_variance_check,
    cost=lambda run: Cost(
        run.seeds * run.axes["n"].sum() * run.settings["rounds"] * run.settings["local_steps"],
        0.0,
    ),
)


def _list(values: np.ndarray) -> list:
    return np.asarray(values).tolist()


SPECS = {
    spec.name: spec
    for spec in (
        RIDGE,
        KRR_DIGITS,
        LR_BATCH,
        GOSSIP,
        DFEDSAM,
        VANISHING_VARIANCE,
        DADAO,
        SRRW,
        HALPERN,
        HALPERN_AUTHORS,
        HALPERN_SCALING,
        NTK,
        NTK_DEPTH,
        PERCEPTRON,
        RF,
        SCALING,
        SGD_NOISE,
    )
}
