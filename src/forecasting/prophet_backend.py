"""The backend that solves a Prophet model's fit: in this process where it can, else Stan."""
from __future__ import annotations

import logging
import tempfile

import numpy as np

from forecasting import prophet_map

logger = logging.getLogger(__name__)

_ARRAY_BACKEND = None


def array_backend():
    """Prophet's cmdstanpy backend, fitting in this process when it can
    (forecasting.prophet_map), else handing Stan its data as NumPy arrays,
    removing each fit's output files, and falling back cheaply when L-BFGS fails.

    Prophet turns every array into nested Python lists, which cmdstanpy's JSON
    writer then walks element by element: a third of a fit's time on hourly
    series. Arrays take its one-call path (and ujson encodes them in C).
    cmdstanpy keeps every fit's CSV output until its process exits, and Spark's
    Python workers live long and may not exit cleanly: thousands of folders per
    worker, left in the temp directory."""
    global _ARRAY_BACKEND
    if _ARRAY_BACKEND is None:
        from prophet.models import CmdStanPyBackend

        class ArrayBackend(CmdStanPyBackend):
            def __init__(self):
                super().__init__()
                self.newton_fallback = False  # fit() falls back itself
                self.in_process = True

            def fit(self, stan_init, stan_data, **kwargs):
                if "init" in kwargs:  # a warm start replaces Prophet's starting point
                    stan_init = self.sanitize_custom_inits(stan_init, kwargs.pop("init"))
                if self.in_process and not kwargs and prophet_map.supports(stan_data):
                    try:
                        return prophet_map.fit(stan_init, stan_data)
                    except prophet_map.LocalMode as local:
                        return self.better_of(local.params, stan_init, stan_data)
                    except (prophet_map.NotConverged, np.linalg.LinAlgError) as err:
                        logger.debug("in-process fit gave up (%s); fitting with Stan", err)
                return self.fit_with_stan(stan_init, stan_data, **kwargs)

            def better_of(self, local, stan_init, stan_data):
                """The in-process local mode or Stan's answer, whichever has the higher
                posterior density: either search can stop at a local mode here."""
                try:
                    stans = self.fit_with_stan(stan_init, stan_data)
                except RuntimeError as err:  # Stan failed outright: this process's mode stands
                    logger.debug("Stan failed beside a local mode (%s); keeping the in-process fit", err)
                    stans = None
                if stans is not None and prophet_map.value_of(stan_data, stans) <= prophet_map.value_of(stan_data, local):
                    return stans
                self.stan_fit = None  # the model is this process's fit
                return local

            def fit_with_stan(self, stan_init, stan_data, **kwargs):
                with tempfile.TemporaryDirectory(prefix="prophet-fit-") as folder:
                    try:
                        return super().fit(stan_init, stan_data, output_dir=folder, **kwargs)
                    except RuntimeError as err:
                        logger.debug("L-BFGS failed (%s); BFGS from a plausible noise scale", err)
                    # With tight priors (a small changepoint_prior_scale) L-BFGS cannot
                    # leave Prophet's start, where the noise scale is the whole range of
                    # y. Prophet then runs Newton from that start, 25 to 40 times slower
                    # than a BFGS started at a plausible noise scale, which reaches the
                    # same optimum. Newton stays the last resort.
                    try:
                        start = {**stan_init, "sigma_obs": FALLBACK_SIGMA_OBS}
                        return super().fit(start, stan_data, output_dir=folder, **{**kwargs, "algorithm": "BFGS"})
                    except RuntimeError:
                        logger.debug("BFGS failed too; Newton from Prophet's start")
                    return super().fit(stan_init, stan_data, output_dir=folder, **{**kwargs, "algorithm": "Newton"})

            @staticmethod
            def prepare_data(init, data):
                arrays = {key: np.asarray(value) for key, value in data.items() if key in STAN_ARRAYS}
                scalars = {key: value for key, value in data.items() if key in STAN_SCALARS}
                inits = {**init, "delta": np.asarray(init["delta"]), "beta": np.asarray(init["beta"])}
                return inits, {**scalars, **arrays}

        _ARRAY_BACKEND = ArrayBackend
    return _ARRAY_BACKEND()


# Where the BFGS fallback starts the noise scale, on Prophet's scaled y (|y| <= 1).
FALLBACK_SIGMA_OBS = 0.01

# The inputs of Prophet's Stan model (prophet.models.CmdStanPyBackend.prepare_data).
STAN_SCALARS = ("T", "S", "K", "tau", "trend_indicator", "sigmas")
STAN_ARRAYS = ("y", "t", "cap", "t_change", "s_a", "s_m", "X")
