"""What the console scripts (commands/) share: their arguments, loading a run, claiming and
checking the places they write, seeded drawing, sweeps; and argv.py, the one step that rewrites
gantrain's command line before Hydra starts."""
