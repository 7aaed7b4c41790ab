"""Modules whose code runs only when something asks them for a name.

Two imports cost every process that loads the training's modules (the driver,
Spark's worker daemon) CPU for code the job never uses:
- ``databricks.sdk``: MLflow's import reaches ``databricks.sdk.errors`` (through
  its Databricks artifact repositories), and importing any submodule first runs
  the package's ``__init__``, which imports the whole SDK: some 0.7 s. The job
  talks to Databricks only when the tracking URI says so.
- ``hyperopt.atpe``: Hyperopt's ``__init__`` imports its ATPE algorithm, and
  with it ``pkg_resources`` and ``scipy.stats``: some 0.4 s. The job tunes with TPE.
Deferred, a package's submodules import as usual, and the module's own code runs
in full the first time a name is read from it (``from databricks.sdk import
WorkspaceClient``, ``hyperopt.atpe.suggest``), whichever thread reads it.
"""
from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import threading
import types

# module: whether its parent package is imported first, so that the module is
# bound there (False where the parent's own import binds it, as hyperopt's
# ``from . import atpe`` does, and would run it)
DEFERRED_MODULES = {"databricks.sdk": True, "hyperopt.atpe": False}
_loading = threading.RLock()


class _DeferredModule(types.ModuleType):
    """A module whose code has not run yet; a package's ``__path__`` is set, so
    its submodules import without it."""

    def __getattr__(self, name: str):
        if self.__dict__.get("_deferred_init_thread") == threading.get_ident():
            raise AttributeError(name)  # its own code, asking for a name it defines later
        with _loading:
            if type(self) is _DeferredModule:  # the first name asked for: run its code now
                self.__dict__["_deferred_init_thread"] = threading.get_ident()
                try:
                    self.__spec__.loader.exec_module(self)
                finally:
                    del self.__dict__["_deferred_init_thread"]
                self.__class__ = types.ModuleType
        return getattr(self, name)


def defer_module(name: str, import_parent: bool = True) -> bool:
    """Registers ``name`` (not yet imported) as deferred. False where it is
    imported already, or not installed. Without ``import_parent``, a parent
    package not yet imported must bind the module itself when it is."""
    if name in sys.modules:
        return False
    parent, _, child = name.rpartition(".")
    if parent and import_parent:
        try:
            importlib.import_module(parent)
        except ImportError:
            return False
    spec = _find_spec_without_importing(name)
    if spec is None or spec.loader is None:
        return False
    module = importlib.util.module_from_spec(spec)
    module.__class__ = _DeferredModule
    sys.modules[name] = module
    if parent in sys.modules:
        setattr(sys.modules[parent], child, module)
    return True


def _find_spec_without_importing(name: str):
    parent, _, _ = name.rpartition(".")
    if not parent:
        return importlib.util.find_spec(name)
    if parent in sys.modules:
        locations = getattr(sys.modules[parent], "__path__", None)
    else:
        parent_spec = _find_spec_without_importing(parent)
        locations = parent_spec.submodule_search_locations if parent_spec is not None else None
    if locations is None:  # not installed, or the parent is no package
        return None
    return importlib.machinery.PathFinder.find_spec(name, locations)


def defer_unused_imports() -> None:
    for name, import_parent in DEFERRED_MODULES.items():
        defer_module(name, import_parent)
