"""Editing values in a YAML file's text: only the edited tokens change, and the result parses to the intended values."""

import pytest
from hypothesis import given, settings, strategies as st
from ruamel.yaml import YAML

from convsolve.io.config import edited_text, write_edited
from convsolve.io.edit import apply_edits, edit_yaml
from convsolve.errors import UsageError

BLOCK = """\
# header comment
layers:
  - name: a          # first
    type: conv2d
    kernel: 3
    padding: [1, 2]
  - {name: b, type: max_pool2d, kernel: [2, 2], stride: 2}   # second
  - name: c
    type: conv2d
    kernel: 5
"""


def parse(text):
    return YAML(typ="safe").load(text)


@settings(max_examples=40, derandomize=True, deadline=None)
@given(st.lists(st.sampled_from([
    (("layers", 0, "kernel"), 7), (("layers", 0, "padding", 1), 0), (("layers", 1, "kernel"), 3),
    (("layers", 1, "stride"), 11), (("layers", 1, "padding"), 1), (("layers", 2, "stride"), 2),
    (("layers", 0, "dilation"), 2),
]), unique_by=lambda e: e[0], max_size=5))
def test_text_edits_match_the_same_edits_on_parsed_data(edits):
    edited = edit_yaml(BLOCK, edits)
    assert edited is not None
    expected = parse(BLOCK)
    apply_edits(expected, edits)
    assert parse(edited) == expected
    # comment lines and untouched lines stay byte for byte
    touched_layers = {path[1] for path, _ in edits}
    for line in BLOCK.splitlines():
        if line.lstrip().startswith("#") or "header" in line:
            assert line in edited.splitlines()
    if not touched_layers:
        assert edited == BLOCK


def test_a_key_in_a_nested_block_value_cannot_be_appended_and_falls_back(tmp_path):
    text = "layers:\n  - name: a\n    type: conv2d\n    kernel:\n      - 3\n      - 3\n"
    assert edit_yaml(text, [(("layers", 0, "padding"), 1)]) is None
    path = tmp_path / "net.yaml"
    path.write_text(text)
    assert parse(edited_text(path, [(("layers", 0, "padding"), 1)]))["layers"][0]["padding"] == 1


def test_json_keeps_key_order(tmp_path):
    path = tmp_path / "net.json"
    path.write_text('{"name": "n", "layers": [{"type": "conv2d", "name": "a", "kernel": 3}]}')
    edited = edited_text(path, [(("layers", 0, "kernel"), 5)])
    assert edited.index('"type"') < edited.index('"name": "a"') < edited.index('"kernel": 5')


def test_in_place_keeps_a_backup_and_refuses_to_clobber_it(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text(BLOCK)
    write_edited(path, [(("layers", 0, "kernel"), 7)], path, backup=True)
    assert (tmp_path / "net.yaml.bak").read_text() == BLOCK
    assert parse(path.read_text())["layers"][0]["kernel"] == 7
    with pytest.raises(UsageError, match="exists"):
        write_edited(path, [(("layers", 0, "kernel"), 9)], path, backup=True)
    assert parse(path.read_text())["layers"][0]["kernel"] == 7
