"""Device speed settings in one place: mixed precision, TF32, channels_last, cudnn.benchmark,
torch.compile, and gradient averaging across data-parallel processes. On the CPU only mixed
precision applies, and only where the CPU computes bfloat16 natively; otherwise the CPU path
computes exactly what plain PyTorch would."""

from __future__ import annotations

import contextlib
import logging

import torch
import torch.distributed as dist
from torch import nn

from gantrain.hardware.cpu_features import native_bf16
from gantrain.kinds import AmpMode, Flag

log = logging.getLogger("gantrain")


def amp_dtype(device_type: str, amp: bool | str, bf16_supported: bool) -> torch.dtype | None:
    """The autocast dtype; None: full precision. amp is auto, True or False.

    A GPU (auto or true): bf16 where it has it (no loss scaling needed), else fp16. A CPU: bf16
    only when asked (true) and computed natively. Native bf16 alone does not make a CPU round
    faster (machine C in benchmarks/RESULTS.md: an AVX-512 BF16 Xeon ran the DCGAN round 1.44x
    slower in bf16), so auto keeps the CPU in float32."""
    if amp is False:
        return None
    if device_type == "cuda":
        return torch.bfloat16 if bf16_supported else torch.float16
    if device_type == "cpu" and amp is True and bf16_supported:
        return torch.bfloat16
    return None


def cpu_precision_note(amp: bool | str, native: bool) -> str | None:
    """What to say of a CPU's bf16 (said by the caller once the run is past its refusals)."""
    if amp is True and not native:
        return (
            "device.amp=true: this CPU has no native bfloat16 (AVX-512 BF16 or AMX), where bf16 "
            "would be emulated and slower; training in float32"
        )
    if amp == "auto" and native:
        return (
            "this CPU computes bfloat16 natively: device.amp=true trains in bf16, faster on some "
            "CPUs and slower on others; compare rounds/s"
        )
    return None


# the device.* config keys that reach the Accelerator
SETTINGS = (
    "amp",
    "tf32",
    "channels_last",
    "cudnn_benchmark",
    "compile",
    "graphs",
    "sync_batchnorm",
)


class Accelerator:
    def __init__(
        self,
        device: torch.device,
        amp: AmpMode = "auto",
        tf32: Flag = True,
        channels_last: Flag = True,
        cudnn_benchmark: Flag = True,
        compile: Flag = False,
        deterministic: Flag = False,
        graphs: Flag = True,
        sync_batchnorm: Flag = True,
    ):
        self.device = device
        cuda = device.type == "cuda"
        bf16 = torch.cuda.is_bf16_supported() if cuda else device.type == "cpu" and native_bf16()
        self.dtype = amp_dtype(device.type, amp, bf16)
        # a note on the CPU's bf16; with amp=auto only a hint (said once a sweep, by rank 0)
        self.note = cpu_precision_note(amp, bf16) if device.type == "cpu" else None
        self.note_is_hint = amp == "auto"
        # fp16 gradients underflow without scaling; bf16 has fp32's range
        self.scaler = torch.amp.GradScaler("cuda") if self.dtype == torch.float16 else None
        self.channels_last = cuda and channels_last
        self.compile = compile
        self.graphs = cuda and graphs
        if cuda:
            torch.backends.cuda.matmul.allow_tf32 = tf32
            torch.backends.cudnn.allow_tf32 = tf32
            torch.backends.cudnn.benchmark = cudnn_benchmark and not deterministic
        self.world = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
        self.sync_batchnorm = sync_batchnorm and self.world > 1
        self.synced = 0  # BatchNorm layers given global statistics
        # gradient accumulation: optimizer steps take this many backward passes each
        self.accumulate = 1
        self._passes: dict[int, int] = {}  # optimizer id -> backward passes since its step

    @classmethod
    def from_config(cls, device: torch.device, device_cfg, deterministic: bool = False):
        """From the composed device group; keys it lacks keep their defaults."""
        return cls(
            device,
            deterministic=deterministic,
            **{k: device_cfg[k] for k in SETTINGS if k in device_cfg},
        )

    def describe(self) -> str:
        return (
            f"precision={self.dtype or torch.float32} channels_last={self.channels_last} "
            f"compile={self.compile} graphs={self.graphs} processes={self.world}"
            + (f" sync_batchnorm={self.sync_batchnorm}" if self.world > 1 else "")
        )

    def autocast(self):
        if self.dtype is None:
            return contextlib.nullcontext()
        # a captured graph must not hold on to autocast's cache of cast weights
        return torch.autocast(self.device.type, dtype=self.dtype, cache_enabled=not self.graphs)

    def prepare(self, module: nn.Module, example: torch.Tensor | None = None) -> nn.Module:
        """Move to the device in the fast memory format; compile its submodules if asked."""
        module.to(self.device)
        if self.channels_last:
            module.to(memory_format=torch.channels_last)
        if self.sync_batchnorm:  # statistics of the global batch, as one process would have
            from gantrain.hardware.sync_batchnorm import convert

            self.synced += convert(module)
        if self.world > 1:  # every process starts from rank 0's weights
            for t in [*module.parameters(), *module.buffers()]:
                dist.broadcast(t.data, 0)
        if self.compile:
            self._compile(module)
        return module

    def _compile(self, module: nn.Module) -> None:
        try:
            module.compile()  # in place: state_dict keys stay as they are
        except Exception as err:  # no compiler toolchain, unsupported platform, ...
            log.warning("torch.compile is not available here (%s); running uncompiled", err)
            self.compile = False

    def step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        """zero_grad, backward (scaled under fp16), average gradients across processes, step.
        With accumulation, the first of `accumulate` calls zeroes, each adds its share of the
        gradient, and only the last averages and steps."""
        done = self._passes.get(id(optimizer), 0)
        if done == 0:
            optimizer.zero_grad(set_to_none=True)
        if self.accumulate > 1:
            loss = loss / self.accumulate  # the mean over the process's micro-batches
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
        else:
            loss.backward()
        if done + 1 < self.accumulate:
            self._passes[id(optimizer)] = done + 1
            return
        self._passes[id(optimizer)] = 0
        if self.world > 1:
            self._average_gradients(optimizer)
        if self.scaler is not None:
            self.scaler.step(optimizer)
            self.scaler.update()
        else:
            optimizer.step()

    def _average_gradients(self, optimizer: torch.optim.Optimizer) -> None:
        grads = [p.grad for g in optimizer.param_groups for p in g["params"] if p.grad is not None]
        if not grads:
            return
        flat = torch._utils._flatten_dense_tensors(grads)  # one all-reduce, not one per tensor
        dist.all_reduce(flat)
        flat /= self.world
        for g, synced in zip(grads, torch._utils._unflatten_dense_tensors(flat, grads)):
            g.copy_(synced)

    def state_dict(self) -> dict:
        return {"scaler": self.scaler.state_dict()} if self.scaler is not None else {}

    def load_state_dict(self, state: dict) -> None:
        if self.scaler is not None and "scaler" in state:
            self.scaler.load_state_dict(state["scaler"])
