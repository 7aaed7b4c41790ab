"""MLflow's file store, made cheaper for the many small runs of a job.

Lookups that do not slow down as an experiment fills up:

MLflow 2's FileStore finds one entry of a folder (a run's folder in its
experiment, an experiment's tags folder) by listing the whole folder: 15 listings
of the experiment folder per child run here. At 10,000 runs in the experiment a
listing takes some 5 ms, and the job's child runs get three times slower from the
start of a 10,000-series run to its end. Asking the folder for the name costs one
stat, whatever its size.

A run's metadata read once while one series' child run is logged through MLflow's
client (a retried task filling in its earlier attempt's run; new child runs are
written by file_store_runs): the store reads and parses the run's meta.yaml on
every call (7 times per child run, for its tags, name, batch and end), although
only that logging writes to it then;
it rewrites meta.yaml unchanged when create_run sets the run's name tag; and it
reads the experiment's meta.yaml and tags twice.

Searches that ask for a tag read that tag first: MLflow's search reads every
run of the experiment in full (its meta.yaml, every tag, param and metric
file) and only then applies the filter. The job's own searches ask for parent
runs by their job tag, or a series' runs by its hash: at 400 child runs the
two searches of a job's start took 0.64 s, and an experiment gains a child run
per series and run, so they grew by the year. Here a run whose tag file is
missing or holds another value is left out before it is read; the filter is
then applied to the rest as MLflow applies it (a status it asks for is checked first too,
in the run's meta.yaml, before its tags, params and metrics are read). One difference: a run the store
cannot read (a corrupt metric file) fails MLflow's search of the whole
experiment, and fails this one only where its tags match.

Child runs written straight are named so that searches pass them over by name:
see child_run_names.

Files a killed job cannot leave half-written: the store writes a run's
meta.yaml and a new metric file by opening, then writing. A job killed between
the two (out of memory, a lost node, a kill) leaves an empty file, and from then
on every search of the experiment fails on that run, the rerun's own search for
the runs it must end included. A run's tag is rewritten the same way, and one read
meanwhile reads empty: a rerun read a live run's heartbeat so, and would have taken
it for dead. Written to a temporary name and renamed, such a file is there in full
(old or new) or not at all; a run without meta.yaml is one the store
skips as malformed. A run an older version left with an empty meta.yaml is
skipped the same way, with a warning that names its folder. The local model
registry's version meta.yaml alike: a registration killed while writing it had
failed every later registration of the model, and such a version is skipped (one an
older version left empty too, but the registry then numbers the next version as it:
its folder must go, as the warning says).
"""
from __future__ import annotations

import logging
import os
import threading
import uuid
from contextlib import contextmanager

from forecasting import child_run_names

_remembered = threading.local()
logger = logging.getLogger(__name__)

_patched = False


def patch_file_store() -> None:
    """Every change here, once per process; other stores are not touched."""
    global _patched
    if _patched:
        return
    _patched = True
    look_up_entries_by_name()
    remember_run_metadata()
    write_files_atomically()
    skip_runs_without_metadata()
    search_by_tag_files()


def look_up_entries_by_name() -> None:
    """Replaces the file store's folder lookup, once per process; other stores are not touched."""
    from mlflow.store.tracking import file_store

    listing_find = getattr(file_store, "find", None)
    if listing_find is None or getattr(listing_find, "by_name", False):
        return  # another MLflow layout, or replaced already

    def find(root, name, full_path=False):
        """``[root/name]`` (or ``[name]``) when that entry exists, else ``[]``: what
        MLflow's ``find`` answers, without listing ``root``."""
        plain_name = isinstance(name, str) and name not in ("", ".", "..") and os.sep not in name
        if not plain_name or not os.path.isdir(root):
            return listing_find(root, name, full_path)  # MLflow's own, and its error
        path = os.path.join(root, name)
        if not os.path.exists(path):
            return []
        return [path if full_path else name]

    find.by_name = True
    file_store.find = find


@contextmanager
def run_metadata_read_once():
    """Within the block, the file store (once patched, see remember_run_metadata)
    reads each run's meta.yaml at most once, keeps what it writes there and
    writes it only when it changes, and finds and reads each experiment once.
    Only for blocks in which nothing else writes to those runs or moves their
    experiment."""
    _remembered.infos, _remembered.paths, _remembered.experiments = {}, {}, {}
    try:
        yield
    finally:
        _remembered.infos = _remembered.paths = _remembered.experiments = None


