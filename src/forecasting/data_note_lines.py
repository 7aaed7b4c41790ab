"""The summary's lines on what cleaning and forecasting noted across a run's series:
how many series each note holds (staged_counts), a few of them named, and what the
setting behind it does, said once for the run rather than in every series' data_notes."""
from __future__ import annotations

from forecasting import staged_counts
from forecasting.grid_alignment import LATE_TIMES_NOTE, PAST_INPUT_NOTE
from forecasting.cleaning_notes import (BREAK_NOTE, CLOCK_CHANGE_NOTE, FLAT_END_NOTE, NEGATIVE_KEPT_NOTE,
                                        NO_WEEKDAY_NOTE, OTHER_VALUES_NOTE, OUTLIER_NOTE, REPEATED_NOTE,
                                        SAME_VALUE_NOTE, SEVERAL_SERIES_NOTE, STRAY_NOTE)
from forecasting.config import JobConfig
from forecasting.forecast_notes import NEVER_HELD_NOTE, PROPHET_FAILED_NOTE, UNSEEN_HOLIDAY_NOTE, ZERO_FORECAST_NOTE
from forecasting.job_summary import JobSummary, series_that
from forecasting.periods import sub_daily
from forecasting.run_date_cut import AHEAD_NOTE
from forecasting.spikes import SPIKE_NOTE

FILLED_WITH = {"zero": "with 0", "interpolate": "by straight lines"}  # cleaning.gaps that make periods up


def say_data_notes(counted: staged_counts.StagedCounts, config: JobConfig, summary: JobSummary) -> None:
    """Said once for the run, what cleaning and forecasting noted on the series, a line a note
    with how many series hold it: in four parts, said in this order."""
    for say in (_say_grid_notes, _say_run_date_notes, _say_value_notes, _say_forecast_notes):
        say(counted, config, summary)


def _say_grid_notes(counted: staged_counts.StagedCounts, config: JobConfig, summary: JobSummary) -> None:
    """How the rows met the frequency's periods: periods left empty or filled, several rows a period
    merged (times given twice, rows repeated), values missing, dates moved onto the grid."""
    if counted.sparse:  # a frequency finer than the data's leaves most periods empty: said once for the run
        gaps = config.cleaning.gaps
        # weekly data run as daily: six made-up zeros a week, modelled and forecast as ok
        filled = (f" cleaning.gaps {gaps} filled the periods between ({FILLED_WITH[gaps]}), which their models and "
                  "forecasts follow" if gaps in FILLED_WITH else "")
        summary.warn(f"{_counted(counted, 'sparse', 'have')} rows regularly several periods apart (their data_notes "
                     f"say how far): is forecast.frequency {config.forecast.frequency!r} the data's?{filled}")
    if counted.missing_values:  # empty cells of the target: nothing left out unsaid
        summary.inform(f"{_counted(counted, 'missing_values', 'had')} target values null, NaN or infinite, "
                       f"{MISSING_ACTIONS[config.cleaning.missing_values]} by cleaning.missing_values "
                       f"({config.cleaning.missing_values}; their data_notes say how many)")
    if counted.gappy:  # an ERP writes no row for a week without sales: a history of lumps, or too short to model
        summary.warn(f"{_counted(counted, 'gappy', 'have')} no row in a fifth of their periods or more, left out "
                     "(cleaning.gaps: keep; their data_notes say how many): where no row means nothing happened "
                     "(no sales), cleaning.gaps: zero counts those periods as 0, and a series' history spans them")
    if counted.merged:  # data finer than the frequency: merged as meant, or the frequency left at its default
        merged = (f"{_counted(counted, 'merged', 'had')} several rows a period merged into "
                  f"{config.forecast.frequency!r} periods by cleaning.duplicates ({config.cleaning.duplicates}; their "
                  "data_notes say how many)")
        if 2 * counted.merged_not_ok > counted.merged:  # most too short after merging: periods too long?
            summary.warn(f"{merged}, {counted.merged_not_ok} of them then skipped or failed (their reason says why): "
                         f"is forecast.frequency {config.forecast.frequency!r} the data's?")
        else:  # a few new products too short, say: no question of the frequency
            lost = (f", {counted.merged_not_ok} of them then skipped or failed (their reason says why)"
                    if counted.merged_not_ok else "")
            # 15-minute kW readings summed into hours were four times the load
            levels = (": added up, as amounts are (sales, kWh), where levels (kW, °C, prices) take "
                      "cleaning.duplicates: mean" if config.cleaning.duplicates == "sum" else "")
            summary.inform(merged + lost + levels)
    if counted.clock_changes:  # local times: two hours' load added into one, every autumn
        summary.warn(f"{_counted(counted, 'clock_changes', 'have')} {CLOCK_CHANGE_NOTE} (their data_notes name it), "
                     f"merged by cleaning.duplicates ({config.cleaning.duplicates}): local times? Times with their UTC "
                     "offset, or in UTC, keep both hours apart")
    if counted.repeated:  # a file read twice, exports that overlap: values doubled without a word
        summary.warn(f"{_counted(counted, 'repeated', 'have')} {REPEATED_NOTE} (the same time and value) that "
                     "cleaning.duplicates sum added up (their data_notes say how many): an input read twice, or "
                     "exports that overlap? cleaning.duplicates: last keeps one of each")
    if counted.other_duplicates:  # a correction row beside the value it corrects: summed, both counted
        added = (": added up, as amounts are (several sales, or a sale and a return, at one time); for levels "
                 "(balances, prices), "
                 "cleaning.duplicates: mean, or last (the largest, not the latest row); a value given again corrected "
                 "belongs out of the input"
                 if config.cleaning.duplicates == "sum" else "")
        summary.warn(f"{_counted(counted, 'other_duplicates', 'have')} {OTHER_VALUES_NOTE}, merged "
                     f"by cleaning.duplicates ({config.cleaning.duplicates}; their data_notes say how many){added}")
    if counted.same_value_duplicates:  # a week's total loaded twice, here and there: doubled without a word
        summary.warn(f"{_counted(counted, 'same_value_duplicates', 'have')} times {SAME_VALUE_NOTE}, their other "
                     "times a row each, that cleaning.duplicates sum added up (their data_notes name the first): rows "
                     "loaded twice? cleaning.duplicates: last keeps one of each")
    if counted.shifted:  # Monday-dated weeks read as W: every forecast dated otherwise than the input
        summary.warn(f"{_counted(counted, 'shifted', 'had')} every timestamp moved to another date on the "
                     f"{config.forecast.frequency!r} grid (their data_notes show the first): their forecasts are "
                     "dated as that grid dates periods, not as the input. Is forecast.frequency the data's?"
                     f"{_dating_hint(config.forecast.frequency)}")


