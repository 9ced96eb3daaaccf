"""Entry point of `gantrain`: compose the config, build the objects, train."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from gantrain.cli import argv, sweeps
from gantrain.cli.claim import claim_job_dir
from gantrain.config import build, conf_dir, plain
from gantrain.errors import UserError, report
from gantrain.hardware import distributed
from gantrain.record.lock import DirectoryInUse
from gantrain.record.run_files import discard_unstarted, is_new_run_dir
from gantrain.schema import defaults_of
from gantrain.training import outcome
from gantrain.training.keys import schema
from gantrain.training.resume import RunRefused, prior_state, record_config
from gantrain.training.signals import StoppedBySignal

log = logging.getLogger("gantrain")


def train(cfg: DictConfig, run_dir: Path, names: dict, job: dict | None = None) -> dict:
    """Build everything from a composed config and train into run_dir.

    names: the chosen group options, e.g. {"model": "dcgan", "objective": "adversarial"}.
    job: for sweep jobs, {"num": n, "parallel": jobs at once, "hparams": {key: value}}.
    """
    from gantrain.hardware.host_memory import keep_freed_memory
    from gantrain.record.trackers import check_available
    from gantrain.training.rng import seed_everything

    keep_freed_memory()  # before the first large allocation
    check_available(cfg.get("logger"))  # a missing tracker package: one line, before any work
    trainer = build(cfg.trainer)
    burn_in = build(cfg.schedule) if cfg.get("schedule") else None
    device, source, nets, state = _prior(cfg, run_dir, job, trainer)
    if state == "done":
        log.info("%s already finished; skipped", run_dir)
        return {"status": "done", "skipped": True}
    writes = distributed.init(device, cfg.device.get("collective_timeout", 600))
    # a resume with nothing left to train leaves the run's recorded config as it was
    if state is not None and cfg.resume and writes and state["round"] < trainer.rounds:
        record_config(run_dir, cfg, list(HydraConfig.get().overrides.task))
    if trainer.deterministic:
        import torch

        torch.use_deterministic_algorithms(True, warn_only=True)
    seed_everything(cfg.seed)
    model, objective, share = _nets(cfg, nets, names, device, trainer, run_dir)
    if source is None:
        source = build(cfg.dataset)
    batches, evaluate, eval_at = _data(cfg, source, share, device, trainer, objective, writes, job)
    finished = False
    try:
        summary = trainer.fit(
            model,
            objective,
            batches,
            run_dir,
            plain(nets),
            cfg.seed,
            device,
            state,
            hparams=job["hparams"] if job else None,
            writes=writes,
            evaluate=evaluate,
            eval_at=eval_at,
            burn_in=burn_in,
        )
        finished = True
    except RuntimeError as err:
        if not distributed.collective_failed(err):
            raise
        from gantrain.training.checkpoint import describe_intact

        raise distributed.peer_lost(err, run_dir, describe_intact(run_dir / "checkpoints")) from err
    finally:
        distributed.close(together=finished)
    outcome.last_line(summary, run_dir)
    return summary


def _prior(cfg: DictConfig, run_dir: Path, job: dict | None, trainer) -> tuple:
    """The device, the labelled data a conditional run reads first (else None), the config the
    nets are built from (with the data's class counts), and the state to continue from (None,
    "done", or a checkpoint's payload)."""
    from gantrain.cli.conditional import load_labelled, same_classes
    from gantrain.hardware.device import resolve_device, set_threads

    device = resolve_device(cfg.device.type, job_num=job["num"] if job else None)
    set_threads(cfg.device.get("threads"), parallel_jobs=job["parallel"] if job else 1)
    # a conditional run's nets are sized by the classes the data has: read it first; nets is
    # the config with those counts, the one the checkpoint keeps
    source, nets = load_labelled(cfg) if cfg.get("conditional") else (None, cfg)
    config = plain(nets)
    state_dir = Path(cfg.resume) if cfg.resume else run_dir
    defaults = defaults_of(schema(), cfg)  # what a key means to a run that predates it
    if not cfg.get("conditional") and "encode_label" in cfg.model:
        defaults["model.encode_label"] = cfg.model.encode_label  # shapes conditional nets only
    state = prior_state(
        state_dir, config, bool(cfg.resume), bool(cfg.resume_force), job is not None, defaults
    )
    if isinstance(state, dict):
        same_classes(state, source)
    return device, source, nets, state


def _nets(cfg: DictConfig, nets: DictConfig, names: dict, device, trainer, run_dir: Path):
    """The model and its objective, built and checked against each other, the batch and the
    device; returns them with each process's share of a step's batch."""
    from gantrain.hardware.accel import Accelerator
    from gantrain.hardware.flops import cost_line
    from gantrain.hardware.memory_check import check_fits, one_line_if_out_of_memory

    accel = Accelerator.from_config(device, cfg.device, trainer.deterministic)
    check_fits(nets, device)  # counted on the meta device, before any real allocation
    with one_line_if_out_of_memory(nets):
        model = build(nets.model)
        objective = build(nets.objective)
    objective.check_fits(model, names.get("model"), names.get("objective"))
    # trainer.batch_size is one step's batch: each process's share, in micro-batches
    share, accel.accumulate = distributed.shares(
        trainer.batch_size, accel.world, trainer.batch_per_process
    )
    objective.check_batch(share)  # what its critic sees at once
    objective.check_accumulates(accel.accumulate, share)
    accel.prepare(model)
    model.draw_share = (distributed.env_rank(), accel.world)
    objective.bind(model, accel)
    log.info(
        "model=%s objective=%s dataset=%s device=%s (%s) run_dir=%s",
        names.get("model"),
        names.get("objective"),
        names.get("dataset"),
        device,
        accel.describe(),
        run_dir,
    )
    log.info("%s", cost_line(model, objective, trainer.batch_size))
    if accel.world > 1 or accel.accumulate > 1:
        micro = f"{accel.accumulate} micro-batches of {share}" if accel.accumulate > 1 else share
        log.info(
            "batch: %d images a step = %d process%s x %s",
            trainer.batch_size,
            accel.world,
            "es" if accel.world > 1 else "",
            micro,
        )
    return model, objective, share


def _data(
    cfg: DictConfig, source, share: int, device, trainer, objective, writes: bool, job: dict | None
) -> tuple:
    """The batches (every process draws the same global batches and takes its share of each),
    the evaluation during training (None on other ranks) and its rounds."""
    from gantrain.data import make_batches
    from gantrain.metrics.classifier import ClassifierRecipe
    from gantrain.training.evaluation import EvalSettings, make_evaluator, too_short_line

    accel = objective.accel
    batches = make_batches(
        source,
        share,
        device,
        cfg.seed,
        workers=cfg.dataset.get("workers", 2),
        rank=distributed.env_rank(),
        world=accel.world,
    )
    log.info("dataset: %d images", len(batches))
    if accel.note and writes and not (accel.note_is_hint and job and job["num"]):
        log.info("%s", accel.note)  # past the refusals; a hint once a sweep (job 0)
    keys = plain(cfg.eval)
    settings = EvalSettings(**{**keys, "classifier": ClassifierRecipe(**keys["classifier"])})
    eval_at = settings.rounds(trainer.sample_at, trainer.rounds)
    evaluate = None
    if writes:
        if note := too_short_line(settings, trainer.rounds):
            log.info("%s", note)
        evaluate = make_evaluator(settings, cfg.dataset, device, eval_at, cfg.conditional)
    return batches, evaluate, eval_at


@hydra.main(config_path=str(conf_dir()), config_name="train", version_base="1.3")
def _hydra_train(cfg: DictConfig) -> float | None:
    hc = HydraConfig.get()
    run_dir = Path(hc.runtime.output_dir)
    job = sweeps.job_of(hc)
    sweeps.tag_job_lines(job)
    # a single run refused before training leaves no directory behind, if it made one
    own_dir = job is None and not cfg.get("resume") and is_new_run_dir(run_dir)
    distributed.from_launcher()  # one task per GPU: the tasks of one job are its processes
    if distributed.env_rank() > 0:
        distributed.quiet_rank()
    try:
        if distributed.env_rank() == 0:  # the other ranks write nothing
            claim_job_dir(run_dir, job is not None, cfg)  # one writer per run directory
        schema().check(cfg)  # a sweep job composed by another sweeper is checked here
        return sweeps.sweep_value(train(cfg, run_dir, dict(hc.runtime.choices), job))
    except StoppedBySignal as stop:
        outcome.record(run_dir, "interrupted", str(stop))
        if stop.then is not None:  # submitit requeues the job, which continues from last.pt
            log.warning("%s; the launcher requeues the job", stop)
            stop.then(stop.signum, None)
        log.warning("%s; continue with: gantrain resume=%s", stop, run_dir)
        sys.exit(stop.exit_code)
    except Exception as err:
        user = outcome.user_error(err, run_dir)
        if user is None:  # a bug: one sweep job's crash must not end the others
            if job is None:
                raise
            log.exception("job %s crashed", run_dir)
            outcome.record(run_dir, "failed", f"{type(err).__name__}: {err}")
            sweeps.failed.append(str(err))
            return float("inf")
        report(user)
        if not isinstance(user, (RunRefused, DirectoryInUse)):  # the run's files stay alone
            if not (own_dir and discard_unstarted(run_dir)):
                outcome.record(run_dir, outcome.status_of(user), str(user))
        if job is None:
            sys.exit(2)
        sweeps.failed.append(str(user))
    return float("inf")


def main() -> None:
    # a log file on a full disk must not print a traceback for every line that follows
    logging.raiseExceptions = False
    try:
        args = argv.rewrite(sys.argv[1:], schema)
    except UserError as err:
        report(err)
        sys.exit(2)
    sys.argv = [sys.argv[0], *args]
    try:
        _hydra_train()
    finally:
        argv.leave_scratch()
    if sweeps.sweep_failed(sweeps.pinned(args)):
        sys.exit(1)


if __name__ == "__main__":
    main()
