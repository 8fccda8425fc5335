"""The search-space configs of configs/bench/ and configs/spaces/: they load as spaces, match their
generator (scripts/generate_spaces.py), and small cases count what plain integer size formulas say.

The oracle is ``floor((n + 2p - k) / s) + 1``, the size rule of a convolution and of a floor-mode
max pool, written here once more on plain ints; the brute force checks every assignment of
``itertools.product`` over the domains through ``Space.fixed(...).infer()``.
"""

from __future__ import annotations

import importlib
import itertools
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from convsolve import ops
from convsolve.errors import InvalidAssignment
from convsolve.sizesets import SizeRange
from convsolve.space import Space, load_space

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"
CONFIGS = ROOT / "configs"
SPACE_FILES = sorted(
    path for path in [*(CONFIGS / "bench").glob("*.yaml"), *(CONFIGS / "spaces").glob("*.yaml")] if not load_space(path).structural
)
"""The generated spaces: those choosing ops, depths, inputs or the input size are written by hand (tests/test_nas_shipped.py)."""

CHAIN_6_TOTAL = 16_777_216
CHAIN_6_VALID = 11_417_906
"""The sanity figures of the issue asking for the benchmark chains."""


@pytest.fixture(scope="module")
def generator() -> Iterator[ModuleType]:
    """scripts/generate_spaces.py as a module (it imports scripts/generate_configs.py)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(SCRIPTS))
        yield importlib.import_module("generate_spaces")


@pytest.fixture(scope="module")
def brute_force_script() -> Iterator[ModuleType]:
    """scripts/brute_force_count.py as a module."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(SCRIPTS))
        yield importlib.import_module("brute_force_count")


def window_output(n: int, kernel: int, stride: int, padding: int) -> int:
    """floor((n + 2p - k) / s) + 1: a convolution's or a floor-mode pool's output size."""
    return (n + 2 * padding - kernel) // stride + 1


def layer_output(assignment: Mapping[str, int], layer: str, n: int) -> int:
    """The output size of benchmark layer ``layer`` (conv<i>, pool<i>, shortcut<i>) at input size ``n``; 0 if invalid."""
    kernel, stride, padding = (assignment[f"{layer}.{field}"] for field in ("kernel", "stride", "padding"))
    if layer.startswith("pool") and padding > kernel // 2:
        return 0
    return max(window_output(n, kernel, stride, padding), 0)


def chain_valid(assignment: Mapping[str, int], length: int, n: int) -> bool:
    """Every layer of chain-<length> has an output of at least 1 at input size ``n``."""
    for position in range(length):
        n = layer_output(assignment, f"{'conv' if position % 2 == 0 else 'pool'}{position // 2 + 1}", n)
        if n < 1:
            return False
    return True


def pair_valid(assignment: Mapping[str, int], n: int) -> bool:
    """res-2 at input size ``n``: pool1(conv1(n)) and shortcut1(n) both at least 1, and equal."""
    main = layer_output(assignment, "pool1", layer_output(assignment, "conv1", n))
    shortcut = layer_output(assignment, "shortcut1", n)
    return main >= 1 and main == shortcut


def assignments(space: Space) -> Iterator[dict[str, int]]:
    """Every assignment of the space, in itertools.product order."""
    names = list(space.params)
    for values in itertools.product(*(param.values for param in space.params.values())):
        yield dict(zip(names, values))


def brute_force_valid(space: Space) -> list[dict[str, int]]:
    """The assignments meeting the constraints whose network is valid at every input size of the range."""
    valid = []
    for assignment in assignments(space):
        if not all(constraint.expression.evaluate(assignment) for constraint in space.constraints):
            continue
        try:
            network = space.fixed(assignment)
        except InvalidAssignment:
            continue
        if network.infer().valid_mask().all():
            valid.append(assignment)
    return valid


def space_from(generated: Any, tmp_path: Path) -> Space:
    """The Space of a generator's SpaceConfig, through its file text as the shipped ones are."""
    path = tmp_path / f"{generated.name}.yaml"
    path.write_text(generated.render(), encoding="utf-8")
    return load_space(path)


@pytest.mark.parametrize("path", SPACE_FILES, ids=lambda path: str(path.relative_to(CONFIGS)))
def test_config_loads_as_the_space_its_generator_describes(path, generator):
    space = load_space(path)
    generated = generator.SPACES[str(path.relative_to(CONFIGS).with_suffix(""))]()
    assert {name: param.values for name, param in space.params.items()} == generated.domains()
    assert space.total == generated.space_size()
    header = path.read_text(encoding="utf-8")
    assert f"{len(space.params)} parameters; space size {generator.describe_count(space.total)}" in " ".join(
        line.lstrip("# ") for line in header.splitlines() if line.startswith("#")
    )


