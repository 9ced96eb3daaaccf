"""`pytest -m cuda`: every path of the trainer on a CUDA GPU with graphs, AMP and torch.compile,
each within cuda_paths.TOLERANCE of the eager float32 run (skipped without CUDA). The same
harness runs a few cases on the CPU in the slow suite, so that it is itself tested."""

from __future__ import annotations

import pytest
import torch
from cuda_paths import CASES, MODES, TOLERANCE, distance, run_case
from shard_sets import write_shards

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(scope="module")
def shards_root(tmp_path_factory):
    return write_shards(tmp_path_factory.mktemp("pack"), [16] * 4, size=16)


@pytest.fixture(scope="module")
def eager(mnist_root, shards_root, tmp_path_factory):
    """The eager float32 run of each case on each device, trained once."""
    work, runs = tmp_path_factory.mktemp("eager"), {}

    def get(case: str, device: str):
        if (case, device) not in runs:
            runs[case, device] = run_case(case, "eager32", device, mnist_root, work, shards_root)
        return runs[case, device]

    return get


@pytest.mark.cuda
@needs_cuda
@pytest.mark.parametrize("mode", [m for m in MODES if m != "eager32"])
@pytest.mark.parametrize("case", CASES)
def test_cuda_path_matches_eager_float32(case, mode, eager, mnist_root, shards_root, tmp_path):
    start, reference = eager(case, "cuda")
    _, weights = run_case(case, mode, "cuda", mnist_root, tmp_path, shards_root)
    d = distance(start, reference, weights)
    assert d <= TOLERANCE[mode], f"{case} with {mode}: {d:.3g} from eager float32"


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_the_harness_on_the_cpu(case, eager, mnist_root, shards_root, tmp_path):
    # on the CPU graphs and compile are ignored and AMP is float32 unless the CPU computes
    # bf16 natively: every mode lands within its tolerance of eager float32
    start, reference = eager(case, "cpu")
    again = run_case(case, "eager32", "cpu", mnist_root, tmp_path / "again", shards_root)
    assert distance(start, reference, again[1]) == 0.0  # deterministic on the CPU
    _, weights = run_case(case, "amp", "cpu", mnist_root, tmp_path, shards_root)
    assert distance(start, reference, weights) <= TOLERANCE["amp"]


@pytest.mark.slow
def test_the_harness_tells_another_training_apart(
    eager, mnist_root, shards_root, tmp_path, monkeypatch
):
    import cuda_paths

    start, reference = eager("dcgan_adversarial", "cpu")
    monkeypatch.setitem(cuda_paths.MODES, "seed1", [*cuda_paths.OFF, "seed=1"])
    _, other = run_case("dcgan_adversarial", "seed1", "cpu", mnist_root, tmp_path, shards_root)
    assert distance(start, reference, other) > max(TOLERANCE.values())
