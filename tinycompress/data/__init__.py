"""Data pipeline: IDX files, MNIST / Fashion-MNIST, transforms and the DataLoader.

    from tinycompress.data import MNIST, DataLoader, transforms as T
    train = MNIST("../shared/data/mnist", train=True, transform=T.mnist_normalize_half())
    for images, labels in DataLoader(train, batch_size=100, shuffle=True):
        ...                      # images: float32 Tensor (100, 1, 28, 28); labels: int64 Tensor (100,)

Mirrors ``torch.utils.data`` and ``torchvision.datasets`` / ``torchvision.transforms``; NumPy only
(torchvision is imported only to download a missing dataset).
"""
from . import transforms
from .cifar import CIFAR10, read_cifar10_bin
from .datasets import BUNDLED_DIR, ENV_VAR, Dataset, FashionMNIST, MNIST, load_mnist
from .idx import IDXError, read_idx, write_idx
from .loader import DataLoader, Subset, TensorDataset, default_collate, random_split

__all__ = ["transforms", "CIFAR10", "read_cifar10_bin", "Dataset", "MNIST", "FashionMNIST", "load_mnist", "BUNDLED_DIR", "ENV_VAR",
           "IDXError", "read_idx", "write_idx", "DataLoader", "Subset", "TensorDataset",
           "default_collate", "random_split"]
