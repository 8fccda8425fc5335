"""Importing whole ONNX models: valid sizes and per-layer shapes are what ONNX's reference evaluator computes.

The oracle runs the model with ``onnx.reference.ReferenceEvaluator`` at every input size of a sweep,
with every intermediate tensor made a graph output: a size is valid when the run succeeds and no
tensor has a dimension below 1. Models exported from PyTorch are compared with the PyTorch import.
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest

from extras import require

onnx = require("onnx")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

import convsolve  # noqa: E402
from convsolve.errors import MissingExtraError, ModelImportError  # noqa: E402
from convsolve.io.export import network_to_config  # noqa: E402
from convsolve.io.onnx import from_onnx  # noqa: E402
from convsolve.sizesets import SizeRange  # noqa: E402

pytestmark = pytest.mark.onnx


def init(name: str, shape, dtype=np.float32, value=None) -> onnx.TensorProto:
    array = np.asarray(value, dtype=dtype) if value is not None else np.zeros(shape, dtype=dtype)
    return numpy_helper.from_array(array, name)


def make_model(nodes, initializers, channels=3, opset=19, spatial=("h", "w")) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, channels, *spatial])
    y = helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, None)
    graph = helper.make_graph(nodes, "net", [x], [y], initializer=initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def reference_run(model: onnx.ModelProto, n: int, channels: int = 3) -> dict[str, tuple[int, ...]] | None:
    """Every node's first output shape at input n x n, or None when ONNX's reference refuses or produces an empty tensor."""
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    outputs = [node.output[0] for node in probe.graph.node if node.op_type != "Constant"]
    del probe.graph.output[:]
    probe.graph.output.extend(helper.make_tensor_value_info(name, TensorProto.UNDEFINED, None) for name in outputs)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            results = ReferenceEvaluator(probe).run(None, {"x": np.ones((1, channels, n, n), np.float32)})
    except Exception:  # noqa: BLE001 - the oracle: whatever the reference raises, the size is refused
        return None
    shapes = {name: tuple(np.shape(value)) for name, value in zip(outputs, results)}
    if any(min(shape, default=1) < 1 for shape in shapes.values()):
        return None
    return shapes


def assert_agrees_with_reference(model: onnx.ModelProto, sizes, channels: int = 3) -> convsolve.Network:
    network = from_onnx(model, SizeRange(sizes[0], sizes[-1]))
    mask = network.valid_sizes().mask
    checked_shapes = 0
    for n in sizes:
        shapes = reference_run(model, n, channels)
        assert (shapes is not None) == bool(mask[n - sizes[0]]), n
        if shapes is None:
            continue
        rows = {row.node: row.shape for row in network.shapes([n, n])}
        for node in model.graph.node:
            if node.name in rows:
                assert rows[node.name] == shapes[node.output[0]][1:], (n, node.name)
                checked_shapes += 1
    assert mask.any() and not mask.all() and checked_shapes
    return network


def unet_like() -> onnx.ModelProto:
    """Conv, pools (ceil mode), SAME_UPPER, Resize from an initializer and from a Constant, Concat, ConvTranspose, Add, Gemm."""
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], name="c1", strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="r1"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="p1", kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1),
        helper.make_node("Conv", ["p1", "w2"], ["c2"], name="c2", strides=[2, 2], auto_pad="SAME_UPPER"),
        helper.make_node("Resize", ["c2", "", "scales"], ["up"], name="up", mode="nearest"),
        helper.make_node("Concat", ["p1", "up"], ["cat"], name="cat", axis=1),
        helper.make_node("ConvTranspose", ["cat", "w3"], ["c3"], name="c3", strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1]),
        helper.make_node("Conv", ["c3", "w4"], ["c4"], name="c4", dilations=[2, 2], pads=[2, 2, 2, 2]),
        helper.make_node("Add", ["c3", "c4"], ["add"], name="add"),
        helper.make_node("AveragePool", ["add"], ["p2"], name="p2", kernel_shape=[5, 5], strides=[3, 3], pads=[0, 0, 1, 1]),
        helper.make_node("Constant", [], ["sizes"], name="sizes_const", value=numpy_helper.from_array(np.array([1, 4, 6, 6], np.int64))),
        helper.make_node("Resize", ["p2", "", "", "sizes"], ["up2"], name="up2", mode="linear"),
        helper.make_node("GlobalAveragePool", ["up2"], ["gap"], name="gap"),
        helper.make_node("Flatten", ["gap"], ["flat"], name="flat"),
        helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["logits"], name="fc", transB=1),
    ]
    initializers = [
        init("w1", (8, 3, 3, 3)), init("w2", (8, 8, 3, 3)), init("scales", None, value=[1, 1, 2, 2]),
        init("w3", (16, 4, 3, 3)), init("w4", (4, 4, 3, 3)), init("fc_w", (5, 4)), init("fc_b", (5,)),
    ]
    return make_model(nodes, initializers)


def test_whole_model_valid_sizes_and_shapes_are_the_reference_evaluators():
    network = assert_agrees_with_reference(unet_like(), range(1, 41))
    assert network.convention.name == "onnx"
    assert len(network.valid_sizes().sets[0].values) < 20  # the Concat after Resize drops most sizes


def test_upsample_of_opset_9_reads_its_scales_input():
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], name="c1", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Upsample", ["c1", "scales"], ["up"], name="up", mode="nearest"),
        helper.make_node("Conv", ["x", "w2"], ["c2"], name="c2"),
        helper.make_node("Concat", ["c2", "up"], ["cat"], name="cat", axis=1),
    ]
    model = make_model(nodes, [init("w1", (2, 3, 2, 2)), init("w2", (2, 3, 1, 1)), init("scales", None, value=[1, 1, 2, 2])], opset=9)
    network = assert_agrees_with_reference(model, range(1, 21))
    assert str(network.valid_sizes()) == "2, 4, ..., 20"


def test_reshape_to_batch_and_minus_one_through_shape_ops_is_a_flatten():
    """What exporters write for x.view(x.size(0), -1): Shape, Gather(0), Unsqueeze, Concat with -1, Reshape."""
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="c", strides=[2, 2]),
        helper.make_node("Shape", ["c"], ["shape"], name="shape"),
        helper.make_node("Gather", ["shape", "zero"], ["batch"], name="batch", axis=0),
        helper.make_node("Unsqueeze", ["batch", "axes"], ["batch1"], name="batch1"),
        helper.make_node("Concat", ["batch1", "minus_one"], ["target"], name="target", axis=0),
        helper.make_node("Reshape", ["c", "target"], ["flat"], name="flat"),
        helper.make_node("MatMul", ["flat", "fc_w"], ["mm"], name="fc"),
        helper.make_node("Add", ["mm", "fc_b"], ["logits"], name="bias"),
    ]
    initializers = [
        init("w", (4, 3, 3, 3)), init("zero", None, np.int64, 0), init("axes", None, np.int64, [0]),
        init("minus_one", None, np.int64, [-1]), init("fc_w", (4 * 4 * 4, 10)), init("fc_b", (10,)),
    ]
    network = assert_agrees_with_reference(make_model(nodes, initializers, opset=13), range(1, 16))
    assert str(network.valid_sizes()) == "9..10"
    assert [network.layer(n).type for n in network.order[1:]] == ["conv2d", "flatten", "linear", "identity"]


def test_fixed_input_size_is_the_default_range_and_layer_names_are_identifiers(tmp_path):
    nodes = [helper.make_node("Conv", ["x", "w"], ["/features/features.0/Conv_output_0"], name="/features/features.0/Conv")]
    model = make_model(nodes, [init("w", (4, 3, 7, 7))], spatial=(32, 48))
    path = tmp_path / "fixed.onnx"
    onnx.save(model, path)
    network = convsolve.load(path)
    assert (network.name, network.input.tied, [str(r) for r in network.input.ranges]) == ("fixed", False, ["32", "48"])
    assert network.order == ["input", "features_0_Conv"]
    assert network.shapes([32, 48])[-1].shape == (4, 26, 42)


def weights_as_inputs(nodes, weights: dict[str, tuple], spatial=("h", "w")) -> onnx.ModelProto:
    """A model whose weights are graph inputs (with these shapes), not initializers, as ONNX's backend cases have them."""
    model = make_model(nodes, [], spatial=spatial)
    model.graph.input.extend(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape)) for name, shape in weights.items())
    return model


