"""Synthetic crosslinking data shared by the fitting and profile tests: noisy RecDim time
courses (molecules) simulated from the bundled ige_fceri_crosslinking model."""

from __future__ import annotations

import numpy as np
import pandas as pd

import degranulation as dg

CROSSLINKING = "ige_fceri_crosslinking"
KP1 = 1.32845238e-10  # the model's value, 1/(molecule*s)
TIMES_S = [30, 60, 120, 240, 360, 480, 600]


def simulate_data(
    *,
    kp1=KP1,
    receptors=4e5,
    doses=(6e6, 1.5e6),
    sd_fraction=0.05,
    sd_floor=2000.0,
    seed=0,
    rng=None,
    readout="RecDim",
):
    """Noisy data from the crosslinking model, as a DataFrame (``rng`` wins over ``seed``)."""
    rng = np.random.default_rng(seed) if rng is None else rng
    rows = []
    for dose in doses:
        ds = dg.simulate(
            CROSSLINKING,
            t=[f"{t} s" for t in [0, *TIMES_S]],
            rtol=1e-10,
            atol=1e-6,
            params={"kp1": f"{kp1} 1/(molecule*s)"},
            initial={"L": f"{dose} molecule", "R": f"{receptors} molecule"},
        )
        y = ds[readout].pint.magnitude[1:]
        sd = sd_fraction * y + sd_floor
        for t, value, s in zip(TIMES_S, y + rng.normal(0.0, sd), sd, strict=True):
            rows.append(
                {
                    "observable": readout,
                    "time [s]": t,
                    "value [molecule]": value,
                    "sd [molecule]": s,
                    "L [molecule]": dose,
                }
            )
    return pd.DataFrame(rows)
