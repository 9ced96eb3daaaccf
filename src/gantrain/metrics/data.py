"""The images (and labels) metrics compare against, read through a run's dataset config."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from gantrain.config import build, plain
from gantrain.data.subset import without_limit
from gantrain.errors import UserError

log = logging.getLogger("gantrain")

SPLITS = ("test", "train")
TORCHVISION = "gantrain.data.torchvision_sets.load"
DIGITS = "gantrain.data.digits.load"
SHARDS = "gantrain.data.shards.load"
STACKED = "gantrain.data.stacked.load"
# where the small classifier is the default extractor: grey digits and glyphs, far from ImageNet
CLASSIFIER_DEFAULT = ("mnist", "fashion_mnist", "kmnist", "digits", "stacked_mnist")
DIGITS_HELD_OUT = 0.2  # scikit-learn's digits have no test split: this share is held out


def as_dict(dataset_cfg) -> dict:
    """A dataset config node (DictConfig or the checkpoint's plain dict) as a resolved dict,
    without dataset.limit: what metrics compare against is always the whole split."""
    if isinstance(dataset_cfg, DictConfig):
        return without_limit(plain(dataset_cfg))
    return without_limit(dict(dataset_cfg))


def describe(dataset_cfg) -> str:
    """A short name for messages and cache files: mnist, digits, image_folder, ..."""
    cfg = as_dict(dataset_cfg)
    if cfg.get("_target_") in (DIGITS, STACKED):
        return "digits" if cfg["_target_"] == DIGITS else "stacked_mnist"
    return str(cfg.get("name") or str(cfg.get("_target_", "dataset")).split(".")[-2])


def _subset(n: int, max_images: int) -> torch.Tensor | None:
    """The fixed random subset of max_images of n (None: all of them)."""
    if n <= max_images:
        return None
    return torch.randperm(n, generator=torch.Generator().manual_seed(0))[:max_images]


def _as_tensor(source, max_images: int) -> torch.Tensor:
    """A loader's uint8 tensor, or its streamed Dataset read into one; at most max_images,
    a fixed random subset when there are more."""
    n = len(source)
    idx = _subset(n, max_images)
    if isinstance(source, torch.Tensor):
        return source if idx is None else source[idx]
    if hasattr(source, "materialise"):  # stacked MNIST: composed from its digits at once
        return source.materialise() if idx is None else source[idx]
    picks = range(n) if idx is None else idx.tolist()
    return torch.stack([source[i] for i in picks])  # (N, C, H, W) uint8


def reference_images(dataset_cfg, split: str = "test", max_images: int = 10000) -> torch.Tensor:
    """uint8 (N, C, H, W) of one split, shaped like the training images the model saw.

    The test split is asked of the loader by `split: test` where its config has a split key
    (CelebA), else by `train=False` (torchvision's sets); scikit-learn's digits hold out a fixed
    share. A loader with no test split gives a clear error.
    """
    if split not in SPLITS:
        raise UserError(f"split={split!r} is not known; choose one of {', '.join(SPLITS)}")
    cfg = as_dict(dataset_cfg)
    if cfg.get("_target_") == DIGITS:
        return _as_tensor(labelled_split(cfg, train=split == "train")[0], max_images)
    if cfg.get("_target_") == SHARDS:  # a stated part of the shards, read without streaming
        from gantrain.data.shards import split_images

        return split_images(
            cfg["root"],
            cfg["image_size"],
            cfg["channels"],
            cfg.get("held_out", 0),
            cfg.get("reference"),
            split,
            max_images,
            **({"timeout": cfg["timeout"]} if "timeout" in cfg else {}),
        )
    node = OmegaConf.create(cfg)
    if split == "train":
        return _as_tensor(build(node), max_images)
    override = {"split": "test"} if "split" in cfg else {"train": False}
    try:
        return _as_tensor(build(node, **override), max_images)
    except UserError:
        raise
    except Exception as err:
        raise UserError(
            f"dataset {describe(cfg)} has no test split gantrain can read ({type(err).__name__}); "
            "use split=train"
        ) from None


def _labels(cfg: dict, train: bool) -> torch.Tensor | None:
    from gantrain.data import torchvision_sets

    target, name = cfg.get("_target_"), cfg.get("name")
    if target == DIGITS:
        from sklearn.datasets import load_digits

        return torch.from_numpy(load_digits().target).long()
    if target == STACKED:
        return build(OmegaConf.create(cfg), train=train, labels=True).labels
    sources = getattr(torchvision_sets, "SOURCES", {})
    if target != TORCHVISION or name not in sources:
        return None
    root = str(Path(cfg["root"]).expanduser().resolve())
    ds = sources[name].cls(root, train=train, download=False)
    return torch.as_tensor(ds.targets).long().reshape(-1)


def reference_labels(
    dataset_cfg, split: str = "test", max_images: int = 10000
) -> torch.Tensor | None:
    """int64 (N,): the classes of reference_images' images, in the same order; None where the
    dataset has no labels gantrain reads."""
    cfg = as_dict(dataset_cfg)
    if not has_labels(cfg):
        return None
    train = split == "train"
    labels = labelled_split(cfg, train)[1] if cfg.get("_target_") == DIGITS else _labels(cfg, train)
    if labels is None:
        return None
    idx = _subset(labels.numel(), max_images)
    return labels if idx is None else labels[idx]


def has_labels(dataset_cfg) -> bool:
    cfg = as_dict(dataset_cfg)
    return cfg.get("_target_") in (DIGITS, STACKED) or (
        cfg.get("_target_") == TORCHVISION and cfg.get("name") != "celeba"
    )


def is_stacked(dataset_cfg) -> bool:
    return as_dict(dataset_cfg).get("_target_") == STACKED


def digit_config(dataset_cfg) -> dict:
    """The plain MNIST config whose digits a stacked config stacks: its classifier reads each
    channel of a stacked image."""
    cfg = as_dict(dataset_cfg)
    keep = {k: cfg[k] for k in ("root", "download", "image_size") if k in cfg}
    return {"_target_": TORCHVISION, "name": "mnist", **keep, "channels": 1}


def labelled_split(dataset_cfg, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(images uint8 (N, C, H, W), labels int64 (N,)) of a labelled dataset's split."""
    cfg = as_dict(dataset_cfg)
    if not has_labels(cfg):
        raise UserError(
            f"extractor=classifier needs a labelled dataset (the MNIST family, cifar10, digits); "
            f"{describe(cfg)} has no labels gantrain reads: use extractor=inception"
        )
    if cfg.get("_target_") == DIGITS:
        images, labels = build(OmegaConf.create(cfg)), _labels(cfg, train)
        assert labels is not None  # scikit-learn's digits always have theirs
        order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))
        cut = int(len(labels) * (1 - DIGITS_HELD_OUT))
        keep = order[:cut] if train else order[cut:]
        return images[keep], labels[keep]
    images = reference_images(cfg, "train" if train else "test", max_images=10**9)
    labels = _labels(cfg, train)
    if labels is None or labels.numel() != images.shape[0]:
        raise UserError(
            f"{describe(cfg)}: the labels under {cfg.get('root')} do not match its "
            f"{images.shape[0]} images; replace the dataset files"
        )
    return images, labels


def content_hash(*tensors: torch.Tensor, extra: str = "") -> str:
    """Short hash of tensors' bytes: a cache keyed by it is rebuilt whenever the data change."""
    h = hashlib.sha256(extra.encode())
    for t in tensors:
        h.update(str(tuple(t.shape)).encode())
        h.update(t.contiguous().cpu().numpy().tobytes())
    return h.hexdigest()[:16]
