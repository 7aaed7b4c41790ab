"""Set-up of the Spark Python worker process the training runs in, once per process."""
from __future__ import annotations

import os
import sys
import zipimport

_prepared = False


def prepare() -> None:
    """Called by every training task; only the first call in a process does anything."""
    global _prepared
    if not _prepared:
        _prepared = True
        _reread_zip_directories_only_when_changed()


def _reread_zip_directories_only_when_changed() -> None:
    """Spark's worker calls importlib.invalidate_caches() before every task. On
    Python 3.10 and 3.11 that makes each zipimporter (one per package folder
    imported from pyspark.zip, py4j's zip or a --py-files zip) read its whole
    archive's directory again, in Python (CPython gh-103200, lazy since 3.12):
    about 10 ms a series here, at 8 series a task. The archives do not change
    while a worker lives; an importer now rereads one only when its size or
    modification time did."""
    if sys.version_info >= (3, 12):
        return
    reread = zipimport.zipimporter.invalidate_caches
    if getattr(reread, "checks_archive_stat", False):
        return

    def invalidate_caches(self) -> None:
        try:
            stat = os.stat(self.archive)
            seen = (stat.st_size, stat.st_mtime_ns)
        except OSError:
            seen = None
        if seen is None or getattr(self, "_archive_stat", None) != seen:
            reread(self)
            self._archive_stat = seen

    invalidate_caches.checks_archive_stat = True
    zipimport.zipimporter.invalidate_caches = invalidate_caches
