"""Checkpoints that cannot give images (non-finite weights, random bytes, a pickled call, half a
file) are refused in one line naming what they are, and nothing in them runs."""

from __future__ import annotations

import os

import pytest
import torch
from helpers import run_cli, script_error_line

from gantrain.training import checkpoint


@pytest.mark.slow
def test_non_finite_weights_are_refused_naming_a_finite_checkpoint(scene, cli):
    run, _, _ = scene
    last = run / "checkpoints" / "last.pt"
    payload = checkpoint.load(last)
    for part in ("model", "ema"):
        name = next(k for k, v in payload[part].items() if v.is_floating_point())
        payload[part][name] = torch.full_like(payload[part][name], float("nan"))
    torch.save(payload, last)
    out = run.parent / "s.npz"
    done = run_cli(
        [f"run_dir={run}", "num_samples=4", f"out={out}"],
        run.parent,
        "gantrain-sample",
        timeout=120,
    )
    line = script_error_line(done, "gantrain-sample")
    assert f"{last} holds non-finite weights (NaN/Inf) in ema.{name}" in line
    assert "it cannot produce images" in line
    assert f"checkpoint={run / 'checkpoints' / 'round_000002.pt'} (round 2)" in line
    assert not out.exists()
    done = cli(
        [f"checkpoint={run / 'checkpoints' / 'round_000002.pt'}", "num_samples=4", f"out={out}"],
        run.parent,
        "gantrain-sample",
        real=False,
    )
    assert done.returncode == 0 and out.is_file(), done.stderr


class _System:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["random bytes", "pickled os.system", "half a checkpoint"])
def test_unreadable_checkpoints_say_what_they_are(scene, cli, kind):
    run, _, marker = scene
    last = run / "checkpoints" / "last.pt"
    for other in run.glob("checkpoints/round_*.pt"):
        other.unlink()  # the refusal alone, without the intact ones beside it
    if kind == "random bytes":
        last.write_bytes(os.urandom(4096))
    elif kind == "pickled os.system":
        torch.save({"format": checkpoint.FORMAT, "round": 2, "x": _System(marker)}, last)
    else:
        last.write_bytes(last.read_bytes()[:2000])
    done = cli(
        # out under the run's folder: in-process the cwd is the test session's, not run.parent
        [f"run_dir={run}", "num_samples=4", f"out={run.parent / 's.npz'}"],
        run.parent,
        "gantrain-sample",
        real=kind != "half a checkpoint",
    )
    line = script_error_line(done, "gantrain-sample")
    if kind == "pickled os.system":
        assert "holds pickled code/objects (GLOBAL " in line and "system)" in line
        assert "refused so that no code runs" in line
    else:
        assert (
            f"{last} is not a readable gantrain checkpoint (truncated or foreign file): give another"
            in line
        )
    assert "weights_only" not in done.stdout + done.stderr and not marker.exists()
