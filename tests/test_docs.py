"""The module map a newcomer reads first names every module, and only those."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_module_map_lists_every_module_of_the_package():
    mapped = set(re.findall(r"^\| `(\w+)` \|", (ROOT / "docs" / "architecture.md").read_text(), re.MULTILINE))
    modules = {path.stem for path in (ROOT / "src" / "forecasting").glob("*.py")}
    assert mapped == modules, f"in the code only: {modules - mapped}; in the map only: {mapped - modules}"
