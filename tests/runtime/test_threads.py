"""The render loop leaves the background encoder a core, and gives it back afterwards."""
import cv2
import pytest
import torch

from tavid_core.runtime.threads import one_core_left


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_one_core_is_left_and_restored(threads):
    before = torch.get_num_threads(), cv2.getNumThreads()
    torch.set_num_threads(threads)
    try:
        with one_core_left():
            assert torch.get_num_threads() == max(1, threads - 1)
        assert torch.get_num_threads() == threads
        with pytest.raises(RuntimeError), one_core_left():  # restored on errors too
            raise RuntimeError("a render failed")
        assert torch.get_num_threads() == threads and cv2.getNumThreads() == before[1]
    finally:
        torch.set_num_threads(before[0])
