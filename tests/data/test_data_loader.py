"""DataLoader, TensorDataset, Subset, random_split: coverage, order, reproducibility, torch parity."""
import os

import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

import tinycompress as tc
from mnist_fakes import make_fake_set
from strategies import loader_sizes
from tinycompress.data import DataLoader, MNIST, Subset, TensorDataset, random_split
from tinycompress.data import transforms as T
from tinycompress.random import default_generator

torch = pytest.importorskip("torch", reason="torch (the test oracle) is not installed")


class ItemsOnly:
    """A dataset with no get_batch: the loader must fetch and stack items."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], int(self.y[i])


def _indices(loader):
    return [b[0].array.tolist() for b in loader]


@given(sizes=loader_sizes(), drop_last=st.booleans())
def test_unshuffled_batches_and_len_equal_torch(sizes, drop_last):
    n, bs = sizes
    ours = DataLoader(TensorDataset(np.arange(n)), batch_size=bs, drop_last=drop_last)
    ref = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.arange(n)), batch_size=bs,
                                      drop_last=drop_last)
    assert len(ours) == len(ref)
    assert _indices(ours) == [b[0].tolist() for b in ref]


@given(sizes=loader_sizes(), drop_last=st.booleans(), seed=st.integers(0, 2 ** 31))
def test_shuffled_epoch_yields_every_index_once(sizes, drop_last, seed):
    n, bs = sizes
    if n == 0:                                   # torch's RandomSampler refuses an empty dataset
        with pytest.raises(ValueError, match="num_samples should be a positive integer value"):
            DataLoader(TensorDataset(np.arange(n)), batch_size=bs, shuffle=True)
        with pytest.raises(ValueError, match="num_samples should be a positive integer value"):
            torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.arange(n)), batch_size=bs, shuffle=True)
        return
    tc.manual_seed(seed)
    loader = DataLoader(TensorDataset(np.arange(n)), batch_size=bs, shuffle=True, drop_last=drop_last)
    for _ in range(2):
        batches = _indices(loader)
        assert len(batches) == len(loader)
        assert all(len(b) == bs for b in batches[:-1])
        flat = [i for b in batches for i in b]
        assert len(flat) == len(set(flat))                              # no index twice
        if drop_last:
            assert len(flat) == (n // bs) * bs and all(len(b) == bs for b in batches)
        else:
            assert sorted(flat) == list(range(n))                       # every index once


def test_shuffle_is_reproducible_under_manual_seed_and_fresh_each_epoch():
    loader = DataLoader(TensorDataset(np.arange(50)), batch_size=8, shuffle=True)
    tc.manual_seed(123)
    first, second = _indices(loader), _indices(loader)
    tc.manual_seed(123)
    assert _indices(loader) == first and _indices(loader) == second
    assert first != second                                              # a new permutation per epoch
    tc.manual_seed(124)
    assert _indices(loader) != first


def test_order_is_drawn_at_the_first_batch_not_by_iter():
    """tqdm.auto's asyncio bar calls iter(loader) in its constructor and drops it: that must draw nothing."""
    loader = DataLoader(TensorDataset(np.arange(30)), batch_size=4, shuffle=True)
    tc.manual_seed(7)
    expected = _indices(loader)
    tc.manual_seed(7)
    state = default_generator().bit_generator.state
    it, dropped = iter(loader), iter(loader)
    assert default_generator().bit_generator.state == state              # iter() alone draws nothing
    first = next(it)                                                     # the draw happens here ...
    default_generator().random(5)                                        # ... so later draws do not change it
    assert [first[0].array.tolist()] + [b[0].array.tolist() for b in it] == expected
    del dropped


def test_epochs_are_the_same_through_a_tqdm_bar():
    tqdm = pytest.importorskip("tqdm.auto").tqdm
    loader = DataLoader(TensorDataset(np.arange(30)), batch_size=4, shuffle=True)
    tc.manual_seed(3)
    plain = [_indices(loader) for _ in range(2)]
    tc.manual_seed(3)
    with open(os.devnull, "w") as sink:
        barred = [[b[0].array.tolist() for b in tqdm(loader, disable=False, file=sink)] for _ in range(2)]
    assert barred == plain


