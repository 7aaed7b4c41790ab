"""How the input's time and target columns are read: dates and timestamps as they are,
text as ISO 8601 (with a zone, without seconds, a quarter's or an ISO week's label) or by
input.time_format, whole numbers as dates by it, and the target's text as decimal numbers
(with input.decimal_separator), blank text being no value."""
from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from forecasting.config import JobConfig
from forecasting.io import InputError
from forecasting.periods import ISO_WEEK, QUARTER_THEN_YEAR, YEAR_THEN_QUARTER

# ISO 8601 times with a zone and without seconds (2025-03-25T14:00+02:00) or minutes (…T14Z),
# which Spark's parser refuses (it takes them without a zone)
ZONE = r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)"
# a time of day with its zone: text whose times are instants, of no local clock
TIME_WITH_ZONE = rf"[T ][0-9]{{2}}(:[0-9]{{2}}(:[0-9]{{2}}([.,][0-9]+)?)?)?{ZONE}$"
HOURS_WITH_ZONE = rf"^([0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}[T ][0-9]{{2}}){ZONE}$"
MINUTES_WITH_ZONE = rf"^([0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}[T ][0-9]{{2}}:[0-9]{{2}}){ZONE}$"
# A target written as text: decimal, an optional exponent, or inf/infinity/nan (missing values)
NUMBER_TEXT = r"(?i)^[+-]?(([0-9]+\.?[0-9]*|\.[0-9]+)(e[+-]?[0-9]+)?|inf|infinity|nan)$"


def stripped(column: str) -> Column:
    """Text without the whitespace around it: tabs and line breaks too (F.trim strips spaces only)."""
    return F.regexp_replace(F.col(column), r"^\s+|\s+$", "")


def has_value(df: DataFrame, column: str) -> Column:
    """Whether a row holds a value in ``column``: blank text is none, as an empty CSV cell is."""
    if isinstance(df.schema[column].dataType, T.StringType):
        return F.col(column).isNotNull() & (stripped(column) != "")
    return F.col(column).isNotNull()


def parsed_time(df: DataFrame, column: str, time_format: str | None = None) -> Column:
    """The time column as a timestamp: a date or timestamp as it is; text as ISO 8601,
    or by ``time_format`` (input.time_format, a Spark datetime pattern), which also
    reads whole numbers (20240331 as yyyyMMdd)."""
    kind = df.schema[column].dataType
    if isinstance(kind, (T.TimestampType, T.TimestampNTZType, T.DateType)):
        return F.col(column).cast(T.TimestampType())
    whole = isinstance(kind, T.IntegralType) or (isinstance(kind, T.DecimalType) and kind.scale == 0)
    if time_format is not None and (isinstance(kind, T.StringType) or whole):
        # a decimal(8,0) of a database export as its digits, as a whole number's
        text = stripped(column) if isinstance(kind, T.StringType) else F.col(column).cast(T.LongType()).cast(
            T.StringType())
        return F.try_to_timestamp(text, F.lit(time_format))
    if isinstance(kind, T.StringType):
        text = F.regexp_replace(F.regexp_replace(stripped(column), HOURS_WITH_ZONE, "$1:00$2"), MINUTES_WITH_ZONE,
                                "$1:00$2")
        # blank text: null, a row without a time; a quarter's (2019Q3) or an ISO week's label (2024-W05) read
        # only where ISO's dates and times read nothing
        label = stripped(column)
        return F.coalesce(F.try_to_timestamp(text), _quarter_start(label), _iso_week_start(label))
    epoch = "Unix epoch seconds or milliseconds need converting to timestamps before the job"
    hint = (f" (whole numbers such as 20240331 are read with input.time_format: yyyyMMdd; {epoch})" if whole else
            f" (decimals such as 20240331.0, as pandas writes an integer column with a missing value, need writing as "
            f"whole numbers, then input.time_format: yyyyMMdd reads them; {epoch})"
            if isinstance(kind, (T.DoubleType, T.FloatType)) else "")
    raise InputError(f"time column '{column}' has type {kind.simpleString()}; expected a date, timestamp or text{hint}")


def _quarter_start(text: Column) -> Column:
    """A quarter's label (periods.YEAR_THEN_QUARTER, QUARTER_THEN_YEAR) as its first day,
    as periods.quarter_starts reads it; null for other text. Each label matches one of
    the two forms, the other's groups are empty: concatenated, they give its year and quarter."""
    year = F.concat(F.regexp_extract(text, YEAR_THEN_QUARTER, 1), F.regexp_extract(text, QUARTER_THEN_YEAR, 2))
    quarter = F.concat(F.regexp_extract(text, YEAR_THEN_QUARTER, 2), F.regexp_extract(text, QUARTER_THEN_YEAR, 1))
    month = quarter.try_cast(T.IntegerType()) * 3 - 2
    return F.make_date(year.try_cast(T.IntegerType()), month, F.lit(1)).cast(T.TimestampType())


def _iso_week_start(text: Column) -> Column:
    """An ISO week's label (periods.ISO_WEEK) as its Monday, as periods.iso_week_starts
    reads it: week 1's Monday is that of the week holding 4 January; null for other text
    and for a week the year lacks (2021-W53)."""
    year = F.regexp_extract(text, ISO_WEEK, 1).try_cast(T.IntegerType())
    week = F.regexp_extract(text, ISO_WEEK, 2).try_cast(T.IntegerType())
    fourth = F.make_date(year, F.lit(1), F.lit(4))
    monday = F.date_add(F.date_sub(fourth, F.weekday(fourth)), (week - 1) * 7)  # weekday: 0 for Monday
    named = (F.weekofyear(monday) == week) & (F.year(F.date_add(monday, 3)) == year)  # its Thursday's year
    return F.when(named, monday.cast(T.TimestampType()))


def parsed_target(df: DataFrame, column: str, decimal_separator: str = ".") -> Column:
    """The target as a double. Text is a number as written in decimal (with
    ``decimal_separator``, input.decimal_separator), optionally with an exponent, or
    inf/infinity/nan; blank text is a missing value, as an empty CSV cell is. Spark's
    own cast also takes Java's forms ('12d', '5f', '0x1p3'), which here are typos, not
    values; with a decimal comma, a point (1.234,5) is one too."""
    kind = df.schema[column].dataType
    if isinstance(kind, T.NumericType):
        return F.col(column).cast(T.DoubleType())
    if isinstance(kind, T.StringType):
        text = stripped(column)
        if decimal_separator == ",":
            written = text.rlike(NUMBER_TEXT.replace("\\.", ","))
            return F.when(written, F.translate(text, ",", ".").try_cast(T.DoubleType()))
        return F.when(text.rlike(NUMBER_TEXT), text.try_cast(T.DoubleType()))  # else null: blank, or refused
    raise InputError(f"target column '{column}' has type {kind.simpleString()}; expected numbers")


def parsed_columns(df: DataFrame, config: JobConfig) -> tuple[Column, Column]:
    """The time and target columns as the input settings read them (parsed_time, parsed_target)."""
    source = config.input
    return (parsed_time(df, source.time_column, source.time_format),
            parsed_target(df, source.target_column, source.decimal_separator))
