"""05 — An MLP on MNIST, in seconds: the bundled subset (10,000 training and 2,000 test images ship with
the package), one epoch of SGD with momentum over its first 5,000 images, NumPy only.

The loop is torch's, line for line: zero_grad, forward, loss, backward, step.
"""
import time

import numpy as np

import tinycompress as tc
import tinycompress.nn.functional as F
from tinycompress.data import BUNDLED_DIR, load_mnist


def as_arrays(dataset):
    x = dataset.data.reshape(len(dataset), -1).astype(np.float32) / 255.0
    return (x - 0.1307) / 0.3081, dataset.targets.astype(np.int64)


tc.manual_seed(0)
x_train, y_train = [a[:5000] for a in as_arrays(load_mnist(BUNDLED_DIR, train=True))]
x_test, y_test = as_arrays(load_mnist(BUNDLED_DIR, train=False))
model = tc.nn.Sequential(tc.nn.Linear(784, 64), tc.nn.ReLU(), tc.nn.Linear(64, 10))
optimizer = tc.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

started = time.perf_counter()
order = np.random.default_rng(0).permutation(len(x_train))
for i in range(0, len(order), 64):
    batch = order[i:i + 64]
    optimizer.zero_grad()
    loss = F.cross_entropy(model(tc.tensor(x_train[batch])), tc.tensor(y_train[batch]))
    loss.backward()
    optimizer.step()
seconds = time.perf_counter() - started

model.eval()
with tc.no_grad():
    accuracy = float((model(tc.tensor(x_test)).array.argmax(1) == y_test).mean())
print(f"one epoch on {len(x_train)} images in {seconds:.1f} s; test accuracy {accuracy:.4f} on {len(x_test)} images")
assert accuracy > 0.8
