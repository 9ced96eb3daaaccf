"""commands: the console scripts. Every one of them imports torchvision, so a torch and
torchvision of different builds is named here, in one line, before any command starts."""

import sys
from pathlib import Path

from gantrain.errors import UserError, report
from gantrain.hardware.builds import check_torchvision

try:
    check_torchvision()
except UserError as _err:
    report(_err, Path(sys.argv[0]).name or "gantrain")
    sys.exit(2)
