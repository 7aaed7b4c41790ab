"""What a run records it was made from: input files, and code run from a packed zip."""
import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from forecasting import io, lineage

ROOT = Path(__file__).resolve().parents[1]


def test_input_files_in_a_folder_whose_name_has_a_space_are_hashed(spark, fast_config, tmp_path):
    folder = tmp_path / "my sales"
    folder.mkdir()
    (folder / "input.csv").write_text("store,date,sales\na,2024-01-01,1\n")
    config = fast_config(f"input.path={folder}", "input.format=csv")
    files = spark.read.option("header", True).csv(str(folder)).inputFiles()
    version = lineage.files_version(spark, config, files)
    content = (folder / "input.csv").read_bytes()
    assert [entry["bytes"] for entry in version["files"]] == [len(content)]
    assert version["content_sha256"] == hashlib.sha256(content).hexdigest()


def test_the_same_files_listed_in_another_order_have_the_same_hash(spark, fast_config, tmp_path):
    (tmp_path / "a.csv").write_text("store,date,sales\na,2024-01-01,1\n")
    (tmp_path / "b.csv").write_text("store,date,sales\nb,2024-01-01,2\n")
    config = fast_config(f"input.path={tmp_path}", "input.format=csv")
    files = sorted(spark.read.option("header", True).csv(str(tmp_path)).inputFiles())
    assert len(files) == 2
    forward, backward = (lineage.files_version(spark, config, order) for order in (files, files[::-1]))
    assert forward["content_sha256"] == backward["content_sha256"]
    assert forward["files"] == backward["files"]


def test_the_package_run_from_its_zip_names_its_commit_and_unpacks_its_source(tmp_path):
    """As on a cluster's driver with --py-files: no git checkout around the code."""
    subprocess.run(["bash", str(ROOT / "scripts" / "package_job.sh")], check=True, timeout=120,
                   env={**os.environ, "DIST": str(tmp_path / "dist")}, cwd=ROOT)
    probe = (
        "import json, sys; from pathlib import Path; import forecasting;"
        "from forecasting import lineage, registration;"
        "print(json.dumps([forecasting.__file__, lineage.code_version(),"
        " str(registration.package_source(Path(sys.argv[1])))]))"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "dist" / "forecasting.zip")}
    done = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "unpacked")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    module_file, version, source = json.loads(done.stdout)
    assert "forecasting.zip" in module_file  # imported from the zip, not from the checkout
    assert version == lineage.code_version()  # the commit the zip was built from, as git says here
    assert (Path(source) / "serving.py").read_text() == (ROOT / "src" / "forecasting" / "serving.py").read_text()
    # the entry points travel beside it: a node or a scheduler runs them without a checkout
    assert sorted(path.name for path in (tmp_path / "dist" / "jobs").iterdir()) == sorted(
        path.name for path in (ROOT / "jobs").glob("*.py"))