def _say_run_date_notes(counted: staged_counts.StagedCounts, config: JobConfig, summary: JobSummary) -> None:
    """Rows at the run date's edge: after its start, in a period still open, or in one the input stops inside."""
    local = ("; times in a zone ahead of UTC look so too (the job reads times as UTC): give them with their "
             "offset, or in UTC") if sub_daily(config.forecast.frequency) and not summary.zoned_times else ""
    if counted.ahead:  # local times ahead of UTC, every morning; or rows of plans
        summary.warn(f"{_counted(counted, 'ahead', 'have')} rows {AHEAD_NOTE} on its run date, left out as not "
                     f"known yet (their data_notes say how many){local}")
    if counted.open_kept:  # a partial last period modelled as a whole one: only the input knows
        summary.warn(f"{_counted(counted, 'open_kept', 'end')} in a period still open on the run date "
                     f"{summary.run_date}, modelled as a whole period (their data_notes name it): if those rows hold "
                     "only a part of it, or values known only later (a backfill from files), cleaning.open_period: "
                     f"drop leaves them out and forecasts the period{local}")
    if counted.past_input:  # an export cut short, or a backfill's input that stops before its run date
        summary.warn(f"{_counted(counted, 'past_input', 'end')} in a period that {PAST_INPUT_NOTE} (their data_notes "
                     "name it), a part of it: left out and forecast, so their forecasts start there, before the run "
                     f"date {summary.run_date}. An export cut short? Their data_notes name the input's last day")


