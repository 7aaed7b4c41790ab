"""A series' identity: its id, its hash in every process, and the ids near a mistyped one."""
import os
import subprocess
import sys

from forecasting import series_identity


def test_series_identity_and_hash_are_stable_and_null_safe():
    keys = {"store": "north", "item": None}
    assert series_identity.series_id(keys) == "north/<null>"
    # executors tag runs with the hash, the driver looks them up by it: another process, its own str hashing
    probe = ("from forecasting import series_identity; "
             "print(series_identity.series_hash({'store': 'north', 'item': None}))")
    other = subprocess.run([sys.executable, "-c", probe], env={**os.environ, "PYTHONHASHSEED": "12345"},
                           capture_output=True, text=True, check=True, timeout=60)
    assert other.stdout.strip() == series_identity.series_hash(keys)
    assert series_identity.series_hash(keys) != series_identity.series_hash({"store": "north", "item": "<null>"})
    # "a/b" + "c" and "a" + "b/c": a slash within a value is escaped, so neither the ids nor the hashes meet
    assert series_identity.series_id({"x": "a/b", "y": "c"}) == "a\\/b/c"
    assert series_identity.series_id({"x": "a", "y": "b/c"}) == "a/b\\/c"
    # nor where a value ends in the escape itself: "a\\" + "b" is not "a/b" with its slash escaped
    assert series_identity.series_id({"x": "a\\", "y": "b"}) == "a\\\\/b"
    assert series_identity.series_id({"x": "a\\/b", "y": "c"}) == "a\\\\\\/b/c"
    assert series_identity.series_hash({"x": "a/b", "y": "c"}) != series_identity.series_hash({"x": "a", "y": "b/c"})


def test_a_mistyped_series_is_matched_by_case_first_then_by_a_letter_off():
    known = ["KO/NYSE", "ko/nyse", "KO/NASDAQ", "JPM/NYSE", "MSFT/NASDAQ"]
    # another case wins over close spellings, which "ko/nyse" itself would also be
    assert series_identity.closest_series("Ko/Nyse", known) == ["KO/NYSE", "ko/nyse"]
    assert series_identity.closest_series("JPM/NYS", known) == ["JPM/NYSE"]
    assert series_identity.closest_series("AAPL/NYSE", known) == []
    # numbers written without their leading zeros: the padded one, not one a letter off
    stores = [f"S{s:03d}/I{i:04d}" for s in (2, 29) for i in (17, 170)]
    assert series_identity.closest_series("S2/I17", stores) == ["S002/I0017"]
    assert series_identity.closest_series("s029/i170", stores) == ["S029/I0170"]
    assert series_identity.closest_series("s2", ["S2", "S002"]) == ["S2"]  # the case alone first
    # a decimal's zero is no padding: not the same number, so all matches are a letter off
    assert series_identity.closest_series("p1.5/a", ["p1.05/a", "p1.5/A"]) == ["p1.5/A"]
    assert series_identity.closest_series("p1.5/b", ["p1.05/b", "p1.50/b"]) == ["p1.50/b", "p1.05/b"]
    assert len(series_identity.closest_series("K/NYSE", known + ["KA/NYSE", "KB/NYSE", "KC/NYSE"])) == 3
    # a key shared is no likeness: mars is not east, though most of mars/soap is east/soap's text
    assert series_identity.closest_series("mars/soap", ["east/soap", "west/soap"]) == []
    assert series_identity.closest_series("eats/soap", ["east/soap", "west/soap"]) == ["east/soap"]  # two letters
    assert series_identity.closest_series("North/mlk", ["north/milk", "south/milk"]) == ["north/milk"]
    # another case and a letter off together: the case is no difference
    assert series_identity.closest_series("jfk/totl", ["JFK/total", "EWR/total", "JFK/domestic"]) == ["JFK/total"]


def test_a_long_series_id_is_shortened_to_its_start_and_end_where_series_sharing_a_key_differ():
    names = [f"{'Regional Distribution Centre ' * 4}/{item}" for item in ("apples", "pears")]
    shown = [series_identity.shortened(name, 28) for name in names]
    assert [len(name) for name in shown] == [28, 28] and shown[0] != shown[1]
    assert shown[0].startswith("Regional") and shown[0].endswith("/apples") and "…" in shown[0]
    assert series_identity.shortened("east/milk", 28) == "east/milk"
    assert series_identity.shortened("east/milk", 2) == "ea"


def test_an_ids_values_come_back_as_the_id_wrote_them():
    for keys in ({"a": "north", "b": "milk"}, {"a": "A/B", "b": "C"}, {"a": "A", "b": "B/C"}, {"a": "x\\", "b": "/"},
                 {"a": "", "b": "z"}):
        assert series_identity.id_values(series_identity.series_id(keys)) == list(keys.values())
