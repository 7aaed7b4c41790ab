"""One series' input rows read as the job read them, without Spark: the raw rows,
before cleaning (duplicates summed, gaps filled, times put on the frequency's grid).
The history a model was fitted on, after cleaning, is in its models table
(``model_store.fitted_history``)."""
from __future__ import annotations

import fnmatch
import logging
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pandas as pd

from forecasting import lineage, series_identity
from forecasting.cleaning_notes import stray_first_rows
from forecasting.config import SAMPLE_INPUT
from forecasting.periods import align_to_grid, end_of_day, iso_week_starts, quarter_starts, sub_daily
from forecasting.run_date_cut import settled_until
from forecasting.sample_data import make_sample_sales
from forecasting.table_reads import arrow_to_pandas, read_table

logger = logging.getLogger(__name__)


def load_history(
    config: dict, keys: dict[str, Any], data_version: str | None = None, run_date: str | None = None,
    folder: str | Path | None = None,
) -> pd.DataFrame:
    """One series' input rows as ``ds``/``y``, read the way the job read them: a
    CSV's columns as text (so a key 1 is "1", as in the tables), keys compared as text.
    ``data_version``, the run's tag of that name: for a Delta input the version it
    read (else the one ``versionAsOf`` or ``timestampAsOf`` pins, else the latest).
    ``run_date``, the run's tag of that name: only the rows the job knew on it, those
    before the end of that day, or of the last settled period with
    ``cleaning.unsettled_periods`` (a backfill's history stops where its forecast starts).
    ``folder``: the one the job ran in, which a relative input path is relative to.
    For local CSV or parquet files, ``data_version`` is their content's hash: a warning
    says when they changed since the run read them."""
    source = dict(config["input"])
    if folder is not None and source["path"] != SAMPLE_INPUT and not urlparse(source["path"]).scheme:
        source["path"] = str(Path(folder) / Path(source["path"]).expanduser())
    options = {name.lower(): value for name, value in source.get("options", {}).items()}  # Spark's, not pandas'
    if source["path"] == SAMPLE_INPUT:
        frame = make_sample_sales()
    elif source["format"] == "csv":
        frame = _read_csv(source["path"], options)
    elif source["format"] == "delta":
        pinned = data_version if data_version and data_version.isdigit() else options.get("versionasof")
        frame = read_table(source["path"], version=None if pinned is None else int(pinned),
                           timestamp=options.get("timestampasof") if pinned is None else None)
    elif source["format"] == "parquet":
        import pyarrow.parquet as pq

        frame = arrow_to_pandas(pq.read_table(source["path"]))  # a Spark-written file has no pandas metadata
    else:
        raise ValueError(f"the input is the catalog table {source['path']}: read its rows with Spark")
    if data_version and source["path"] != SAMPLE_INPUT and source["format"] in ("csv", "parquet"):
        _warn_if_changed(source["path"], data_version, options)
    frame = frame.rename(columns=source.get("rename_columns") or {})  # as forecasting.io names them
    for column in keys:  # as forecasting.io trims them (Spark's trim: spaces alone), and folds their case
        if column in frame and pd.api.types.infer_dtype(frame[column], skipna=True) in ("string", "empty"):
            if source.get("trim_keys"):
                frame[column] = frame[column].str.strip(" ")
            if source.get("key_case"):
                text = frame[column].str
                frame[column] = text.lower() if source["key_case"] == "lower" else text.upper()
    country = (config.get("model") or {}).get("country_holidays_column")
    if country in frame and pd.api.types.infer_dtype(frame[country], skipna=True) in ("string", "empty"):
        frame[country] = frame[country].fillna("")  # as the job reads a null country (validation.with_blank_countries)
    for column, value in keys.items():
        frame = frame[key_matches(frame[column], value)]
    history = frame.rename(columns={source["time_column"]: "ds", source["target_column"]: "y"})[["ds", "y"]]
    kind = pd.api.types.infer_dtype(history["ds"], skipna=True)
    times = history["ds"].str.strip() if kind == "string" else history["ds"]
    pattern = source.get("time_format")
    if pattern and kind in ("string", "integer"):  # as input_parsing.parsed_time reads them
        translated = strftime_format(pattern)
        if translated is None:
            raise ValueError(f"input.time_format {pattern!r} has letters this reader does not translate "
                             "(it takes y, M, d, H, m, s and quoted text): read the history with Spark")
        texts = times.astype("string")
        ds = pd.to_datetime(texts.where(texts.str.len() > 0), format=translated)  # blank: no time
    else:
        # as the job reads times: any ISO 8601 form, an offset converted to UTC, whose wall-clock times it
        # models; a quarter's label (2019Q3) as its first day, an ISO week's (2024-W05) as its Monday
        labelled = (quarter_starts(times).fillna(iso_week_starts(times)) if kind == "string"
                    else pd.Series(pd.NaT, index=times.index))
        iso = times.where(labelled.isna())
        ds = labelled.fillna(pd.to_datetime(iso, utc=True, format="ISO8601").dt.tz_convert(None))
    y = history["y"]
    if pd.api.types.infer_dtype(y, skipna=True) == "string":  # as input_parsing.parsed_target reads it
        y = y.str.strip().replace("", None)
        if source.get("decimal_separator") == ",":
            y = y.str.replace(",", ".", regex=False)
    # the job models doubles; text that is no number it reads as a missing value
    history = history.assign(ds=ds, y=pd.to_numeric(y, errors="coerce").astype("float64"))
    history = history[history["ds"].notna()]  # a row without a time: the job leaves it out
    if run_date is not None:
        history = history[history["ds"] < end_of_day(run_date)]  # the rows known on the run date (pipeline.as_of_cut)
        history = _settled(config, run_date, history)
    return history.sort_values("ds")