def test_a_weight_given_as_a_graph_input_with_a_static_shape_is_a_weight():
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], name="c", strides=[2, 2]),
        helper.make_node("Flatten", ["c"], ["flat"], name="flat"),
        helper.make_node("MatMul", ["flat", "fc"], ["logits"], name="fc"),
    ]
    model = weights_as_inputs(nodes, {"w": (4, 3, 3, 3), "b": (4,), "fc": (4 * 3 * 3, 10)})
    network = from_onnx(model, SizeRange(1, 12))
    assert str(network.valid_sizes()) == "7..8"
    assert network.shapes([7, 7])[-1].shape == (10,)


@pytest.mark.parametrize("case, message", [
    ("symbolic weight shape", r"has 2 inputs \(x, w\); convsolve imports models with one input tensor"),
    ("weight read as an activation too", r"has 2 inputs \(x, w\)"),
    ("two activations", r"has 2 inputs \(x, y\) besides the weights w"),
    ("only weights", r"has 0 inputs besides the weights w"),
])
def test_graph_inputs_that_are_not_clearly_weights_are_refused_by_name(case, message):
    conv = helper.make_node("Conv", ["x", "w"], ["c"], name="c")
    if case == "symbolic weight shape":
        model = weights_as_inputs([conv], {"w": (4, 3, "k", 3)})
    elif case == "weight read as an activation too":
        model = weights_as_inputs([conv, helper.make_node("Relu", ["w"], ["r"], name="r")], {"w": (4, 3, 3, 3)})
    elif case == "two activations":
        model = weights_as_inputs([conv, helper.make_node("Add", ["c", "y"], ["s"], name="s")], {"w": (4, 3, 3, 3), "y": (1, 4, 6, 6)})
    else:  # the Conv's data is a constant: the one graph input left is its weight
        data = helper.make_node("Constant", [], ["d"], value=numpy_helper.from_array(np.ones((1, 3, 5, 5), np.float32)))
        model = weights_as_inputs([data, helper.make_node("Conv", ["d", "w"], ["c"], name="c")], {"w": (4, 3, 3, 3)})
        del model.graph.input[0]
    with pytest.raises(ModelImportError, match=message) as info:
        from_onnx(model)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("case, message", [
    ("missing", "no such file"),
    ("garbage", "is not a readable ONNX model"),
    ("two inputs", "has 2 inputs"),
    ("unsupported op", "op 'Slice' is not supported"),
    ("symbolic channels", "no fixed channel count"),
    ("constant folding", "computes only on constants"),
    ("reshape without its shape", "op 'Reshape' takes 2 inputs here, this node has 1"),  # found by the fuzz campaign
])
def test_model_errors_are_one_paragraph_naming_what_and_where(tmp_path, case, message):
    path = tmp_path / "model.onnx"
    conv = helper.make_node("Conv", ["x", "w"], ["c"], name="c")
    if case == "garbage":
        path.write_bytes(b"\x00not an onnx model\xff" * 10)
    elif case == "two inputs":
        model = make_model([conv], [init("w", (4, 3, 3, 3))])
        model.graph.input.append(helper.make_tensor_value_info("mask", TensorProto.FLOAT, [1, 1, "h", "w"]))
        onnx.save(model, path)
    elif case == "unsupported op":
        slice_node = helper.make_node("Slice", ["c", "starts", "ends"], ["s"], name="crop")
        onnx.save(make_model([conv, slice_node], [init("w", (4, 3, 3, 3)), init("starts", None, np.int64, [0]),
                                                  init("ends", None, np.int64, [2])]), path)
    elif case == "symbolic channels":
        onnx.save(make_model([conv], [init("w", (4, 3, 3, 3))]), path)
        model = onnx.load(path)
        model.graph.input[0].type.tensor_type.shape.dim[1].dim_param = "c"
        onnx.save(model, path)
    elif case == "constant folding":
        add = helper.make_node("Add", ["w", "w"], ["w2"], name="double")
        conv2 = helper.make_node("Conv", ["x", "w2"], ["c"], name="c")
        onnx.save(make_model([add, conv2], [init("w", (4, 3, 3, 3))]), path)
    elif case == "reshape without its shape":
        reshape = helper.make_node("Reshape", ["c"], ["r"], name="flat", shape=[1, -1])  # opset 1: the shape is an attribute
        onnx.save(make_model([helper.make_node("Conv", ["x", "w"], ["c"], name="c"), reshape], [init("w", (4, 3, 3, 3))], opset=1), path)
    with pytest.raises(ModelImportError, match=message) as info:
        from_onnx(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
    if case == "unsupported op":
        assert info.value.facts["node"] == "crop"


def test_missing_onnx_is_a_missing_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnx", None)
    (tmp_path / "model.onnx").write_bytes(b"\x08\x07")  # the file exists: what is missing is the extra
    with pytest.raises(MissingExtraError, match=r"convsolve\[onnx\]"):
        from_onnx(tmp_path / "model.onnx")


def test_an_imported_onnx_model_written_as_config_loads_back_equal():
    network = from_onnx(unet_like(), SizeRange(1, 64))
    loaded = convsolve.load_config(network_to_config(network))
    assert loaded.convention.name == "onnx"
    assert all(loaded.layer(n) == network.layer(n) for n in network.order[1:])
    assert str(loaded.valid_sizes()) == str(network.valid_sizes())


# --- models exported from PyTorch ----------------------------------------------------------------


@pytest.mark.torch
@pytest.mark.torchvision
@pytest.mark.parametrize("name", ["resnet18", "squeezenet1_0", "googlenet"])
def test_torchvision_exported_to_onnx_imports_with_the_sizes_pytorch_accepts(tmp_path, name):
    torch = require("torch")
    torchvision = require("torchvision")
    from convsolve.io.torch import from_torch

    extra = {"aux_logits": False, "init_weights": False} if name == "googlenet" else {}
    model = getattr(torchvision.models, name)(weights=None, **extra).eval()
    path = tmp_path / f"{name}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.zeros(1, 3, 64, 64),), str(path), dynamo=False, input_names=["x"],
                          dynamic_axes={"x": {2: "height", 3: "width"}})
    imported = from_onnx(path, SizeRange(1, 300))
    traced = from_torch(model, range(1, 301))
    assert (imported.valid_sizes().mask == traced.valid_sizes().mask).all()
    assert imported.shapes([97, 97])[-1].shape == traced.shapes([97, 97])[-1].shape == (1000,)


