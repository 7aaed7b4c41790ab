import subprocess
import sys
import threading
import types

import pytest

from forecasting.deferred_imports import defer_module

PACKAGE_INIT = """\
import os
os.environ["{name}_INIT_RUNS"] = str(int(os.environ.get("{name}_INIT_RUNS", "0")) + 1)
from . import helper                 # the package's own __init__ importing its submodule
from {name}.helper import twice
VALUE = twice(21)
"""


@pytest.fixture
def package(tmp_path, monkeypatch, request):
    """A package ``name`` whose __init__ counts its runs in the environment."""
    name = f"deferred_probe_{request.node.name.replace('[', '_').replace(']', '')}"[:60]
    folder = tmp_path / name
    folder.mkdir()
    (folder / "__init__.py").write_text(PACKAGE_INIT.format(name=name))
    (folder / "helper.py").write_text("def twice(x):\n    return 2 * x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv(f"{name}_INIT_RUNS", raising=False)
    yield name
    for module in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[module]


def init_runs(name: str) -> int:
    import os

    return int(os.environ.get(f"{name}_INIT_RUNS", "0"))


def test_a_submodule_imports_without_the_package_init_which_runs_on_the_first_name(package):
    assert defer_module(package)
    import importlib

    helper = importlib.import_module(f"{package}.helper")
    assert helper.twice(4) == 8
    assert init_runs(package) == 0

    deferred = sys.modules[package]
    assert deferred.VALUE == 42  # the first name read runs __init__, in full
    assert init_runs(package) == 1
    assert type(deferred) is types.ModuleType
    assert deferred.helper is helper
    with pytest.raises(AttributeError):
        deferred.missing
    assert init_runs(package) == 1


def test_threads_asking_at_once_run_the_init_once(package):
    assert defer_module(package)
    deferred = sys.modules[package]
    start, seen = threading.Barrier(4), []

    def read():
        start.wait()
        seen.append(deferred.VALUE)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == [42] * 4
    assert init_runs(package) == 1


def test_a_submodule_deferred_before_its_package_is_bound_by_the_package_unrun(package):
    import importlib
    import os

    folder = next(path for path in sys.path if os.path.isdir(os.path.join(path, package)))
    with open(os.path.join(folder, package, "heavy.py"), "w") as heavy:
        heavy.write(f"import os\nos.environ['{package}_HEAVY'] = 'ran'\nNAME = 'heavy'\n")
    with open(os.path.join(folder, package, "__init__.py"), "a") as init:
        init.write("from . import heavy\n")

    assert defer_module(f"{package}.heavy", import_parent=False)
    assert package not in sys.modules  # found without importing its package
    parent = importlib.import_module(package)
    assert parent.VALUE == 42
    assert type(parent.heavy).__name__ == "_DeferredModule"
    assert f"{package}_HEAVY" not in os.environ
    assert parent.heavy.NAME == "heavy"
    assert os.environ.pop(f"{package}_HEAVY") == "ran"


def test_nothing_is_deferred_that_is_imported_already_absent_or_not_a_package(package):
    import importlib

    importlib.import_module(package)
    assert not defer_module(package)
    assert not defer_module(f"{package}.helper")
    assert not defer_module("no_such_package_here")


def test_the_training_modules_load_without_the_unused_ones_which_still_work_when_asked_for():
    """In a fresh interpreter, as the driver and the worker daemon import them."""
    pytest.importorskip("databricks.sdk")
    script = """
import sys
import forecasting
from forecasting import python_worker
python_worker.load_training_modules()
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
import mlflow.pyfunc
import hyperopt
print(type(sys.modules["databricks.sdk"]).__name__, "databricks.sdk.service.catalog" in sys.modules,
      type(hyperopt.atpe).__name__, "scipy.stats" in sys.modules)
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import NotFound
import databricks.sdk
print(type(databricks.sdk).__name__, "databricks.sdk.service.catalog" in sys.modules,
      WorkspaceClient.__module__, databricks.sdk.errors.NotFound is NotFound,
      callable(hyperopt.atpe.suggest), type(hyperopt.atpe).__name__, "scipy.stats" in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    before, after = done.stdout.strip().splitlines()[-2:]
    assert before == "_DeferredModule False _DeferredModule False"
    assert after == "module True databricks.sdk True True module True"
