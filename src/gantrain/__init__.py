"""gantrain: train image generative models from one Hydra command."""

__version__ = "0.1.0"
