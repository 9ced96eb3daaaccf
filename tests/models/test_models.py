"""Nets: depth follows the image, shapes come out right, sizes that cannot be built are refused."""

import pytest
import torch

from gantrain.kinds import side_plan
from gantrain.models.autoencoders import VAE, AutoEncoder
from gantrain.models.blocks import plan
from gantrain.models.critics import CodeCritic
from gantrain.models.dcgan import DCGAN, DCGANCritic


@pytest.mark.parametrize("size,expected", [(28, (7, 2)), (32, (4, 3)), (64, (4, 4)), (16, (4, 2))])
def test_plan(size, expected):
    assert plan(size) == expected


@pytest.mark.parametrize("size", [3, 8 * 9 + 1, 30, 4, 100])
def test_plan_refuses_sizes_it_cannot_build(size):
    assert side_plan(size) is None  # so the schema's ImageSize refuses it first
    with pytest.raises(ValueError, match=f"image_size={size}"):
        plan(size)


@pytest.mark.parametrize("size", [28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_shapes(size, channels):
    g = DCGAN(size, channels, latent_dim=10, width=8, max_width=32)
    d = DCGANCritic(size, channels, width=8, max_width=32)
    x = g.decode(g.prior(4))
    assert x.shape == (4, channels, size, size) and x.abs().max() <= 1
    assert d(x).shape == (4,)


def test_dcgan_28px_default_is_the_classic_recipe():
    g = DCGAN(28, 1)
    convs = [m for m in g.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(100, 256), (256, 128), (128, 1)]
    d = DCGANCritic(28, 1)
    convs = [m for m in d.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(1, 64), (64, 128), (128, 1)]
    w = convs[1].weight
    assert abs(w.std().item() - 0.02) < 0.002  # N(0, 0.02) init


@pytest.mark.parametrize("cls", [AutoEncoder, VAE])
def test_autoencoder_shapes(cls):
    m = cls(32, 3, latent_dim=6, width=8, max_width=16)
    x = torch.rand(5, 3, 32, 32) * 2 - 1
    z, stats = m.encode(x)
    assert z.shape == (5, 6)
    assert m.decode(z).shape == x.shape
    assert ("posterior" in m.provides) == ("mu" in stats)


def test_ae_samples_from_the_fitted_gaussian():
    m = AutoEncoder(28, 1, latent_dim=3, width=8, max_width=16)
    g = torch.Generator().manual_seed(0)
    cov = torch.tensor([[4.0, 1.0, 0.0], [1.0, 2.0, 0.0], [0.0, 0.0, 0.5]])
    codes = torch.randn(20000, 3, generator=g) @ torch.linalg.cholesky(cov).T + torch.tensor(
        [1.0, -2.0, 0.5]
    )
    m.refresh_prior(codes)
    draws = m.latent_for(torch.randn(20000, 3, generator=g))
    assert torch.allclose(draws.mean(0), torch.tensor([1.0, -2.0, 0.5]), atol=0.06)
    assert torch.allclose(torch.cov(draws.T), cov, atol=0.12)


def test_code_critic_shape():
    assert CodeCritic(5, hidden=7)(torch.randn(3, 5)).shape == (3,)


def test_critic_norms():
    x = torch.randn(4, 1, 28, 28)
    batch, spectral = DCGANCritic(28, 1, norm="batch"), DCGANCritic(28, 1, norm="spectral")
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in batch.modules())
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in spectral.modules())
    spectral.train()
    for _ in range(30):  # power iterations converge on the largest singular value
        spectral(x)
    for m in spectral.modules():
        if isinstance(m, torch.nn.Conv2d):
            sigma = torch.linalg.matrix_norm(m.weight.flatten(1), ord=2).item()
            assert sigma == pytest.approx(1.0, rel=0.05)


def test_sampling_with_batch_statistics_leaves_the_running_averages():
    torch.manual_seed(0)
    g = DCGAN(28, 1, width=8, max_width=16)
    g.train()
    g.decode(torch.randn(16, g.latent_dim))  # running averages move away from their start
    before = {k: v.clone() for k, v in g.state_dict().items()}
    z = torch.randn(10, g.latent_dim)
    batch = g.sample_from_noise(z)
    assert all(torch.equal(before[k], v) for k, v in g.state_dict().items())
    assert g.training  # the mode it was in
    assert torch.allclose(batch, g.decode(z), atol=1e-6)  # train-mode normalisation
    g.sample_norm = "running"
    running = g.sample_from_noise(z)
    g.eval()
    assert torch.allclose(running, g.decode(z), atol=1e-6) and not torch.allclose(running, batch)
