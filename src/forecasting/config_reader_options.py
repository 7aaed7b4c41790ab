"""The checks of ``input.options``, the options handed to Spark's reader: a misspelt
name Spark would ignore without a word, one the job's own reading contradicts, Delta's
time travel written as Delta reads it."""
from __future__ import annotations

import difflib
import re
from typing import Any

from forecasting.config_schema import TIME_TRAVEL_OPTIONS, JobConfig
from forecasting.config_schema import require as _require

# CSV reader options the job's own reading would ignore or contradict: it reads every column as text.
CSV_FIXED_OPTIONS = ("header", "inferschema", "dateformat", "timestampformat", "timestampntzformat")
# The options Spark 4's CSV and parquet readers know (CSVOptions, ParquetOptions), and those of
# every file source; a test checks them against the running Spark's own lists.
FILE_SOURCE_OPTIONS = ("pathGlobFilter", "recursiveFileLookup", "modifiedBefore", "modifiedAfter",
                       "ignoreCorruptFiles", "ignoreMissingFiles", "basePath")
READER_OPTIONS = {
    "csv": (*FILE_SOURCE_OPTIONS, "charToEscapeQuoteEscaping", "charset", "codec", "columnNameOfCorruptRecord",
            "columnPruning", "comment", "compression", "dateFormat", "delimiter", "emptyValue",
            "enableDateTimeParsingFallback", "encoding", "enforceSchema", "escape", "escapeQuotes", "extension",
            "header", "ignoreLeadingWhiteSpace", "ignoreTrailingWhiteSpace", "inferSchema", "inputBufferSize",
            "lineSep", "locale", "maxCharsPerColumn", "maxColumns", "mode", "multiLine", "nanValue", "negativeInf",
            "nullValue", "positiveInf", "preferDate", "quote", "quoteAll", "samplingRatio", "sep", "timeZone",
            "timestampFormat", "timestampNTZFormat", "unescapedQuoteHandling"),
    "parquet": (*FILE_SOURCE_OPTIONS, "compression", "datetimeRebaseMode", "int96RebaseMode", "mergeSchema",
                "parquet.compression"),
}
# Delta's reader takes other options too (readChangeFeed, Hadoop's): only a name close to a pin is
# taken for one mistyped (version_as_of), which Delta would ignore, reading the latest version
DELTA_PIN_OPTIONS = ("versionAsOf", "timestampAsOf")


def check_input_options(config: JobConfig) -> None:
    """input.options: names the reader knows, none the job's own reading contradicts or
    Spark would take twice, Delta's pins well formed."""
    inp = config.input
    _check_reader_option_names(inp.format, inp.options)
    if inp.format == "csv":
        fixed = sorted(k for k in inp.options if k.lower() in CSV_FIXED_OPTIONS)
        _require(not fixed, "input.options", f"sets {fixed}: the job reads a CSV file's header row and every "
                 "column as text, then parses the time and target columns itself (times as ISO 8601 text, "
                 "e.g. 2024-03-31 or 2024-03-31T14:00:00+02:00; another form with input.time_format, e.g. dd/MM/yyyy)")
    spellings: dict[str, list[str]] = {}
    for name in inp.options:
        spellings.setdefault(name.lower(), []).append(name)
    twice = [names for names in spellings.values() if len(names) > 1]
    _require(not twice, "input.options", f"sets {' and '.join(twice[0]) if twice else ''}: Spark reads an option's "
             "name in any case, so one of them would be dropped without a word")
    pinned = sorted(k for k in inp.options if k.lower() in TIME_TRAVEL_OPTIONS)
    _require(not pinned or inp.format == "delta", "input.options",
             f"sets {pinned}, which pin a Delta table's version: input.format is {inp.format}, whose reader ignores them")
    _check_time_travel({k.lower(): (k, v) for k, v in inp.options.items()})



def _check_reader_option_names(fmt: str, options: dict[str, Any]) -> None:
    """Refuse a misspelt CSV or parquet reader option, or Delta pin, which Spark would
    ignore without a word. A name close to none of the reader's own passes: Spark hands
    file sources' other options to Hadoop (fs.s3a.endpoint, say)."""
    known = DELTA_PIN_OPTIONS if fmt == "delta" else READER_OPTIONS.get(fmt)
    if known is None:
        return
    by_lower = {name.lower(): name for name in known}
    for name in options:
        if name.lower() in by_lower:
            continue
        close = difflib.get_close_matches(name.lower(), by_lower, n=1, cutoff=0.75)
        _require(not close, f"input.options.{name}", f"is not an option of Spark's {fmt} reader, which would "
                 f"ignore it: did you mean {by_lower[close[0]] if close else ''!r}?")


def _check_time_travel(options: dict[str, tuple[str, Any]]) -> None:
    """Delta's versionAsOf and timestampAsOf, checked before any table is opened."""
    _require(not ("versionasof" in options and "timestampasof" in options), "input.options",
             "sets both versionAsOf and timestampAsOf: Delta reads one version, pinned by either")
    if "versionasof" in options:
        key, value = options["versionasof"]
        _require(re.fullmatch(r"\d+", str(value).strip()) is not None, f"input.options.{key}",
                 f"is {value!r}: a Delta version is a whole number, 0 or more")
    if "timestampasof" in options:
        key, value = options["timestampasof"]
        # the forms Spark casts to a time (a year, its month and day, a time of day, a zone);
        # pandas also takes '', 'NaT', 'now', 31/03/2024 and 2024/03/31, which Delta refuses
        written = re.fullmatch(r"\d{4,6}(-\d{1,2}(-\d{1,2}([ T]\d{1,2}(:\d{1,2}(:\d{1,2}(\.\d{1,9})?)?)?)?)?)?"
                               r"( ?(Z|UTC|GMT|[+-]\d{1,2}(:?\d{2})?|[A-Za-z]+(/[A-Za-z_]+)+))?", str(value).strip())
        _require(written is not None, f"input.options.{key}", f"is {value!r}, not a time (e.g. '2024-03-31 12:00:00')")
