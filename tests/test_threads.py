"""tc.set_num_threads / get_num_threads: torch's calls, acting on NumPy's BLAS threads."""
import pytest
import torch

import tinycompress as tc
from tinycompress.threads import _blas_functions


@pytest.fixture
def restore_threads():
    before = tc.get_num_threads()
    yield
    tc.set_num_threads(before)


@pytest.mark.skipif(not _blas_functions(), reason="this NumPy's BLAS is not an OpenBLAS reachable through ctypes, "
                                                   "whose thread count set_num_threads could change")
@pytest.mark.parametrize("n", [1, 2, 3])
def test_set_num_threads_is_read_back_from_blas(n, restore_threads):
    """get_num_threads reads OpenBLAS's own count (not a copy we keep), so this checks BLAS was set."""
    tc.set_num_threads(n)
    assert tc.get_num_threads() == n


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_set_num_threads_rejects_what_torch_rejects(bad, restore_threads):
    with pytest.raises(RuntimeError) as theirs:
        torch.set_num_threads(bad)
    with pytest.raises(RuntimeError) as ours:
        tc.set_num_threads(bad)
    assert str(ours.value) == str(theirs.value)
