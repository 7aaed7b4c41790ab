"""What a run records it was made from: input files, and code run from a packed zip."""
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

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


def test_the_package_run_from_its_zip_names_its_commit_and_unpacks_its_source(tmp_path):
    """As on a cluster's driver with --py-files: no git checkout around the code."""
    subprocess.run(["bash", str(ROOT / "scripts" / "package_job.sh")], check=True, timeout=120,
                   env={**os.environ, "DIST": str(tmp_path / "dist")}, cwd=ROOT)
    probe = (
        "import json, sys; from pathlib import Path; import forecasting;"
        "from forecasting import lineage, serving;"
        "print(json.dumps([forecasting.__file__, lineage.code_version(),"
        " str(serving.package_source(Path(sys.argv[1])))]))"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "dist" / "forecasting.zip")}
    done = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "unpacked")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    module_file, version, source = json.loads(done.stdout)
    assert "forecasting.zip" in module_file  # imported from the zip, not from the checkout
    assert version == lineage.code_version()  # the commit the zip was built from, as git says here
    assert (Path(source) / "serving.py").read_text() == (ROOT / "src" / "forecasting" / "serving.py").read_text()


def test_a_delta_input_by_path_or_by_table_name_is_read_at_its_latest_version(spark, fast_config, tmp_path):
    path = str(tmp_path / "sales")
    rows = spark.createDataFrame([("a", "2024-01-01", 1.0)], "store string, date string, sales double")
    rows.write.format("delta").save(path)
    rows.write.format("delta").mode("append").save(path)  # the table's second version: 1
    df, version = io.read_input(spark, fast_config(f"input.path={path}", "input.format=delta"))
    assert version == {"source": path, "format": "delta", "delta_version": 1}
    assert df.count() == 2

    spark.sql(f"CREATE TABLE lineage_sales USING delta LOCATION '{path}'")
    try:
        rows.write.format("delta").mode("append").save(path)  # 2, seen through the catalog too
        df, version = io.read_input(spark, fast_config("input.path=lineage_sales", "input.format=table"))
        assert version == {"source": "lineage_sales", "format": "table", "delta_version": 2}
        assert df.count() == 3
    finally:
        spark.sql("DROP TABLE lineage_sales")
