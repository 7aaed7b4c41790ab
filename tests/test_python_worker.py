"""Set-up of the Spark Python worker process, without Spark."""
import importlib
import os
import sys
import zipfile
import zipimport

import pytest

from forecasting import python_worker


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="Python 3.12 rereads zip directories lazily itself")
def test_zip_directories_are_reread_by_invalidate_caches_only_when_the_archive_changed(tmp_path, monkeypatch):
    archive = tmp_path / "shipped.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("shipped_one.py", "VALUE = 1\n")
    monkeypatch.syspath_prepend(str(archive))
    importlib.invalidate_caches()
    assert importlib.import_module("shipped_one").VALUE == 1

    reads = []
    read_directory = zipimport._read_directory
    monkeypatch.setattr(zipimport, "_read_directory", lambda path: reads.append(path) or read_directory(path))
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
    for name in ("shipped_one", "shipped_two"):
        sys.modules.pop(name, None)
