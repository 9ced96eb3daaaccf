"""Will the nets fit? Counted before they are built, so that a model too large for the machine
(model.latent_dim=100000000) is one line naming the keys, not a failed allocation deep inside
a constructor.

The count comes from building the nets on torch's meta device: shapes only, no memory, the
same constructors. Training keeps each float32 parameter four times over: the weight, its
gradient and Adam's two moments.
"""

from __future__ import annotations

import contextlib
import os

import torch

from gantrain.config import build
from gantrain.errors import UserError

BYTES_PER_PARAMETER = 4 * 4  # float32 weight + gradient + Adam's first and second moments
# the keys that set a net's size, as they are named under its config node
SIZE_KEYS = ("latent_dim", "width", "max_width")


def _gib(n: float) -> str:
    return f"{n / 2**30:,.1f} GiB"


def host_available() -> int | None:
    """Bytes the host can still give: MemAvailable, else the free pages; None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (OSError, ValueError, AttributeError):
        return None


def device_available(device: torch.device) -> int | None:
    """Free bytes where the nets will train: the host for the CPU, the GPU's free memory."""
    if device.type == "cpu":
        return host_available()
    if device.type == "cuda":
        try:
            return torch.cuda.mem_get_info(device)[0]
        except RuntimeError:
            return None
    return None  # mps and others say nothing reliable


def count_parameters(spec: dict) -> int | None:
    """Parameters of the net spec (a resolved config node) builds, counted on the meta device;
    None when its constructor cannot run there (the real build then speaks for itself)."""
    try:
        with torch.device("meta"):
            net = build(spec)
    except UserError:
        raise
    except Exception:  # a constructor that needs real values: no estimate, no harm
        return None
    return sum(p.numel() for p in net.parameters()) if isinstance(net, torch.nn.Module) else None


def nets_of(cfg) -> dict[str, dict]:
    """The nets a run trains, by config prefix: the model, and the objective's critic if any."""
    from gantrain.config import plain

    nets = {"model": cfg.model}
    critic = cfg.objective.get("critic")
    if critic is not None and "_target_" in critic:
        nets["objective.critic"] = critic
    return {k: plain(v) for k, v in nets.items()}


def culprits(prefix: str, spec: dict, count: int) -> list[str]:
    """The size keys of spec that matter: halving each alone, those that cut the count by a
    quarter or more (all of them if none does alone)."""
    keys = [k for k in SIZE_KEYS if isinstance(spec.get(k), int) and spec[k] > 1]
    found = []
    for k in keys:
        halved = count_parameters({**spec, k: spec[k] // 2})
        if halved is not None and halved <= 0.75 * count:
            found.append(k)
    return [f"{prefix}.{k}={spec[k]}" for k in found or keys]


def check_fits(cfg, device: torch.device) -> None:
    """The model and the objective's critic fit in the memory of the host (where they are
    built) and of the device (where they train); raises UserError naming the size keys that
    make them too large."""
    specs = nets_of(cfg)
    counts = {k: count_parameters(v) for k, v in specs.items()}
    total = sum(c for c in counts.values() if c)
    if not total:
        return
    needs = [(device, total * BYTES_PER_PARAMETER)]
    if device.type != "cpu":  # built on the host first, weights only
        needs.append((torch.device("cpu"), total * 4))
    for where, need in needs:
        have = device_available(where)
        if have is None or need <= have:
            continue
        biggest = max((k for k in counts if counts[k]), key=lambda k: counts[k] or 0)
        keys = culprits(biggest, specs[biggest], counts[biggest] or 0)
        raise UserError(
            f"{', '.join(keys)}: the {biggest.replace('objective.', '')} would have "
            f"{counts[biggest]:,} parameters, and training needs about {_gib(need)} "
            f"({BYTES_PER_PARAMETER} bytes a parameter with gradients and Adam's moments), more "
            f"than the {_gib(have)} free on {where}: lower {' or '.join(k.split('=')[0] for k in keys)}"
        )


def _out_of_memory(err: BaseException | None) -> bool:
    seen = set()
    while err is not None and id(err) not in seen:  # causes and contexts may loop
        seen.add(id(err))
        if isinstance(err, MemoryError | torch.OutOfMemoryError):
            return True
        text = str(err).lower()
        if isinstance(err, RuntimeError) and (
            "out of memory" in text or "can't allocate memory" in text
        ):
            return True
        err = err.__cause__ or err.__context__
    return False


@contextlib.contextmanager
def one_line_if_out_of_memory(cfg):
    """Building within: an allocation that fails (the estimate said yes, the memory said no)
    becomes one line naming the size keys of the nets."""
    try:
        yield
    except Exception as err:
        if isinstance(err, UserError) or not _out_of_memory(err):
            raise
        keys = [f"{p}.{k}={v[k]}" for p, v in nets_of(cfg).items() for k in SIZE_KEYS if k in v]
        raise UserError(
            f"out of memory while building the nets ({', '.join(keys)}): lower those sizes or "
            "free some memory"
        ) from None