def remember_run_metadata() -> None:
    """Patches the file store once per process; inert outside run_metadata_read_once."""
    from mlflow.store.tracking import file_store
    from mlflow.store.tracking.file_store import FileStore

    read, overwrite = getattr(FileStore, "_get_run_info", None), getattr(FileStore, "_overwrite_run_info", None)
    if read is None or overwrite is None or getattr(read, "remembers", False):
        return  # another MLflow layout, or patched already

    def _get_run_info(self, run_uuid):
        infos = getattr(_remembered, "infos", None)
        if infos is None:
            return read(self, run_uuid)
        key = (self.root_directory, run_uuid)
        if key not in infos:
            infos[key] = read(self, run_uuid)
        return infos[key]

    persisted = getattr(file_store, "_make_persisted_run_info_dict", None)

    def _overwrite_run_info(self, run_info, deleted_time=None):
        infos = getattr(_remembered, "infos", None)
        key = (self.root_directory, run_info.run_id)
        if infos is not None and deleted_time is None and key in infos and persisted is not None \
                and persisted(infos[key]) == persisted(run_info):
            return  # meta.yaml holds this already: setting the run's name in create_run rewrote it as it was
        overwrite(self, run_info, deleted_time)
        if infos is not None:
            if deleted_time is None:
                infos[key] = run_info
            else:
                infos.pop(key, None)

    _get_run_info.remembers = True
    FileStore._get_run_info = _get_run_info
    FileStore._overwrite_run_info = _overwrite_run_info

    # Every path of a run is found from its experiment's folder, looked up anew
    # (two stats) some 25 times per child run; within the block it stays put.
    from mlflow.entities import ViewType

    experiment_path = FileStore._get_experiment_path

    def _get_experiment_path(self, experiment_id, view_type=ViewType.ALL, assert_exists=False):
        paths = getattr(_remembered, "paths", None)
        if paths is None:
            return experiment_path(self, experiment_id, view_type, assert_exists)
        key = (self.root_directory, experiment_id, view_type)
        if key not in paths:
            found = experiment_path(self, experiment_id, view_type, assert_exists)
            if found is None:  # not remembered: it may yet be created
                return None
            paths[key] = found
        return paths[key]

    FileStore._get_experiment_path = _get_experiment_path

    # The experiment itself (its meta.yaml and tags) is read twice per child run.
    read_experiment = getattr(FileStore, "_get_experiment", None)
    if read_experiment is None:
        return

    def _get_experiment(self, experiment_id, view_type=ViewType.ALL):
        experiments = getattr(_remembered, "experiments", None)
        if experiments is None:
            return read_experiment(self, experiment_id, view_type)
        key = (self.root_directory, experiment_id, view_type)
        if key not in experiments:
            experiments[key] = read_experiment(self, experiment_id, view_type)
        return experiments[key]

    FileStore._get_experiment = _get_experiment


