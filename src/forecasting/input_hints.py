"""What an unreadable input most likely means: the hints the input check's errors end
with, worked out from the header, the reader's options and a few of the values
(pure Python, no Spark)."""
from __future__ import annotations

import difflib
import re

from forecasting.config_schema import InputConfig

SEPARATORS = (";", "\t", "|")  # the field separators a CSV file has besides the comma
# A number with a currency sign or code before or after it: $1,234.50, -€12, 12.50 USD, (CHF 3)
_CODES = "USD|EUR|GBP|JPY|CHF|CAD|AUD|NZD|CNY|HKD|SGD|INR|KRW|SEK|NOK|DKK|PLN|CZK|BRL|MXN|ZAR"
CURRENCY_TEXT = (rf"\(?[+-]?(?:[$€£¥₹]|(?:{_CODES})\s?)[+-]?\s?[0-9][0-9,.' ]*\)?"
                 rf"|[+-]?[0-9][0-9,.' ]*\s?(?:[$€£¥₹]|{_CODES})")
# Texts an export writes for no value: marks without letters or digits (-, ---, ?), or the usual words
NO_VALUE_TEXT = r"[^0-9A-Za-z\s]+|(?i:#?n/?a|n\.a\.|null|none|nil|missing|unknown)"


SET_COLUMNS = " Set input.key_columns, input.time_column and input.target_column to match."


def missing_columns_advice(missing: list[str], columns: list[str], header: list[str], options: dict,
                           csv: bool, configured: tuple[str, ...] = ()) -> str:
    """What to do about the configured ``missing`` columns: with a CSV header, where it
    can be told why, a name given twice (Spark suffixes a repeated name, case aside, with
    each one's position in ``columns``: sales2, Sales3) or a header read wrong; else
    to name the columns the input has, where one is close to a name it lacks (a typo) that
    one; not a column another setting takes (``configured``)."""
    free = [name for name in header if name not in configured]
    if not csv:
        return _close_names(missing, free) + SET_COLUMNS
    repeated = [c for c in missing if any(other.lower() == f"{c.lower()}{i}" for i, other in enumerate(columns))]
    twice = (f" The header names {repeated} more than once (Spark takes names whatever their case, and "
             "numbered each by its position): rename all but one." if repeated else "")
    return twice + (header_names_hint(header, options) or _close_names(missing, free) + SET_COLUMNS)


def _close_names(missing: list[str], header: list[str]) -> str:
    """The input's column names close to configured ones it lacks: a typo, either side."""
    by_lower = {name.lower(): name for name in header}
    close = [(name, by_lower[found[0]]) for name in missing
             for found in [difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.75)] if found]
    return "".join(f" The input names it {match!r}, with spaces around it: set input.rename_columns: "
                   f"{{{match!r}: {name!r}}} (Delta tables refuse a column name with a space)."
                   if match.strip() == name.strip() else f" Did you mean {match!r} for {name!r}?"
                   for name, match in close)


def header_names_hint(header: list[str], options: dict) -> str:
    """What a CSV header that names none of the configured columns most likely means."""
    given = [value for name, value in options.items() if name.lower() in ("sep", "delimiter")]
    commented = "comment" in {name.lower() for name in options}
    if header and header[0][:1] in ("#", ";") and not commented:  # an export's banner line above the header
        return (f" The first line reads as a comment ({header[0]!r}): input.options.comment: "
                f"{header[0][0]!r} skips the lines that start with it.")
    if len(header) == 1:
        found = [s for s in SEPARATORS if s in header[0]]
        if found:
            now = f"input.options.sep is {given[0]!r}" if given else "Spark's own default is a comma"
            return f" The header reads as one column holding {found[0]!r}: set input.options.sep: {found[0]!r} ({now})."
    if any(c.startswith("PAR1") or any(not ch.isprintable() and not ch.isspace() for ch in c) for c in header):
        return (" The header is not text: a parquet file (it starts with PAR1)? Set input.format to the "
                "files' format.")
    return ""


