"""gantrain: train image generative models from one Hydra command."""

import logging

__version__ = "0.1.0"

# matplotlib (imported by torchmetrics, and for TensorBoard's figures) builds a font cache on
# its first import on a machine and says so ("building the font cache", "generated new
# fontManager") in the run's log, where it means nothing to the user: errors only
logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
