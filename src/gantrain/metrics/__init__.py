"""Sample quality: FID/KID with a pluggable feature extractor, and mode coverage.

The trainer builds one Scorer and calls it at each evaluation:

    scorer = make_scorer(config["dataset"], device)          # reference features, once
    scorer.score_model(model, n_samples=1000, seed=0)       # {"fid": ..., "kid": ..., ...}

The names below load their modules (scores: torchmetrics, seconds) on first use, so that
checking a config against the metrics' kinds stays fast.
"""

__all__ = ["Scorer", "evaluate", "make_scorer", "sample_uint8", "to_uint8"]


def __getattr__(name: str):
    if name in ("sample_uint8", "to_uint8"):
        from gantrain.metrics import drawing

        return getattr(drawing, name)
    if name in __all__:
        from gantrain.metrics import scores

        return getattr(scores, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
