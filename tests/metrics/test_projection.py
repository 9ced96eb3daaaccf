"""The projection's math on freshly built nets: the loss's closed forms, a recovered latent,
weights left as they were, and batch-statistics models rendered beside a fixed context."""

from __future__ import annotations

import pytest
import torch

from gantrain.metrics.projection import CONTEXT, Renderer, feature_distance, project, walk
from gantrain.models.dcgan import DCGAN


def _model(sample_norm: str) -> DCGAN:
    torch.manual_seed(0)
    return DCGAN(
        image_size=28, channels=1, latent_dim=8, width=8, max_width=16, sample_norm=sample_norm
    ).eval()


def test_feature_distance_is_relative():
    g = torch.tensor([[3.0, 4.0]])
    assert feature_distance(g, g).item() == 0
    assert feature_distance(torch.zeros(1, 2), g).item() == 1
    assert feature_distance(2 * g, g).item() == 1


@pytest.mark.slow
def test_a_decoded_latent_is_recovered_and_the_weights_stay():
    model = _model("running")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    truth = torch.randn(1, 8, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        target = model.decode(truth)
        other = model.decode(torch.randn(1, 8))
    result = project(model, target, starts=2, steps=150, lr=0.05, seed=1)
    baseline = float((other - target).pow(2).mean())
    assert result.pixel_mse < 1e-3 * baseline
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.requires_grad for p in model.parameters())  # handed back trainable
    assert len(result.start_losses) == 2 and result.label is None


def test_batch_statistics_render_beside_a_fixed_context():
    model = _model("batch")
    render = Renderer(model, seed=5)
    assert render.context.shape == (CONTEXT, 8)
    z = torch.randn(3, 8)
    with torch.no_grad():
        together = render(z, None)
        alone = render(z[:1], None)
    assert together.shape == (3, 1, 28, 28)
    # the context dominates the batch's statistics: one image barely depends on its company
    assert (together[:1] - alone).abs().max() < 0.05
    assert model.training is False  # the model's mode is restored


def test_walk_runs_from_the_projection_to_the_other_end():
    a, b = torch.zeros(1, 4), torch.ones(1, 4)
    path = walk(a, b, 5)
    assert path.shape == (5, 4)
    assert torch.equal(path[0], a[0]) and torch.equal(path[-1], b[0])
