"""The porting tests run torch beside tinycompress on small data: one torch thread (the machine's cores
are shared, and torch's thread pool only adds contention at these sizes), and both libraries seeded, so
each test builds the same torch weights every run (seed 000's binarized layers meet exact ties after batch
norm — a feature constant over the batch normalises to ±rounding — whose sign depends on summation order;
a fixed init makes the run reproducible rather than occasionally tied). Restored afterwards."""
import pytest


@pytest.fixture(autouse=True)
def _one_torch_thread():
    torch = pytest.importorskip("torch", reason="torch (the test oracle) is not installed")
    import tinycompress as tc
    before, rng = torch.get_num_threads(), torch.get_rng_state()
    tc_state = tc.get_rng_state()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    tc.manual_seed(0)
    yield
    torch.set_num_threads(before)
    torch.set_rng_state(rng)
    tc.set_rng_state(tc_state)
