"""gantrain's command line as Hydra is to see it: rewrite() runs every step that comes before
Hydra starts, in order. `resume=RUN` becomes RUN's own overrides; the command line and the
places it writes are checked; the run directory is claimed; a sweep's directory is pinned; and
ranks other than 0 (torchrun) are given a scratch folder and a quiet console, which
leave_scratch() removes once the run is over."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from gantrain.cli.claim import claim_run_dir
from gantrain.cli.command_line import check_command_line
from gantrain.cli.places import check_run_places
from gantrain.cli.sweeps import pin_sweep_dir, plain_off_terminal
from gantrain.config import override_key, split_args
from gantrain.errors import UserError
from gantrain.hardware.distributed import env_rank, env_world
from gantrain.saved_config import check_overrides, read_overrides
from gantrain.schema import Schema
from gantrain.upgrade import upgrade_overrides


def rewrite(argv: list[str], schema: Callable[[], Schema]) -> list[str]:
    """argv (gantrain's arguments, without the program) -> the arguments Hydra is to start with.
    schema: gantrain's schema, asked for once resume= is resolved. Raises UserError for a
    mistake the user can fix; nothing is written before every check has passed."""
    args = resume_argv(upgrade_overrides(argv))  # old key names: today's, with one line
    check_command_line(args, schema())
    check_run_places(args)
    args = claim_run_dir(args)  # before Hydra writes anything into the run directory
    args = pin_sweep_dir(args)
    plain_off_terminal()
    return rank_overrides(args)


def resume_argv(args: list[str]) -> list[str]:
    """`resume=RUN ...` -> RUN's own overrides, then the new ones, with RUN as the output dir."""
    given = [a for a in args if override_key(a) == "resume" and "=" in a]
    value = given[-1].split("=", 1)[1] if given else "null"
    if value in ("null", ""):
        return args
    if {"-m", "--multirun"} & set(args):
        raise UserError(
            "resume= continues one run; to continue a sweep, run the same sweep command "
            "again with the same hydra.sweep.dir"
        )
    run = Path(value).expanduser().resolve()
    if not any((run / "checkpoints").glob("*.pt")):
        raise UserError(
            f"resume={value}: no checkpoints/last.pt there; give a run directory that "
            "gantrain wrote (outputs/<date>/<time>)"
        )
    saved = run / ".hydra" / "overrides.yaml"
    flags, new = split_args(args)
    old = upgrade_overrides(read_overrides(saved))
    check_overrides(old, saved, new)  # data, not code: refused before Hydra composes any of it
    old = [a for a in old if override_key(a) not in ("resume", "resume_force")]
    merged: dict[str, str] = {}
    for arg in [*old, *new]:
        merged[override_key(arg)] = arg
    for key in ("hydra.run.dir", "resume"):
        merged.pop(key, None)
    # Hydra would rewrite .hydra/ before the config check; gantrain writes it once the check passes
    return [
        *flags,
        *merged.values(),
        f"resume={run}",
        f"hydra.run.dir={run}",
        "hydra.output_subdir=null",
    ]


def rank_overrides(overrides: list[str]) -> list[str]:
    """Ranks other than 0 keep one run directory and one console: Hydra writes nothing of
    theirs but the empty folder it insists on (a scratch one, removed by `leave_scratch`), and
    they log warnings and errors only, each naming its rank."""
    global _scratch
    if env_world() <= 1 or env_rank() == 0:
        return overrides
    _scratch = tempfile.mkdtemp(prefix=f"gantrain-rank{env_rank()}-")
    kept = [o for o in overrides if not o.startswith(("hydra.run.dir=", "hydra.output_subdir="))]
    quiet = [
        "hydra.output_subdir=null",
        "hydra.job_logging.root.handlers=[console]",
        "hydra.job_logging.root.level=WARNING",
        f"hydra.job_logging.formatters.simple.format='[rank {env_rank()}] %(message)s'",
    ]
    return [*kept, f"hydra.run.dir={_scratch}", *quiet]


_scratch: str | None = None


def leave_scratch() -> None:
    """Remove the folder rank_overrides made for Hydra, once the run is over."""
    if _scratch is not None:
        shutil.rmtree(_scratch, ignore_errors=True)