def strings(name: str, values) -> onnx.TensorProto:
    return helper.make_tensor(name, TensorProto.STRING, [len(values)], [v.encode() for v in values])


def resize(*inputs: str) -> onnx.NodeProto:
    return helper.make_node("Resize", ["c", *inputs], ["up"], name="up")


WRONG_TYPES = {
    "resize scales of strings": ([resize("", "scales")], [strings("scales", ["1", "1", "two", "2"])],
                                 19, "scales", "a string tensor; scales must be a float tensor"),
    "resize sizes of strings": ([resize("", "", "sizes")], [strings("sizes", ["1", "4", "two", "2"])],
                                19, "sizes", "a string tensor; sizes must be an integer tensor"),
    "upsample scales of strings": ([helper.make_node("Upsample", ["c", "scales"], ["up"], name="up")], [strings("scales", ["1", "1", "2", "2"])],
                                   9, "scales", "a string tensor; scales must be a float tensor"),
    "reshape shape of strings": ([helper.make_node("Reshape", ["c", "shape"], ["r"], name="flat")], [strings("shape", ["1", "-1"])],
                                 19, "shape", "a string tensor; shape must be an integer tensor"),
    "reshape shape of floats": ([helper.make_node("Reshape", ["c", "shape"], ["r"], name="flat")], [init("shape", None, np.float32, [1.5, -1])],
                                19, "shape", "a float tensor; shape must be an integer tensor"),
    "complex scales": ([resize("", "scales")], [init("scales", None, np.complex64, [1, 1, 2 + 1j, 2])],
                       19, "scales", "a complex tensor; scales must be a float tensor"),
    "bool scales": ([resize("", "scales")], [init("scales", None, bool, [1, 1, 1, 1])], 19, "scales", "a bool tensor; scales must be a float tensor"),
    "float sizes": ([resize("", "", "sizes")], [init("sizes", None, np.float32, [1, 4, 2.5, 2])],
                    19, "sizes", "a float tensor; sizes must be an integer tensor"),
    "constant shape of strings": ([helper.make_node("Constant", [], ["shape"], name="k", value=strings("v", ["1", "-1"])),
                                   helper.make_node("Reshape", ["c", "shape"], ["r"], name="flat")], [], 19, "shape", "a string tensor"),
}


