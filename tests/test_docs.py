"""The maps a newcomer reads first (modules, scripts) name every file, and only those."""
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
