"""Benchmarks: the suite behind ``lae bench`` (docs/bench.md) and its parts.

- ``entries``: model entries (``lae+model.mala_steps=0``), their configs, scratch trainers;
- ``speed``: seconds per training step, models interleaved round by round;
- ``profile``: operator, matrix-product and host-sync counts and memory per step;
- ``quality``: training for equal time budgets, scored by AIS at each;
- ``throughput``: AIS and the posterior-reference MALA on a trained model;
- ``sizes``, ``suite``, ``summary``: the sizes, the run, the Markdown summary and plots.
"""
