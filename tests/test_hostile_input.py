"""Hostile config files get a one-paragraph error and exit code 2, quickly, and nothing in them runs."""

import subprocess
import sys
import time

import pytest

CASES = {
    "deep.yaml": "a: " + "[" * 20000 + "]" * 20000 + "\n",
    "deep.json": "[" * 100000 + "]" * 100000,
    "bomb.yaml": "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(10)) + "layers: *k\n",
    "binary.yaml": "\x00\x01\x02\xff garbage",
    "empty.yaml": "",
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("verb", ["check", "count", "repair"])
def test_hostile_config_is_a_clear_error(tmp_path, name, verb):
    path = tmp_path / name
    path.write_text(CASES[name], encoding="utf-8", errors="surrogateescape")
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "convsolve", verb, str(path)], capture_output=True, text=True, timeout=60)
    assert time.monotonic() - started < 30
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ") and name in result.stderr


def test_yaml_tags_construct_nothing(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "tag.yaml"
    path.write_text(f'name: !!python/object/apply:os.system ["touch {marker}"]\n'
                    f'input: {{channels: 3, size: 8}}\nlayers:\n  - {{name: c, type: conv2d, out_channels: 4, kernel: 3}}\n')
    result = subprocess.run([sys.executable, "-m", "convsolve", "check", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode in (0, 1, 2) and "Traceback" not in result.stderr
    assert not marker.exists()


def test_a_space_whose_state_outgrows_the_limit_stops_with_a_clear_error(monkeypatch):
    from convsolve import ops
    from convsolve.errors import SolverLimit
    from convsolve.solve import programme
    from convsolve.space import load_space

    monkeypatch.setattr(programme, "MAX_ELEMENTS", 10_000)
    with pytest.raises(SolverLimit) as caught:
        ops.count(load_space("configs/bench/res-12.yaml"))
    assert caught.value.facts["node"] and "narrow the input range" in str(caught.value)
    assert caught.value.exit_code == 2


def test_ctrl_c_during_a_long_enumerate_exits_130_with_whole_lines():
    import signal

    process = subprocess.Popen([sys.executable, "-m", "convsolve", "enumerate", "configs/bench/chain-40.yaml", "--jsonl"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as a terminal's Ctrl-C finds it
    lines = [process.stdout.readline() for _ in range(1000)]  # it is streaming
    process.send_signal(signal.SIGINT)
    rest = process.stdout.read()  # through the same buffer as readline: communicate() would skip what it read ahead
    errors = process.stderr.read()
    assert process.wait(timeout=60) == 130
    assert "interrupted after" in errors and "Traceback" not in errors
    import json

    for line in lines + rest.splitlines(keepends=True):
        json.loads(line)


@pytest.mark.parametrize("value", ["!!binary AAAA \u00a0", "!!binary AA\u00e9A"])
def test_a_bad_binary_value_is_named_without_python_internals(tmp_path, value):
    """Found by the fuzz campaign: ruamel.yaml's message carried Python's "'ascii' codec can't encode" text."""
    from convsolve.errors import ConfigError
    from convsolve.io.config import read_config

    path = tmp_path / "bin.yaml"
    path.write_text(f"name: n\nblob: {value}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        read_config(path)
    message = str(caught.value)
    assert "bin.yaml" in message and ":2" in message and "!!binary value is not base64 text" in message
    assert "codec" not in message and "Incorrect padding" not in message


@pytest.mark.parametrize("suffix, text", [
    (".json", '{"input": {"channels": 3, "size": 32}, "layers": [{"name": "c", "type": "conv2d", "out_channels": 8, "kernel": 3, "kernel": 5}]}'),
    (".yaml", "input: {channels: 3, size: 32}\nlayers:\n  - {name: c, type: conv2d, out_channels: 8, kernel: 3, kernel: 5}\n"),
])
def test_a_key_given_twice_is_refused_in_json_as_in_yaml(tmp_path, suffix, text):
    path = tmp_path / f"dup{suffix}"
    path.write_text(text)
    result = subprocess.run([sys.executable, "-m", "convsolve", "check", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "duplicate key" in result.stderr and "kernel" in result.stderr, result.stderr


PLAIN_DATA_CASES = {
    "empty": ("# nothing but a comment\n", r"empty\.yaml: is empty: a config is a mapping with 'input' and 'layers'"),
    "null_key": ("name: n\ninput: {channels: 3, size: 8}\nlayers:\n  - {~: 1, name: a, type: relu}\n",
                 r"null_key\.yaml:4: has an empty \(null\) key; write each key as text"),
    "tag": ("name: !!python/object:os.system x\ninput: {channels: 3, size: 8}\nlayers:\n  - {name: a, type: relu}\n",
            r"tag\.yaml:1: the value of 'name' carries the YAML tag !!python/object:os\.system, which convsolve does not read"),
    "tagged_map": ("name: n\ninput: !thing {channels: 3, size: 8}\nlayers:\n  - {name: a, type: relu}\n",
                   r"tagged_map\.yaml:2: a mapping or list carries the YAML tag !thing"),
    "date": ("name: 2024-01-01\ninput: {channels: 3, size: 8}\nlayers:\n  - {name: a, type: relu}\n",
             r"date\.yaml:1: the value of 'name' is read as a date or time \(2024-01-01\); quote it if it is text"),
    "bytes": ("name: n\ninput: {channels: 3, size: 8}\nlayers:\n  - {name: a, type: relu, comment: !!binary aGVsbG8=}\n",
              r"bytes\.yaml:4: the value of 'comment' is binary data \(a !!binary tag\)"),
}


@pytest.mark.parametrize("case", sorted(PLAIN_DATA_CASES))
def test_yaml_that_is_not_plain_data_gets_one_canonical_message(tmp_path, case):
    import re

    text, message = PLAIN_DATA_CASES[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text)
    result = subprocess.run([sys.executable, "-m", "convsolve", "check", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert re.search(message, result.stderr), result.stderr


HUGE_VALUES = {  # each value inside its documented bounds; each once allocated memory sized by the value itself
    "padding_1e9.yaml": ("input: {channels: 1, size: {range: [16, 32]}}\nlayers:\n"
                         "  - {name: a, type: conv2d, out_channels: 1, kernel: 3, padding: {choice: [0, 1000000000]}}\n"
                         "  - {name: b, type: conv2d, out_channels: 1, kernel: 3, padding: {choice: [0, 1000000000]}}\n"),
    "kernel_6e6.yaml": "input: {channels: 1, size: 5000000}\nlayers:\n  - {name: a, type: conv2d, out_channels: 1, kernel: 6000000}\n",
    "domains_50m.yaml": ("input: {channels: 1, size: {range: [16, 32]}}\nlayers:\n"
                         "  - {name: a, type: conv2d, out_channels: 1, kernel: {range: [1, 10000]}, padding: {range: [0, 5000]}}\n"),
}
"""Config -> (verb, expected exit code, what the output says)."""
HUGE_RUNS = [
    ("padding_1e9.yaml", ["count"], 0, "4 valid of 4"),
    ("padding_1e9.yaml", ["sample", "-n", "3"], 0, "a.padding="),
    ("kernel_6e6.yaml", ["repair"], 0, "a.kernel: 6000000 ->"),
    ("domains_50m.yaml", ["count"], 2, "the solver would hold"),
    ("domains_50m.yaml", ["enumerate", "-n", "1"], 2, "the solver would hold"),
]


@pytest.mark.parametrize("name, verb, code, said", HUGE_RUNS, ids=lambda value: str(value))
def test_values_that_once_sized_allocations_run_in_bounded_memory(tmp_path, name, verb, code, said):
    """Under a 2 GiB address-space cap (the sizes are derived, and refused before allocating past the budget)."""
    path = tmp_path / name
    path.write_text(HUGE_VALUES[name])
    script = ("import sys, resource; resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30)); "
              "from convsolve.cli import app; sys.argv = ['convsolve'] + sys.argv[1:]; app()")
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", script, *verb, str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == code, result.stdout + result.stderr
    assert said in result.stdout + result.stderr and "Traceback" not in result.stderr
    assert "ran out of memory" not in result.stderr
    assert time.monotonic() - started < 30
