"""Parameter counts of the residual nets at every side, against the count the papers' block
description gives (SNGAN appendix B, BigGAN appendix B): one upsampling block per doubling with a
learned 1x1 shortcut, widths doubling towards the small end up to a cap (BigGAN's 128 px plan is
ch x (16, 16, 8, 4, 2, 1)), the critic's optimised first block, its downsampling blocks and its
extra blocks at the smallest side with identity shortcuts."""

import pytest

from gantrain.models.resnet import ResNetCritic, ResNetGAN


def _count(net) -> int:
    return sum(p.numel() for p in net.parameters())


def _conv(c_in, c_out, k):  # weights and bias
    return k * k * c_in * c_out + c_out


def generator_count(latent, channels, ws, base=4):
    """ws: widths from the small end (the linear layer's map) to the last block's output."""
    n = latent * ws[0] * base * base + ws[0] * base * base
    for c_in, c_out in zip(ws[:-1], ws[1:]):
        n += 2 * c_in + _conv(c_in, c_out, 3) + 2 * c_out + _conv(c_out, c_out, 3)
        n += _conv(c_in, c_out, 1)
    return n + 2 * ws[-1] + _conv(ws[-1], channels, 3)


def critic_count(channels, ws, extra):
    """ws: the downsampling blocks' output widths from the image end."""
    n = _conv(channels, ws[0], 3) + _conv(ws[0], ws[0], 3) + _conv(channels, ws[0], 1)
    for c_in, c_out in zip(ws[:-1], ws[1:]):
        n += _conv(c_in, c_out, 3) + _conv(c_out, c_out, 3) + _conv(c_in, c_out, 1)
    n += extra * 2 * _conv(ws[-1], ws[-1], 3)
    return n + ws[-1] + 1


# side -> (generator widths from 4x4 outwards, critic widths from the image inwards to 4x4)
PLANS = {
    32: ([32, 32, 16, 8], [8, 16, 32]),
    64: ([64, 64, 32, 16, 8], [8, 16, 32, 64]),
    128: ([128, 128, 64, 32, 16, 8], [8, 16, 32, 64, 128]),
    256: ([128, 128, 128, 64, 32, 16, 8], [8, 16, 32, 64, 128, 128]),
}


@pytest.mark.parametrize("side", sorted(PLANS))
def test_parameter_counts_at_every_side(side):
    g_ws, d_ws = PLANS[side]
    cap = 128 if side > 64 else 8 * 2 ** (len(g_ws) - 2)
    g = ResNetGAN(side, 3, latent_dim=16, width=8, max_width=cap)
    d = ResNetCritic(side, 3, width=8, max_width=cap, min_side=4, extra_blocks=1)
    assert _count(g) == generator_count(16, 3, g_ws)
    assert _count(d) == critic_count(3, d_ws, extra=1)


def test_biggan_128_channel_plan():
    # BigGAN's 128 px generator: ch x (16, 16, 8, 4, 2, 1) from 4x4 outwards
    g = ResNetGAN(128, 3, latent_dim=16, width=4, max_width=64)
    outs = [b.conv2.out_channels for b in g.generator.blocks]
    assert [g.generator.w0] + outs == [4 * m for m in (16, 16, 8, 4, 2, 1)]
