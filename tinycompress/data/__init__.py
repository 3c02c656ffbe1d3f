"""Data: IDX files, MNIST / Fashion-MNIST and image transforms (torchvision's part), and, re-exported
from :mod:`tinycompress.utils.data` (torch.utils.data's home), the DataLoader, datasets and samplers.

    from tinycompress.data import MNIST, DataLoader, transforms as T
    train = MNIST("../shared/data/mnist", train=True, transform=T.mnist_normalize_half())
    for images, labels in DataLoader(train, batch_size=100, shuffle=True):
        ...                      # images: float32 Tensor (100, 1, 28, 28); labels: int64 Tensor (100,)

Mirrors ``torchvision.datasets`` / ``torchvision.transforms``; NumPy only (torchvision is imported
only to download a missing dataset). A user's own ``transform`` callable sees one image at a time,
as in torchvision; the library's transforms run on whole batches (see :mod:`.transforms`).
"""
from . import transforms
from ..utils.data import (BatchSampler, ConcatDataset, DataLoader, Dataset, IterableDataset, RandomSampler,
                          Sampler, SequentialSampler, Subset, SubsetRandomSampler, TensorDataset,
                          WeightedRandomSampler, default_collate, default_convert, random_split)
from .cifar import CIFAR10, read_cifar10_bin
from .datasets import BUNDLED_DIR, ENV_VAR, DatasetError, FashionMNIST, MNIST, load_mnist
from .idx import IDXError, read_idx, write_idx

__all__ = ["transforms", "CIFAR10", "read_cifar10_bin", "Dataset", "MNIST", "FashionMNIST", "load_mnist",
           "BUNDLED_DIR", "ENV_VAR", "DatasetError", "IDXError", "read_idx", "write_idx", "DataLoader", "Subset", "TensorDataset",
           "ConcatDataset", "IterableDataset", "default_collate", "default_convert", "random_split", "Sampler",
           "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler", "BatchSampler"]
