"""Packages whose own ``__init__`` runs only when something asks it for a name.

MLflow's import reaches ``databricks.sdk.errors`` (through its Databricks
artifact repositories), and importing any submodule first runs
``databricks/sdk/__init__.py``, which imports the whole SDK: some 0.7 s of CPU
in every process that imports MLflow (the driver, Spark's worker daemon),
while the job talks to Databricks only when the tracking URI says so. Deferred,
the package's submodules import as usual, and its ``__init__`` runs in full the
first time a name is read from the package itself (``from databricks.sdk import
WorkspaceClient``), whichever thread reads it.
"""
from __future__ import annotations

import importlib.util
import sys
import threading
import types

DEFERRED_PACKAGES = ("databricks.sdk",)
_loading = threading.RLock()


class _DeferredPackage(types.ModuleType):
    """A package module whose ``__init__`` has not run yet; its ``__path__`` is
    set, so submodules import without it."""

    def __getattr__(self, name: str):
        if self.__dict__.get("_deferred_init_thread") == threading.get_ident():
            raise AttributeError(name)  # its own __init__, asking for a name it defines later
        with _loading:
            if type(self) is _DeferredPackage:  # the first name asked for: run __init__ now
                self.__dict__["_deferred_init_thread"] = threading.get_ident()
                try:
                    self.__spec__.loader.exec_module(self)
                finally:
                    del self.__dict__["_deferred_init_thread"]
                self.__class__ = types.ModuleType
        return getattr(self, name)


def defer_package_init(name: str) -> bool:
    """Registers ``name`` (a package not yet imported) as deferred; False where it
    is imported already, not installed or not a package."""
    if name in sys.modules:
        return False
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return False
    if spec is None or spec.submodule_search_locations is None or spec.loader is None:
        return False
    package = importlib.util.module_from_spec(spec)
    package.__class__ = _DeferredPackage
    sys.modules[name] = package
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, package)
    return True


def defer_heavy_packages() -> None:
    for name in DEFERRED_PACKAGES:
        defer_package_init(name)
