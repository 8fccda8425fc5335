"""Padding conventions: PyTorch's static 'same', ONNX's auto_pad and pads order, TensorFlow's same/valid."""

import pytest
from hypothesis import given, settings, strategies as st

import convsolve
from convsolve import ConfigError
from convsolve.conventions import ONNX, PYTORCH, TENSORFLOW, parse_padding


def conv(convention, **fields):
    data = {"convention": convention, "input": {"channels": 1, "length": 8},
            "layers": [{"name": "c", "type": "conv1d", "out_channels": 1, **fields}]}
    return convsolve.load_config(data).layer("c")


@settings(max_examples=200, derandomize=True)
@given(n=st.integers(1, 60), k=st.integers(1, 7), s=st.integers(1, 4), d=st.integers(1, 3))
def test_tensorflow_same_and_valid(n, k, s, d):
    """TensorFlow: SAME gives ceil(n / s); VALID gives ceil((n - E + 1) / s) and refuses sizes below 1."""
    if s > 1 and d > 1:
        layer = conv("tensorflow", kernel=k, stride=s, dilation=d, padding="valid")
        assert layer.static_problems(TENSORFLOW)  # tf.nn.convolution refuses stride > 1 with dilation > 1
        return
    effective = d * (k - 1) + 1
    same = conv("tensorflow", kernel=k, stride=s, dilation=d, padding="same")
    assert same.axis_size(0, n) == (-(-n // s), True)
    valid = conv("tensorflow", kernel=k, stride=s, dilation=d, padding="valid")
    expected = -(-(n - effective + 1) // s)
    out, ok = valid.axis_size(0, n)
    assert ok == (expected >= 1)
    if ok:
        assert out == expected


def test_onnx_pads_order_and_auto_pad_words():
    data = {"convention": "onnx", "input": {"channels": 1, "height": 8, "width": 8},
            "layers": [{"name": "c", "type": "conv2d", "out_channels": 1, "kernel": 3, "padding": [1, 2, 3, 4]}]}
    assert convsolve.load_config(data).layer("c").padding.pairs == ((1, 3), (2, 4))  # [x1_b, x2_b, x1_e, x2_e]
    for word in ("same_upper", "same_lower"):
        assert conv("onnx", kernel=4, stride=3, padding=word).axis_size(0, 10) == (4, True)
    assert conv("onnx", kernel=4, padding="valid").axis_size(0, 3) == (0, False)


def test_pytorch_same_is_static_with_the_odd_pixel_after():
    padding = parse_padding("same", PYTORCH, kernel=(4,), dilation=(1,), stride=(1,))
    assert padding.pairs == ((1, 2),) and padding.dynamic is None


@pytest.mark.parametrize("convention, word", [("pytorch", "same_upper"), ("onnx", "same"), ("tensorflow", "notset")])
def test_words_of_another_convention_are_refused(convention, word):
    with pytest.raises(ConfigError, match="not a padding of the"):
        conv(convention, kernel=3, padding=word)


def test_onnx_order_needs_the_onnx_convention():
    with pytest.raises(ValueError, match="2 integers"):
        parse_padding([1, 2, 3, 4], PYTORCH, kernel=(3, 3), dilation=(1, 1), stride=(1, 1))
    assert parse_padding([1, 2, 3, 4], ONNX, kernel=(3, 3), dilation=(1, 1), stride=(1, 1)).pairs == ((1, 3), (2, 4))
