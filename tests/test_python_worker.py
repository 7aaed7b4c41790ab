"""Set-up of the Spark Python worker processes, without Spark."""
import importlib
import os
import re
import selectors
import subprocess
import sys
import zipfile
import zipimport
from pathlib import Path

import pytest

from forecasting import python_worker
from forecasting.spark_session import worker_daemon_conf


def _imported_from_a_zip(tmp_path, monkeypatch, name: str):
    """``{name}_one`` imported from a zip of its own on the path; the zip."""
    archive = tmp_path / f"{name}.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr(f"{name}_one.py", "VALUE = 1\n")
    monkeypatch.syspath_prepend(str(archive))
    importlib.invalidate_caches()
    assert importlib.import_module(f"{name}_one").VALUE == 1
    return archive


def _count_directory_reads(monkeypatch) -> list[str]:
    reads = []
    read_directory = zipimport._read_directory
    monkeypatch.setattr(zipimport, "_read_directory", lambda path: reads.append(path) or read_directory(path))
    return reads


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="Python 3.12 rereads zip directories lazily itself")
def test_zip_directories_are_reread_by_invalidate_caches_only_when_the_archive_changed(tmp_path, monkeypatch):
    archive = _imported_from_a_zip(tmp_path, monkeypatch, "shipped")
    reads = _count_directory_reads(monkeypatch)
    python_worker.prepare()
    for _ in range(3):  # tasks in one worker
        importlib.invalidate_caches()
    assert reads.count(str(archive)) <= 1  # the first look at each importer

    with zipfile.ZipFile(archive, "a") as zipped:
        zipped.writestr("shipped_two.py", "VALUE = 2\n")
    os.utime(archive, ns=(os.stat(archive).st_atime_ns, os.stat(archive).st_mtime_ns + 10**9))
    before = reads.count(str(archive))
    importlib.invalidate_caches()
    assert reads.count(str(archive)) == before + 1
    assert importlib.import_module("shipped_two").VALUE == 2
    for module in ("shipped_one", "shipped_two"):
        sys.modules.pop(module, None)


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="Python 3.12 rereads zip directories lazily itself")
def test_zip_importers_made_before_the_daemon_forks_are_not_reread_by_its_workers_first_task(tmp_path, monkeypatch):
    archive = _imported_from_a_zip(tmp_path, monkeypatch, "preloaded")
    monkeypatch.setattr(python_worker, "PRELOADED_MODULES", ())
    python_worker.load_training_modules()  # what the daemon does before it forks

    reads = _count_directory_reads(monkeypatch)
    importlib.invalidate_caches()  # a forked worker's first task
    assert str(archive) not in reads
    with zipfile.ZipFile(archive, "a") as zipped:
        zipped.writestr("preloaded_two.py", "VALUE = 2\n")
    importlib.invalidate_caches()
    assert reads.count(str(archive)) == 1 and importlib.import_module("preloaded_two").VALUE == 2
    for module in ("preloaded_one", "preloaded_two"):
        sys.modules.pop(module, None)


def test_the_preloading_daemon_is_chosen_only_where_the_workers_python_finds_it_in_a_folder(tmp_path, monkeypatch):
    assert worker_daemon_conf("local[2]", sys.executable) == {"spark.python.daemon.module": "forecasting.worker_daemon"}
    assert worker_daemon_conf("spark://127.0.0.1:7077", sys.executable) == {}  # executors get the package later
    # the interpreter under this virtualenv, without its packages
    base_python = os.path.realpath(sys.executable)
    assert worker_daemon_conf("local[2]", base_python) == {}
    # shipped as a --py-files archive, which the daemon's path never holds
    shipped = tmp_path / "forecasting.zip"
    with zipfile.ZipFile(shipped, "w") as zipped:
        for path in Path(python_worker.__file__).parent.glob("*.py"):
            zipped.write(path, f"forecasting/{path.name}")
    monkeypatch.setenv("PYTHONPATH", str(shipped))
    assert worker_daemon_conf("local[2]", base_python) == {}
    monkeypatch.setenv("PYTHONPATH", str(Path(python_worker.__file__).parent.parent))  # a source folder
    assert worker_daemon_conf("local[2]", base_python) == {"spark.python.daemon.module": "forecasting.worker_daemon"}
    assert worker_daemon_conf("local[2]", str(tmp_path / "no-python")) == {}


def test_the_daemon_preloads_without_writing_to_stdout_where_spark_reads_its_port(capfd, monkeypatch, caplog):
    from forecasting import worker_daemon

    def chatty_import():
        print("imported", flush=True)
        os.write(1, b"from C\n")

    monkeypatch.setattr(python_worker, "load_training_modules", chatty_import)
    passer = worker_daemon.preload()
    print("after")  # standard output is back where it was
    passer.join(timeout=30)
    captured = capfd.readouterr()
    assert captured.out == "after\n"
    assert "imported" in captured.err and "from C" in captured.err

    def no_temporary_folder():
        raise FileNotFoundError("no usable temporary directory")

    monkeypatch.setattr(worker_daemon.tempfile, "TemporaryFile", no_temporary_folder)
    assert worker_daemon.preload() is None  # nowhere to hold it: written to stderr straight
    print("after")
    captured = capfd.readouterr()
    assert captured.out == "after\n" and "imported" in captured.err and "from C" in captured.err
    monkeypatch.undo()

    def failing_import():
        raise ImportError("no prophet here")

    monkeypatch.setattr(python_worker, "load_training_modules", failing_import)
    worker_daemon.preload()  # the daemon still starts; the workers will say what is missing
    assert "no prophet here" in caplog.text


