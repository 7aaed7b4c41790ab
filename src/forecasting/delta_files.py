"""A Delta table read without Spark, its files by pyarrow.

deltalake's own scan (``to_pandas``, ``to_pyarrow_table``, ``to_pyarrow_dataset``)
leaves threads that abort the process as it exits, about one time in four on the
project's machines ("terminate called without an active exception", exit 134:
delta-io/delta-rs#2184), which fails a downstream job that read a table without a
fault of its own. deltalake here only reads the table's log, its version's files and
their partition values; pyarrow reads the files. Tables whose reader needs more than
Delta's first protocol and its timestamps without a zone (deletion vectors, column
mapping: the job's tables need neither) and tables on remote storage are left to
deltalake's scan.
"""
from __future__ import annotations

from urllib.parse import unquote, urlparse


def dataset(table):
    """The rows of ``table`` (a ``deltalake.DeltaTable`` at the version it was loaded
    at) as a pyarrow dataset in the table's schema: partition values from the log,
    the columns a file lacks (added to the table after it was written) null."""
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.fs

    where = urlparse(table.table_uri)
    protocol = table.protocol()
    # a timestampNtz column asks for reader features, none that changes how its files are read
    plain = protocol.min_reader_version == 1 or (protocol.min_reader_version == 3
                                                 and set(protocol.reader_features or ()) <= {"timestampNtz"})
    if not plain or where.scheme not in ("", "file"):
        return table.to_pyarrow_dataset()
    root = unquote(where.path if where.scheme else table.table_uri).rstrip("/")  # a URI: a space is %20
    schema = pa.schema(table.schema().to_arrow())
    actions = pa.record_batch(table.get_add_actions(flatten=True))
    partitions = table.metadata().partition_columns
    paths, expressions = [], []
    for index, path in enumerate(actions.column("path").to_pylist()):
        paths.append(f"{root}/{path}")  # deltalake gives them decoded (the log's %2520 as the folder's %20)
        expression = ds.scalar(True)
        for name in partitions:
            value = actions.column(f"partition.{name}")[index]
            field = ds.field(name)
            expression &= field == value.cast(schema.field(name).type) if value.is_valid else field.is_null()
        expressions.append(expression)
    return ds.FileSystemDataset.from_paths(paths, schema=schema, format=ds.ParquetFileFormat(),
                                          filesystem=pyarrow.fs.LocalFileSystem(), partitions=expressions)
