"""The fast YAML reader agrees with ruamel.yaml on everything it reads, and hands everything else back."""

from pathlib import Path

import pytest
from ruamel.yaml import YAML

from convsolve.io.config import edited_text, read_config
from convsolve.io.quickyaml import LineList, LineMap, read_plain
from extras import needs

ROOT = Path(__file__).resolve().parent.parent
needs_pyyaml = needs("yaml")
"""The fast path reads with PyYAML's libyaml binding; without PyYAML every document goes to ruamel.yaml."""


def round_trip(text):
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    return yaml.load(text)


def kind(value):
    return next((t for t in (bool, int, float, str, dict, list) if isinstance(value, t)), type(value))


def assert_same(fast, slow, path=()):
    """Equal values of the same kinds, and the same line and column for every container, key, value and item."""
    assert kind(fast) is kind(slow), (path, fast, slow)
    if isinstance(slow, dict):
        assert list(fast) == list(slow), path
        assert (fast.lc.line, fast.lc.col, fast.fa.flow_style()) == (slow.lc.line, slow.lc.col, bool(slow.fa.flow_style())), path
        for key in slow:
            assert (fast.lc.key(key), fast.lc.value(key)) == (tuple(slow.lc.key(key)), tuple(slow.lc.value(key))), (path, key)
            assert_same(fast[key], slow[key], path + (key,))
    elif isinstance(slow, list):
        assert len(fast) == len(slow), path
        assert (fast.lc.line, fast.lc.col, fast.fa.flow_style()) == (slow.lc.line, slow.lc.col, bool(slow.fa.flow_style())), path
        for index, item in enumerate(slow):
            assert fast.lc.item(index) == tuple(slow.lc.item(index)), (path, index)
            assert_same(fast[index], item, path + (index,))
    else:
        assert fast == slow, (path, fast, slow)


SHIPPED = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "configs").rglob("*.yaml"))


@needs_pyyaml
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_configs_read_alike_or_go_to_ruamel(name):
    text = (ROOT / name).read_text(encoding="utf-8")
    fast = read_plain(text)
    if fast is not None:
        assert_same(fast, round_trip(text))


@needs_pyyaml
def test_most_shipped_configs_take_the_fast_path():
    taken = sum(read_plain((ROOT / name).read_text(encoding="utf-8")) is not None for name in SHIPPED)
    assert taken >= len(SHIPPED) // 2


@needs_pyyaml
@pytest.mark.parametrize("value", ["yes", "No", "off", "-5", "0", "-0", "123456789012345678", "null", "~", "True", "FALSE",
                                   "tRue", "NaN", "inf", "0.5", "-12.25", "a b", "a.b", "x_1", "'010'", '"q"', "''"])
def test_plain_scalars_read_as_yaml_1_2(value):
    text = f"k: {value}  # note\nl: [{value}, 1]\n"
    assert_same(read_plain(text), round_trip(text))


@needs_pyyaml
@pytest.mark.parametrize("text", [
    "k: 010\n", "k: 0o10\n", "k: 0x1f\n", "k: 1_000\n", "k: +5\n", "k: 1.\n", "k: 01.5\n", "k: 1e3\n", "k: .inf\n",  # other numbers
    "k: 12345678901234567890\n", "k: 2001-12-14\n", "k: 16:64\n", "k: =\n",  # big ints, dates, sexagesimal, value keys
    "k: !!str 5\n", "a: &x 1\nb: *x\n", "a: {x: 1}\n<<: {y: 2}\n", "%YAML 1.1\n---\nk: yes\n",  # tags, aliases, merges, directives
    "k: |\n  text\n", "k: >\n  text\n", "k: 1\nk: 2\n", "? [a]\n: 1\n", "k: [1, 2\n", "a: 1\n---\nb: 2\n",  # duplicates, errors
    "- " * 300 + "x\n", "k: \u00e9t\u00e9\n", "k:\n", "l: [a, , b]\n",  # long lines, words beyond ASCII, empty values
])
def test_anything_else_goes_to_ruamel(text):
    assert read_plain(text) is None


@needs_pyyaml
def test_read_config_without_round_trip_gives_the_same_values_and_messages(tmp_path):
    good = tmp_path / "net.yaml"
    good.write_text("# a net\nname: n\ninput: {channels: 3, size: 32}\nlayers:\n  - {name: c, type: conv2d, out_channels: 4, kernel: 3}\n")
    fast, slow = read_config(good, round_trip=False), read_config(good)
    assert isinstance(fast, LineMap) and isinstance(fast["layers"], LineList)
    assert_same(fast, slow)
    assert edited_text(good, [(("layers", 0, "kernel"), 5)], fast) == edited_text(good, [(("layers", 0, "kernel"), 5)], slow)
    assert edited_text(good, [(("layers", 0, "kernel"), 5)], fast).endswith("kernel: 5}\n")


def test_a_layout_edit_falls_back_to_a_round_trip_dump_that_keeps_comments(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text("# keep me\nlayers:\n  - name: c\n    kernel: {choice: [1, 3]}\n")
    fast = read_config(path, round_trip=False)
    text = edited_text(path, [(("layers", 0, "kernel"), 5)], fast)  # a mapping becomes a number: not a token edit
    assert text.startswith("# keep me\n") and "kernel: 5" in text
