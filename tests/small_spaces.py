"""Small search spaces and their brute-force oracle, shared by the solver tests.

The oracle checks every combination of a space's domains with convsolve's range inference
(``Space.fixed(...).infer()``), not with the solver under test. ``SPACES`` are small spaces that
each exercise one feature of the programme (merges, ties, targets, transposed convs, ...).

Example:
    >>> space = space_of([conv("c1", kernel=(1, 3), stride=(1,), padding=(0,))], lo=2, hi=4)
    >>> valid_assignments(space)  # a kernel of 3 does not fit the input size 2
    [{'c1.kernel': 1, 'c1.stride': 1, 'c1.padding': 0}]
"""

import itertools
import json

from convsolve.errors import InvalidAssignment
from convsolve.space import Space


def conv(name, kernel=(1, 3, 5), stride=(1, 2), padding=(0, 1), **extra):
    return {"name": name, "type": "conv2d", "out_channels": 4, "kernel": {"choice": list(kernel)},
            "stride": {"choice": list(stride)}, "padding": {"choice": list(padding)}, **extra}


def pool(name, **extra):
    return {"name": name, "type": "max_pool2d", "kernel": {"choice": [2, 3]}, "stride": {"choice": [1, 2]},
            "padding": {"choice": [0, 1]}, "ceil_mode": {"choice": [False, True]}, **extra}


def space_of(layers, lo=5, hi=14, constraints=(), targets=(), params=None, channels=4, step=1):
    data = {"name": "s", "input": {"channels": channels, "size": {"range": [lo, hi], "step": step}}, "layers": layers}
    if constraints:
        data["constraints"] = list(constraints)
    if targets:
        data["targets"] = list(targets)
    if params:
        data["params"] = params
    return Space.from_config(data)


STACKED_RESIDUAL = [
    conv("c1", kernel=(1, 3)), conv("s1", kernel=(1, 3), inputs=["input"]), {"name": "a1", "type": "add", "inputs": ["c1", "s1"]},
    conv("c2", kernel=(1, 3, 5)), conv("s2", kernel=(1, 3), inputs=["a1"]), {"name": "a2", "type": "add", "inputs": ["c2", "s2"]},
    conv("c3", kernel=(3,)),
]

