"""gantrain-pack: images from any source (sources.py), decoded once into WebDataset tar shards
(write.py), one pack from start to manifest (run.py), its out= folder read back (state.py)."""