def write_files_atomically() -> None:
    """Replaces the file store's meta.yaml, metric file and run tag writes, and the local
    model registry's meta.yaml writes, once per process, with writes to a temporary name
    and a rename (see the docstring)."""
    from mlflow.store.tracking import file_store

    write_yaml, append_to = getattr(file_store, "write_yaml", None), getattr(file_store, "append_to", None)
    if write_yaml is None or append_to is None or getattr(write_yaml, "atomic", False):
        return  # another MLflow layout, or replaced already

    def atomic_write_yaml(root, file_name, data, overwrite=False, sort_keys=True, ensure_yaml_extension=True):
        target = os.path.join(root, file_name)
        if ensure_yaml_extension and not target.endswith(".yaml"):
            target += ".yaml"
        if os.path.exists(target) and not overwrite:
            return write_yaml(root, file_name, data, overwrite, sort_keys, ensure_yaml_extension)  # MLflow's error
        partial = os.path.join(root, f".{os.path.basename(target)}.{uuid.uuid4().hex}.partial.yaml")
        write_then_rename(partial, target, lambda: write_yaml(
            root, os.path.basename(partial), data, overwrite=False, sort_keys=sort_keys, ensure_yaml_extension=False
        ))

    def atomic_append_to(filename, data):
        if os.path.exists(filename):  # one small write to a file that has its first line: all or nothing
            return append_to(filename, data)
        # beside the run's metrics folder, where the store would read any file as a metric
        run_folder, metrics, _ = filename.rpartition(os.sep + "metrics" + os.sep)
        partial = os.path.join(run_folder if metrics else os.path.dirname(filename), f".metric.{uuid.uuid4().hex}.partial")
        write_then_rename(partial, filename, lambda: append_to(partial, data))

    atomic_write_yaml.atomic = True
    file_store.write_yaml = atomic_write_yaml
    file_store.append_to = atomic_append_to
    from mlflow.store.model_registry import file_store as registry_store

    if getattr(registry_store, "write_yaml", None) is write_yaml:  # a model version's meta.yaml: an empty one failed
        registry_store.write_yaml = atomic_write_yaml  # every later search and registration of its model
    store = file_store.FileStore
    if all(hasattr(store, name) for name in ("_set_run_tag", "_get_tag_path", "_get_run_dir", "_writeable_value")) \
            and hasattr(file_store, "write_to"):
        write_to = file_store.write_to

        def _set_run_tag(self, run_info, tag):
            path = self._get_tag_path(run_info.experiment_id, run_info.run_id, tag.key)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            # beside the run's tags folder, where the store would read any file as a tag
            partial = os.path.join(self._get_run_dir(run_info.experiment_id, run_info.run_id),
                                   f".tag.{uuid.uuid4().hex}.partial")
            write_then_rename(partial, path, lambda: write_to(partial, self._writeable_value(tag.value)))

        store._set_run_tag = _set_run_tag


def write_then_rename(partial: str, target: str, write) -> None:
    """``write()`` creates ``partial``, which then replaces ``target``; removed if that fails."""
    try:
        write()
        os.replace(partial, target)
    except BaseException:
        try:
            os.remove(partial)
        except FileNotFoundError:
            pass
        raise


def skip_runs_without_metadata() -> None:
    """An empty meta.yaml makes the store fail on the whole search (it reads None
    as the run); one that is missing makes it skip the run as malformed. Both skip."""
    from mlflow.exceptions import MissingConfigException
    from mlflow.store.tracking import file_store
    from mlflow.store.tracking.file_store import FileStore

    read_from_dir = getattr(FileStore, "_get_run_info_from_dir", None)
    run_info_of = getattr(file_store, "_read_persisted_run_info_dict", None)
    if read_from_dir is None or run_info_of is None or getattr(read_from_dir, "skips_empty", False):
        return

    def _get_run_info_from_dir(self, run_dir):
        meta = FileStore._read_yaml(run_dir, FileStore.META_DATA_FILE_NAME)
        if not meta:
            logger.warning("MLflow run folder %s has an empty meta.yaml (a job killed while writing it?): "
                           "left out of searches; delete the folder to be rid of it", run_dir)
            raise MissingConfigException(f"empty {FileStore.META_DATA_FILE_NAME} in {run_dir}")
        return run_info_of(meta)  # what MLflow's own method does with it

    _get_run_info_from_dir.skips_empty = True
    FileStore._get_run_info_from_dir = _get_run_info_from_dir
    skip_model_versions_without_metadata()


def skip_model_versions_without_metadata() -> None:
    """The local model registry's versions of a model, without the folder of one whose
    meta.yaml a killed registration never wrote (or left empty, before it was written
    atomically): MLflow's listing fails on it, and every later registration of the
    model failed with it."""
    from mlflow.store.model_registry.file_store import FileStore

    listing = getattr(FileStore, "_list_file_model_versions_under_path", None)
    if listing is None or getattr(listing, "skips_unwritten", False) or not hasattr(FileStore, "META_DATA_FILE_NAME"):
        return

    def _list_file_model_versions_under_path(self, path):  # MLflow's listing, less the versions never written
        with os.scandir(path) as entries:
            folders = [entry.path for entry in entries if entry.is_dir() and entry.name.startswith("version-")]
        return [self._get_file_model_version_from_dir(folder) for folder in folders if _written(folder)]

    def _written(folder: str) -> bool:
        meta = os.path.join(folder, FileStore.META_DATA_FILE_NAME)
        if os.path.isfile(meta) and os.path.getsize(meta) > 0:
            return True
        logger.warning("model version folder %s has no meta.yaml, or an empty one (a registration killed while "
                       "writing it?): left out; delete the folder to be rid of it", folder)
        return False

    _list_file_model_versions_under_path.skips_unwritten = True
    FileStore._list_file_model_versions_under_path = _list_file_model_versions_under_path


