"""Feature extractors for FID/KID: uint8 images -> (features, class probabilities or None).

`classifier`: the dataset's own small CNN (metrics/classifier.py); also gives class
probabilities for mode coverage. `inception`: torchmetrics' InceptionV3 (torch-fidelity's
port of the TensorFlow FID weights), fetched once into torch hub's cache with a bounded
timeout, so an offline machine gets one clear line instead of a download that hangs.
"""

from __future__ import annotations

from pathlib import Path

import torch

from gantrain.errors import UserError
from gantrain.metrics import classifier
from gantrain.metrics.data import CLASSIFIER_DEFAULT, describe, digit_config, has_labels, is_stacked
from gantrain.metrics.fetch import READ_TIMEOUT_S

EXTRACTORS = ("classifier", "inception")
INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"
INCEPTION_SHA256 = "6726825d"  # the prefix of the file's sha256, as its name says
INCEPTION_URL = (
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/" + INCEPTION_FILE
)


def default_extractor(dataset_cfg) -> str:
    """The dataset's own classifier for the MNIST family and digits, else InceptionV3."""
    if has_labels(dataset_cfg) and describe(dataset_cfg) in CLASSIFIER_DEFAULT:
        return "classifier"
    return "inception"


class ClassifierFeatures:
    name = "classifier"

    def __init__(self, net: torch.nn.Module, info: dict):
        self.net = net
        self.info = {"name": self.name, "feature_dim": classifier.FEATURES, **info}

    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.read(images)[:2]

    def read(self, images: torch.Tensor):
        """(features (N, 128), probabilities (N, classes), per-channel ones (N, 1, classes))."""
        feats, probs = classifier.predict(self.net, images)
        return feats.double().cpu(), probs.cpu(), probs.cpu()[:, None]


class StackedFeatures:
    """Stacked MNIST: the MNIST classifier reads each channel. Features are the three channels'
    concatenated (B, 3 x 128); probabilities are over the 1,000 modes, 100 r + 10 g + b, the
    product of the channels' (each channel's digit is read independently)."""

    name = "classifier"
    modes = True

    def __init__(self, net: torch.nn.Module, info: dict):
        self.net = net
        self.info = {
            "name": self.name,
            "feature_dim": 3 * classifier.FEATURES,
            "per_channel": True,
            **info,
        }

    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.read(images)[:2]

    def read(self, images: torch.Tensor):
        """(features (B, 3 x 128), mode probabilities (B, 1000), each channel's (B, 3, 10))."""
        b, c, h, w = images.shape
        # each distinct digit is read once: the reference set reuses its test digits
        # (10,000 stacked test images hold about 9,500 of the 10,000 digits 3 times over)
        digits, which = images.reshape(b * c, h * w).unique(dim=0, return_inverse=True)
        feats, probs = classifier.predict(self.net, digits.reshape(-1, 1, h, w))
        feats, probs = feats[which.to(feats.device)], probs[which.to(probs.device)]
        feats, probs = feats.reshape(b, c * feats.shape[1]), probs.reshape(b, c, -1)
        joint = probs[:, 0, :, None, None] * probs[:, 1, None, :, None] * probs[:, 2, None, None, :]
        return feats.double().cpu(), joint.reshape(b, -1).cpu(), probs.cpu()


class InceptionFeatures:
    name = "inception"

    def __init__(self, weights: Path, device: torch.device, batch: int = 100):
        from torchmetrics.image.fid import NoTrainInceptionV3

        self.net = NoTrainInceptionV3(
            name="inception-v3-compat",
            features_list=["2048"],
            feature_extractor_weights_path=str(weights),
        ).to(device)
        self.device = device
        self.batch = batch
        self.info = {"name": self.name, "feature_dim": 2048, "weights": str(weights)}

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, None]:
        out = []
        for i in range(0, images.shape[0], self.batch):
            x = images[i : i + self.batch].to(self.device)
            if x.shape[1] == 1:  # InceptionV3 reads RGB
                x = x.expand(-1, 3, -1, -1)
            out.append(self.net(x).double().cpu())
        return torch.cat(out), None


def inception_weights(given: str | None, fetch_timeout: float = READ_TIMEOUT_S) -> Path:
    """The weights file: given, or torch hub's cached copy, fetched there on first use (giving
    up after fetch_timeout seconds without a byte)."""
    from torchmetrics.utilities.imports import _TORCH_FIDELITY_AVAILABLE

    if not _TORCH_FIDELITY_AVAILABLE:
        raise UserError(
            "extractor=inception needs the torch-fidelity package (pip install torch-fidelity) and "
            f"its weights file {INCEPTION_FILE}; or use extractor=classifier"
        )
    from gantrain.metrics.fetch import FetchFailed, fetch

    hub = Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE
    path = Path(given).expanduser() if given else hub
    if path.is_file():
        return path
    why = "it is not there"
    if not given:  # the cache is gantrain's to fill; a path the user gave is not
        try:
            return fetch(INCEPTION_URL, hub, INCEPTION_SHA256, read_timeout_s=fetch_timeout)
        except FetchFailed as err:
            why = f"fetching {INCEPTION_URL} failed ({err})"
    raise UserError(
        f"extractor=inception needs InceptionV3 weights at {path}, and {why}: fetch the file on "
        f"a machine with network and copy it to {hub} (or pass inception_weights=PATH); or use "
        "extractor=classifier"
    )


def make_judges(
    dataset_cfg,
    device: torch.device | str = "cpu",
    recipe: classifier.ClassifierRecipe | None = None,
) -> tuple:
    """The dataset's two classifier judges: the one `recipe` trains, and judges.second_recipe's."""
    from gantrain.metrics.judges import second_recipe

    recipe = recipe or classifier.ClassifierRecipe()
    first = make_extractor("classifier", dataset_cfg, device, recipe)
    return first, make_extractor("classifier", dataset_cfg, device, second_recipe(recipe))


def make_extractor(
    name: str,
    dataset_cfg,
    device: torch.device | str = "cpu",
    recipe: classifier.ClassifierRecipe | None = None,
    inception_path: str | None = None,
    fetch_timeout: float = READ_TIMEOUT_S,
):
    """Build the named extractor ("auto" picks default_extractor) on device."""
    device = torch.device(device)
    if name == "auto":
        name = default_extractor(dataset_cfg)
    if name == "classifier" and is_stacked(dataset_cfg):
        net, info = classifier.load_or_train(digit_config(dataset_cfg), recipe, device)
        return StackedFeatures(net, info)
    if name == "classifier":
        net, info = classifier.load_or_train(dataset_cfg, recipe, device)
        return ClassifierFeatures(net, info)
    if name == "inception":
        return InceptionFeatures(inception_weights(inception_path, fetch_timeout), device)
    raise UserError(f"extractor={name!r} is not known; choose one of {', '.join(EXTRACTORS)}")
