"""Entry points: compose the config, build the objects, train."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from gantrain.config import build, check_group_choices, conf_dir
from gantrain.errors import UserError, report

log = logging.getLogger("gantrain")
_failed: list[str] = []  # jobs of this process that stopped on a user error (a sweep goes on)


def train(cfg: DictConfig, run_dir: Path, names: dict) -> dict:
    """Build everything from a composed config and train into run_dir.

    names: the chosen group options, e.g. {"model": "dcgan", "objective": "adversarial"}.
    """
    # heavy imports here so that --help and config errors answer fast
    from gantrain.data import make_batches
    from gantrain.device import resolve_device
    from gantrain.rng import seed_everything

    trainer = build(cfg.trainer)  # validates rounds, batch size, milestones first
    seed = cfg.seed
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise UserError(f"seed={seed!r} must be an integer")
    device = resolve_device(cfg.device.type)
    seed_everything(seed)

    model = build(cfg.model)
    objective = build(cfg.objective)
    objective.check_fits(model, names.get("model"), names.get("objective"))
    model.to(device)
    objective.bind(model)
    log.info(
        "model=%s objective=%s dataset=%s device=%s run_dir=%s",
        names.get("model"),
        names.get("objective"),
        names.get("dataset"),
        device,
        run_dir,
    )

    source = build(cfg.dataset)
    batches = make_batches(source, trainer.batch_size, device, seed)
    log.info("dataset: %d images", len(batches))
    config = OmegaConf.to_container(cfg, resolve=True)
    summary = trainer.fit(model, objective, batches, run_dir, config, seed, device)
    log.info(
        "done: %d rounds at %.2f rounds/s; outputs in %s",
        summary["rounds"],
        summary["rounds_per_s"] or 0.0,
        run_dir,
    )
    return summary


@hydra.main(config_path=str(conf_dir()), config_name="train", version_base="1.3")
def _hydra_train(cfg: DictConfig) -> None:
    hc = HydraConfig.get()
    try:
        train(cfg, Path(hc.runtime.output_dir), dict(hc.runtime.choices))
    except UserError as err:
        report(err)
        _record_failure(err)
        if hc.mode != RunMode.MULTIRUN:
            sys.exit(2)
        _failed.append(str(err))


def _record_failure(err: UserError) -> None:
    from gantrain.trainer import write_json

    try:
        run_dir = Path(HydraConfig.get().runtime.output_dir)
        write_json(run_dir / "summary.json", {"status": "failed", "error": str(err)})
    except Exception:
        pass  # the one-line report above is what matters


def main() -> None:
    try:
        check_group_choices(sys.argv[1:])
    except UserError as err:
        report(err)
        sys.exit(2)
    _hydra_train()
    if _failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
