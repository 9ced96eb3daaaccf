"""model=r3gan: shapes at every side, the paper's CIFAR-10 parameter count, the fix-up start,
conditional nets, and the FLOPs bound against DCGAN at 32 px."""

import pytest
import torch
from helpers import CRITIC, compose_cfg, tiny_train, without_hydra

from gantrain.config import build
from gantrain.errors import UserError
from gantrain.hardware.flops import round_flops
from gantrain.models.r3gan import R3GAN, Downsample, R3Critic


def _count(net) -> int:
    return sum(p.numel() for p in net.parameters())


@pytest.mark.parametrize("side", [28, 32, 64, 128])
@pytest.mark.parametrize("channels", [1, 3])
def test_generator_and_critic_shapes(side, channels):
    g = R3GAN(side, channels, latent_dim=8, width=8, max_width=32, group_size=8)
    d = R3Critic(side, channels, width=8, max_width=32, group_size=8)
    x = g.decode(g.prior(3))
    assert x.shape == (3, channels, side, side) and x.abs().max() <= 1
    assert d(x).shape == (3,)


def test_the_papers_cifar10_net_has_the_tables_parameter_count():
    # R3GAN's CIFAR-10 configuration: 4 stages (4x4 .. 32x32) of 768 channels, 2 blocks each,
    # expansion 2, cardinality 96 (groups of 16 channels), 64-dimensional noise
    stages, width, blocks, expansion, cardinality, noise = 4, 768, 2, 2, 96, 64
    wide = width * expansion
    block = width * wide + wide * (wide // cardinality) * 9 + wide * width + 2 * wide
    residual = stages * blocks * block
    # generator: a learned 4x4 basis scaled by a linear map of z, a 1x1 conv to RGB
    generator = residual + width * 4 * 4 + noise * width + width * 3
    # critic: a 1x1 conv from RGB, a 4x4 depthwise basis, a linear logit
    critic = residual + 3 * width + width * 4 * 4 + width
    g = R3GAN(
        32,
        3,
        latent_dim=noise,
        width=width,
        max_width=width,
        blocks=blocks,
        expansion=expansion,
        group_size=wide // cardinality,
    )
    d = R3Critic(
        32,
        3,
        width=width,
        max_width=width,
        blocks=blocks,
        expansion=expansion,
        group_size=wide // cardinality,
    )
    assert (_count(g), _count(d)) == (generator, critic) == (20_732_160, 20_683_776)


@pytest.mark.parametrize("side", [28, 32])
def test_the_dense_input_layer_maps_z_onto_the_whole_base_map(side):
    torch.manual_seed(0)
    kw = dict(latent_dim=8, width=8, max_width=32, group_size=8)
    basis, dense = R3GAN(side, 3, **kw), R3GAN(side, 3, input_layer="dense", **kw)
    base, w0 = (7, 32) if side == 28 else (4, 32)
    # the basis (w0 x base x base) and its scale (8 -> w0) give way to one 8 -> w0 x base^2 map
    assert _count(dense) - _count(basis) == 8 * w0 * base * base - (w0 * base * base + 8 * w0)
    z = dense.prior(64)
    with torch.no_grad():
        start = dense.generator.dense(z).view(64, w0, base, base)
        scaled = basis.generator.basis[None] * basis.generator.scale(z)[:, :, None, None]

    def ranks(h):  # per channel: how many directions of z its base x base map moves along
        return [int(torch.linalg.matrix_rank(h[:, c].flatten(1))) for c in range(w0)]

    # the basis moves each channel's map along one direction; the dense layer along all 8
    assert ranks(scaled) == [1] * w0 and ranks(start) == [8] * w0
    assert 0.7 < start.var().item() < 1.3  # the basis's unit variance
    assert dense.decode(z).shape == (64, 3, side, side)


def test_widths_double_towards_the_small_end_and_transitions_are_counted():
    # 32 px, width 8, cap 32: stages 4, 8, 16, 32 px at 32, 32, 16, 8 channels, one block each,
    # expansion 2, groups of 8; 1x1 transition convs where the width changes (32->16, 16->8)
    def block(c):
        return c * 2 * c + 2 * c * 8 * 9 + 2 * c * c + 2 * 2 * c

    residual = sum(block(c) for c in (32, 32, 16, 8))
    g = R3GAN(32, 1, latent_dim=8, width=8, max_width=32, group_size=8)
    assert _count(g) == residual + 32 * 16 + 8 * 32 + 32 * 16 + 16 * 8 + 8 * 1
    d = R3Critic(32, 1, width=8, max_width=32, group_size=8)
    assert _count(d) == residual + 1 * 8 + 8 * 16 + 16 * 32 + 32 * 16 + 32


def test_every_residual_block_starts_as_the_identity():
    g = R3GAN(32, 1, latent_dim=8, width=8, max_width=16, group_size=8)
    projections = [m.project.weight for m in g.modules() if hasattr(m, "project")]
    assert projections and all(torch.count_nonzero(w) == 0 for w in projections)
    block = g.generator.stages[1][0]
    h = torch.randn(2, 16, 8, 8)
    assert torch.equal(block(h), h)


def test_conditional_nets_use_their_labels():
    torch.manual_seed(0)
    g = R3GAN(28, 1, latent_dim=8, width=8, max_width=16, group_size=8, num_classes=10)
    d = R3Critic(28, 1, width=8, max_width=16, group_size=8, num_classes=10)
    z = g.prior(4)
    a, b = torch.zeros(4, dtype=torch.long), torch.full((4,), 3)
    with torch.no_grad():
        g.label.embed.weight.normal_()  # (learned; at the start only z's share is random)
    assert not torch.allclose(g.decode(z, a), g.decode(z, b))
    x = g.decode(z, a)
    assert d(x, a).shape == (4,) and not torch.allclose(d(x, a), d(x, b))


def test_downsampling_is_the_normalised_bilinear_filter():
    x = torch.arange(8.0).repeat(8, 1)[None, None]  # a ramp along the width: 0, 1, ..., 7
    y = Downsample()(x)  # (1, 1, 4, 4)
    assert y.shape == (1, 1, 4, 4)
    # away from the zero padding, taps (1, 3, 3, 1)/8 at 2i-1..2i+2 give the ramp at 2i + 0.5
    assert torch.allclose(y[0, 0, 1:3, 1:3], torch.tensor([[2.5, 4.5], [2.5, 4.5]]))
    assert "downsample.kernel" not in R3Critic(32, 1, width=8, group_size=8).body.state_dict()


def test_a_conditional_run_trains(mnist_root, tmp_path):
    summary = tiny_train(
        [
            "model=r3gan",
            "conditional=true",
            *CRITIC,
            "trainer.rounds=2",
            "trainer.sample_at=[2]",
            "eval.at=[]",
        ],
        tmp_path / "run",
        mnist_root,
    )
    assert summary["status"] == "done" and summary["rounds"] == 2
    assert (tmp_path / "run" / "samples" / "round_000002.png").is_file()


def test_a_group_size_that_does_not_divide_the_width_is_one_line():
    with pytest.raises(UserError, match=r"model.group_size=12 does not divide"):
        R3GAN(32, 1, width=8, max_width=32, group_size=12)


def _flops(overrides):
    cfg = without_hydra(compose_cfg([*overrides, "dataset.image_size=32", "device=cpu"]))
    model, objective = build(cfg.model), build(cfg.objective)
    objective.bind(model)
    return round_flops(model, objective, cfg.trainer.batch_size)


def test_a_default_round_at_32px_costs_at_most_twice_dcgans():
    r3gan, dcgan = _flops(["model=r3gan"]), _flops(["model=dcgan"])
    assert 0.3 * dcgan < r3gan <= 2 * dcgan