SPACES = {
    "chain": lambda: space_of([conv("c1"), pool("p1"), conv("c2", kernel=(3, 7))]),
    "residual": lambda: space_of([conv("c1"), pool("p1"), conv("s1", inputs=["input"]), {"name": "a1", "type": "add", "inputs": ["p1", "s1"]},
                                  conv("c2", stride=(1,))]),
    "transposed_concat": lambda: space_of([
        pool("down"),
        {"name": "up", "type": "conv_transpose2d", "out_channels": 4, "kernel": {"choice": [1, 2, 3, 4]}, "stride": 2,
         "padding": {"choice": [0, 1]}, "output_padding": {"choice": [0, 1]}},
        {"name": "cat", "type": "concat", "inputs": ["input", "up"]},
        conv("head", stride=(1,)),
    ], lo=8, hi=16, step=2),
    "constraints_and_ties": lambda: space_of(
        [{"name": "c1", "type": "conv2d", "out_channels": {"param": "w"}, "kernel": {"param": "k"}, "padding": {"expr": "k // 2"},
          "stride": {"choice": [1, 2]}},
         pool("p1"),
         {"name": "c2", "type": "conv2d", "out_channels": 8, "kernel": {"param": "k"}, "groups": {"choice": [1, 2, 4]}, "stride": {"choice": [1, 3]}},
         {"name": "fc_in", "type": "adaptive_avg_pool2d", "output_size": 1}],
        params={"k": {"choice": [1, 3, 5]}, "w": {"choice": [2, 4, 6]}},
        constraints=["c1.stride <= c2.stride", "p1.kernel + k != 6"],
    ),
    "resize_to_skip": lambda: space_of([
        conv("c1"), pool("p1"), conv("c2", kernel=(1, 3), inputs=["p1"]), {"name": "r", "type": "resize_as", "inputs": ["c2", "c1"]},
        {"name": "cat", "type": "concat", "inputs": ["c1", "r"]}, conv("c3", kernel=(3, 5)),
    ]),
    "target": lambda: space_of([conv("c1"), pool("p1")], lo=8, hi=20, targets=[{"node": "p1", "size": 4, "at": 16}]),
    # a stride target on one branch of an add: the branch carries its jump, the other does not (a fused merge
    # once compared the two by interned ids that included the jump, and counted 0)
    "branch_stride_target": lambda: space_of([
        conv("m1"), conv("m2", stride=(1,)), conv("s1", kernel=(1,), inputs=["input"]), {"name": "a", "type": "add", "inputs": ["m2", "s1"]},
        conv("c3", kernel=(1, 3), stride=(1,)),
    ], lo=6, hi=12, targets=[{"node": "m2", "stride": 2}]),
    # two adds in a row: states that differ only in how many input sizes reach each size are one state
    "stacked_residual": lambda: space_of(STACKED_RESIDUAL, lo=5, hi=16),
    # ... unless a size target reads the size at one input size
    "stacked_residual_target": lambda: space_of(STACKED_RESIDUAL, lo=5, hi=16, targets=[{"node": "a2", "size": 3, "at": 12}]),
    "flatten_linear": lambda: space_of([conv("c1"), pool("p1"), {"name": "f", "type": "flatten"},
                                        {"name": "fc", "type": "linear", "in_features": {"choice": [4, 16, 36, 64]}, "out_features": 2}], lo=9, hi=9),
    # a merge input read again after the merge (found by the fuzz campaign: the merge cannot be fused with its step)
    "merge_input_read_again": lambda: space_of([
        conv("s1"), pool("p1"), {"name": "a1", "type": "add", "inputs": ["p1", "s1"]},
        conv("c2", stride=(1,), inputs=["p1"]), {"name": "a2", "type": "add", "inputs": ["c2", "a1"]},
    ], lo=5, hi=12),
    # a tied kernel padded by kernel // 2 keeps the size wherever it is read: the later convs do not notice it
    # (it is not remembered between them), the one without padding does
    "unnoticed_tie": lambda: space_of([
        {"name": "e1", "type": "conv2d", "out_channels": 4, "kernel": {"param": "k"}, "padding": {"expr": "k // 2"}},
        pool("p1", ceil_mode=False),
        {"name": "e2", "type": "conv2d", "out_channels": 4, "kernel": {"param": "k"}, "padding": {"expr": "k // 2"},
         "stride": {"choice": [1, 2]}},
        {"name": "up", "type": "conv_transpose2d", "out_channels": 4, "kernel": {"choice": [2, 3]}, "stride": 2,
         "padding": {"choice": [0, 1]}, "output_padding": {"choice": [0, 1]}},
        {"name": "cat", "type": "concat", "inputs": ["e1", "up"]},
        {"name": "d1", "type": "conv2d", "out_channels": 4, "kernel": {"param": "k"}, "padding": {"expr": "k // 2"}},
        {"name": "d2", "type": "conv2d", "out_channels": 4, "kernel": {"param": "j"}, "padding": {"expr": "j // 2"}},
        {"name": "d3", "type": "conv2d", "out_channels": 4, "kernel": {"param": "j"}},
        # a pool is not a plain conv (with ceil mode its last-window rule reads the padding itself): it reads k
        {"name": "q", "type": "max_pool2d", "kernel": {"param": "k"}, "padding": {"expr": "k // 2"}, "stride": 3, "ceil_mode": True},
    ], lo=6, hi=16, step=2, params={"k": {"choice": [1, 3, 5]}, "j": {"choice": [1, 3]}}),
    # activations, normalisation and dropout pass their input on (no step of their own), a group norm can fail
    "activations": lambda: space_of([
        {"name": "r0", "type": "relu"}, conv("c1", out_channels={"choice": [4, 6]}, inputs=["r0"]),
        {"name": "g", "type": "group_norm", "num_groups": 3}, {"name": "r1", "type": "relu"}, {"name": "d", "type": "dropout"},
        pool("p1", ceil_mode=False), conv("s1", kernel=(1, 3), out_channels=6, inputs=["r0"]), {"name": "bn", "type": "batch_norm2d"},
        {"name": "a1", "type": "add", "inputs": ["p1", "bn"]}, {"name": "r2", "type": "relu"},
    ], lo=5, hi=9),
}


def canonical(rows):
    """The assignments as sorted JSON texts, to compare collections of them regardless of order."""
    return sorted(json.dumps(row, sort_keys=True) for row in rows)


def valid_assignments(space):
    """Every valid assignment of ``space`` in ``itertools.product`` order, by checking each with convsolve's range inference.

    Slow (seconds for the larger SPACES): tests take the ``brute_force`` fixture (tests/conftest.py), which runs it once
    per space and test run.
    """
    names = list(space.params)
    candidates = (dict(zip(names, values)) for values in itertools.product(*[space.params[n].values for n in names]))
    return [assignment for assignment in candidates if is_valid(space, assignment)]


def is_valid(space, assignment):
    """Constraints hold, every layer is valid at every input size of the range, and targets are met."""
    try:
        if not all(c.expression.evaluate(assignment) for c in space.constraints):
            return False
        network = space.fixed(assignment)
        result = network.infer()
    except (InvalidAssignment, ZeroDivisionError):
        return False
    if result.static or not result.valid_mask().all():
        return False
    for target in space.targets:
        if target.stride is not None or target.receptive_field is not None:
            from convsolve.solve.problem import reaches  # the checker of python-constraint, not the programme under test

            if not reaches(network, target):
                return False
        if target.size is None:
            continue
        shape = next(r.shape for r in network.shapes(list(target.at)) if r.node == target.node)
        if shape is None or tuple(shape[1:]) != tuple(target.size):
            return False
    return True