def test_every_generated_space_is_shipped(generator):
    assert sorted(f"{stem}.yaml" for stem in generator.SPACES) == sorted(str(path.relative_to(CONFIGS)) for path in SPACE_FILES)


def test_generated_spaces_match_their_generator():
    result = subprocess.run([sys.executable, str(SCRIPTS / "generate_spaces.py"), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_chain_6_has_the_issue_sizes_by_size_propagation(generator):
    """Count chain-6 without enumerating: propagate how many layer prefixes reach each size at n = 16."""
    chain = generator.chain(6)
    assert chain.space_size() == CHAIN_6_TOTAL
    domains = chain.domains()
    reaching = Counter({16: 1})
    for position in range(6):
        layer = f"{'conv' if position % 2 == 0 else 'pool'}{position // 2 + 1}"
        fields = [(field, domains[f"{layer}.{field}"]) for field in ("kernel", "stride", "padding")]
        following: Counter[int] = Counter()
        for n, ways in reaching.items():
            for values in itertools.product(*(domain for _, domain in fields)):
                out = layer_output({f"{layer}.{field}": v for (field, _), v in zip(fields, values)}, layer, n)
                if out >= 1:
                    following[out] += ways
        reaching = following
    assert sum(reaching.values()) == CHAIN_6_VALID


def test_chain_3_valid_over_the_range_exactly_where_valid_at_its_smallest_size(generator, tmp_path):
    space = space_from(generator.chain(3), tmp_path)
    valid = brute_force_valid(space)
    expected = [a for a in assignments(space) if chain_valid(a, 3, 16)]
    assert valid == expected
    assert 0 < len(valid) < space.total


def test_res_2_valid_where_both_branches_agree_at_every_size(generator, tmp_path):
    space = space_from(generator.residual_chain(2), tmp_path)
    valid = brute_force_valid(space)
    expected = [a for a in assignments(space) if all(pair_valid(a, n) for n in range(16, 65))]
    assert valid == expected
    assert 0 < len(valid) < space.total


def test_brute_force_script_checks_chains_at_the_smallest_size_only(generator, brute_force_script, tmp_path):
    chain = space_from(generator.chain(3), tmp_path)
    count = brute_force_script.count_valid(chain)
    assert count.smallest_only and count.total == chain.total
    assert count.valid == sum(chain_valid(a, 3, 16) for a in assignments(chain))


@pytest.mark.parametrize("stem", ["bench/res-6", "spaces/unet_space", "spaces/mobilenetv2_nas", "spaces/resnet_space"])
def test_brute_force_script_checks_merges_and_targets_over_the_whole_range(stem, brute_force_script):
    assert not brute_force_script.is_pure_chain(load_space(CONFIGS / f"{stem}.yaml"))


def test_one_level_unet_space_is_infeasible_over_consecutive_sizes(generator, tmp_path):
    """As unet_space.yaml's header says: a stride-2 up-convolution's output parity does not follow n."""
    space = space_from(generator.unet_space(levels=1), tmp_path)
    assert space.total == 256
    consecutive = space.with_input([SizeRange(64, 512)] * 2, tied=True)
    assert brute_force_valid(consecutive) == []
    valid = brute_force_valid(space)  # every 16th size, as shipped
    assert valid and ops.count(space).valid == len(valid)


def test_resnet_space_target_holds_only_with_stride_4_before_the_stages(brute_force_script):
    """The 7x7 target at 224 needs the stem and max pool to stride 2 each, and a pool keeping 112 -> 56 or 55."""
    space = load_space(CONFIGS / "spaces" / "resnet_space.yaml")
    base = {name: param.values[0] for name, param in space.params.items()}
    outcomes = {
        (stem, kernel, stride, padding): brute_force_script.is_valid(
            space, {**base, "conv1.stride": stem, "maxpool.kernel": kernel, "maxpool.stride": stride, "maxpool.padding": padding}
        )
        for stem, kernel, stride, padding in itertools.product((1, 2), (2, 3), (1, 2), (0, 1))
    }
    assert {key for key, ok in outcomes.items() if ok} == {(2, 2, 2, 0), (2, 3, 2, 0), (2, 3, 2, 1)}
