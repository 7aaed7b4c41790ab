"""The maps a newcomer reads first (modules, scripts) name every file, and only those; the
config reference names every key with its embedded default."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_module_map_lists_every_module_of_the_package():
    mapped = set(re.findall(r"^\| `(\w+)` \|", (ROOT / "docs" / "architecture.md").read_text(), re.MULTILINE))
    modules = {path.stem for path in (ROOT / "src" / "forecasting").glob("*.py")}
    assert mapped == modules, f"in the code only: {modules - mapped}; in the map only: {mapped - modules}"


def test_the_scripts_table_lists_every_script():
    text = (ROOT / "docs" / "architecture.md").read_text()
    table = text[text.index("## Scripts"):]
    table = table[:table.index("\n\n", table.index("|"))]
    listed = set(re.findall(r"`([\w.]+\.(?:py|sh|example))`", table))
    scripts = {path.name for path in (ROOT / "scripts").iterdir() if path.is_file()}
    assert listed == scripts, f"not listed: {scripts - listed}; listed but gone: {listed - scripts}"


def _flattened(section: dict, prefix: str = "") -> dict:
    """Each leaf key of the defaults as ``section.key``; ``options`` and ``conf`` are maps of
    their own, and the search space is documented apart."""
    flat = {}
    for key, value in section.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value and key not in ("options", "conf", "search_space"):
            flat.update(_flattened(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def test_the_config_reference_lists_every_key_with_its_embedded_default():
    import yaml

    defaults = _flattened(yaml.safe_load((ROOT / "src" / "forecasting" / "defaults.yaml").read_text()))
    rows = re.findall(r"^\| `([\w.]+)` \| (`[^`]*`|see below)", (ROOT / "conf" / "README.md").read_text(), re.MULTILINE)
    documented = dict(rows)
    assert len(documented) == len(rows), "a key documented twice"
    assert set(documented) == set(defaults), \
        f"undocumented: {set(defaults) - set(documented)}; documented but no key: {set(documented) - set(defaults)}"
    assert [key for key, default in rows if default == "see below"] == ["tuning.search_space"]  # its own section
    wrong = {key: (documented[key], defaults[key]) for key in defaults
             if key != "tuning.search_space" and yaml.safe_load(documented[key].strip("`")) != defaults[key]}
    assert wrong == {}


def test_the_data_notes_table_has_every_note():
    """Each note a series' data_notes can hold (the package's ``*_NOTE`` words) has a row in
    docs/results.md's table, where a reader looks up what a note means and how to find it."""
    import importlib

    text = (ROOT / "docs" / "results.md").read_text()
    table = text[text.index("## Data notes"):]
    table = table[:table.index("\n## ")]
    notes = {}
    for path in (ROOT / "src" / "forecasting").glob("*.py"):
        for name in re.findall(r"^([A-Z_]+_NOTE) = \"", path.read_text(), re.MULTILINE):
            notes[f"{path.stem}.{name}"] = getattr(importlib.import_module(f"forecasting.{path.stem}"), name)
    # a series' reason, not its notes: training's, and a scoring run's
    notes.pop("series.SPANNED_NOTE")
    notes.pop("scoring.CLOSED_ROWS_NOTE")
    notes.pop("scoring.MODEL_AHEAD_NOTE")
    assert len(notes) > 30
    missing = {name: words for name, words in notes.items() if words.strip() not in table}
    assert not missing, f"docs/results.md's data notes lack {missing}"
