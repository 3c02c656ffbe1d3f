"""``tc.utils.data`` against ``torch.utils.data``: the samplers, the DataLoader's arguments and rules,
collation, and MNIST applying a user's transform image by image as torchvision does."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinycompress as tc
import tinycompress.data
import tinycompress.utils.data as tud
from mnist_fakes import make_fake_set
from tinycompress.data import MNIST, transforms as T
from tinycompress.random import default_generator

torch = pytest.importorskip("torch", reason="torch (the test oracle) is not installed")
import torch.utils.data as ttud  # noqa: E402


def _plain(batch):
    """A batch as nested Python lists/dicts of (dtype-kind, values), comparable across libraries."""
    if isinstance(batch, tc.Tensor):
        return ("T", batch.dtype.kind, batch.array.tolist())
    if isinstance(batch, torch.Tensor):
        return ("T", batch.numpy().dtype.kind, batch.tolist())
    if isinstance(batch, dict):
        return {k: _plain(v) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return (type(batch).__name__, [_plain(b) for b in batch])
    return batch


def test_torch_import_path_and_the_data_package_share_the_classes():
    for name in ("DataLoader", "Dataset", "TensorDataset", "Subset", "random_split", "RandomSampler",
                 "SequentialSampler", "SubsetRandomSampler", "BatchSampler", "default_collate"):
        assert getattr(tc.utils.data, name) is getattr(tinycompress.data, name)
        assert hasattr(ttud, name)
    assert issubclass(MNIST, tc.utils.data.Dataset)


@given(n=st.integers(1, 40), bs=st.integers(1, 9), drop_last=st.booleans())
def test_sequential_and_batch_samplers_equal_torch(n, bs, drop_last):
    ours = list(tud.BatchSampler(tud.SequentialSampler(range(n)), bs, drop_last))
    ref = list(ttud.BatchSampler(ttud.SequentialSampler(range(n)), bs, drop_last))
    assert ours == ref and len(tud.BatchSampler(tud.SequentialSampler(range(n)), bs, drop_last)) == len(ref)
    assert list(tud.SequentialSampler(range(n))) == list(ttud.SequentialSampler(range(n)))


@given(n=st.integers(1, 30), bs=st.integers(1, 7), seed=st.integers(0, 2 ** 31))
def test_batch_sampler_over_a_plain_iterable_sampler(n, bs, seed):
    """A sampler the loader cannot slice (a user's generator of indices) is grouped one by one, as torch."""
    order = np.random.default_rng(seed).permutation(n).tolist()

    class Mine(tud.Sampler):
        def __iter__(self):
            return iter(order)

        def __len__(self):
            return n

    class Theirs(ttud.Sampler):
        def __iter__(self):
            return iter(order)

        def __len__(self):
            return n

    x = np.arange(n) * 10
    ours = [_plain(b) for b in tud.DataLoader(tud.TensorDataset(x), batch_size=bs, sampler=Mine())]
    ref = [_plain(b) for b in ttud.DataLoader(ttud.TensorDataset(torch.from_numpy(x)), batch_size=bs,
                                              sampler=Theirs())]
    assert ours == ref


def test_random_samplers_cover_what_they_should():
    tc.manual_seed(0)
    assert sorted(tud.RandomSampler(range(13))) == list(range(13))
    many = list(tud.RandomSampler(range(5), num_samples=12))
    assert len(many) == 12 and sorted(many[:10]) == sorted(list(range(5)) * 2)
    drawn = list(tud.RandomSampler(range(4), replacement=True, num_samples=50))
    assert len(drawn) == 50 and set(drawn) <= set(range(4))
    assert sorted(tud.SubsetRandomSampler([7, 3, 9])) == [3, 7, 9]
    picked = list(tud.WeightedRandomSampler([0.0, 1.0, 0.0, 2.0], num_samples=40))
    assert set(picked) <= {1, 3} and len(picked) == 40
    unique = list(tud.WeightedRandomSampler([1, 1, 1, 0], num_samples=3, replacement=False))
    assert sorted(unique) == [0, 1, 2]
    for bad in (dict(num_samples=0), dict(replacement=1)):
        for lib in (tud, ttud):
            with pytest.raises((ValueError, TypeError)):
                lib.RandomSampler(range(3), **bad)


def test_generator_objects_reproduce_and_leave_the_default_stream_alone():
    tc.manual_seed(5)
    state = default_generator().bit_generator.state
    x = np.arange(20)
    runs = [[b[0].array.tolist() for b in tud.DataLoader(tud.TensorDataset(x), batch_size=6, shuffle=True,
                                                          generator=tc.Generator().manual_seed(3))]
            for _ in range(2)]
    assert runs[0] == runs[1] and sorted(sum(runs[0], [])) == list(range(20))
    parts = tud.random_split(tud.TensorDataset(x), [0.5, 0.5], generator=tc.Generator().manual_seed(1))
    again = tud.random_split(tud.TensorDataset(x), [0.5, 0.5], generator=tc.Generator().manual_seed(1))
    assert [p.indices for p in parts] == [p.indices for p in again]
    assert default_generator().bit_generator.state == state
    g = tc.Generator()
    assert g.manual_seed(7) is g and g.initial_seed() == 7
    with pytest.raises(RuntimeError, match="CPU only"):
        tc.Generator(device="cuda")


@pytest.mark.parametrize("kwargs, message", [
    (dict(sampler=[0, 1], shuffle=True), "sampler option is mutually exclusive with shuffle"),
    (dict(batch_sampler=[[0]], batch_size=2), "batch_sampler option is mutually exclusive"),
    (dict(batch_sampler=[[0]], drop_last=True), "batch_sampler option is mutually exclusive"),
    (dict(batch_size=None, drop_last=True), "disables auto-batching"),
    (dict(num_workers=-1), "num_workers option should be non-negative"),
    (dict(prefetch_factor=2), "prefetch_factor option could only be specified in multiprocessing"),
    (dict(persistent_workers=True), "persistent_workers option needs num_workers > 0"),
])
def test_argument_rules_are_torchs(kwargs, message):
    for lib, ds in ((tud, tud.TensorDataset(np.arange(4))), (ttud, ttud.TensorDataset(torch.arange(4)))):
        with pytest.raises(ValueError, match=message):
            lib.DataLoader(ds, **kwargs)


def test_workers_and_pinning_are_accepted_and_run_in_process():
    x = np.arange(10)
    plain = [_plain(b) for b in tud.DataLoader(tud.TensorDataset(x), batch_size=4)]
    workers = tud.DataLoader(tud.TensorDataset(x), batch_size=4, num_workers=2, pin_memory=True,
                             persistent_workers=True, prefetch_factor=2, worker_init_fn=lambda i: None)
    assert [_plain(b) for b in workers] == plain and tud.get_worker_info() is None


class Pairs:
    """A map-style dataset with no get_batch whose items are (array, int, float, dict)."""

    def __init__(self, lib):
        self.lib = lib

    def __len__(self):
        return 7

    def __getitem__(self, i):
        return (np.full((2,), i, np.float32), i, i / 2, {"id": i, "name": f"s{i}"})


def test_default_collate_and_batch_size_none_equal_torch():
    ours = [_plain(b) for b in tud.DataLoader(Pairs(tud), batch_size=3)]
    ref = [_plain(b) for b in ttud.DataLoader(Pairs(ttud), batch_size=3)]
    assert ours == ref                          # float64 for Python floats, int64 for ints, lists of str
    ours = [_plain(b) for b in tud.DataLoader(tud.TensorDataset(np.arange(3.0)), batch_size=None)]
    ref = [_plain(b) for b in ttud.DataLoader(ttud.TensorDataset(torch.arange(3.0, dtype=torch.float64)),
                                              batch_size=None)]
    assert ours == ref


def test_collate_fn_and_batch_sampler_as_torch():
    x = np.arange(10) * 3
    batches = [[0, 5], [9], [2, 3, 4]]
    seen = []

    def collate(items):
        seen.append(len(items))
        return sum(int(item[0]) for item in items)

    ours = list(tud.DataLoader(tud.TensorDataset(x), batch_sampler=batches, collate_fn=collate))
    ref = list(ttud.DataLoader(ttud.TensorDataset(torch.from_numpy(x)), batch_sampler=batches,
                               collate_fn=lambda items: sum(int(i[0]) for i in items)))
    assert ours == ref and seen == [2, 1, 3]
    assert len(tud.DataLoader(tud.TensorDataset(x), batch_sampler=batches)) == 3


def test_iterable_and_concat_datasets_as_torch():
    def stream(lib):
        class Stream(lib.IterableDataset):
            def __iter__(self):
                return iter(range(11))
        return Stream()

    for drop_last in (False, True):
        ours = [_plain(b) for b in tud.DataLoader(stream(tud), batch_size=4, drop_last=drop_last)]
        ref = [_plain(b) for b in ttud.DataLoader(stream(ttud), batch_size=4, drop_last=drop_last)]
        assert ours == ref
    with pytest.raises(ValueError, match="expected unspecified shuffle option"):
        tud.DataLoader(stream(tud), shuffle=True)
    a, b = tud.TensorDataset(np.arange(3)), tud.TensorDataset(np.arange(10, 15))
    ta, tb = ttud.TensorDataset(torch.arange(3)), ttud.TensorDataset(torch.arange(10, 15))
    both, tboth = a + b, ta + tb
    assert len(both) == len(tboth) == 8
    assert [int(both[i][0]) for i in range(-8, 8)] == [int(tboth[i][0]) for i in range(-8, 8)]


# ----------------------------------------------------------------------------- per-image transforms
def data_tf(x):
    """Seed 004's transform, as its document writes it (one PIL-like image in, a flat vector out)."""
    x = np.array(x, dtype="float32") / 255
    x = (x - 0.5) / 0.5
    x = x.reshape((-1,))
    x = tc.from_numpy(x)
    return x


def test_a_user_transform_sees_one_image_and_may_change_its_shape(isolated):
    make_fake_set(isolated / "root", n_train=10, side=28)
    seen = []

    def spy(img):
        seen.append((type(img), img.shape, img.dtype))
        return data_tf(img)

    ds = MNIST(isolated / "root", transform=spy, target_transform=lambda y: y + 100)
    x, y = next(iter(tud.DataLoader(ds, batch_size=4)))
    assert set(seen) == {(np.ndarray, (28, 28), np.dtype(np.uint8))} and len(seen) == 4
    assert isinstance(x, tc.Tensor) and x.shape == (4, 784) and x.dtype == np.float32
    np.testing.assert_array_equal(x.array, T.mnist_normalize_half(flatten=True)(ds.data[:4]))
    np.testing.assert_array_equal(y.array, ds.targets[:4] + 100)
    single, label = ds[3]
    np.testing.assert_array_equal(single.array, x.array[3])
    assert label == int(ds.targets[3]) + 100


def test_library_transforms_keep_the_batched_path_and_mixed_compose_goes_per_image(isolated, monkeypatch):
    make_fake_set(isolated / "root", n_train=9, side=28)
    batched = T.mnist_normalize_half(flatten=True)
    assert T.is_batched(batched) and not T.is_batched(data_tf) and not T.is_batched(T.Lambda(data_tf))
    mixed = T.Compose([T.ToTensor(), T.Lambda(lambda im: im * 2)])
    assert not T.is_batched(mixed)
    calls = []
    ds = MNIST(isolated / "root", transform=batched)
    monkeypatch.setattr(T.Flatten, "__call__", lambda self, x, f=T.Flatten.__call__: calls.append(x.shape) or f(self, x))
    xb, _ = next(iter(tud.DataLoader(ds, batch_size=9)))
    assert calls == [(9, 1, 28, 28)]                              # one call for the whole batch
    ds.transform = mixed
    xm, _ = next(iter(tud.DataLoader(ds, batch_size=9)))
    assert xm.shape == (9, 1, 28, 28)
    np.testing.assert_array_equal(xm.array, T.ToTensor()(ds.data[:9]) * 2)