def _settled(config: dict, run_date: str, history: pd.DataFrame) -> pd.DataFrame:
    """``history`` up to the last settled period (cleaning.unsettled_periods; periods under
    a day from a past run date's start, as cleaning counts them for a run not made on its
    date), by the periods its rows are aligned to, as cleaning cuts them: a Saturday's row
    is a business-day series' Friday's."""
    unsettled = config.get("cleaning", {}).get("unsettled_periods", 0)
    if not unsettled or history.empty:
        return history
    frequency = config["forecast"]["frequency"]
    times = history["ds"].sort_values()
    stray, note = stray_first_rows(times)  # cleaning's grid (7D) counts from the first row kept after them
    origin = (times[~stray.to_numpy()] if note else times).min().normalize()
    reference = pd.Timestamp(run_date).normalize() if sub_daily(frequency) else end_of_day(run_date)
    cut = settled_until(reference, frequency, origin, unsettled)
    return history[(align_to_grid(history["ds"], frequency, origin=origin) < cut).to_numpy()]


# Spark's CSV reader options (in lower case) that this reader follows, or that change no value it reads;
# with any other (comment, lineSep, emptyValue, modifiedBefore ...) the history is Spark's to read
CSV_OPTIONS_FOLLOWED = frozenset({
    "sep", "delimiter", "quote", "escape", "encoding", "charset", "nullvalue", "pathglobfilter",
    "recursivefilelookup", "ignoreleadingwhitespace", "ignoretrailingwhitespace", "multiline", "mode",
    "enforceschema", "samplingratio", "inputbuffersize", "maxcolumns", "maxcharspercolumn", "columnpruning",
    "compression", "codec", "ignorecorruptfiles", "ignoremissingfiles"})
HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"  # a partition folder's name for a null value


def _read_csv(path: str, options: dict[str, Any]) -> pd.DataFrame:
    """A CSV input's rows, every column as text, read with the options Spark's reader
    takes (``options``' names in lower case) as ``forecasting.io`` sets them: its
    separator, quote, escape, encoding, null text and whitespace trimming; a folder's
    files as Spark finds them, with the columns of its partition folders (store=north).
    ValueError for an option it does not follow."""
    unfollowed = sorted(set(options) - CSV_OPTIONS_FOLLOWED)
    if unfollowed:
        raise ValueError(f"input.options {', '.join(unfollowed)}: this reader does not follow them; read the "
                         "history with Spark")
    escape, null_text = options.get("escape", '"'), options.get("nullvalue", "")
    sep = options.get("sep", options.get("delimiter", ","))
    # Spark reads the two characters \t as a tab, and \u0001 as that character
    sep = "\t" if sep == "\\t" else chr(int(sep[2:], 16)) if re.fullmatch(r"\\u[0-9a-fA-F]{4}", sep) else sep
    settings = dict(dtype=str, sep=re.escape(sep) if len(sep) > 1 else sep, engine="python" if len(sep) > 1 else "c",
                    quotechar=options.get("quote", '"'), doublequote=escape == '"',
                    escapechar=None if escape == '"' else escape,
                    encoding=options.get("encoding", options.get("charset", "utf-8")),
                    # only Spark's nulls: pandas' own list would make a key "NA" (Namibia) one; an empty
                    # field is one whatever nullValue says (a quoted "" is not, which pandas cannot tell)
                    keep_default_na=False, na_values=sorted({"", null_text}))
    files = _spark_files(path, options)
    if files is None:
        frame = pd.read_csv(path, **settings)
    elif not files:
        raise FileNotFoundError(f"no input file at {path}")
    else:
        frame = pd.concat([pd.read_csv(found, **settings).assign(**partitions) for found, partitions in files],
                          ignore_index=True)
    for option, strip in (("ignoreleadingwhitespace", "lstrip"), ("ignoretrailingwhitespace", "rstrip")):
        if str(options.get(option, "false")).lower() == "true":
            frame = frame.apply(lambda column: getattr(column.str, strip)() if column.dtype == object else column)
    return frame