def expected_values(source: InputConfig, column: str, examples: list, few: bool = False) -> str:
    """What the time or target column's values should have been, as the settings read them;
    ``few``: a few times among many that read, which another pattern would refuse."""
    if column == source.time_column and few:  # 2025-02-30 among ISO dates: those rows to fix, no pattern to set
        read = f"input.time_format {source.time_format!r}" if source.time_format else "ISO 8601"
        return (f"dates or timestamps, where the others read as {read}: fix those rows (a date the calendar lacks, "
                "or another form mixed in)")
    if column == source.time_column:
        numbers = _numbers_for_times(examples)
        if numbers:
            return f"dates or timestamps ({numbers})"
        return "dates or timestamps" + (
            f" as input.time_format {source.time_format!r} reads them" if source.time_format else
            " as ISO 8601 reads them (2024-03-31, 2024-03-31T14:30+02:00, 2024-W05), or quarter labels (2024Q1): "
            f"set input.time_format to read another form, e.g. {_date_pattern(examples)}")
    if source.decimal_separator == ",":
        return "numbers with a decimal comma (input.decimal_separator)"
    # a decimal comma, not a thousands separator (1,234): that one would read a thousand times smaller
    commas = any(re.fullmatch(r"\s*[+-]?[0-9]*,[0-9]+\s*", str(example))
                 and not re.search(r",[0-9]{3}\s*$", str(example)) for example in examples)
    if commas:
        return "numbers (a decimal comma, 96,5, needs input.decimal_separator: ',')"
    # amounts as a spreadsheet shows them: a currency sign or code before or after the number
    if any(re.fullmatch(CURRENCY_TEXT, str(e).strip()) for e in examples):
        return ("numbers (currency signs or codes, $12,345.67, are not read: write plain numbers, 12345.67, "
                "a negative one with a minus sign; input.decimal_separator: ',' reads 12345,67)")
    if any(re.fullmatch(r"\s*[+-]?[0-9]{1,3}([,.' ][0-9]{3})+([.,][0-9]+)?\s*", str(e)) for e in examples):
        return "numbers (thousands separators, 12,345,678.90, are not read: write the numbers without them)"
    # a text for no value (n/a, ---): a CSV reader option reads one such text as missing
    placeholder = next((str(e).strip() for e in examples if re.fullmatch(NO_VALUE_TEXT, str(e).strip())), None)
    if placeholder and source.format == "csv":
        return (f"numbers (if {placeholder!r} means no value, input.options.nullValue: {placeholder!r} reads it as "
                "missing; one text only)")
    return "numbers"


def _numbers_for_times(examples: list) -> str:
    """What numbers in the time column most likely are, where every example is one: Unix
    epoch seconds or milliseconds (no date pattern reads them), or yyyyMMdd dates that a
    float column wrote with a .0 (pandas makes an integer column with a gap floats)."""
    texts = [str(example).strip() for example in examples if str(example).strip()]
    if not texts or not all(re.fullmatch(r"[0-9]+(\.0+)?", text) for text in texts):
        return ""
    whole = [text.split(".")[0] for text in texts]
    dated = r"(19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])"  # yyyyMMdd, and yyyyMMddHH after it
    if all("." in text for text in texts) and all(re.fullmatch(dated, text) for text in whole):
        return ("yyyyMMdd dates written as decimals, 20250101.0, as pandas writes an integer column with a "
                "missing value: write them as whole numbers or text, then input.time_format: yyyyMMdd reads them")
    if any(re.fullmatch(dated + r"([01][0-9]|2[0-3])?", text) for text in whole):
        return ""  # yyyyMMdd or yyyyMMddHH: a pattern reads them, as the usual advice says
    # seconds or milliseconds since 1970, from 1998 to 2039: no count of something else that long
    for unit, low, high in (("seconds", 9e8, 2.2e9), ("milliseconds", 9e11, 2.2e12)):
        if all(low <= int(text) <= high for text in whole):
            return (f"Unix epoch {unit}? No date pattern reads them: convert them to timestamps before the job "
                    f"(pandas: pd.to_datetime(column, unit={'s' if unit == 'seconds' else 'ms'!r}))")
    return ""


