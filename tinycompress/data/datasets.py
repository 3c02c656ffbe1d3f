"""MNIST and Fashion-MNIST as in-memory arrays, found on disk where torchvision would put them.

Where the files are looked for, in order (the first folder holding the split's two files wins):

    1. ``root`` (the argument), 2. ``$TINYCOMPRESS_DATA``, 3. ``./data``

and inside each of those, three layouts:

    <base>/train-images-idx3-ubyte[.gz] ...        flat: the four files directly inside
    <base>/MNIST/raw/train-images-idx3-ubyte[.gz]  torchvision's layout (FashionMNIST/raw for Fashion)
    <base>/mnist/train-images-idx3-ubyte[.gz]      a lower-case sub-folder (fashion-mnist for Fashion)

Fashion-MNIST's files have the same names as MNIST's, so for Fashion-MNIST the flat layout is
only accepted in the ``root`` you pass (a folder you named), never in ``$TINYCOMPRESS_DATA`` or
``./data``, where it would silently pick up the digits.

When nothing is found: with ``download=True`` torchvision (imported only then) downloads the
files into ``root`` (or the first of ``$TINYCOMPRESS_DATA``, ``./data``); with
``allow_subset=True`` MNIST falls back to the subset bundled with the package (10,000 training
and 2,000 test images, see ``scripts/make_mnist_subset.py``), printing one line to say so and
setting ``is_subset``; otherwise a ``FileNotFoundError`` lists the files and the folders searched.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from ..utils.data.dataset import Dataset
from .idx import read_idx
from .transforms import is_batched

__all__ = ["DatasetError", "MNIST", "FashionMNIST", "load_mnist", "BUNDLED_DIR", "ENV_VAR"]

ENV_VAR = "TINYCOMPRESS_DATA"
BUNDLED_DIR = Path(__file__).resolve().parent / "bundled"


class DatasetError(ValueError):
    """Files that are valid IDX but not a valid dataset: images and labels that disagree, labels outside the classes."""


class MNIST(Dataset):
    """The MNIST digits (``torchvision.datasets.MNIST``), held as arrays.

    Args:
        root: a folder to look in first (see the module docstring for the search order and layouts).
        train: the 60,000 training images if True, else the 10,000 test images.
        transform: applied to each image, as torchvision does: a user's callable receives one
            28×28 uint8 ndarray (what ``np.array(pil_image)`` gives for torchvision's PIL image; there is
            no PIL here) and may return any array or Tensor, of any shape. The library's transforms
            (:mod:`.transforms`: ToTensor, Normalize, Flatten, Compose of those) are applied to a whole
            batch at once in ``get_batch``, the same numbers faster.
        target_transform: applied to each label (a Python int), as torchvision.
        download: fetch the files with torchvision when they are not on disk.
        allow_subset: when the full set can be neither found nor fetched, use the bundled subset.

    Attributes: ``data`` uint8 (N, 28, 28); ``targets`` int64 (N,); ``classes``; ``is_subset``;
    ``folder`` (where the files were read from).
    ``dataset[i]`` gives ``(transform(image), int label)``, like torchvision (but an ndarray, not a
    PIL image, when there is no transform).
    """

    resources = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
    folders = ("MNIST/raw", "mnist")          # sub-folders of each base, after the flat layout
    bundled = True                            # a subset ships with the package
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
               "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine"]

    def __init__(self, root=None, train: bool = True, transform=None, target_transform=None,
                 download: bool = False, allow_subset: bool = False) -> None:
        self.root = None if root is None else os.path.expanduser(os.fspath(root))
        self.train = bool(train)
        self.transform = transform
        self.target_transform = target_transform
        self.is_subset = False
        names = self._split_files()
        searched = self._candidates()
        found = _find(searched, names)
        failure = None
        if found is None and download:
            found, failure = self._download(names, searched)
        if found is None:
            if allow_subset and self.bundled and _find([BUNDLED_DIR], names) is not None:
                found = BUNDLED_DIR
                self.is_subset = True
            else:
                raise FileNotFoundError(self._missing_message(searched, download, allow_subset, failure))
        self.folder = str(found)
        images, labels = (_locate(found, n) for n in names)
        self.data, self.targets = _load_pair(images, labels)
        bad = (self.targets < 0) | (self.targets >= len(self.classes))
        if bad.any():
            i = int(np.argmax(bad))
            raise DatasetError(f"{labels}: label {int(self.targets[i])} at index {i} is not one of the "
                             f"{len(self.classes)} classes 0..{len(self.classes) - 1} ({int(bad.sum())} such "
                             "labels); the file is damaged or from another dataset")
        if self.is_subset:
            print(f"tinycompress: the full {type(self).__name__} was not found (pass root= or set ${ENV_VAR}); "
                  f"using the bundled subset of {len(self):,} {'training' if self.train else 'test'} images "
                  f"from {BUNDLED_DIR}", file=sys.stderr)

    # ----------------------------------------------------------------- torch's Dataset protocol
    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index):
        img = self.data[index]
        target = int(self.targets[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def get_batch(self, indices):
        """``(transform(data[indices]), targets[indices])``: one vectorised call for a whole batch when
        the transform is the library's (or none); a user's transform is applied image by image and
        the results stacked (``default_collate``), as torch's DataLoader would.

        A ``target_transform`` (a per-label Python function, as in torchvision) is applied label by label.
        """
        idx = np.asarray(indices, dtype=np.int64)
        if self.transform is not None and not is_batched(self.transform):
            from ..utils.data import default_collate
            return tuple(default_collate([self[int(i)] for i in idx]))
        images = self.data[idx]
        targets = self.targets[idx]
        if self.transform is not None:
            images = self.transform(images)
        if self.target_transform is not None:
            targets = np.asarray([self.target_transform(int(t)) for t in targets])
        return images, targets

    @property
    def class_to_idx(self) -> dict:
        return {c: i for i, c in enumerate(self.classes)}

    def __repr__(self) -> str:
        lines = [f"Dataset {type(self).__name__}" + (" (bundled subset)" if self.is_subset else ""),
                 f"    Number of datapoints: {len(self)}",
                 f"    Root location: {self.folder}",
                 f"    Split: {'Train' if self.train else 'Test'}"]
        if self.transform is not None:
            lines.append(f"    Transform: {self.transform!r}".replace("\n", "\n    "))
        if self.target_transform is not None:
            lines.append(f"    Target transform: {self.target_transform!r}")
        return "\n".join(lines)

    # ----------------------------------------------------------------- finding the files
    def _split_files(self):
        return self.resources[:2] if self.train else self.resources[2:]

    def _bases(self):
        """The base folders in search order, each with whether the flat layout counts there."""
        bases = []
        if self.root is not None:
            bases.append((Path(self.root), True))
        env = os.environ.get(ENV_VAR)
        if env:
            bases.append((Path(os.path.expanduser(env)), self._flat_anywhere))
        bases.append((Path("data"), self._flat_anywhere))
        return bases

    _flat_anywhere = True

    def _candidates(self):
        folders = []
        for base, flat in self._bases():
            folders += ([base] if flat else []) + [base / sub for sub in self.folders]
        return folders

    def _download(self, names, searched):
        """Download with torchvision into the first base folder; (folder or None, reason)."""
        target = self._bases()[0][0]
        try:
            import torchvision.datasets as tvd
        except ImportError as error:
            return None, f"torchvision is not installed ({error}); `pip install torchvision` to download"
        try:
            getattr(tvd, type(self).__name__)(str(target), train=self.train, download=True)
        except Exception as error:                     # no network, a mirror down, a bad checksum ...
            return None, f"the download into {target} failed: {type(error).__name__}: {error}"
        found = _find([target / self.folders[0]] + searched, names)
        if found is None:
            return None, f"torchvision reported success but the files are not in {target / self.folders[0]}"
        return found, None

    def _missing_message(self, searched, download, allow_subset, failure) -> str:
        name = type(self).__name__
        files = "\n".join(f"    {f}.gz  (or uncompressed)" for f in self.resources)
        where = "\n".join(f"    {p.resolve() if not p.is_absolute() else p}" for p in searched)
        lines = [f"{name} data not found. It needs these four files:", files,
                 "None of these folders holds the " + ("training" if self.train else "test") + " pair:", where,
                 f"Put the files in one of them (e.g. pass root=FOLDER, or set ${ENV_VAR}=FOLDER), "
                 f"or pass download=True (needs torchvision and a network connection)."]
        if failure:
            lines.append(f"Download was tried: {failure}.")
        if allow_subset and not self.bundled:
            lines.append(f"No subset of {name} is bundled with tinycompress.")
        elif self.bundled and not allow_subset:
            lines.append("Or pass allow_subset=True to use the 10,000-image subset bundled with the package.")
        return "\n".join(lines)


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST (``torchvision.datasets.FashionMNIST``): same format, files and API as
    :class:`MNIST`, looked for in ``FashionMNIST/raw`` (torchvision) or ``fashion-mnist``; no bundled
    subset. Its flat layout is only accepted in an explicit ``root`` (the file names are MNIST's)."""

    folders = ("FashionMNIST/raw", "fashion-mnist")
    bundled = False
    _flat_anywhere = False
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def load_mnist(root=None, train: bool = True, transform=None, allow_subset: bool = True,
               download: bool = False) -> MNIST:
    """MNIST from disk, or (``allow_subset=True``, the default here) the bundled subset when the full
    set is not found. Check ``.is_subset`` to know which you got."""
    return MNIST(root, train=train, transform=transform, download=download, allow_subset=allow_subset)


# ----------------------------------------------------------------------------- helpers
def _locate(folder: Path, name: str) -> Path | None:
    """``folder/name`` or ``folder/name.gz`` (uncompressed first: faster to read)."""
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _find(folders, names) -> Path | None:
    """The first folder holding every file of ``names`` (each raw or .gz)."""
    for folder in folders:
        if all(_locate(folder, n) is not None for n in names):
            return folder
    return None


def _load_pair(images_path: Path, labels_path: Path):
    """uint8 images (N, H, W) and int64 labels (N,), checked against each other."""
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DatasetError(f"{images_path}: expected uint8 images of shape (N, H, W), "
                         f"got {images.dtype} {images.shape}")
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise DatasetError(f"{labels_path}: expected uint8 labels of shape (N,), got {labels.dtype} {labels.shape}")
    if len(images) != len(labels):
        raise DatasetError(f"{images_path} holds {len(images)} images but {labels_path} holds "
                         f"{len(labels)} labels; the pair is from different sets or one file is damaged")
    return images, labels.astype(np.int64)
