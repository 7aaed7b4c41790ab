"""Adds compiled bytecode to pyspark's own zips (pyspark.zip, py4j's), which
scripts/setup.sh runs once.

spark-submit puts those zips first on the Python path of the driver and of every
Python worker daemon, so pyspark is imported from them, and Python cannot cache
bytecode for modules in a zip: every process compiled some 100 modules from source
(0.3 to 0.5 s of CPU in the driver's start and again in the worker daemon's).
zipimport loads a ``module.pyc`` stored beside ``module.py`` instead. The ones
written here are checked against their source's hash (PEP 552), so a stale one is
never used, and a Python of another version ignores them and compiles as before.

    python scripts/precompile_zips.py [ZIP ...]    # default: pyspark's zips
"""
from __future__ import annotations

import argparse
import logging
import marshal
import os
import sys
import tempfile
import warnings
import zipfile
from importlib.util import MAGIC_NUMBER, source_hash
from pathlib import Path

logger = logging.getLogger("precompile_zips")

CHECKED_HASH = (0b11).to_bytes(4, "little")  # PEP 552 flags: hash-based, checked against the source


def pyspark_zips() -> list[Path]:
    import pyspark

    return sorted((Path(pyspark.__file__).parent / "python" / "lib").glob("*.zip"))


def bytecode(source: bytes, filename: str) -> bytes:
    """The .pyc zipimport accepts for ``source``; ``filename`` is what tracebacks
    name, as when zipimport compiles the source itself."""
    code = compile(source, filename, "exec", dont_inherit=True)
    return MAGIC_NUMBER + CHECKED_HASH + source_hash(source) + marshal.dumps(code)


def is_current(archive: zipfile.ZipFile) -> bool:
    """True when the zip holds bytecode, all of it of this Python version (a module
    that does not compile has none; a stale one is refused at import by its hash)."""
    compiled = [name for name in archive.namelist() if name.endswith(".pyc")]
    return bool(compiled) and all(_magic(archive, name) == MAGIC_NUMBER for name in compiled)


def _magic(archive: zipfile.ZipFile, name: str) -> bytes:
    with archive.open(name) as member:  # only the header is inflated, not the whole entry
        return member.read(len(MAGIC_NUMBER))


def precompile(path: Path) -> int:
    """Rewrites the zip at ``path`` with a .pyc beside each .py; returns how many."""
    with zipfile.ZipFile(path) as archive:
        if is_current(archive):
            return 0
        entries = [(info, archive.read(info)) for info in archive.infolist() if not info.filename.endswith(".pyc")]
    added = 0
    handle, staged = tempfile.mkstemp(dir=path.parent, suffix=".zip")
    os.close(handle)
    try:
        with zipfile.ZipFile(staged, "w", zipfile.ZIP_DEFLATED) as rewritten:
            for info, data in entries:
                rewritten.writestr(info, data)
                if info.filename.endswith(".py"):
                    try:
                        with warnings.catch_warnings():  # shown when zipimport compiles it, not here
                            warnings.simplefilter("ignore")
                            compiled = bytecode(data, str(path.absolute() / info.filename))
                    except (SyntaxError, ValueError) as err:  # left to fail at import, as it would
                        logger.warning("left %s in %s uncompiled: %s", info.filename, path.name, err)
                        continue
                    entry = zipfile.ZipInfo(info.filename + "c", info.date_time)
                    entry.compress_type = zipfile.ZIP_DEFLATED
                    rewritten.writestr(entry, compiled)
                    added += 1
        os.chmod(staged, path.stat().st_mode)
        # in one step; a job running meanwhile could still fail a later import, as
        # when pip replaces the zip (zipimport keeps each zip's entry offsets)
        os.replace(staged, path)
    finally:
        if os.path.exists(staged):
            os.unlink(staged)
    return added


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("zips", nargs="*", type=Path, help="default: the zips in pyspark/python/lib")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="setup: %(message)s", stream=sys.stderr)
    for path in args.zips or pyspark_zips():
        added = precompile(path)
        if added:
            logger.info("compiled %d modules into %s", added, path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
