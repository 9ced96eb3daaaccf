"""The residual generator and critic: shapes at every side, SNGAN's parameter counts,
conditioning, self-attention, and the one-line refusals of sides the nets do not have."""

import pytest
import torch

from gantrain.errors import UserError
from gantrain.models.resblocks import SelfAttention
from gantrain.models.resnet import ResNetCritic, ResNetGAN, down_sides


def _count(net) -> int:
    return sum(p.numel() for p in net.parameters())


def test_sngan_cifar10_parameter_counts():
    # SNGAN's CIFAR-10 nets (Miyato et al. 2018, appendix B.4; Mimicry's SNGAN-32):
    # G: linear 128 -> 4x4x256, three upsampling blocks of 256 channels, BN-ReLU-conv to RGB;
    # D: the optimised block and three more of 128 channels (two down), ReLU, sum, linear
    g = ResNetGAN(32, 3, latent_dim=128, width=256, max_width=256)
    d = ResNetCritic(32, 3, width=128, max_width=128, min_side=8, extra_blocks=2)
    assert _count(g) == 4_276_739  # 4.3M
    assert _count(d) == 1_053_825  # 1.05M
    # spectral norm re-parametrises the weights but adds no trained parameters
    assert _count(ResNetCritic(32, 3, width=128, max_width=128, norm="none")) == _count(d)


@pytest.mark.parametrize("side", [28, 32, 64, 128, 256])
def test_shapes_at_every_side(side):
    g = ResNetGAN(side, 3, latent_dim=8, width=4, max_width=8)
    d = ResNetCritic(side, 3, width=4, max_width=8, min_side=4, extra_blocks=1)
    x = g.decode(torch.randn(2, 8))
    assert x.shape == (2, 3, side, side)
    assert x.abs().max() <= 1
    assert d(x).shape == (2,)
    ups = [m for m in g.generator.blocks]
    assert len(ups) == {28: 2, 32: 3, 64: 4, 128: 5, 256: 6}[side]  # one block per doubling


def test_critic_plans():
    assert down_sides(32, 8) == [16, 8]  # SNGAN: two halvings, then the extra blocks at 8x8
    assert down_sides(128, 4) == [64, 32, 16, 8, 4]  # BigGAN: down to 4x4
    assert down_sides(28, 8) == [14, 7]  # never below the side plan's base


def test_conditional_nets_use_the_label():
    torch.manual_seed(0)
    g = ResNetGAN(32, 1, latent_dim=8, width=8, max_width=8, num_classes=3)
    d = ResNetCritic(32, 1, width=8, max_width=8, num_classes=3)
    with torch.no_grad():  # cBN's class scales and shifts start at 1 and 0: move them apart
        for m in g.modules():
            if hasattr(m, "gain"):
                m.gain.weight.normal_(1, 0.5)
    z = torch.randn(4, 8).repeat(2, 1)
    labels = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    g.eval()
    x = g.decode(z, labels)
    assert not torch.allclose(x[:4], x[4:])  # same noise, other class: another image
    scores = d(x[:4], torch.zeros(4, dtype=torch.long))
    other = d(x[:4], torch.full((4,), 2))
    assert scores.shape == (4,) and not torch.allclose(scores, other)


def test_self_attention_starts_as_identity_and_sits_where_asked():
    g = ResNetGAN(32, 3, latent_dim=8, width=8, max_width=16, attention=16)
    d = ResNetCritic(32, 3, width=8, max_width=16, attention=16)
    assert sum(isinstance(m, SelfAttention) for m in g.modules()) == 1
    assert sum(isinstance(m, SelfAttention) for m in d.modules()) == 1
    block = SelfAttention(8)
    x = torch.randn(2, 8, 6, 6)
    assert torch.equal(block(x), x)  # gamma = 0
    with torch.no_grad():
        block.gamma.fill_(1.0)
    assert not torch.equal(block(x), x)


def test_attention_side_the_net_lacks_is_one_line():
    with pytest.raises(UserError, match=r"model.attention=12 .* use one of 8, 16, 32"):
        ResNetGAN(32, 3, latent_dim=8, width=8, max_width=16, attention=12)
    with pytest.raises(UserError, match=r"objective.critic.attention=32 .* use one of 16, 8"):
        ResNetCritic(32, 3, width=8, attention=32)
    with pytest.raises(UserError, match="at least 8 channels"):
        ResNetCritic(32, 3, width=4, max_width=4, attention=16)


def test_packing_critic_scores_packs():
    d = ResNetCritic(32, 3, width=8, max_width=8, packing=2)
    assert d(torch.randn(6, 3, 32, 32)).shape == (3,)
    with pytest.raises(UserError, match="objective.critic.packing=2"):
        d.check_batch(5)
