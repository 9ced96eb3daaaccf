"""What matplotlib says on its first import on a machine stays out of gantrain's log."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # processes or training: run by `pytest -m slow`


def test_no_font_cache_messages_on_a_first_import(tmp_path):
    code = (
        "import logging; logging.basicConfig(level=logging.INFO)\n"
        "import gantrain.metrics.scores\n"  # torchmetrics imports matplotlib.pyplot
        "from gantrain.record.charts import class_bars; class_bars([0.5, 0.5], 'x')\n"
        "import matplotlib; print(matplotlib.get_cachedir())\n"
    )
    env = {**os.environ, "MPLCONFIGDIR": str(tmp_path / "mpl"), "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(tmp_path / "mpl")  # a fresh cache was built
    assert list((tmp_path / "mpl").glob("fontlist*.json"))
    assert "fontManager" not in out.stderr and "font cache" not in out.stderr
