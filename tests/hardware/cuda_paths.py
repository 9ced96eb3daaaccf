"""The GPU check's harness: train one case (a path through the trainer) a few rounds under one
mode (CUDA graphs, AMP, torch.compile on or off) and measure how far its weights are from the
eager float32 run of the same case.

The distance is relative to the training itself: ||w_mode - w_eager|| / ||w_eager - w_start||
over all floating-point weights, so 0 is the same result and 1 is an error as large as what the
rounds learned. TOLERANCE states what each mode may differ: graphs replay the eager float32
arithmetic (reordered sums at most); AMP computes in bf16 or fp16 (about 3 significant
digits), and Adam's first steps follow the gradients' signs, so small gradients may flip."""

from __future__ import annotations

from pathlib import Path

import torch
from helpers import CRITIC, compose_cfg, names_of, without_hydra

ROUNDS = 6
# each case: the overrides after the tiny nets; {root} is the MNIST root, {shards} a pack
CASES = {
    "dcgan_adversarial": [*CRITIC],
    "dcgan_mmd": ["objective=mmd"],
    "ae_mle": ["model=ae", "objective=mle"],
    "vae_mle": ["model=vae", "objective=mle"],
    "ae_mmd": ["model=ae", "objective=mmd"],
    "vae_mmd": ["model=vae", "objective=mmd"],
    "ae_adversarial": ["model=ae", "objective.critic.hidden=16"],
    "vae_adversarial": ["model=vae", *CRITIC],
    "conditional": ["conditional=true", *CRITIC],
    "diffaug": ["objective.augment.kind=diffaug", *CRITIC],
    "ada": ["objective.augment.kind=ada", *CRITIC],
    "gradient_penalty": [
        "objective.loss.kind=wasserstein",
        "objective.penalties.gradient=10",
        "objective.critic.norm=layer",
        *CRITIC,
    ],
    "r1_r2_relativistic": [
        "objective.loss.kind=relativistic",
        "objective.penalties.r1=0.1",
        "objective.penalties.r2=0.1",
        *CRITIC,
    ],
    "residual": ["model=resnet", "dataset.image_size=32", *CRITIC],
    "stacked_mnist": [
        "dataset=stacked_mnist",
        "dataset.size=200",
        "dataset.download=false",
        *CRITIC,
    ],
    "shards": ["dataset=shards", "dataset.image_size=16", *CRITIC],
    "time_limit_resume": [*CRITIC],  # stops after round 1 (a limit of 1 ms), resumed to ROUNDS
    "resume": [*CRITIC],  # ROUNDS // 2 rounds, then resumed to ROUNDS
}
OFF = [
    "device.amp=false",
    "device.graphs=false",
    "device.compile=false",
    "device.tf32=false",
    "device.channels_last=false",
    "device.cudnn_benchmark=false",
]
# torch.compile alone is left out: it costs tens of seconds per case, and "all" compiles each
MODES = {
    "eager32": OFF,
    "graphs": [*OFF, "device.graphs=true"],
    "amp": [*OFF, "device.amp=true"],
    "all": [
        "device.amp=auto",
        "device.graphs=true",
        "device.compile=true",
        "device.tf32=true",
        "device.channels_last=true",
        "device.cudnn_benchmark=true",
    ],
}
TOLERANCE = {"eager32": 1e-6, "graphs": 1e-3, "amp": 0.3, "all": 0.3}


def overrides(case: str, mode: str, device: str, root: Path, shards: Path | None) -> list[str]:
    where = f"dataset.root={shards if case == 'shards' else root}"
    return [
        f"device={device}",
        "trainer.batch_size=16",
        "trainer.log_every=1",
        "model.width=8",
        "model.max_width=16",
        "eval.at=[]",
        "trainer.deterministic=true",
        where,
        *CASES[case],
        *MODES[mode],
    ]


def _train(args: list[str], run_dir: Path) -> dict:
    from hydra.core.hydra_config import HydraConfig

    from gantrain.commands.train import schema, train

    cfg = compose_cfg(args)
    names = names_of(cfg)
    HydraConfig.instance().set_config(cfg)
    cfg = without_hydra(cfg)
    schema().check(cfg)
    return train(cfg, run_dir, names)


def run_case(
    case: str, mode: str, device: str, root: Path, work: Path, shards: Path | None = None
) -> tuple[dict, dict]:
    """(the weights at the start, the weights after ROUNDS rounds), on the CPU."""
    from gantrain.training import trainer

    args = overrides(case, mode, device, root, shards)
    run = work / f"{case}-{mode}-{device}"
    start = {}
    fit = trainer.Trainer.fit

    def watched(self, model, *rest, **kw):  # the weights as built, before any checkpoint
        start.setdefault("w", {k: v.detach().cpu().clone() for k, v in model.state_dict().items()})
        return fit(self, model, *rest, **kw)

    trainer.Trainer.fit = watched
    try:
        if case in ("resume", "time_limit_resume"):
            first = ["trainer.time_limit=0.001"] if case == "time_limit_resume" else []
            _train([*args, f"trainer.rounds={ROUNDS // 2}", "trainer.sample_at=[1]", *first], run)
            _train(
                [
                    *args,
                    f"trainer.rounds={ROUNDS}",
                    f"resume={run}",
                    "trainer.sample_at=[1]",
                    "trainer.time_limit=null",
                ],
                run,
            )
        else:
            _train([*args, f"trainer.rounds={ROUNDS}", f"trainer.sample_at=[{ROUNDS}]"], run)
    finally:
        trainer.Trainer.fit = fit
    end = torch.load(run / "checkpoints" / "last.pt", weights_only=True, map_location="cpu")
    assert end["round"] == ROUNDS, (case, mode, end["round"])
    return start["w"], end["model"]


def distance(start: dict, eager: dict, other: dict) -> float:
    """||other - eager|| / ||eager - start|| over the floating-point weights."""
    keys = [k for k, v in eager.items() if v.is_floating_point()]
    flat = [torch.cat([d[k].float().flatten() for k in keys]) for d in (start, eager, other)]
    learned = (flat[1] - flat[0]).norm()
    assert learned > 0, "the eager run did not train"
    return float((flat[2] - flat[1]).norm() / learned)