def _say_value_notes(counted: staged_counts.StagedCounts, config: JobConfig, summary: JobSummary) -> None:
    """What the values and their days look like: several series under a key, days without rows,
    outliers and spikes, running totals, negative values, runs of zeros, stray years, flat ends."""
    if counted.several_series:  # a key column left out: two tickers' prices added up, or stores summed as meant
        several = (f"{_counted(counted, 'several_series', 'have')} the same number of {SEVERAL_SERIES_NOTE}, merged by "
                   f"cleaning.duplicates ({config.cleaning.duplicates}; their data_notes say how many): as meant, or "
                   "several series under one key (a column that tells them apart belongs in input.key_columns)?")
        summary.inform(several)
    if counted.no_weekday:  # business days read as daily: weekend forecasts from a cycle fitted without them
        summary.warn(f"{_counted(counted, 'no_weekday', 'have')} no row on some days of the week in their "
                     f"{NO_WEEKDAY_NOTE} (their data_notes name them), yet {config.forecast.frequency!r} forecasts "
                     "every day: business days (forecast.frequency: B forecasts weekdays only), or days closed "
                     "(cleaning.gaps: zero)?")
    if counted.closed_times:  # opening hours: nights and Sundays are no missing data, nor periods to forecast
        line = _closed_times_line(counted, config, summary.zoned_times)
        (summary.warn if summary.zoned_times else summary.inform)(line)
    if counted.outlying:  # a unit slip or a placeholder in the input: a look at it, before the forecasts
        summary.warn(f"{_counted(counted, 'outlying', 'have', 'modelled series')} values {OUTLIER_NOTE} (their "
                     "data_notes name the farthest): data errors, or a new level? They were modelled as they are")
    if counted.spiky:  # a viral day, a glitch: Prophet fits it into its trend and seasonality, and repeats it
        if config.cleaning.spikes == "leave_out":
            summary.inform(f"{_counted(counted, 'spiky', 'had', 'modelled series')} values {SPIKE_NOTE} them left "
                           "out of their fits (cleaning.spikes: leave_out; their data_notes name the highest)")
        else:
            summary.warn(f"{_counted(counted, 'spiky', 'have', 'modelled series')} values {SPIKE_NOTE} them (their "
                         "data_notes name the highest), kept: a model may repeat them, Prophet in its trend and "
                         "seasonality, and they widen a baseline's interval (made from its errors) and shrink the "
                         "series' MASE (scaled by its changes, their jumps among them). Where they will not recur (a "
                         "viral day, a glitch, a bulk order), cleaning.spikes: leave_out leaves them out of the fits "
                         "and scores")
    if counted.running_totals:  # a meter's register read as kWh per interval: forecasts of the total, not the load
        summary.warn(f"{_counted(counted, 'running_totals', 'have')} values that never fall (their data_notes say "
                     "over how many): running totals (a meter's register, sales to date) where amounts per period "
                     "were meant, or levels growing steadily? A running total's differences are the amounts; they "
                     "were modelled as they are")
    if counted.negative_kept:  # returns among sales, or a meter's fault: either widens the interval, lifts the floor
        floor = config.forecast.floor
        kept = ("forecast.floor auto sets no floor at 0 for them (forecast.floor: 0 would); " if floor == "auto" else
                f"forecast.floor {floor:g} keeps their forecasts at or above it; " if floor is not None else "")
        summary.warn(f"{_counted(counted, 'negative_kept', 'have')} a few {NEGATIVE_KEPT_NOTE} "
                     "(cleaning.negative_values: allow; their data_notes say how many): returns or corrections, or "
                     f"faults? {kept}cleaning.negative_values: drop leaves such values out")
    if counted.zero_runs:  # an outage going on, a feed that stopped: the forecasts start from zero
        summary.warn(f"{_counted(counted, 'zero_runs', 'end')} in a run of zeros where their history has nearly "
                     "none (their data_notes say since when): outages, or feeds that stopped sending? They were "
                     "modelled as they are")
    if counted.late_times and summary.zoned_times:  # Berlin's midnights read in UTC: every row dated the day before
        summary.warn(f"{_counted(counted, 'late_times', 'have')} every time late in a UTC day, at one or two times "
                     f"of day (their data_notes say which), each dated the day it falls in: {LATE_TIMES_NOTE}, each "
                     "a day early? The input's times carry a zone: a date column, or local times without one, keep "
                     "the dates as written")
    if counted.strays:  # 1923 typed for 2023: a century of zeros, or a trend fitted across it, had it been kept
        summary.warn(f"{_counted(counted, 'strays', 'had')} a few first rows {STRAY_NOTE} of their history, five "
                     "years or more before it and longer than all the rest spans (their data_notes say when), left "
                     "out: mistyped years? Correct them in the input")
    if counted.flat_ends:  # a transmitter stuck at its last reading: a flat forecast that CV scores perfect
        summary.warn(f"{_counted(counted, 'flat_ends', 'end', 'modelled series')} in one value repeated far longer "
                     f"than any value before (their data_notes say since when): {FLAT_END_NOTE}? Their forecasts "
                     "follow it, and cross-validation scores a flat forecast of a flat stretch well. They were "
                     "modelled as they are")


