"""The sizes of ``lae bench`` (``--size``): how much work each part of the suite does.

Kept apart from the suite so that the command line can list them without importing torch.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MODELS = "vae,lae,hoffman,ld,shortrun,latent-ebm"
BENCH_DATASETS = ("mnist5k", "fashion-mnist")  # those with every model's MLP preset


@dataclass(frozen=True)
class BenchSize:
    """How much work each part of the suite does (``lae bench --size``)."""

    name: str
    speed_steps_per_round: int  # timed steps per model per round
    speed_rounds: int
    speed_warmup: int  # untimed steps per model first
    profile_steps: int  # steps under the profiler per model
    profile_warmup: int
    budgets_seconds: tuple[float, ...]  # training seconds per model at which it is scored
    ais_images: int  # evenly spaced test images scored by AIS
    ais_chains: int  # M
    ais_temps: int  # K
    posterior_points: int  # test points of the reference-MALA throughput
    posterior_chains: int
    posterior_steps: int  # kept MALA steps per chain
    posterior_warmup: int  # adaptive steps per chain
    overrides: tuple[str, ...] = ()  # config overrides for every model


SIZES = {
    # seconds in all, for tests: tiny networks, a step or two of everything
    "tiny": BenchSize(
        "tiny", speed_steps_per_round=2, speed_rounds=1, speed_warmup=1, profile_steps=2,
        profile_warmup=1, budgets_seconds=(0.2, 0.4), ais_images=4, ais_chains=2, ais_temps=5,
        posterior_points=2, posterior_chains=2, posterior_steps=4, posterior_warmup=4,
        overrides=("model.net.hidden=128", "model.net.depth=1")),
    # a few minutes with the six default models on one core
    "small": BenchSize(
        "small", speed_steps_per_round=3, speed_rounds=2, speed_warmup=2, profile_steps=2,
        profile_warmup=2, budgets_seconds=(5.0, 15.0), ais_images=50, ais_chains=4,
        ais_temps=50, posterior_points=10, posterior_chains=4, posterior_steps=200,
        posterior_warmup=200),
    # under 20 minutes with the six default models on one core (docs/bench.md)
    "default": BenchSize(
        "default", speed_steps_per_round=5, speed_rounds=3, speed_warmup=3, profile_steps=3,
        profile_warmup=3, budgets_seconds=(30.0, 60.0, 90.0), ais_images=100, ais_chains=8,
        ais_temps=100, posterior_points=20, posterior_chains=4, posterior_steps=1500,
        posterior_warmup=1500),
}
