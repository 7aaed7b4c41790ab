"""Key values that read alike but are distinct series: bytes not decoded in the file's
encoding, spaces around a value, an accent written as a mark of its own. Spark
conditions the input check counts in its one pass, and the warnings it gives."""
from __future__ import annotations

import logging
from functools import reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from forecasting import series_identity

logger = logging.getLogger(__name__)

UNDECODED = "\ufffd"  # what Spark reads bytes that are not text in the file's encoding as
# A Latin letter followed by a combining diacritical mark (Java's regular expressions, as rlike reads them)
DECOMPOSED_ACCENT = r"\p{IsLatin}[\x{0300}-\x{036F}]"


def _any_key(text_keys: list[str], condition) -> Column:
    return reduce(lambda a, b: a | b, [condition(F.col(k)) for k in text_keys]) if text_keys else F.lit(False)


def undecoded(text_keys: list[str]) -> Column:
    """A CSV file read in the wrong encoding: distinct keys (Müller, Möller) would read alike and merge."""
    return _any_key(text_keys, lambda key: key.contains(UNDECODED))


def padded(text_keys: list[str]) -> Column:
    """' X' and 'X' are two series, as written; spaces around a key are seldom meant, so said."""
    return _any_key(text_keys, lambda key: key != F.trim(key))


def blank(text_keys: list[str]) -> Column:
    """'' is a series of its own in parquet or Delta, apart from a null key's rows (skipped);
    a CSV reads it as null."""
    return _any_key(text_keys, lambda key: key == F.lit(""))


def decomposed(text_keys: list[str]) -> Column:
    """"Zu\u0308rich" (macOS file names, some exports) and "Z\u00fcrich" read alike but are two
    series; a Latin letter before a combining accent is seldom meant (Hindi's or Thai's
    marks are, so not those)."""
    return _any_key(text_keys, lambda key: key.rlike(DECOMPOSED_ACCENT))


# How exports write a missing value as text (SQL's NULL, pandas' None and nan, a spreadsheet's N/A), trimmed, any case
# (not NA: North America, Namibia)
NULL_TEXTS = ("null", "none", "nan", "n/a", "#n/a", "<null>")
# The same texts in any letter case, as one Java regular expression (\z: the very end, where $ would
# let a line break follow): lower() would load ICU's case tables into a cold JVM, about 1 s of the
# input check (run_report.ICU_CASE_MAPPINGS)
NULL_TEXT_PATTERN = "(?i)^(?:" + "|".join(rf"\Q{text}\E" for text in NULL_TEXTS) + r")\z"


def null_text(text_keys: list[str]) -> Column:
    """'NULL' or 'None' as a key is a series of its own, which a database or pandas export meant as
    no value: seldom meant as a name, so said."""
    return _any_key(text_keys, lambda key: F.trim(key).rlike(NULL_TEXT_PATTERN))


def null(df: DataFrame, keys: list[str]) -> Column:
    """A null key value (NaN in a float column too): the series is skipped, and where its
    other keys are a series' as well, its rows are not that series'."""
    floats = [k for k in keys if isinstance(df.schema[k].dataType, (T.FloatType, T.DoubleType))]
    return _any_key(keys, lambda key: key.isNull()) | _any_key(floats, F.isnan)


def conditions(df: DataFrame, source, text_keys: list[str], country_column: str | None) -> dict[str, Column]:
    """Validation's count of each kind of key value, by name, and the condition of its rows."""
    # a blank country is a null one made blank (with_blank_countries): one series, as meant
    named = [k for k in source.key_columns if k.lower() != (country_column or "").lower()]
    named_text = [k for k in text_keys if k in named]
    return {"undecoded": undecoded(text_keys if source.format == "csv" else []), "padded_keys": padded(text_keys),
            "blank_keys": blank(named_text), "decomposed_keys": decomposed(text_keys),
            "null_text_keys": null_text(named_text), "null_keys": null(df, named)}


# Per kind of key value: validation's count of its rows, and what to say of them
KEY_WARNINGS = (
    ("padded_keys", "key values with spaces before or after them, e.g. {named}: each is a series of its "
     "own, apart from one written without them; if they are one, trim them in the input, or set input.trim_keys: true"),
    ("blank_keys", "a blank key value (empty text, not null), e.g. {named}: modelled as a series of its own, "
     "apart from rows whose key is null (skipped: a series needs its keys); a CSV file reads blank text as null"),
    ("decomposed_keys", "key values with an accent written as a mark of its own after its letter "
     "(Unicode NFD, as macOS file names have them), e.g. {named}: each is a series of its own, apart from one that "
     "looks the same written with the accented letter (NFC); normalize them to NFC in the input if they are one"),
    ("null_text_keys", "key values that read like a missing value written as text (NULL, None, nan, "
     "N/A), e.g. {named}: each is modelled as a series of that name; if they mean no value, fix the export, or (CSV) "
     "set input.options.nullValue to that text, which reads it as null (a series with a null key is skipped)"),
    ("null_keys", "a null key value, e.g. {named}: a series needs its keys, so each such series is skipped; where its "
     "other keys are those of a series too, these rows are not that series' (under cleaning.gaps: zero their periods "
     "read there as no sales): fill the key in the input if they are one"),
)


def warnings(df: DataFrame, problems, counts, keys: list[str], examples: int) -> tuple[str, ...]:
    """Key values that look like another's but are not: spaces around them, blank text, an
    accent as a mark of its own (NFD); and a missing value written as text (NULL);
    ``problems``: validation's conditions of them.
    Logged, and lines of the run's summary."""
    said = []
    for count, text in KEY_WARNINGS:
        if counts[count]:
            named = quoted_ids(df.where(problems.keys[count]), keys, examples)
            said.append(f"{counts[count]} input rows have {text.format(named=named)}")
    for line in said:
        logger.warning("%s", line)
    return tuple(said)


def quoted_ids(rows: DataFrame, keys: list[str], examples: int) -> str:
    """A few of ``rows``' distinct ``keys`` as series ids in quotes, so that the spaces
    around a value show: 'S02/I06  '. In the order of their text."""
    found = rows.select(*keys).distinct().limit(examples).collect()
    return ", ".join(sorted(repr(series_identity.series_id(row.asDict())) for row in found))