def _date_pattern(examples: list) -> str:
    """The Spark pattern the example dates are most likely written in: 05/19/2024 is
    M/d/yyyy, 19.05.2024 d.M.yyyy; where no day above 12 tells, both; else the usual."""
    found = [re.fullmatch(r"\s*([0-9]{1,2})([/.-])([0-9]{1,2})\2([0-9]{4})\s*", str(e)) for e in examples]
    found = [match for match in found if match]
    if not found:
        return "dd/MM/yyyy or yyyyMMdd"
    mark = found[0].group(2)  # one letter each: Spark's d and M read 5 and 05 alike, dd and MM only 05
    days_first, months_first = f"d{mark}M{mark}yyyy", f"M{mark}d{mark}yyyy"
    if any(int(match.group(1)) > 12 for match in found):
        return days_first
    if any(int(match.group(3)) > 12 for match in found):
        return months_first
    return f"{days_first} or {months_first}, as the day or the month comes first"


def renamed_header_hint(complaint: str) -> str:
    """What a CSV header Spark finds not to conform to its own reading of it says: Spark
    names a column without a name _c4, and numbers a repeated name (note, Note) by its
    position, note4, then finds the header's own names no match. A header of another length:
    a file with a column more or fewer, or no CSV file at all (a README beside them)."""
    if "Number of column in CSV header" in complaint:
        return (" (every file of the folder is read, each with the first file's columns: give the files the same "
                "columns, or the path a pattern that names the data files alone, folder/*.csv)")
    found = re.search(r"Expected: (\S+) but found:\s*(\S*)", complaint)
    if not found:
        return ""
    expected, written = found.groups()
    if not written and re.fullmatch(r"_c[0-9]+", expected):
        return " (the header has a column without a name, a comma at its end?: name it or remove it)"
    if written and expected.lower().startswith(written.lower()) and expected[len(written):].isdigit():
        return (f" (the header names {written!r} more than once, whatever the case, and Spark numbered them: "
                "rename all but one)")
    return ""


# What a malformed CSV row with an odd number of quotes most likely is (spans_lines)
SPANS_LINES = ("a quoted value there spans lines (a line break inside its quotes), and Spark reads a CSV line by "
               "line, so the count is of lines: input.options.multiLine: true reads such a value whole")


def spans_lines(examples: list, options: dict) -> bool:
    """Whether a malformed CSV row, as Spark read it line by line, opens a quoted value
    without closing it, or closes one it did not open: a line break inside the quotes,
    which Spark reads as a row's end unless input.options.multiLine is true."""
    given = {name.lower(): str(value) for name, value in options.items()}
    if given.get("multiline", "").lower() == "true":
        return False
    quote = given.get("quote", '"')
    escape = given.get("escape", '"')
    if not quote:
        return False
    # an escaped quote is part of the value ("" in the job's default, as pandas writes it)
    escaped = escape + quote if escape != quote else quote * 2
    return any(str(example).replace(escaped, "").count(quote) % 2 for example in examples if example)


def mixed_types_hint(complaint: str) -> str:
    """What to do where the input's files hold a column in other types (an int in one file, a
    double in another), which Spark reads as one type or not at all."""
    if not any(kind in complaint for kind in ("COLUMN_DATA_TYPE_MISMATCH", "CANNOT_MERGE")):
        return ""
    return (" (rewrite the files with one type per column: pandas' astype, or a cast in the job that writes them; "
            "mergeSchema does not widen an int to a double)")


def no_rows_known(counts, run_date: str, latest_time: str) -> str:
    """Why a run has nothing to train on: no row on or before its run date, with where the
    rows are instead (``240101`` read as the year 240101, a run date before the data);
    ``counts``: validation.InputCounts; ``latest_time``: the latest pandas holds."""
    said = f"no input rows on or before the run date {run_date}"
    if not counts.after_run_date:
        return said
    said += f": all {counts.after_run_date} rows with a time are after it, up to {counts.after_run_date_last}"
    year = re.match(r"\+?(\d+)", counts.after_run_date_last or "")
    if year and int(year.group(1)) > int(latest_time[:4]):
        said += (" (times read as years far ahead: dates written as numbers, yyMMdd? input.time_format reads "
                 "other forms)")
    return said