@pytest.mark.parametrize("case", WRONG_TYPES)
def test_constants_of_the_wrong_type_are_refused_by_type_naming_node_and_input(case):
    """String scales, sizes and shapes ended in a ValueError traceback, complex scales printed numpy's ComplexWarning,
    and a float Reshape shape [1.5, -1] was read as [1, -1]."""
    nodes, constants, opset, role, problem = WRONG_TYPES[case]
    conv = helper.make_node("Conv", ["x", "w"], ["c"], name="c")
    model = make_model([conv, *nodes], [init("w", (4, 3, 3, 3)), *constants], opset=opset)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ModelImportError) as info:
            from_onnx(model, 32)
    err = info.value
    op = nodes[-1].op_type
    assert (err.facts["node"], err.facts["field"]) == (nodes[-1].name, role)
    assert err.message.startswith(f"{op}: the {role} input {role!r} is ") and problem in err.message


@pytest.mark.parametrize("holder", ["initializer", "Constant node"])
def test_external_data_is_never_read(tmp_path, monkeypatch, holder):
    """A Constant node's tensor stored in an external file was read (relative to the working directory)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "shape.bin").write_bytes(np.array([1, -1], np.int64).tobytes())
    tensor = onnx.TensorProto(name="shape", data_type=TensorProto.INT64, dims=[2], data_location=TensorProto.EXTERNAL)
    tensor.external_data.add(key="location", value="shape.bin")
    conv = helper.make_node("Conv", ["x", "w"], ["c"], name="c")
    reshape = helper.make_node("Reshape", ["c", "shape"], ["r"], name="flat")
    if holder == "initializer":
        model = make_model([conv, reshape], [init("w", (4, 3, 3, 3)), tensor])
    else:
        constant = helper.make_node("Constant", [], ["shape"], name="k", value=tensor)
        model = make_model([conv, constant, reshape], [init("w", (4, 3, 3, 3))])
    with pytest.raises(ModelImportError, match="'shape' is stored in an external data file, which convsolve does not read"):
        from_onnx(model, 32)


@pytest.mark.parametrize("op, attribute, opset", [("AveragePool", "dilations", 18), ("LpPool", "dilations", 17), ("LpPool", "ceil_mode", 17)])
def test_a_pool_attribute_newer_than_the_models_opset_is_refused(op, attribute, opset):
    """AveragePool has dilations since opset 19 and LpPool dilations and ceil_mode since 18: at an older opset ONNX
    refuses the node, so convsolve does not size it (it used to drop an AveragePool's dilations, or honour them)."""
    pool = helper.make_node(op, ["x"], ["y"], name="pool", kernel_shape=[2, 2], **{attribute: [2, 2] if attribute == "dilations" else 1})
    with pytest.raises(ModelImportError, match=f"{op} has no attribute '{attribute}' at the model's opset \\({opset}\\)") as info:
        from_onnx(make_model([pool], [], opset=opset))
    assert info.value.facts["node"] == "pool" and info.value.facts["field"] == attribute
    assert from_onnx(make_model([pool], [], opset=opset + 1), 8).layer("pool").type.endswith("pool2d")
