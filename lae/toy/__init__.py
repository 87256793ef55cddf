"""Toy validation experiments: samplers (LD, MALA, HMC, ALD) against exact or long-run references.

Modules: :mod:`metrics` (posterior errors, Gaussian W2, MMD), :mod:`linear` (the linear-Gaussian
problem, random features, one sampler driver), :mod:`posterior`, :mod:`neural`, :mod:`energy`,
:mod:`capacity`, :mod:`convergence` (one toy each) and :mod:`cli` (``lae toy ...``).
See docs/toys.md.
"""
