"""Freed host memory stays in the process: training rounds stop faulting pages in."""

import statistics
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # processes or training: run by `pytest -m slow`

SCRIPT = """
import resource, sys
import torch
from gantrain.hardware.host_memory import keep_freed_memory
from gantrain.models.dcgan import DCGAN
if sys.argv[1] == "keep":
    assert keep_freed_memory()
torch.set_num_threads(1)
g = DCGAN(28, 1, width=32, max_width=64)
def round_():  # a generator forward and backward at batch 64: buffers of a few MiB
    g.decode(torch.randn(64, g.latent_dim)).square().mean().backward()
for _ in range(3):  # warm-up: first activations, first gradients, first accumulation into them
    round_()
counts = []
for _ in range(10):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    round_()
    counts.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(*counts)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_training_rounds_stop_faulting_pages_in():
    def faults(mode: str) -> int:
        """The median of ten rounds' page faults: a stray round (a buffer of a new size, a page
        the kernel reclaimed from a process beside it) moves a total, not the median."""
        out = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        return int(statistics.median(int(c) for c in out.stdout.split()))

    plain, kept = faults("plain"), faults("keep")
    assert plain > 500  # every round takes its buffers from the kernel again
    # Kept: a typical round faults nothing in (plain's: well over a thousand pages a round)
    assert kept < 100, (plain, kept)
