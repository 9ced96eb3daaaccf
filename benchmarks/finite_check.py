"""What checking a checkpoint's state for NaN/inf costs, beside one training round.

Builds the default DCGAN x adversarial pair (with its EMA) through floor.py's build_step, trains
a few rounds so the optimizers hold their moments, then times `nonfinite_parts` on the payload
a checkpoint would save (the check alone; the payload is built once) and one round.

    python benchmarks/finite_check.py --root ../shared/data/mnist-subset --device cpu
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, help="dataset.root of an MNIST layout")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=20, help="rounds timed, after 3 warm-up")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).parent))
    import torch
    from floor import build_step

    from gantrain.training.state import nonfinite_parts

    ns = argparse.Namespace(
        root=args.root, device=args.device, seed=0, reuse_fake=False, overrides=[]
    )
    model, objective, ema, images, device, batch = build_step(ns)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def next_batch() -> torch.Tensor:
        return images[torch.randint(images.shape[0], (batch,), device=device)]

    def one_round() -> None:
        objective.run_round(model, next_batch)
        if ema is not None:
            ema.update(model)

    for _ in range(3):
        one_round()
    sync()
    rounds = []
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        one_round()
        sync()
        rounds.append(time.perf_counter() - t0)
    payload = {
        "model": model.state_dict(),
        "objective": objective.state_dict(),
        "ema": ema.model.state_dict() if ema else None,
    }
    tensors = sum(1 for part in payload.values() if part for _ in _leaves(part))
    checks = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        assert nonfinite_parts(payload) == []
        checks.append(time.perf_counter() - t0)
    ms = lambda xs: f"median {statistics.median(xs) * 1e3:.2f} ms, min {min(xs) * 1e3:.2f} ms"  # noqa: E731
    print(f"device {device}, torch threads {torch.get_num_threads()}, {tensors} tensors checked")
    print(f"finiteness check of a checkpoint's state ({args.repeats} repeats): {ms(checks)}")
    print(f"one training round ({args.rounds} rounds): {ms(rounds)}")


def _leaves(node):
    if isinstance(node, dict):
        for v in node.values():
            yield from _leaves(v)
    elif isinstance(node, list | tuple):
        for v in node:
            yield from _leaves(v)
    else:
        import torch

        if isinstance(node, torch.Tensor) and node.is_floating_point():
            yield node


if __name__ == "__main__":
    main()
