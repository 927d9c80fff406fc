"""Conv output size: formula, exact-tiling flag, errors, and PyTorch agreement."""

from __future__ import annotations

import random

import pytest

from core.convshape import conv_output_size, conv_shape
from core.errors import ConfigError


def test_notes_example() -> None:
    # CS231n: W1=5, F=3, P=0, S=2 -> (5 - 3 + 0)/2 + 1 = 2
    result = conv_shape(5, 3, padding=0, stride=2)
    assert result.output_size == 2
    assert result.valid is True
    assert result.remainder == 0
    assert result.formula.endswith("= 2")
    assert "(5 - 3 + 2*0)/2" in result.formula


@pytest.mark.parametrize(
    ("w1", "f", "p", "s", "d", "expected"),
    [
        (7, 3, 0, 1, 1, 5),
        (7, 3, 1, 1, 1, 7),  # "same" padding
        (32, 5, 2, 1, 1, 32),
        (227, 11, 0, 4, 1, 55),  # AlexNet conv1
        (224, 7, 3, 2, 1, 112),  # ResNet stem
        (10, 3, 0, 1, 2, 6),  # dilated: span 5
        (1, 1, 0, 1, 1, 1),
        (3, 3, 0, 5, 1, 1),
    ],
)
def test_known_sizes(w1: int, f: int, p: int, s: int, d: int, expected: int) -> None:
    assert conv_output_size(w1, f, p, s, d) == expected


def test_invalid_stride_flags_remainder() -> None:
    # (7 - 3 + 0)/3 = 1.33: the last input column is never covered
    result = conv_shape(7, 3, padding=0, stride=3)
    assert result.output_size == 2
    assert result.valid is False
    assert result.remainder == 1


def test_dilated_formula_shows_dilation() -> None:
    result = conv_shape(10, 3, padding=1, stride=2, dilation=2)
    assert result.output_size == (10 + 2 - 2 * 2 - 1) // 2 + 1
    assert "D*(F-1)" in result.formula
    assert "2*(3-1)" in result.formula


def test_kernel_larger_than_padded_input() -> None:
    with pytest.raises(ConfigError) as info:
        conv_shape(4, 7, padding=1, stride=1)
    assert info.value.field == "kernel_size"
    assert "larger than the padded input" in info.value.message
    assert "6" in info.value.message  # 4 + 2*1
    # the same kernel fits once padding makes room
    assert conv_output_size(4, 7, padding=2, stride=1) == 2


def test_dilation_can_make_kernel_too_large() -> None:
    assert conv_output_size(5, 3, 0, 1, 2) == 1
    with pytest.raises(ConfigError, match="dilated kernel span"):
        conv_shape(5, 3, padding=0, stride=1, dilation=3)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"input_size": 0}, "input_size"),
        ({"kernel_size": 0}, "kernel_size"),
        ({"padding": -1}, "padding"),
        ({"stride": 0}, "stride"),
        ({"dilation": 0}, "dilation"),
        ({"stride": 1.5}, "stride"),
        ({"input_size": True}, "input_size"),
    ],
)
def test_rejects_out_of_range(kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {
        "input_size": 8, "kernel_size": 3, "padding": 0, "stride": 1, "dilation": 1, **kwargs
    }
    with pytest.raises(ConfigError) as info:
        conv_shape(**args)  # type: ignore[arg-type]
    assert info.value.field == field


@pytest.mark.torch
def test_matches_torch_conv2d() -> None:
    torch = pytest.importorskip("torch")
    rng = random.Random(1234)
    checked = 0
    while checked < 60:
        w1 = rng.randint(1, 40)
        f = rng.randint(1, 9)
        p = rng.randint(0, 4)
        s = rng.randint(1, 5)
        d = rng.randint(1, 3)
        conv = torch.nn.Conv2d(1, 1, kernel_size=f, padding=p, stride=s, dilation=d, bias=False)
        x = torch.zeros(1, 1, w1, w1 + 3)
        if d * (f - 1) + 1 > w1 + 2 * p:
            with pytest.raises(ConfigError):
                conv_shape(w1, f, p, s, d)
            with pytest.raises(RuntimeError):
                conv(x)
            continue
        out = conv(x)
        assert out.shape[2] == conv_output_size(w1, f, p, s, d)
        assert out.shape[3] == conv_output_size(w1 + 3, f, p, s, d)
        checked += 1