def test_own_generator_leaves_the_library_generator_alone():
    tc.manual_seed(0)
    state = default_generator().bit_generator.state
    a = _indices(DataLoader(TensorDataset(np.arange(20)), batch_size=5, shuffle=True,
                            generator=np.random.default_rng(3)))
    b = _indices(DataLoader(TensorDataset(np.arange(20)), batch_size=5, shuffle=True,
                            generator=np.random.default_rng(3)))
    assert a == b and default_generator().bit_generator.state == state
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        DataLoader(TensorDataset(np.arange(3)), generator=3)


@given(sizes=loader_sizes(max_n=30), seed=st.integers(0, 1000))
def test_item_path_equals_get_batch_path(sizes, seed):
    n, bs = sizes
    assume(n > 0)                                # an empty dataset cannot be shuffled (torch's rule too)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3)).astype(np.float32)
    y = rng.integers(0, 10, n)
    tc.manual_seed(seed)
    fast = list(DataLoader(TensorDataset(x, y), batch_size=bs, shuffle=True))
    tc.manual_seed(seed)
    slow = list(DataLoader(ItemsOnly(x, y), batch_size=bs, shuffle=True))
    assert len(fast) == len(slow)
    for (fx, fy), (sx, sy) in zip(fast, slow):
        assert isinstance(sx, tc.Tensor) and isinstance(fy, tc.Tensor)
        assert sx.dtype == fx.dtype == np.float32 and sy.dtype == fy.dtype == np.int64
        np.testing.assert_array_equal(sx.array, fx.array)
        np.testing.assert_array_equal(sy.array, fy.array)


def test_mnist_batches_are_float32_images_and_int64_labels(isolated):
    make_fake_set(isolated / "root", n_train=10, side=28)
    ds = MNIST(isolated / "root", transform=T.mnist_normalize_half())
    x, y = next(iter(DataLoader(ds, batch_size=4)))
    assert isinstance(x, tc.Tensor) and x.shape == (4, 1, 28, 28) and x.dtype == np.float32
    assert isinstance(y, tc.Tensor) and y.dtype == np.int64
    np.testing.assert_array_equal(y.array, ds.targets[:4])
    np.testing.assert_array_equal(x.array, T.mnist_normalize_half()(ds.data[:4]))


def test_tensor_dataset_and_subset():
    x, y = np.arange(12).reshape(6, 2).astype(np.float32), np.arange(6) * 10
    ds = TensorDataset(x, tc.tensor(y))
    assert len(ds) == 6 and ds[2][1] == 20 and all(isinstance(t, tc.Tensor) for t in ds.tensors)
    with pytest.raises(ValueError, match=r"Size mismatch between tensors: first dimensions \[6, 5\]"):
        TensorDataset(x, y[:5])
    sub = Subset(ds, [5, 0, 3])
    assert len(sub) == 3 and sub[0][1] == 50
    batches = list(DataLoader(sub, batch_size=2))
    assert [b[1].array.tolist() for b in batches] == [[50, 0], [30]]
    slow = Subset(ItemsOnly(x, y), [5, 0, 3])
    assert slow.get_batch is None
    assert [b[1].array.tolist() for b in DataLoader(slow, batch_size=2)] == [[50, 0], [30]]


def test_random_split_partitions():
    tc.manual_seed(0)
    parts = random_split(TensorDataset(np.arange(10)), [0.5, 0.3, 0.2])
    assert [len(p) for p in parts] == [5, 3, 2]
    assert sorted(i for p in parts for i in p.indices) == list(range(10))
    with pytest.raises(ValueError, match="does not equal the length"):
        random_split(TensorDataset(np.arange(10)), [3, 3])


def test_bad_batch_size():
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="batch_size should be a positive integer"):
            DataLoader(TensorDataset(np.arange(3)), batch_size=bad)
