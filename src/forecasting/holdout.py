"""An evaluation's held-out periods (pure pandas): split off a series' last ones, cleaned
without anything drawn from them, and its forecasts scored against them."""
from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting import metrics, tuning
from forecasting.baselines import on_grid, season_length
from forecasting.cleaning import Cleaned, clean_history
from forecasting.gap_filling import filled_by_interpolation
from forecasting.config import JobConfig
from forecasting.periods import align_to_grid


def split_holdout(raw: pd.DataFrame, cleaned: Cleaned, holdout: int,
                  config: JobConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The cleaned series' rows in its last ``holdout`` periods split off to be scored
    (as cross-validation's folds count them: with gaps kept, periods, not rows),
    without what cleaning drew from them on either side. The rows before them are cleaned again
    from the earlier input rows alone: a period interpolated towards a held-out value
    takes the value before it instead (the ends take the nearest value), and periods
    after the earlier rows' last are filled as the gaps policy fills them (a zero, or
    that last value). A held-out period filled by interpolation is a guess, not a
    value to score; one filled by ``zero`` is a value the policy declares, and stays.
    Notes both on ``cleaned``, whose history becomes the series as modelled."""
    frame, policy, frequency = cleaned.history, config.cleaning, config.forecast.frequency
    split = _holdout_start(frame, holdout, frequency)
    if split == 0:
        return frame.iloc[:0], frame
    periods = align_to_grid(raw["ds"], frequency, origin=frame["ds"].iloc[0])
    earlier = (periods < frame["ds"].iloc[split]).to_numpy()
    if cleaned.kept_from is not None:  # the rows the whole history's cleaning left out as strays, out here too
        earlier &= (raw["ds"] >= cleaned.kept_from).to_numpy()
    alone = clean_history(raw[earlier], frequency, policy, strays=False)
    alone_history = alone.history.iloc[:0] if alone.rejection else alone.history
    known = frame.iloc[:split][["ds"]].merge(alone_history[["ds", "y"]], on="ds", how="left")
    after = known["y"].isna().to_numpy()  # periods after the earlier rows' last
    if len(alone_history):  # not those the earlier rows' cleaning left out before it (a spike): no value to make up
        after &= (known["ds"] > alone_history["ds"].max()).to_numpy()
    if after.any() and len(alone_history):
        known.loc[after, "y"] = 0.0 if policy.gaps == "zero" else alone_history["y"].iloc[-1]
    elif after.any():  # no value before the held-out rows to take
        cleaned.notes.append(f"evaluation: {int(after.sum())} periods before the held-out ones left out: "
                             f"{alone.rejection or 'they had values only from the held-out ones'}")
    values = known["y"].to_numpy()
    moved = int((np.isfinite(values) & ~np.isclose(values, frame["y"].iloc[:split].to_numpy())).sum())
    known = known[np.isfinite(values)]
    if moved:
        cleaned.notes.append(f"evaluation: {moved} periods before the held-out ones cleaned from the earlier rows "
                             "alone, not from values drawn from the held-out ones")
    held_out = frame.iloc[split:]
    guessed = filled_by_interpolation(held_out["ds"], raw, periods, policy)
    if guessed.any():
        cleaned.notes.append(f"evaluation: {int(guessed.sum())} held-out periods filled by interpolation not scored")
    cleaned.history = pd.concat([known, held_out], ignore_index=True)  # as modelled, for the child run's plot
    return cleaned.history.iloc[:len(known)], held_out[~guessed]


def _holdout_start(frame: pd.DataFrame, holdout: int, frequency: str) -> int:
    """The first held-out row: the first in the last ``holdout`` periods, where the
    last cross-validation fold of that horizon starts scoring. Counted in rows where
    the series has no gaps or is off the grid (there the two agree, or rows are all
    there is to count)."""
    positions = tuning.period_positions(frame, frequency) if len(frame) else None
    if positions is None:
        return max(len(frame) - holdout, 0)
    last_fold = tuning.period_cutoffs(positions, 1, holdout, holdout)
    return last_fold[0][0] if last_fold else 0  # none: no row before the held-out periods


def score_holdout(forecast: pd.DataFrame, actual: pd.DataFrame, history: pd.DataFrame, frequency: str) -> dict[str, float]:
    """Errors and interval coverage of a forecast against the held-out values.
    The forecast reaches the last of them (``_steps_to_score``); its periods in a
    gap before them have no row to score."""
    joined = actual.merge(forecast, on="ds", how="inner")
    season = season_length(frequency)
    scale = metrics.mase_scale(on_grid(history, frequency), season)
    scores = metrics.score(joined["y"], joined["yhat"], scale)
    if not scale > 0:  # a flat history: MASE is undefined, a perfect forecast's too (the evaluation leaves it out)
        scores["mase"] = float("nan")
    scores["coverage"] = metrics.coverage(joined["y"], joined["yhat_lower"], joined["yhat_upper"])
    scores["interval_width"] = metrics.interval_width(joined["yhat_lower"], joined["yhat_upper"])
    return scores