def test_the_daemon_says_its_port_even_when_its_preload_writes_more_than_a_pipe_holds(tmp_path):
    """Spark reads the daemon's stderr only once it has the port: a preload that wrote
    more than a pipe's 64 KB there straight (PYTHONPROFILEIMPORTTIME does) kept the
    daemon from ever saying its port, and the job waited for its first task forever."""
    code = ("import os, sys; from forecasting import python_worker, worker_daemon\n"
            "def loud(): sys.stderr.write('w' * 300_000); os.write(2, b'c' * 300_000)\n"
            "python_worker.load_training_modules = loud\n"
            "passer = worker_daemon.preload()\n"
            "print('port', flush=True)\n"  # what daemon.manager() does next
            "passer.join()\n")
    daemon = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        with selectors.DefaultSelector() as waiting:
            waiting.register(daemon.stdout, selectors.EVENT_READ)
            assert waiting.select(timeout=60), "the daemon never wrote its port: its stderr was not read meanwhile"
        assert daemon.stdout.readline() == b"port\n"
        err = daemon.stderr.read()  # read only now, as Spark does
        assert daemon.wait(timeout=60) == 0
    finally:
        daemon.kill()
    assert err.count(b"w") == 300_000 and err.count(b"c") == 300_000  # nothing lost on the way


def test_speculative_tasks_are_warned_about_since_they_would_log_child_runs_twice(spark):
    from forecasting.spark_session import speculation_warning

    assert speculation_warning(spark.sparkContext.getConf().get) is None  # the test session's default
    assert "spark.speculation is on" in speculation_warning({"spark.speculation": "TRUE"}.get)
    assert speculation_warning({"spark.speculation": "false"}.get) is None
    # a session of its own, in a process of its own: Spark settings hold for a whole context
    code = ("import logging, sys; logging.basicConfig(level=logging.INFO); from forecasting.config import load_config; "
            "from forecasting.spark_session import build_session; build_session('t', load_config(None, sys.argv[1:])).stop()")
    settings = ["spark.conf={spark.speculation: true, spark.ui.enabled: false}", "output.format=parquet"]
    done = subprocess.run([sys.executable, "-c", code, *settings], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "WARNING:forecasting.spark_session:spark.speculation is on: a task's speculative copy" in done.stderr


def test_a_python_workers_warnings_come_in_the_drivers_format_without_passwords():
    """Python's last-resort handler printed an executor's warning as its message alone."""
    code = ("import logging; from forecasting import python_worker; python_worker.prepare(); "
            "logging.getLogger('forecasting.spark_training').warning('tracking failed for a: http://ana:pw@h:5000')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} WARNING forecasting.spark_training: tracking failed "
                        r"for a: http://ana:\(redacted\)@h:5000\n", done.stderr), done.stderr


def test_a_python_workers_temporary_files_go_where_spark_deletes_them_with_the_application(tmp_path):
    """cmdstanpy makes a folder at import that only a clean exit deletes; Spark ends its
    workers with os._exit. Without SPARK_LOCAL_DIRS (not a Spark worker) nothing changes."""
    system, local, other = tmp_path / "system", tmp_path / "blockmgr-1", tmp_path / "blockmgr-2"
    for folder in (system, local, other):
        folder.mkdir()
    code = ("import os, tempfile; from forecasting import python_worker; python_worker.prepare(); "
            "import cmdstanpy; print(cmdstanpy._TMPDIR); print(tempfile.gettempdir(), flush=True); os._exit(0)")

    def worker(**env):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                              env={**os.environ, "TMPDIR": str(system), **env})
        assert done.returncode == 0, done.stderr[-2000:]
        return [Path(line) for line in done.stdout.split()]

    stan_folder, temp = worker(SPARK_LOCAL_DIRS=f"{local},{other}")
    assert temp == local / "python-temp" and stan_folder.parent == temp and stan_folder.is_dir()
    assert not list(system.iterdir()) and not list(other.iterdir())
    stan_folder, temp = worker()
    assert temp == system and stan_folder.parent == system
    # the daemon a local master forks its workers from loads Prophet itself, after using the temporary folder
    code = code.replace("python_worker.prepare()", "from forecasting import worker_daemon; worker_daemon.preload()")
    before = set(system.iterdir())
    stan_folder, temp = worker(SPARK_LOCAL_DIRS=str(local))
    assert temp == local / "python-temp" and stan_folder.parent == temp
    assert set(system.iterdir()) == before