def _spark_files(path: str, options: dict[str, Any] | None = None) -> list[tuple[Path, dict]] | None:
    """The files Spark reads at a local input path, each with its partition folders'
    values: a file; or a folder's files (not those whose name starts with _ or .), with
    those of its ``name=value`` folders and no other folder's, all of them with
    ``recursiveFileLookup``; only names ``pathGlobFilter`` matches. None for a remote store."""
    if urlparse(path).scheme not in ("", "file"):
        return None
    options = options or {}
    root = Path(unquote(urlparse(path).path)).expanduser()
    if root.is_file():
        return [(root, {})]
    pattern = options.get("pathglobfilter", "*")
    recursive = str(options.get("recursivefilelookup", "false")).lower() == "true"
    found: list[tuple[Path, dict]] = []

    def visit(folder: Path, partitions: dict) -> None:
        for entry in sorted(folder.iterdir()) if folder.is_dir() else []:
            if entry.name.startswith(("_", ".")):
                continue
            if entry.is_file() and fnmatch.fnmatchcase(entry.name, pattern):
                found.append((entry, partitions))
            elif entry.is_dir() and recursive:
                visit(entry, partitions)
            elif entry.is_dir() and "=" in entry.name:
                name, value = entry.name.split("=", 1)
                visit(entry, {**partitions, unquote(name): None if value == HIVE_NULL else unquote(value)})
    visit(root, {})
    return found


def _warn_if_changed(path: str, data_version: str, options: dict[str, Any]) -> None:
    """Warn when local input files no longer hash to the run's ``data_version``
    (``lineage.files_digest``, over the files Spark reads)."""
    files = _spark_files(path, options)
    if files is None:
        return  # hashed by path, size and modification time, through Hadoop
    _, digest = lineage.files_digest(None, [found.resolve().as_uri() for found, _ in files])
    if digest != data_version:
        logger.warning("input %s has changed since the run read it (its content hash is now %s, the run's "
                       "data_version is %s): these rows are the input as it is now; the history a run's models "
                       "were fitted on is in its models table (model_store.fitted_history)", path, digest, data_version)


# Spark's datetime pattern letters (their run's length counts) as strftime's
STRFTIME = {"y": "%Y", "yyyy": "%Y", "M": "%m", "MM": "%m", "d": "%d", "dd": "%d", "H": "%H", "HH": "%H",
            "mm": "%M", "ss": "%S"}


def strftime_format(pattern: str) -> str | None:
    """Spark's datetime ``pattern`` as a strftime format, or None where it holds a
    letter run STRFTIME lacks (month names, zones, fractions)."""
    parts, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if char == "'":  # quoted text; '' is a quote
            end = pattern.find("'", i + 1)
            if end < 0:
                return None
            if end + 1 < len(pattern) and pattern[end + 1] == "'" and end > i + 1:
                return None  # a quote doubled inside quoted text
            parts.append((pattern[i + 1:end] or "'").replace("%", "%%"))
            i = end + 1
        elif char in "[]#{}":  # optional sections and reserved characters: no strftime for them
            return None
        elif char.isalpha():
            run = len(pattern[i:]) - len(pattern[i:].lstrip(char))
            letters = pattern[i:i + run]
            if letters not in STRFTIME:
                return None
            parts.append(STRFTIME[letters])
            i += run
        else:
            parts.append(char.replace("%", "%%"))
            i += 1
    return "".join(parts)


def key_matches(column: pd.Series, value: Any) -> pd.Series:
    """Which rows hold the key value, compared as text the way the tags show it
    (``series_identity.key_text``): a CSV's 1 is "1", a null is "<null>", a time is in UTC."""
    distinct = column.drop_duplicates()
    # not Series.map, which hands a nullable integer column's values over as floats ("2.0");
    # and isin matches no pandas NA, so a null is matched by isna
    wanted = distinct[[series_identity.key_text(item) == series_identity.key_text(value) for item in distinct]]
    return column.isin(wanted.dropna()) | (column.isna() & wanted.isna().any())
