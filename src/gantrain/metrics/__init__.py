"""Sample quality: FID/KID with a pluggable feature extractor, and mode coverage.

The trainer builds one Scorer and calls it at each evaluation:

    scorer = make_scorer(config["dataset"], device)          # reference features, once
    scorer.score_model(model, n_samples=1000, seed=0)       # {"fid": ..., "kid": ..., ...}
"""

from gantrain.metrics.scores import Scorer, evaluate, make_scorer, sample_uint8, to_uint8

__all__ = ["Scorer", "evaluate", "make_scorer", "sample_uint8", "to_uint8"]
