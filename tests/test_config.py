"""Every config composes; the CLI's help and --cfg show the groups and the composed config."""

import pytest
from helpers import compose_cfg, run_cli, without_hydra
from omegaconf import OmegaConf

from gantrain.config import options

PAIRS = [(m, o) for m in ("ae", "vae", "dcgan") for o in ("mle", "mmd", "adversarial")]


@pytest.mark.slow
@pytest.mark.parametrize("model,objective", PAIRS)
@pytest.mark.parametrize("dataset", options("dataset"))
@pytest.mark.parametrize("device", options("device"))
def test_every_combination_composes_and_resolves(model, objective, dataset, device):
    cfg = compose_cfg(
        [f"model={model}", f"objective={objective}", f"dataset={dataset}", f"device={device}"]
    )
    resolved = OmegaConf.to_container(without_hydra(cfg), resolve=True, throw_on_missing=True)
    assert resolved["model"]["image_size"] == resolved["dataset"]["image_size"]
    assert resolved["model"]["channels"] == resolved["dataset"]["channels"]


@pytest.mark.slow
@pytest.mark.parametrize("experiment", options("experiment"))
def test_every_experiment_composes_with_its_pair(experiment):
    cfg = compose_cfg([f"experiment={experiment}"])
    OmegaConf.to_container(without_hydra(cfg), resolve=True, throw_on_missing=True)
    choices = cfg.hydra.runtime.choices
    pair = f"{choices['model']}_{choices['objective']}"
    assert choices.get("pair") in (pair, None)


def test_defaults_are_the_spine():
    cfg = compose_cfg([])
    c = cfg.hydra.runtime.choices
    assert (c["model"], c["objective"], c["dataset"], c["device"]) == (
        "dcgan",
        "adversarial",
        "mnist",
        "auto",
    )
    assert cfg.trainer.rounds == 50000 and cfg.trainer.batch_size == 64
    assert list(cfg.trainer.sample_at) == [100, 1000, 2000, 5000, 10000, 20000, 50000]
    assert list(cfg.objective.optimizer.betas) == [0.5, 0.999]
    assert cfg.objective.loss.generator == "non_saturating" and cfg.objective.critic_steps == 1
    # the DCGAN pair's measured recipe on top of the objective's classic 2e-4
    assert cfg.objective.optimizer.lr == cfg.objective.critic_optimizer.lr == 6e-4
    assert cfg.objective.critic.width == 32 and cfg.objective.loss.real_label == 0.9
    assert cfg.trainer.ema_decay == 0.99 and cfg.model.sample_norm == "batch"
    # half the classic generator, for more rounds a minute; each preset keeps the generator it
    # was measured with: the MNIST ones the classic, the Stacked MNIST one the narrow
    assert (cfg.model.width, cfg.model.max_width) == (64, 256)
    mnist = compose_cfg(["experiment=dcgan_mnist"])
    assert (mnist.model.width, mnist.model.max_width) == (128, 512)
    stacked = compose_cfg(["experiment=wgan_gp_stacked_mnist"])
    assert (stacked.model.width, stacked.model.max_width) == (64, 256)
    assert compose_cfg(["model=dcgan", "objective=mmd"]).model.width == 128
    vaegan = compose_cfg(["model=vae", "objective=adversarial"])
    assert vaegan.objective.critic_optimizer.lr == 2e-4 and vaegan.trainer.ema_decay is None


def test_the_stacked_mnist_preset_is_the_measured_mix():
    # experiment=stacked_mnist names whichever Stacked MNIST preset measured best in 20 minutes
    short = without_hydra(compose_cfg(["experiment=stacked_mnist"]))
    cfg = without_hydra(compose_cfg(["experiment=dcgan_r3gan_stacked_mnist"]))
    assert OmegaConf.to_yaml(short) == OmegaConf.to_yaml(cfg)
    # the DCGAN pair's narrow generator against R3GAN's critic and loss
    assert cfg.model._target_.endswith("DCGAN")
    assert (cfg.model.width, cfg.model.max_width) == (64, 256)
    assert cfg.objective.critic._target_.endswith("R3Critic") and cfg.objective.critic.width == 16
    assert cfg.objective.loss.kind == "relativistic" and cfg.objective.critic_steps == 1
    penalties = cfg.objective.penalties
    assert (penalties.r1, penalties.r2, penalties.gradient) == (0.5, 0.5, 0.0)
    assert cfg.schedule.gamma_start == cfg.schedule.gamma_end == 0.5
    assert cfg.schedule.lr_start == cfg.schedule.lr_end == 2e-3
    assert cfg.objective.optimizer.betas[0] == cfg.objective.critic_optimizer.betas[0] == 0.0


def test_the_dense_r3gan_stacked_preset_holds_what_it_was_measured_with():
    cfg = without_hydra(compose_cfg(["experiment=r3gan_dense_stacked_mnist"]))
    assert cfg.model._target_.endswith("R3GAN") and cfg.model.input_layer == "dense"
    assert cfg.objective.critic._target_.endswith("R3Critic") and cfg.objective.critic.width == 16
    assert cfg.objective.loss.kind == "bce" and cfg.objective.loss.generator == "non_saturating"
    assert cfg.schedule.gamma_start == cfg.schedule.gamma_end == 0.5
    assert cfg.schedule.lr_start == cfg.schedule.lr_end == 2e-3 and cfg.schedule.rounds == 4000


def test_pair_defaults_specialise_the_objective():
    aae = compose_cfg(["model=ae", "objective=adversarial"])
    assert aae.objective.space == "code" and aae.objective.critic._target_.endswith("CodeCritic")
    gmmn = compose_cfg(["model=dcgan", "objective=mmd"])
    assert gmmn.objective.space == "data" and gmmn.objective.kernel == "rbf"


@pytest.mark.slow
def test_help_lists_groups_and_options(tmp_path):
    out = run_cli(["--help"], tmp_path)
    assert out.returncode == 0
    for line in (
        "model: ae, dcgan, r3gan, resnet, vae",
        "objective: adversarial, mle, mmd",
        "device: auto, cpu, cuda, mps",
    ):
        assert line in out.stdout


@pytest.mark.slow
def test_cfg_job_prints_the_composed_config(tmp_path):
    out = run_cli(["model=vae", "objective=mle", "--cfg", "job"], tmp_path)
    assert out.returncode == 0
    cfg = OmegaConf.create(out.stdout)
    assert cfg.model._target_.endswith("VAE") and cfg.objective._target_.endswith(
        "MaximumLikelihood"
    )
