"""The latent rules: seeds parsed, each seed's latent its own, truncation within its bound, and
batch statistics fixed so an image depends only on its seed."""

from __future__ import annotations

import pytest
import torch

from gantrain.models.autoencoders import AutoEncoder
from gantrain.models.dcgan import DCGAN
from gantrain.models.latent import (
    fixed_statistics,
    interpolate_latents,
    labels_for_seeds,
    latents_for_seeds,
    parse_seeds,
    truncate,
    truncation_bound,
)


@pytest.mark.parametrize(
    "given, seeds",
    [
        (5, [5]),
        ("0-3", [0, 1, 2, 3]),
        ("0-3,17", [0, 1, 2, 3, 17]),
        ("3, 17", [3, 17]),
        ([3, 17], [3, 17]),
        ("[4,2]", [4, 2]),
        ("7-7", [7]),
    ],
)
def test_seeds_are_parsed_in_order(given, seeds):
    assert parse_seeds(given) == seeds


@pytest.mark.parametrize(
    "given, words",
    [
        ("5-2", "backwards"),
        ("a", "not a seed"),
        ("-1", "not a seed"),
        ("", "not a seed"),
        ("4294967296", "outside"),
        ("0-200000", "more than"),
        (True, "true/false"),
    ],
)
def test_bad_seeds_are_named(given, words):
    with pytest.raises(ValueError, match=words):
        parse_seeds(given)


def test_a_seeds_latent_does_not_depend_on_the_others():
    alone = latents_for_seeds([17], 24)
    for seeds in ([17, 3], [0, 1, 2, 17], list(range(64)) + [17]):
        together = latents_for_seeds(seeds, 24)
        assert torch.equal(together[seeds.index(17)], alone[0])
    assert latents_for_seeds([17], 24)[0].dtype == torch.float32
    assert not torch.equal(latents_for_seeds([16], 24), alone)
    # the documented rule, written out as a user outside gantrain would
    rule = torch.randn(24, generator=torch.Generator().manual_seed(17))
    assert torch.equal(rule, alone[0])


def test_labels_cycle_by_seed():
    assert labels_for_seeds([0, 3, 10, 13], 10).tolist() == [0, 3, 0, 3]
    assert labels_for_seeds([0, 3], 0) is None


@pytest.mark.parametrize("psi", [0.9, 0.7, 0.5, 0.1])
def test_truncation_keeps_entries_within_the_bound(psi):
    z = latents_for_seeds(list(range(2000)), 16)
    cut = latents_for_seeds(list(range(2000)), 16, truncation=psi)
    bound = truncation_bound(psi)
    assert cut.abs().max() <= bound + 1e-6
    assert z.abs().max() > bound  # the untruncated draws do reach beyond it
    assert (cut.abs() <= z.abs() + 1e-6).all()  # entries only move toward the mean
    assert torch.equal(torch.sign(cut), torch.sign(z))
    # the truncated normal's variance: 1 - 2 b phi(b) / (2 Phi(b) - 1), with 2 Phi(b) - 1 = psi
    b = torch.tensor(bound, dtype=torch.float64)
    var = 1 - 2 * b * torch.exp(-(b**2) / 2) / (2 * torch.pi) ** 0.5 / psi
    assert cut.double().var().item() == pytest.approx(var.item(), rel=0.05)


def test_truncation_one_is_the_prior_and_bounds_are_the_central_mass():
    z = torch.randn(100, 8)
    assert torch.equal(truncate(z, 1.0), z)
    assert truncation_bound(0.7) == pytest.approx(1.0364, abs=1e-4)
    assert truncation_bound(0.5) == pytest.approx(0.6745, abs=1e-4)
    with pytest.raises(ValueError):
        truncate(z, 1.5)


def test_fitted_gaussian_codes_stay_in_the_whitened_box():
    ae = AutoEncoder(28, 1, latent_dim=4, width=8, max_width=16)
    codes = (
        torch.randn(500, 4)
        @ torch.tensor([[2.0, 0, 0, 0], [1, 1, 0, 0], [0, 0, 3, 0], [0, 0, 1, 0.5]])
        + 5
    )
    ae.refresh_prior(codes)
    noise = latents_for_seeds(list(range(300)), 4, truncation=0.5)
    fitted = ae.latent_for(noise)
    whitened = torch.linalg.solve_triangular(ae.code_chol, (fitted - ae.code_mean).T, upper=False).T
    assert whitened.abs().max() <= truncation_bound(0.5) + 1e-4


def test_batch_statistics_are_fixed_so_an_image_depends_on_its_seed_only():
    torch.manual_seed(0)
    model = DCGAN(28, 1, latent_dim=16, width=8, max_width=16, sample_norm="batch").eval()
    fixed = fixed_statistics(model)
    assert fixed is not model and model.sample_norm == "batch"
    seeds = list(range(40))
    together = fixed.sample_from_noise(latents_for_seeds(seeds, 16))
    alone = fixed.sample_from_noise(latents_for_seeds([7], 16))
    other = fixed.sample_from_noise(latents_for_seeds([7, 99, 5], 16))
    assert torch.allclose(together[7], alone[0], atol=1e-6)
    assert torch.allclose(other[0], alone[0], atol=1e-6)
    # while the model as trained normalises by its batch: its seed 7 changes with the company
    assert not torch.allclose(
        model.sample_from_noise(latents_for_seeds([7, 99, 5], 16))[0],
        model.sample_from_noise(latents_for_seeds(seeds, 16))[7],
        atol=1e-3,
    )
    # the fixed statistics are the reference batch's: on it, both normalise alike
    reference = latents_for_seeds(list(range(512)), 16)
    assert torch.allclose(
        fixed.sample_from_noise(reference), model.sample_from_noise(reference), atol=1e-4
    )
    running = DCGAN(28, 1, latent_dim=16, width=8, max_width=16, sample_norm="running")
    assert fixed_statistics(running) is running


def test_interpolation_runs_from_one_seed_to_the_other():
    a, b = latents_for_seeds([3, 17], 32)
    path = interpolate_latents(a, b, 7)
    assert path.shape == (7, 32)
    assert torch.allclose(path[0], a, atol=1e-5) and torch.allclose(path[-1], b, atol=1e-5)
    norms = path.norm(dim=1)
    assert norms.min() > 0.8 * min(a.norm(), b.norm())  # no dip through low-norm codes
