"""The `halpern_authors` experiment at --quick: at the authors' steps on their game, every
variance-reduced method is ahead of EG and EAG per epoch, as in the authors' figure."""

from __future__ import annotations

import numpy as np
import pytest

from experiments import halpern_authors
from theorytk import sweep


@pytest.mark.slow
def test_variance_reduced_methods_lead_on_the_authors_game_at_their_steps(tmp_path):
    from experiments import phase_diagram

    assert phase_diagram.main(["halpern_authors", "--quick", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "halpern_authors.png").exists()
    game = sweep.load(tmp_path / "halpern_authors.nc").sel(problem="game")
    game = game.dropna("epochs", how="all")
    last = game["residual"].isel(epochs=-1)  # at 600 epochs
    deterministic = min(float(last.sel(algorithm=m)) for m in ("extragradient", "eag_c"))
    for name in ("vr_extragradient", "vr_halpern", "inexact_vr_halpern"):
        assert float(last.sel(algorithm=name)) < deterministic, name
    # Every curve starts at the same residual, from the uniform strategies.
    first = game["residual"].isel(epochs=0).values
    np.testing.assert_allclose(first, first[0], rtol=1e-12)
    assert set(halpern_authors.AUTHORS_EPOCHS) <= set(game["algorithm"].values)