def search_by_tag_files() -> None:
    """Patches the file store's search once per process: see the module's docstring."""
    from mlflow.entities.lifecycle_stage import LifecycleStage
    from mlflow.exceptions import MissingConfigException
    from mlflow.store.tracking import SEARCH_MAX_RESULTS_THRESHOLD
    from mlflow.store.tracking.file_store import FileStore
    from mlflow.utils.file_utils import read_file
    from mlflow.utils.search_utils import SearchUtils

    search = getattr(FileStore, "_search_runs", None)
    if search is None or getattr(search, "by_tag_files", False):
        return

    def tag_matches(run_dir: str, key: str, value: str | None) -> bool:
        """Whether the run's tag ``key`` exists (value None) or holds ``value``, as the store reads it."""
        folder = os.path.join(run_dir, FileStore.TAGS_FOLDER_NAME)
        try:
            return os.path.isfile(os.path.join(folder, key)) if value is None else read_file(folder, key) == value
        except (OSError, ValueError):  # no such file, or a name no file can have: no such tag
            return False

    def run_infos(self, experiment_id: str, view_type, needed: list[tuple[str, str | None]],
                  statuses: list[tuple[str, str]]) -> list:
        """The store's _list_run_infos, reading only the runs whose tags can match and,
        of those, only the runs whose status (in meta.yaml) does."""
        self._check_root_dir()
        if not self._has_experiment(experiment_id):
            return []
        infos = []
        passed_over = child_run_names.passed_over(needed)
        with os.scandir(self._get_experiment_path(experiment_id, assert_exists=True)) as entries:
            for entry in entries:
                if entry.name in FileStore.RESERVED_EXPERIMENT_FOLDERS or not entry.is_dir():
                    continue
                if passed_over(entry.name):
                    continue
                if not all(tag_matches(entry.path, key, value) for key, value in needed):
                    continue
                try:
                    info = self._get_run_info_from_dir(entry.path)
                except MissingConfigException:  # not a run's folder, as MLflow's listing skips it
                    continue
                if info.experiment_id == experiment_id and LifecycleStage.matches_view_type(
                        view_type, info.lifecycle_stage) and all(
                        (info.status == value) == (comparator == "=") for comparator, value in statuses):
                    infos.append(info)
        return infos

    def _search_runs(self, experiment_ids, filter_string, run_view_type, max_results, order_by, page_token):
        clauses = SearchUtils.parse_search_filter(filter_string)
        needed = [
            (clause["key"], clause["value"] if clause["comparator"] == "=" else None)
            for clause in clauses
            if clause["type"] == "tag" and clause["comparator"] in ("=", "LIKE", "ILIKE")
            and isinstance(clause["key"], str) and os.sep not in clause["key"] and not clause["key"].startswith(".")
            and SearchUtils.translate_key_alias(clause["key"]) == clause["key"]  # MLflow renames "created" and "run name"
        ]
        if not needed or max_results > SEARCH_MAX_RESULTS_THRESHOLD:
            return search(self, experiment_ids, filter_string, run_view_type, max_results, order_by, page_token)
        # the status too, before a run is read in full: a parent's RUNNING children (end_running_children)
        # are few among the thousands it has
        statuses = [(clause["comparator"], clause["value"]) for clause in clauses
                    if clause["type"] == "attribute" and clause["key"] == "status"
                    and clause["comparator"] in ("=", "!=")]
        runs = [self._get_run_from_info(info) for experiment_id in experiment_ids
                for info in run_infos(self, experiment_id, run_view_type, needed, statuses)]
        matching = SearchUtils.sort(SearchUtils.filter(runs, filter_string), order_by)
        return SearchUtils.paginate(matching, page_token, max_results)

    _search_runs.by_tag_files, _search_runs.original = True, search
    FileStore._search_runs = _search_runs
