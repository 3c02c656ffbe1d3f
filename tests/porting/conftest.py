"""The porting tests run torch beside tinycompress on small data: one torch thread (the machine's cores
are shared, and torch's thread pool only adds contention at these sizes), restored afterwards."""
import pytest


@pytest.fixture(autouse=True)
def _one_torch_thread():
    torch = pytest.importorskip("torch", reason="torch (the test oracle) is not installed")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
