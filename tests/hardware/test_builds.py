"""A torch and torchvision of different builds: one line at start-up naming both versions and the
install line, instead of torchvision's traceback about a missing operator."""

import os

import pytest
from helpers import run_cli


@pytest.mark.slow
@pytest.mark.parametrize("script", ["gantrain", "gantrain-sample"])
def test_mismatched_torchvision_is_one_line(script, tmp_path):
    import torch

    fake = tmp_path / "fake" / "torchvision"  # imports as a mismatched build does
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        'raise RuntimeError("operator torchvision::nms does not exist")\n'
    )
    path = os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"), str(fake.parent)) if p)
    out = run_cli(["device=cpu"], tmp_path, script=script, env={"PYTHONPATH": path})
    assert out.returncode == 2 and "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{script}: error: torch {torch.__version__}")
    assert "not built for each other" in lines[0]
    assert f"pip install --force-reinstall torch=={torch.__version__.split('+')[0]}" in lines[0]
    assert not (tmp_path / "outputs").exists()


def test_other_import_failures_are_not_called_a_mismatch(monkeypatch):
    import builtins

    from gantrain.hardware.builds import check_torchvision

    real = builtins.__import__

    def failing(name, *args, **kwargs):
        if name == "torchvision":
            raise RuntimeError("something else")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", failing)
    with pytest.raises(RuntimeError, match="something else"):
        check_torchvision()
