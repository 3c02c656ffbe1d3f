"""Transforms against torchvision's formulas written out in torch ops, one image and batches."""
import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

from strategies import normalize_params, uint8_images
from tinycompress.data import transforms as T

torch = pytest.importorskip("torch", reason="torch (the test oracle) is not installed")


def torch_to_tensor(img: np.ndarray) -> np.ndarray:
    """torchvision.transforms.functional.to_tensor for a 2-D uint8 ndarray, in torch ops."""
    t = torch.from_numpy(img[:, :, None].copy()).permute(2, 0, 1).contiguous()
    return t.to(torch.float32).div(255).numpy()


def torch_normalize(x: np.ndarray, mean, std) -> np.ndarray:
    """torchvision.transforms.functional.normalize: (x - mean) / std per channel, in x's dtype."""
    t = torch.from_numpy(x.copy())
    m = torch.as_tensor(mean, dtype=t.dtype).view(-1, 1, 1)
    s = torch.as_tensor(std, dtype=t.dtype).view(-1, 1, 1)
    return t.sub(m).div(s).numpy()


@given(img=uint8_images(batch=False))
def test_to_tensor_single_image_equals_torchvision(img):
    out = T.ToTensor()(img)
    ref = torch_to_tensor(img)
    assert out.dtype == np.float32 and out.shape == (1, *img.shape)
    np.testing.assert_array_equal(out, ref)


@given(batch=uint8_images(batch=True))
def test_to_tensor_batch_is_the_stack_of_single_images(batch):
    out = T.ToTensor()(batch)
    assert out.shape == (batch.shape[0], 1, *batch.shape[1:]) and out.dtype == np.float32
    np.testing.assert_array_equal(out, np.stack([torch_to_tensor(im) for im in batch]))
    assert 0 <= out.min() and out.max() <= 1


@given(img=hnp.arrays(np.uint8, hnp.array_shapes(min_dims=3, max_dims=3, max_side=5)).map(lambda a: a[None]))
def test_to_tensor_channels_last_batch(img):
    """(N, H, W, C) -> (N, C, H, W), as torchvision's (H, W, C) -> (C, H, W) per image."""
    out = T.ToTensor()(img)
    ref = torch.from_numpy(img[0].copy()).permute(2, 0, 1).to(torch.float32).div(255).numpy()
    np.testing.assert_array_equal(out[0], ref)


def test_to_tensor_keeps_float_input_values():
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float64)
    out = T.ToTensor()(x)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out[0], x)


@given(img=uint8_images(), params=normalize_params(1), dtype=st.sampled_from([np.float32, np.float64]))
def test_normalize_equals_torchvision(img, params, dtype):
    mean, std = params
    x = T.ToTensor()(img).astype(dtype)
    out = T.Normalize(mean, std)(x)
    assert out.dtype == dtype
    if x.ndim == 3:
        ref = torch_normalize(x, mean, std)
    else:
        ref = np.stack([torch_normalize(im, mean, std) for im in x])
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(x, T.ToTensor()(img).astype(dtype))      # input untouched


@given(x=hnp.arrays(np.float32, st.tuples(st.integers(1, 3), st.just(3), st.integers(1, 4), st.integers(1, 4)),
                    elements=st.floats(-2, 2, width=32)),
       params=normalize_params(3))
def test_normalize_per_channel(x, params):
    mean, std = params
    out = T.Normalize(mean, std)(x)
    np.testing.assert_array_equal(out, np.stack([torch_normalize(im, mean, std) for im in x]))


def test_normalize_bad_input():
    with pytest.raises(ValueError, match="std evaluated to zero"):
        T.Normalize((0.5,), (0.0,))
    with pytest.raises(TypeError, match="floating point.*ToTensor"):
        T.Normalize((0.5,), (0.5,))(np.zeros((1, 2, 2), np.uint8))
    with pytest.raises(ValueError, match="mean has 2 values for an image with 3 channels"):
        T.Normalize((0.5, 0.5), (0.5,))(np.zeros((3, 2, 2), np.float32))
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        T.Normalize((0.5,), (0.5,))(np.zeros((2, 2), np.float32))


@given(batch=uint8_images(batch=True))
def test_presets_and_flatten_are_the_seed_recipes(batch):
    """Seed 000/004: (x/255 - 0.5)/0.5, flattened to H*W per image; standard: (x/255 - 0.1307)/0.3081."""
    n = batch.shape[0]
    unit = torch.from_numpy(batch.copy()).to(torch.float32).div(255).unsqueeze(1)
    half = unit.sub(torch.tensor(0.5)).div(torch.tensor(0.5))
    std = unit.sub(torch.tensor(0.1307)).div(torch.tensor(0.3081))
    np.testing.assert_array_equal(T.mnist_normalize_half()(batch), half.numpy())
    np.testing.assert_array_equal(T.mnist_normalize_half(flatten=True)(batch), half.reshape(n, -1).numpy())
    np.testing.assert_array_equal(T.mnist_normalize_standard()(batch), std.numpy())
    np.testing.assert_array_equal(T.mnist_to_unit(flatten=True)(batch), unit.reshape(n, -1).numpy())
    single = T.mnist_normalize_half(flatten=True)(batch[0])
    assert single.shape == (batch[0].size,)
    np.testing.assert_array_equal(single, half[0].reshape(-1).numpy())
    assert np.all(np.abs(T.mnist_normalize_half()(batch)) <= 1)


def test_compose_order_and_lambda():
    calls = []
    c = T.Compose([T.Lambda(lambda x: calls.append("a") or x + 1), T.Lambda(lambda x: calls.append("b") or x * 3)])
    assert c(np.array([1.0]))[0] == 6.0 and calls == ["a", "b"]
    assert "Lambda" in repr(c) and "Normalize(mean=(0.5,), std=(0.5,))" in repr(T.mnist_normalize_half())
    with pytest.raises(TypeError, match="callable"):
        T.Lambda(3)
    with pytest.raises(TypeError, match="callable"):
        T.Compose([T.ToTensor(), "flatten"])
    with pytest.raises(ValueError, match="shape"):
        T.ToTensor()(np.zeros(5, np.uint8))
