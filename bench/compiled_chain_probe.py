"""Probe: what compiling a short-run chain's energy-and-gradient does to a training step.

    python bench/compiled_chain_probe.py [--model shortrun] [--out FILE]

An experiment, not a feature: it swaps lae.samplers.langevin_bound's ``energy_and_grad`` for a
``torch.compile``d ``torch.func.grad_and_value`` of the energy (one fused graph per Langevin
step: the decoder, the likelihood, the prior and dU/dz; the outer backward through the chain by
AOTAutograd), then compares one training step with eager (same parameters, batch and noise: the
loss and the parameter gradients), and profiles both (lae/bench/profile.py: aten operators,
matrix products and their FLOPs, host reads per step) and times them. One thread.
Writes results/compiled_chain_probe.json.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import torch

import lae.samplers.langevin_bound as langevin_bound_module
from lae.bench.entries import entry_config, parse_entries, scratch_trainers
from lae.bench.profile import profile_steps

RESULTS = Path(__file__).parent.parent / "results"


def compiled_energy_and_grad():
    """``energy_and_grad``'s signature over a compiled grad_and_value of the summed energy."""
    def value_and_grad(energy_fn, z):
        def total(zz):
            u = energy_fn(zz)
            return u.sum(), u
        grad, (_, energy) = torch.func.grad_and_value(total, has_aux=True)(z)
        return energy, grad

    compiled = torch.compile(value_and_grad, dynamic=False)

    def energy_and_grad(energy_fn, z, create_graph=False):
        if create_graph:
            return compiled(energy_fn, z)
        with torch.no_grad():
            return compiled(energy_fn, z.detach())
    return energy_and_grad


def loss_and_grads(model, x, seed):
    model.zero_grad(set_to_none=True)
    out = model.training_step(x, None, torch.Generator().manual_seed(seed))
    loss = sum(out.losses.values())
    loss.backward()
    return float(loss.detach()), {n: p.grad.clone() for n, p in model.named_parameters()
                         if p.grad is not None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="shortrun")
    parser.add_argument("--out", default=str(RESULTS / "compiled_chain_probe.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    record = {"command": f"python bench/compiled_chain_probe.py --model {args.model}",
              "torch": torch.__version__, "threads": 1}
    eager_fn = langevin_bound_module.energy_and_grad
    with scratch_trainers() as make_trainer:
        (entry,) = parse_entries(args.model)
        tr = make_trainer(entry_config(entry, ["train.progress=false", "train.num_threads=1"]))
        x, index = next(iter(tr.loader))
        model = copy.deepcopy(tr.model)
        loss_eager, grads_eager = loss_and_grads(model, x, 0)
        langevin_bound_module.energy_and_grad = compiled_energy_and_grad()
        started = time.perf_counter()
        loss_compiled, grads_compiled = loss_and_grads(model, x, 0)
        record["compile_seconds"] = time.perf_counter() - started
        record["loss_eager"], record["loss_compiled"] = loss_eager, loss_compiled
        record["max_relative_gradient_difference"] = max(
            float((grads_compiled[n] - g).norm() / g.norm().clamp_min(1e-30))
            for n, g in grads_eager.items())
        for name, fn in (("eager", eager_fn), ("compiled", langevin_bound_module.energy_and_grad)):
            langevin_bound_module.energy_and_grad = fn
            tr.train_step(x, index)  # warm (and, compiled, the optimiser's path)
            started = time.perf_counter()
            for _ in range(3):
                tr.train_step(x, index)
            record[f"seconds_per_step_{name}"] = (time.perf_counter() - started) / 3
            record[f"profile_{name}"] = profile_steps(lambda: tr.train_step(x, index), 2,
                                                      1).as_dict()
        langevin_bound_module.energy_and_grad = eager_fn
    Path(args.out).write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
