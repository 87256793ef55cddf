"""lae: deep latent variable models whose inference runs on Langevin dynamics."""

__version__ = "0.1.0"