def test_the_package_run_outside_git_and_unpacked_names_its_source_by_a_hash(tmp_path):
    """Installed elsewhere, or an edited copy on PYTHONPATH: the installed version alone
    ("forecasting==0.1.0") named neither what ran nor a change to it."""
    probe = "import forecasting; from forecasting import lineage; print(forecasting.__file__); print(lineage.code_version())"
    versions = []
    for number, edit in enumerate(("", "# an edit\n")):
        copy = tmp_path / f"path{number}" / "forecasting"
        shutil.copytree(Path(lineage.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
        with open(copy / "tables.py", "a") as source:
            source.write(edit)
        done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                              env={**os.environ, "PYTHONPATH": str(copy.parent)})
        assert done.returncode == 0, done.stderr[-2000:]
        module_file, version = done.stdout.splitlines()[:2]
        assert module_file.startswith(str(copy)) and "source sha256 " in version, version
        versions.append(version)
    assert versions[0] != versions[1]


def test_a_zip_built_outside_git_names_its_source_by_a_hash(tmp_path):
    """From an exported copy (git archive, a tarball): "unknown" alone named no source."""
    copy = tmp_path / "export"
    for part in ("src", "scripts", "jobs"):
        shutil.copytree(ROOT / part, copy / part, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(["bash", "scripts/package_job.sh"], check=True, timeout=120, cwd=copy,
                   env={**os.environ, "DIST": str(tmp_path / "dist"), "GIT_CEILING_DIRECTORIES": str(tmp_path)})
    with zipfile.ZipFile(tmp_path / "dist" / "forecasting.zip") as archive:
        build = archive.read("forecasting/BUILD").decode().strip()
    digest = lineage.source_digest(copy / "src" / "forecasting")[:16]
    assert build == f"unknown (built outside a git checkout), source sha256 {digest}"
    assert (tmp_path / "dist" / "jobs" / "train_forecast.py").is_file()


def test_a_delta_input_by_path_or_by_table_name_is_read_at_the_version_it_records(spark, fast_config, tmp_path):
    """The latest version when read_input runs: the job's later actions (the input
    check, the training) see that one, not rows written to the table since."""
    path = str(tmp_path / "sales")
    schema = "store string, date string, sales double"
    rows = spark.createDataFrame([("a", "2024-01-01", 1.0)], schema)
    rows.write.format("delta").save(path)
    rows.write.format("delta").mode("append").save(path)  # the table's second version: 1

    df, version = io.read_input(spark, fast_config(f"input.path={path}", "input.format=delta"))
    spark.createDataFrame([("b", "2024-01-01", 2.0)], schema).write.format("delta").mode("append").save(path)  # 2
    assert version == {"source": path, "format": "delta", "delta_version": 1}
    assert sorted(df.collect()) == sorted(rows.union(rows).collect())  # no store "b"

    spark.sql(f"CREATE TABLE lineage_sales USING delta LOCATION '{path}'")
    try:
        df, version = io.read_input(spark, fast_config("input.path=lineage_sales", "input.format=table"))
        spark.createDataFrame([("c", "2024-01-01", 3.0)], schema).write.format("delta").mode("append").save(path)
        assert version == {"source": "lineage_sales", "format": "table", "delta_version": 2}
        assert sorted(row["store"] for row in df.collect()) == ["a", "a", "b"]  # no store "c", written as 3
    finally:
        spark.sql("DROP TABLE lineage_sales")


def test_a_delta_input_by_a_relative_path_is_read_and_its_version_recorded(spark, fast_config, tmp_path):
    """Relative to the folder the job starts in, as the README says; Spark 4's SQL
    refused delta.`<relative path>` in the version lookup (an input error, exit 3)."""
    spark.createDataFrame([("a", "2024-01-01", 1.0)], "store string, date string, sales double") \
        .write.format("delta").save(str(tmp_path / "sales"))
    started_in = spark.sparkContext._jvm.System.getProperty("user.dir")  # the driver's folder
    relative = os.path.relpath(tmp_path / "sales", started_in)
    assert not os.path.isabs(relative)

    df, version = io.read_input(spark, fast_config(f"input.path={relative}", "input.format=delta"))
    assert version == {"source": relative, "format": "delta", "delta_version": 0}
    assert [row["store"] for row in df.collect()] == ["a"]


def test_a_delta_version_pinned_in_the_input_options_is_the_one_read_and_recorded(spark, fast_config, tmp_path):
    path = str(tmp_path / "sales")
    rows = spark.createDataFrame([("a", "2024-01-01", 1.0)], "store string, date string, sales double")
    rows.write.format("delta").save(path)
    rows.write.format("delta").mode("append").save(path)  # version 1, two rows
    first = spark.sql(f"DESCRIBE HISTORY delta.`{path}`").where("version = 0").first()["timestamp"]
    for option in ("input.options.versionAsOf=0", f"input.options.timestampAsOf={first.isoformat(sep=' ')}"):
        df, version = io.read_input(spark, fast_config(f"input.path={path}", "input.format=delta", option))
        assert (version["delta_version"], df.count()) == (0, 1), option
    # a time between two later commits: the last version at or before it, not the first
    rows.write.format("delta").mode("append").save(path)  # version 2, three rows
    second = spark.sql(f"DESCRIBE HISTORY delta.`{path}`").where("version = 1").first()["timestamp"]
    df, version = io.read_input(spark, fast_config(f"input.path={path}", "input.format=delta",
                                                   f"input.options.timestampAsOf={second.isoformat(sep=' ')}"))
    assert (version["delta_version"], df.count()) == (1, 2)
    # a time after the last commit: Delta's own words, as an input error (exit 3), not a Py4J error
    with pytest.raises(io.InputError, match=f"cannot read input delta '{path}': .*DELTA_TIMESTAMP_GREATER_THAN_COMMIT"):
        io.read_input(spark, fast_config(f"input.path={path}", "input.format=delta",
                                         "input.options.timestampAsOf='2099-01-01'"))


def test_a_backfill_reads_a_delta_input_as_it_stood_at_the_end_of_its_run_date(spark, fast_config, tmp_path):
    """The data known then: a count an upstream load corrected later is not in a backfill
    of an earlier date; the end of today's run date is still to come, so today reads
    the latest."""
    from forecasting.pipeline import read_checked_input

    path = str(tmp_path / "sales")
    schema = "store string, item string, date string, sales double"
    spark.createDataFrame([("a", "x", "2024-01-01", 1.0)], schema).write.format("delta").save(path)
    spark.createDataFrame([("a", "x", "2024-01-01", 5.0)], schema).write.format("delta").mode("overwrite").save(path)
    today = dt.datetime.now(dt.timezone.utc).date()
    for version, days_ago in ((0, 10), (1, 3)):  # Delta dates a commit by its log file's time
        noon = dt.datetime.combine(today - dt.timedelta(days=days_ago), dt.time(12), tzinfo=dt.timezone.utc)
        os.utime(Path(path) / "_delta_log" / f"{version:020d}.json", (noon.timestamp(), noon.timestamp()))
    config = fast_config(f"input.path={path}", "input.format=delta")

    def read(run_date, *settings):
        checked = read_checked_input(spark, fast_config(f"input.path={path}", "input.format=delta", *settings),
                                     str(run_date))
        return checked.data_version, [row["y"] for row in checked.frame.collect()]

    version, sales = read(today - dt.timedelta(days=5))
    assert (version["delta_version"], version["latest_version"], sales) == (0, 1, [1.0])
    said, is_warning = io.version_note(version)
    assert not is_warning and "Delta version 0, of 1 now (input.delta_as_of: latest reads the latest" in said
    assert read(today - dt.timedelta(days=3))[0]["delta_version"] == 1  # committed on the run date, before its end
    assert io.version_note(read(today - dt.timedelta(days=3))[0]) is None  # the latest: nothing to say
    assert read(today) == ({"source": path, "format": "delta", "delta_version": 1}, [5.0])
    assert read(today - dt.timedelta(days=5), "input.delta_as_of=latest") == (
        {"source": path, "format": "delta", "delta_version": 1}, [5.0])
    # pinned by the options: those win
    assert read(today - dt.timedelta(days=5), "input.options.versionAsOf=1")[0]["delta_version"] == 1
    # a table created after the run date: its latest, with a warning that corrections are in
    version, sales = read(today - dt.timedelta(days=20))
    assert (version["delta_version"], version["as_of_found"], sales) == (1, False, [5.0])
    said, is_warning = io.version_note(version)
    assert is_warning and "has no version committed before the run date's end" in said
    assert config.input.delta_as_of == "run_date"  # the default
    # a commit at midnight after the run date is the next day's
    midnight = dt.datetime.combine(today - dt.timedelta(days=4), dt.time(0), tzinfo=dt.timezone.utc)
    os.utime(Path(path) / "_delta_log" / f"{1:020d}.json", (midnight.timestamp(), midnight.timestamp()))
    assert read(today - dt.timedelta(days=5))[0]["delta_version"] == 0
    assert read(today - dt.timedelta(days=4))[0]["delta_version"] == 1
    # VACUUM removed that version's files: the latest, with a warning, not a failure mid-run
    # listed in a few tasks: Spark's default, 10,000, took half a minute for this one-row table
    vacuum_settings = {"spark.databricks.delta.retentionDurationCheck.enabled": "false",
                       "spark.sql.sources.parallelPartitionDiscovery.parallelism": "2"}
    for key, value in vacuum_settings.items():
        spark.conf.set(key, value)
    try:
        spark.sql(f"VACUUM delta.`{path}` RETAIN 0 HOURS")
    finally:
        for key in vacuum_settings:
            spark.conf.unset(key)
    version, sales = read(today - dt.timedelta(days=5))
    latest = version["latest_version"]  # VACUUM commits versions of its own
    assert (version["delta_version"], version["vacuumed"], sales) == (latest, 0, [5.0])
    said, is_warning = io.version_note(version)
    assert is_warning and said.startswith("the input's Delta version 0, as it stood at the run date's end, cannot be "
                                          f"read: VACUUM removed its files. Its latest, version {latest}, was read")


def test_files_given_as_written_or_percent_encoded_hash_alike(tmp_path):
    # Spark's URIs are percent-encoded as Java encodes them, a notebook's as pathlib does
    files = [tmp_path / "store@north.csv", tmp_path / "store-south.csv"]
    for i, path in enumerate(files):
        path.write_text(f"store,date,sales\n{i},2024-01-01,{i}\n")
    written = [f"file://{path}" for path in files]
    encoded = [path.as_uri() for path in files]
    assert encoded != written
    assert lineage.files_digest(None, written)[1] == lineage.files_digest(None, encoded)[1]


def test_a_local_file_given_as_a_plain_path_is_hashed_without_spark(tmp_path):
    path = tmp_path / "input.csv"
    path.write_text("store,date,sales\na,2024-01-01,1\n")
    entries, digest = lineage.files_digest(None, [str(path)])
    assert entries == [{"path": str(path), "bytes": path.stat().st_size}]
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest() == lineage.files_digest(None, [path.as_uri()])[1]


def test_a_files_version_records_the_inputs_own_format(fast_config, tmp_path):
    path = tmp_path / "input.parquet"
    path.write_bytes(b"PAR1")
    version = lineage.files_version(None, fast_config(f"input.path={path}", "input.format=parquet"), [path.as_uri()])
    assert (version["source"], version["format"]) == (str(path), "parquet")


def test_a_delta_path_with_a_backquote_is_named_as_spark_sql_reads_it_back():
    path = "/data/odd`name/sales"
    name = lineage.delta_table_name(path)
    assert name.startswith("delta.`") and name.endswith("`")
    assert name[len("delta.`"):-1].replace("``", "`") == path  # what Spark reads back
    assert "`" not in name[len("delta.`"):-1].replace("``", "")  # no lone backquote to end the name early


def test_a_file_on_a_cluster_file_system_rewritten_with_the_same_size_hashes_anew(monkeypatch):
    # hashed by path, size and modification time: its contents are not read on the driver
    times = iter([1_700_000_000_000, 1_700_000_500_000])

    def on_file_system(spark, uri):
        status = SimpleNamespace(getLen=lambda: 123, getModificationTime=lambda now=next(times): now)
        return uri, SimpleNamespace(getFileStatus=lambda path: status)

    monkeypatch.setattr("forecasting.tables.on_file_system", on_file_system)
    uri = "hdfs://nn/data/sales.csv"
    before, after = (lineage.files_digest(object(), [uri]) for _ in range(2))
    assert before[0] == after[0] == [{"path": uri, "bytes": 123}]
    assert before[1] != after[1]


def test_a_checkout_with_local_edits_names_them_by_a_hash_of_its_source_and_so_does_its_zip(tmp_path):
    """Two uncommitted edits of one commit had been the same "<commit>-dirty"."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=120)
    for tested in ("src", "scripts"):  # the code under test, committed or not
        shutil.copytree(ROOT / tested, clone / tested, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=clone, check=True, capture_output=True, text=True,
                            timeout=30).stdout.strip()
    probe = "from forecasting import lineage; print(lineage.code_version())"
    edited = clone / "src" / "forecasting" / "tables.py"
    original = edited.read_text()
    versions = []
    for edit in ("# one edit\n", "# another\n"):
        edited.write_text(original + edit)
        done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                              env={**os.environ, "PYTHONPATH": str(clone / "src")})
        assert done.returncode == 0, done.stderr[-2000:]
        versions.append(done.stdout.strip())
        assert versions[-1].startswith(f"{commit}-dirty, source sha256 "), versions[-1]
    assert versions[0] != versions[1]
    # the zip built from that checkout says the same, hash included
    subprocess.run(["bash", "scripts/package_job.sh"], check=True, timeout=120, cwd=clone,
                   env={**os.environ, "DIST": str(tmp_path / "dist")})
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(tmp_path / "dist" / "forecasting.zip")})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == versions[-1]
    # a module git does not track, in the package: code no commit holds, in the checkout and in its zip
    edited.write_text(original)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "the code under test",
                    "--allow-empty"], cwd=clone, check=True, timeout=60)  # else the copied working tree is dirty
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=clone, check=True, capture_output=True, text=True,
                            timeout=30).stdout.strip()
    (clone / "src" / "forecasting" / "scratch.py").write_text("ANSWER = 42\n")
    said = []
    for path in (clone / "src", tmp_path / "dist" / "forecasting.zip"):
        if path.suffix == ".zip":
            subprocess.run(["bash", "scripts/package_job.sh"], check=True, timeout=120, cwd=clone,
                           env={**os.environ, "DIST": str(tmp_path / "dist")})
        done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                              env={**os.environ, "PYTHONPATH": str(path)})
        assert done.returncode == 0, done.stderr[-2000:]
        said.append(done.stdout.strip())
    assert said[0] == said[1] and said[0].startswith(f"{commit}-dirty, source sha256 ")
