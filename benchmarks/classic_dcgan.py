"""The classic recipe: a plain DCGAN loop written the way pytorch/examples' dcgan/main.py is.

torchvision MNIST + ToTensor + Normalize((0.5,), (0.5,)) through a shuffling DataLoader
(batch 64, 2 workers, drop_last), the classic DCGAN nets scaled to 28 px (gantrain's
DCGAN(28, 1): latent 100, width 128; DCGANCritic(28, 1, width=64); --g-width, --d-width),
BCE-with-logits, Adam(2e-4, betas (0.5, 0.999)) for both, no EMA.
Per iteration, in pytorch/examples' order: D on real, fake = G(noise), D on fake.detach(),
D step; then G on D(fake) with real labels, G step. One iteration = one gantrain round.

    python benchmarks/classic_dcgan.py --root ROOT --rounds 2000 --out-samples classic.npz
    python benchmarks/classic_dcgan.py --root ROOT --rounds 500 --time-json classic.json
"""

from __future__ import annotations

import argparse
import os
import random
import time

import common


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--root", required=True, help="holds MNIST/raw/*-ubyte (torchvision layout)")
    p.add_argument("--rounds", type=int, default=500, help="training iterations (batches)")
    p.add_argument("--workers", type=int, default=2, help="DataLoader worker processes")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument(
        "--image-size", type=int, default=28, help="Resize(N) first, as pytorch/examples does"
    )
    p.add_argument("--g-width", type=int, default=128, help="generator width (model.width)")
    p.add_argument("--d-width", type=int, default=64, help="critic width (objective.critic.width)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--warmup", type=int, default=10, help="first rounds left out of the timing")
    p.add_argument("--log-every", type=int, default=100)
    p.add_argument("--out-samples", help="PATH.npz: key 'images', uint8 (N, 1, 28, 28)")
    p.add_argument("--num-samples", type=int, default=1000)
    p.add_argument("--sample-seed", type=int, default=0, help="seed of the fixed sample noise")
    p.add_argument(
        "--eval-mode",
        action="store_true",
        help="sample with G.eval() (BatchNorm running stats); default: train mode, as "
        "pytorch/examples makes its fake images",
    )
    p.add_argument("--time-json", help="write the timing and peak RSS here")
    p.add_argument("--no-rss", action="store_true", help="no in-process RSS sampler thread")
    args = p.parse_args(argv)
    if args.rounds <= args.warmup:
        p.error(f"--rounds={args.rounds} must exceed --warmup={args.warmup}")
    return args


def train(args, netG, netD, device) -> float:
    """Returns the seconds of rounds warmup+1 .. rounds."""
    import torch
    import torchvision.datasets as dset
    import torchvision.transforms as transforms
    from torch import nn

    dataset = dset.MNIST(
        root=args.root,
        download=False,
        transform=transforms.Compose(
            ([transforms.Resize(args.image_size)] if args.image_size != 28 else [])
            + [transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))]
        ),
    )
    dataloader = torch.utils.data.DataLoader(
        dataset,
        batch_size=args.batch_size,
        shuffle=True,
        num_workers=args.workers,
        drop_last=True,
    )
    criterion = nn.BCEWithLogitsLoss()  # DCGANCritic gives logits, not probabilities
    optimizerD = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optimizerG = torch.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
    real_label, fake_label = 1.0, 0.0
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    i, t0 = 0, time.perf_counter()
    while i < args.rounds:  # epochs: each restarts the DataLoader (and its workers)
        for data, _ in dataloader:
            if i == args.warmup:
                sync()
                t0 = time.perf_counter()
            # (1) Update D: maximize log(D(x)) + log(1 - D(G(z)))
            netD.zero_grad()
            real = data.to(device)  # (B, 1, S, S) in [-1, 1]
            b = real.size(0)
            label = torch.full((b,), real_label, dtype=real.dtype, device=device)
            output = netD(real)
            errD_real = criterion(output, label)
            errD_real.backward()
            D_x = torch.sigmoid(output).mean().item()

            noise = torch.randn(b, netG.latent_dim, device=device)
            fake = netG.decode(noise)  # (B, 1, 28, 28), tanh
            label.fill_(fake_label)
            output = netD(fake.detach())
            errD_fake = criterion(output, label)
            errD_fake.backward()
            D_G_z1 = torch.sigmoid(output).mean().item()
            errD = errD_real + errD_fake
            optimizerD.step()

            # (2) Update G: maximize log(D(G(z)))
            netG.zero_grad()
            label.fill_(real_label)  # fake labels are real for generator cost
            output = netD(fake)
            errG = criterion(output, label)
            errG.backward()
            D_G_z2 = torch.sigmoid(output).mean().item()
            optimizerG.step()

            i += 1
            if i % args.log_every == 0 or i == args.rounds:
                print(
                    f"[{i}/{args.rounds}] Loss_D: {errD.item():.4f} Loss_G: {errG.item():.4f} "
                    f"D(x): {D_x:.4f} D(G(z)): {D_G_z1:.4f} / {D_G_z2:.4f}",
                    flush=True,
                )
            if i >= args.rounds:
                break
    sync()
    return time.perf_counter() - t0


def write_samples(args, netG, device) -> None:
    """N samples from fixed noise (the same noise gantrain's scorer draws for seed 0), in
    batches of the training size, in train mode unless --eval-mode."""
    import numpy as np
    import torch
    from torchvision.utils import save_image

    from gantrain.metrics import to_uint8

    netG.train(not args.eval_mode)
    g = torch.Generator().manual_seed(args.sample_seed)
    noise = torch.randn(args.num_samples, netG.latent_dim, generator=g)
    with torch.no_grad():
        images = torch.cat(
            [
                to_uint8(netG.decode(noise[k : k + args.batch_size].to(device)))
                for k in range(0, args.num_samples, args.batch_size)
            ]
        )  # (N, 1, 28, 28) uint8
    path = args.out_samples if args.out_samples.endswith(".npz") else args.out_samples + ".npz"
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    np.savez_compressed(path, images=images.numpy())
    grid = path[: -len(".npz")] + ".png"
    save_image(images[:64].float() / 255, grid, nrow=8)
    print(
        f"wrote {path} {tuple(images.shape)} {images.dtype} "
        f"({'eval' if args.eval_mode else 'train'} mode) and {grid}"
    )


def main(argv=None) -> None:
    args = parse_args(argv)
    common.set_thread_env(args.threads)
    import numpy as np
    import torch

    from gantrain.models.dcgan import DCGAN, DCGANCritic

    if args.threads:
        torch.set_num_threads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    device = torch.device(args.device)

    netG = DCGAN(args.image_size, 1, latent_dim=100, width=args.g_width).to(device)
    netD = DCGANCritic(args.image_size, 1, width=args.d_width).to(device)
    rss = common.PeakRSS(os.getpid())
    if args.no_rss:
        seconds = train(args, netG, netD, device)
    else:
        with rss:
            seconds = train(args, netG, netD, device)
    record = common.timing_record(
        args.rounds,
        args.warmup,
        seconds,
        variant="classic",
        workers=args.workers,
        threads=torch.get_num_threads(),
        device=str(device),
        image_size=args.image_size,
        g_width=args.g_width,
        d_width=args.d_width,
        peak_rss_mb=None if args.no_rss else rss.peak_mb,
    )
    if device.type == "cuda":
        record["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    print(
        f"classic: {record['ms_per_round']:.1f} ms/round, {record['rounds_per_s']:.2f} rounds/s "
        f"over {record['timed_rounds']} rounds; peak RSS {record['peak_rss_mb']} MB"
    )
    if args.time_json:
        common.write_json(args.time_json, record)
    if args.out_samples:
        write_samples(args, netG, device)


if __name__ == "__main__":
    main()