def _say_forecast_notes(counted: staged_counts.StagedCounts, config: JobConfig, summary: JobSummary) -> None:
    """What shaped the forecasts: the floor, zeros filled in, retried tasks, forecasts of 0, holidays
    the folds or the history never held, a last cycle's oddity repeated, breaks and changes of level,
    Prophet's failures."""
    if counted.mostly_floored:  # a temperature sensor's winter forecast cut at 0 °C, with nothing said
        floor = config.forecast.floor
        why = ("forecast.floor auto: 0 where a series' history has no value below it; forecast.floor: null keeps "
               "the models' own, a signed level's" if floor == "auto" else
               f"forecast.floor {floor:g}" if isinstance(floor, (int, float)) else "forecast.floor")
        summary.warn(f"{_counted(counted, 'mostly_floored', 'had', 'modelled series')} half or more of their forecast "
                     f"points raised to the floor (their data_notes say how many; {why}): a level falling towards "
                     "it, or a model's trend run past it?")
    if counted.stopped:  # delisted products under gaps: zero, forecast from their zeros (a seasonal model: last year's)
        summary.warn(f"{_counted(counted, 'stopped', 'have')} had no rows for over twice their longest run of zeros "
                     "before, filled with zeros up to the run date by cleaning.gaps: zero (their data_notes say "
                     "since when): discontinued? Their forecasts follow from those zeros, a seasonal model's from last "
                     "year's values. cleaning.stale_after skips series whose rows stop that long before the run date")
    if counted.zeros_into_levels:  # a price's exchange holidays as crashes to 0: the forecast pulled down
        summary.inform(f"{_counted(counted, 'zeros_into_levels', 'had')} periods without a row filled with zeros by "
                     "cleaning.gaps: zero, though their own values never come near 0 (their data_notes say how many): "
                     "prices, levels or stocks, where a period without a row is a holiday or a gap in the feed? The "
                     "models fit those zeros as crashes; cleaning.gaps: keep or interpolate suits such series")
    if counted.retried:  # a Python worker that died (out of memory?): the retry hid it from the counts
        summary.warn(f"{_counted(counted, 'retried', 'were')} trained again in a retry of their Spark task, an earlier "
                     "attempt having failed (a Python worker that died: out of memory? Spark's log above says why): "
                     "their results are the retry's")
    if counted.zero_forecasts:  # low counts ranked by sMAPE: a forecast of nothing where something comes
        by_smape = (config.selection.metric or config.tuning.metric) == "smape"
        summary.warn(f"{_counted(counted, 'zero_forecasts', 'are', 'modelled series')} {ZERO_FORECAST_NOTE}, though "
                     "their recent values are not (their data_notes say how much they were)"
                     + (": ranked by sMAPE, which favours a forecast of zeros in series with zeros; tuning.metric: "
                        "mase ranks by the scale of each series' changes" if by_smape else
                        ": series mostly of zeros, whose likeliest value is 0? For their rate instead (to "
                        "replenish), recent_mean among selection.candidates, ranked by selection.metric: rmse"))
    if counted.unseen_holidays:  # a trial's folds ran November to February: CV MASE 0.6, 2.7 over the Eid ahead
        summary.warn(f"{_counted(counted, 'unseen_holidays', 'are', 'modelled series')} forecast over holidays on "
                     f"which their history's values stood out and {UNSEEN_HOLIDAY_NOTE} (their data_notes name them): "
                     "their cross-validation scores do not speak for those periods, nor did the tuning or the choice "
                     "of model see them. Folds that span a year (cross_validation.folds and step) would hold them")
    if counted.never_held_holidays:  # eight weeks of a plant's load: its May bank holiday forecast as a Monday
        summary.warn(f"{_counted(counted, 'never_held_holidays', 'are', 'modelled series')} forecast over holidays "
                     f"{NEVER_HELD_NOTE} (their data_notes name them): no effect of them was learnt, and they are "
                     "forecast as usual days. A history of a year spans each yearly one once; a day observed in a "
                     "weekend holiday's stead, or a one-off, only where one came before")
    if counted.repeated_oddities:  # an outage's 0 repeated by seasonal naive: exact zeros a week on
        summary.warn(f"{_counted(counted, 'repeated_oddities', 'are', 'modelled series')} forecast repeating a last "
                     f"cycle that holds a value far from that time's in the cycles before (their data_notes name it): "
                     "an outage's 0 or a one-off spike, forecast as if it recurred? A value that did not happen is "
                     "best given as missing (cleaning.missing_values fills or leaves it out)")
    if counted.breaks:  # a stock split on the last day: the forecasts start from neither level
        summary.warn(f"{_counted(counted, 'breaks', 'end')} in values {BREAK_NOTE} of their history (their "
                     "data_notes name them): a break in the data (a stock split, a new unit), a last period loaded "
                     "only in part (one value below the range: its note says how to leave it out), or values to "
                     "check? They were modelled as they are")
    if counted.level_shifts:  # a split ticker: a trend fitted across the step, a baseline's interval ten times as wide
        summary.warn(f"{_counted(counted, 'level_shifts', 'have')} a change of level inside their history (their "
                     "data_notes say when, from what to what): a stock split, a new unit, a store resized, a "
                     "season's start or end, or two series joined? They were modelled across it, a baseline's "
                     "interval counting the jump as one of its errors: adjust the values before it, or start the "
                     "input after it")
    if counted.zero_stretches:  # a stock-out's three weeks of zeros fitted as no demand: the level pulled down
        summary.warn(f"{_counted(counted, 'zero_stretches', 'have')} runs of zeros inside a history that has nearly "
                     "none (their data_notes say when): stock-outs, outages or closures? They were modelled as real "
                     "values; given as missing values (empty) instead, they are not fitted as zeros")
    if counted.prophet_failed:  # a Prophet that fits nothing: the baselines forecast, the counts say ok
        summary.warn(f"{_counted(counted, 'prophet_failed', 'are', 'modelled series')} forecast by another candidate, "
                     f"{PROPHET_FAILED_NOTE} (their data_notes quote an error; the log at DEBUG has each one): "
                     "values Prophet cannot fit, or a broken installation?")


