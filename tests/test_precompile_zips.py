"""scripts/precompile_zips.py: bytecode in a zip is used, and only while it is current."""
import importlib.util
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pyspark

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("precompile_zips", ROOT / "scripts" / "precompile_zips.py")
precompile_zips = importlib.util.module_from_spec(spec)
spec.loader.exec_module(precompile_zips)

SOURCE = 'def answer():\n    return "from source one"\n\ndef fail():\n    raise ValueError("the line shows")\n'


def write_zip(path: Path, files: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)


def import_from(archive: Path) -> str:
    """Imports pkg.mod from the zip in a new Python; says which file it came from."""
    probe = textwrap.dedent(f"""
        import sys, traceback
        sys.path.insert(0, {str(archive)!r})
        from pkg import mod
        try:
            mod.fail()
        except ValueError:
            shown = traceback.format_exc()
        print(mod.__file__.rsplit(".", 1)[1], mod.answer(), "raise ValueError" in shown)
    """)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_modules_load_from_the_added_bytecode(tmp_path):
    archive = tmp_path / "lib.zip"
    write_zip(archive, {"pkg/__init__.py": b"", "pkg/mod.py": SOURCE.encode()})
    assert import_from(archive) == "py from source one True"  # compiled from source

    assert precompile_zips.precompile(archive) == 2
    with zipfile.ZipFile(archive) as rewritten:
        assert sorted(rewritten.namelist()) == ["pkg/__init__.py", "pkg/__init__.pyc", "pkg/mod.py", "pkg/mod.pyc"]
    # from the bytecode; a traceback still shows the source line
    assert import_from(archive) == "pyc from source one True"
    assert precompile_zips.precompile(archive) == 0  # already current


def test_stale_or_foreign_bytecode_is_not_used(tmp_path):
    archive = tmp_path / "lib.zip"
    write_zip(archive, {"pkg/__init__.py": b"", "pkg/mod.py": SOURCE.encode()})
    precompile_zips.precompile(archive)
    with zipfile.ZipFile(archive) as compiled:
        files = {name: compiled.read(name) for name in compiled.namelist()}

    # the source changed after it was compiled (the zip replaced by hand, say)
    changed = SOURCE.replace("from source one", "from source two").encode()
    write_zip(archive, {**files, "pkg/mod.py": changed})
    assert import_from(archive) == "py from source two True"  # compiled from the new source

    # bytecode of another Python version
    write_zip(archive, {**files, "pkg/mod.pyc": b"\x00\x00\r\n" + files["pkg/mod.pyc"][4:]})
    assert not precompile_zips.is_current(zipfile.ZipFile(archive))
    assert import_from(archive) == "py from source one True"
    assert precompile_zips.precompile(archive) == 2  # made again for this Python
    assert zipfile.ZipFile(archive).read("pkg/mod.pyc")[:4] == importlib.util.MAGIC_NUMBER


def test_a_module_that_does_not_compile_is_left_to_fail_at_import(tmp_path):
    archive = tmp_path / "lib.zip"
    write_zip(archive, {"pkg/__init__.py": b"", "pkg/mod.py": SOURCE.encode(), "pkg/broken.py": b"def (:\n"})
    assert precompile_zips.precompile(archive) == 2
    assert "pkg/broken.pyc" not in zipfile.ZipFile(archive).namelist()
    assert precompile_zips.precompile(archive) == 0  # not tried again at every set-up
    assert import_from(archive) == "pyc from source one True"
    failed = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(archive)!r}); import pkg.broken"],
                            capture_output=True, text=True)
    assert "SyntaxError" in failed.stderr


def test_setup_compiled_pysparks_own_zips():
    """spark-submit imports pyspark from these zips in the driver and the worker daemon."""
    zips = precompile_zips.pyspark_zips()
    assert {path.name.split("-")[0] for path in zips} == {"pyspark.zip", "py4j"}
    assert all(precompile_zips.is_current(zipfile.ZipFile(path)) for path in zips)
    assert Path(pyspark.__file__).parent in zips[0].parents
