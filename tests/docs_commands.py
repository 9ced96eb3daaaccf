"""The shell commands of the documentation (README.md and docs/*.md), and how the tests shrink
them to tiny data: the substitution docs/development.md describes.

A command is a line of a plain, bash, sh or console code block whose first word is one of
gantrain's console scripts (after an optional `$ `), or `torchrun ... -m gantrain ...`. Other
lines (pip, pytest, tensorboard, mlflow, a layout listing) are not run. A block right after the
line `<!-- docs-test: compose-only -->` is only composed (`--cfg job`), for what cannot run here
(CUDA, SLURM, cloud buckets, another machine's server)."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = (
    "gantrain",
    "gantrain-sample",
    "gantrain-eval",
    "gantrain-report",
    "gantrain-pack",
    "gantrain-export",
    "gantrain-serve",
    "gantrain-project",
)
COMPOSE_ONLY = "<!-- docs-test: compose-only -->"
_FENCE = re.compile(r"^```([a-z]*)\n(.*?)^```", re.S | re.M)
# what a training command is shrunk to: the debug preset, two rounds, one grid, no evaluation
TINY_RUN = ["debug=tiny", "trainer.rounds=2", "trainer.sample_at=[2]", "eval.at=[]"]
# keys the shrinking sets: the command's own values for them are dropped
SHRUNK = ("trainer.rounds=", "trainer.sample_at=", "eval.at=", "hydra.sweeper.n_trials=")
# gantrain-eval's classifier trains as long as debug=tiny's (100 steps, not 1000), so the one the
# tiny run cached when it evaluated is read, not trained again
EVAL_CLASSIFIER = "classifier.steps="
MNIST_FAMILY = ("mnist", "fashion_mnist", "kmnist", "stacked_mnist")


@dataclass(frozen=True)
class Command:
    page: str  # README.md or docs/<page>.md
    line: int
    argv: tuple[str, ...]
    compose_only: bool
    expected: str | None  # a `$ ` command's documented output line

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def _words(text: str) -> list[str]:
    """The words of a command line, its comment left out; [] for a line that is not one (a
    listing, a documented error message)."""
    if text.split(" ", 1)[0] not in (*SCRIPTS, "torchrun"):
        return []
    return shlex.split(text.split(" #", 1)[0].strip())


def commands_in(path: Path) -> list[Command]:
    text = path.read_text(encoding="utf-8")
    page = str(path.relative_to(ROOT))
    found = []
    for block in _FENCE.finditer(text):
        if block.group(1) not in ("", "bash", "sh", "console", "shell"):
            continue
        before = text[: block.start()].rstrip().rsplit("\n", 1)[-1].strip()
        first_line = text[: block.start(2)].count("\n") + 1
        lines = block.group(2).replace("\\\n", " ").splitlines()
        for i, raw in enumerate(lines):
            shown = raw.strip()
            dollar = shown.startswith("$ ")
            words = _words(shown[2:] if dollar else shown)
            if not words:
                continue
            if words[0] == "torchrun" and "gantrain" in words:
                words = ["gantrain", *words[words.index("gantrain") + 1 :]]
            if words[0] not in SCRIPTS:
                continue
            expected = lines[i + 1].strip() if dollar and i + 1 < len(lines) else None
            found.append(
                Command(page, first_line + i, tuple(words), before == COMPOSE_ONLY, expected)
            )
    return found


def all_commands() -> list[Command]:
    """Every documented command once (the README repeats some of the site's)."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    unique: dict[tuple, Command] = {}
    for command in (c for p in pages for c in commands_in(p)):
        unique.setdefault((command.argv, command.compose_only, command.expected), command)
    return list(unique.values())


@dataclass
class Places:
    """The tiny stand-ins the documented paths and placeholders become."""

    mnist: Path
    cifar: Path
    photos: Path  # a flat folder of pictures
    pets: Path  # pictures in class subfolders
    pack: Path  # what gantrain-pack wrote from photos
    hf: Path  # a saved Hugging Face dataset
    run: Path  # a tiny conditional VAE run, evaluated
    sweep: Path  # a tiny two-job sweep
    image: Path  # a picture to project
    scratch: Path  # where commands write

    def path_for(self, value: str) -> str:
        """A documented path or placeholder -> its stand-in."""
        stand_ins = {
            "RUN": self.run,
            "/path/to/root": self.mnist,
            "~/photos": self.photos,
            "~/pictures/faces": self.photos,
            "~/my_200_pictures": self.photos,
            "~/pets": self.pets,
            "~/photos-128": self.pack,
            "~/hf/my_dataset": self.hf,
            "me.png": self.image,
            "seven.png": self.image,
        }
        if value in stand_ins:
            return str(stand_ins[value])
        if value.startswith("outputs/multirun/"):
            return str(self.sweep)
        if value.startswith("outputs/"):
            return str(self.run)
        return value


def shrink(command: Command, places: Places, n: int) -> list[str]:
    """The command as the test runs it: documented paths replaced by their stand-ins, outputs
    under scratch, and training shrunk to TINY_RUN on the tiny data."""
    script, *args = command.argv
    out = []
    for arg in args:
        key, eq, value = arg.partition("=")
        if eq and arg.startswith(SHRUNK) and script == "gantrain":
            continue
        if eq and key in ("run_dir", "resume", "dataset.root", "src", "image"):
            value = places.path_for(value)
        elif eq and key == "out":
            value = str(places.scratch / f"{n}-{Path(value).name}")
        elif (
            eq
            and key in ("num_samples", "steps", "starts")
            and script in ("gantrain-eval", "gantrain-project")
        ):
            value = str(min(int(value), 100 if key == "num_samples" else 2))
        elif not eq and script == "gantrain-report":
            arg = places.path_for(arg)
        out.append(f"{key}={value}" if eq else arg)
    plain = command.expected is None and "--help" not in out and "--cfg" not in out
    if plain and script == "gantrain-eval" and not any(a.startswith(EVAL_CLASSIFIER) for a in out):
        out.append(f"{EVAL_CLASSIFIER}100")  # the tiny run's own, cached when it evaluated
    if script != "gantrain" or not plain:
        return [script, *out]
    if any(a.startswith("resume=") for a in out):
        return [script, *out, "trainer.rounds=4"]
    extra = [*TINY_RUN]
    dataset = next((a.split("=", 1)[1] for a in out if a.startswith("dataset=")), None)
    preset = next((a.split("=", 1)[1] for a in out if a.startswith("experiment=")), "")
    dataset = dataset or (
        "cifar10" if "cifar10" in preset else "stacked_mnist" if "stacked" in preset else "mnist"
    )
    if not any(a.startswith("dataset.root=") for a in out) and dataset in MNIST_FAMILY:
        extra.append(f"dataset.root={places.mnist}")
    elif not any(a.startswith("dataset.root=") for a in out) and dataset == "cifar10":
        extra.append(f"dataset.root={places.cifar}")
    if "hparams_search=optuna_lr" in out:
        extra.append("hydra.sweeper.n_trials=2")
    where = places.scratch / f"run{n}"
    extra.append(f"hydra.sweep.dir={where}" if "-m" in out else f"hydra.run.dir={where}")
    given = {a.split("=", 1)[0] for a in out}
    return [script, *out, *(e for e in extra if e.split("=", 1)[0] not in given)]


def composed(argv: list[str]) -> list[str]:
    """A compose-only command: one job of it (the first value of each swept key), --cfg job."""
    script, *args = argv
    one = []
    for arg in args:
        if arg == "-m":
            continue
        key, eq, value = arg.partition("=")
        swept = eq and "," in value and not value.startswith("[") and "(" not in value
        one.append(f"{key}={value.split(',')[0]}" if swept else arg)
    return [script, *one, "--cfg", "job"]