# what each cleaning.missing_values did with a missing value ("reject" skips the series, said by its reason)
# (one sharing its period with a value is left out under any policy: the value stands for the period)
MISSING_ACTIONS = {"drop": "left out", "interpolate": "filled or left out", "zero": "filled with 0 or left out",
                   "reject": "refused"}


def _counted(counted: staged_counts.StagedCounts, name: str, verb: str, kind: str = "series") -> str:
    """A summary line's start for the series meeting condition ``name``, a few of them named:
    "2 series (e.g. north/bread, south/tea) have"."""
    count, named = getattr(counted, name), counted.examples.get(name)
    return series_that(count, verb, f"{kind} (e.g. {', '.join(named)})" if named else kind)


def _dating_hint(frequency: str) -> str:
    """How the frequencies of the grid's kind date their periods otherwise, as a hint."""
    kind = frequency.lstrip("0123456789").upper()[:1]
    if kind == "W":
        return " (weeks dated by their first day: 7D)"
    if kind in ("M", "Q", "Y"):
        return " (periods dated by their last day: ME, QE, YE; by their first: MS, QS, YS)"
    return ""


def _closed_times_line(counted: staged_counts.StagedCounts, config: JobConfig, zoned: bool = False) -> str:
    """What the job did with the times of the week series never have a row at; with times given
    with their UTC offsets (``zoned``), that a local clock's change moves opening hours in UTC."""
    line = (f"{_counted(counted, 'closed_times', 'have')} times of the week without a row in their history, "
            "e.g. nights or Sundays (their data_notes name them): ")
    if config.cleaning.closed_times == "forecast":
        return line + "forecast all the same (cleaning.closed_times: forecast); leave_out leaves closed times out"
    cycle = ("" if "weekly_naive" in config.selection.candidates else
             "; weekly_naive among selection.candidates repeats the last week, where days differ in their hours")
    clocks = ("; the input's times carry UTC offsets, so where local clocks change (summer time) the opening hours "
              "move by an hour in UTC: both hours stay open, one forecast while closed. Local times without an "
              "offset keep to the local clock" if zoned else "")
    return line + f"closed times, not counted missing nor stale and not forecast (cleaning.closed_times){cycle}{clocks}"
