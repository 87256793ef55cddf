"""An in-memory batch iterator: one permutation per epoch, batches by slicing, no per-item work."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch import Tensor

from lae.errors import ConfigError, DataError


class BatchLoader:
    """Iterate over ``(x, labels)`` in batches of a tensor held in memory.

    Randomness (the epoch permutation and dynamic binarisation) is drawn only from
    ``generator``, so saving ``generator.get_state()`` at an epoch boundary and restoring it
    replays the same batches. With ``generator=None`` the global torch RNG is used.

    Args:
        x: float32 [N, ...]; with ``dynamic_binarize`` these are probabilities in [0, 1].
        labels: [N] or None; any per-example tensor (the trainer passes row indices).
        batch_size: examples per batch (the last one may be smaller unless ``drop_last``).
        shuffle: draw a new permutation every epoch.
        drop_last: skip the final incomplete batch.
        dynamic_binarize: yield ``bernoulli(x)`` instead of ``x``, freshly drawn every batch.
        perturb: ``perturb(xb, generator=...)`` applied to every (global) batch, e.g. the noise of
            :func:`lae.data.processing.perturb_values`; its draws come from ``generator``.
        generator: torch.Generator on the same device as ``x`` (CPU by default).
        device: where the yielded batches live.
        shard: ``(rank, world_size)`` of a run on several processes: global batch b is
            ``world_size * batch_size`` rows of the epoch's permutation, and this process
            yields its ``rank``-th slice of ``batch_size`` rows (the permutation and the
            binarisation draws are the same on every process, whose generators are seeded
            alike); needs ``drop_last`` so that every process gets a full batch.

    Example:
        >>> loader = BatchLoader(torch.rand(10, 3), None, 4, shuffle=True,
        ...                      generator=torch.Generator().manual_seed(0))
        >>> [tuple(xb.shape) for xb, _ in loader]
        [(4, 3), (4, 3), (2, 3)]
        >>> second = BatchLoader(torch.arange(10.), torch.arange(10), 2, shuffle=False,
        ...                      drop_last=True, shard=(1, 2))
        >>> [rows.tolist() for _, rows in second]  # global batches [0..3], [4..7]; 8, 9 dropped
        [[2, 3], [6, 7]]
    """

    def __init__(
        self,
        x: Tensor,
        labels: Tensor | None,
        batch_size: int,
        *,
        shuffle: bool,
        drop_last: bool = False,
        dynamic_binarize: bool = False,
        perturb: Callable[[Tensor, torch.Generator | None], Tensor] | None = None,
        generator: torch.Generator | None = None,
        device: torch.device | str = "cpu",
        shard: tuple[int, int] = (0, 1),
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size={batch_size!r} must be a positive int")
        if labels is not None and len(labels) != len(x):
            raise DataError(f"loader labels: {len(labels)} labels for {len(x)} examples")
        if dynamic_binarize and x.numel() and (x.min() < 0 or x.max() > 1):
            raise DataError(
                f"loader x: values span {x.min().item():g}..{x.max().item():g}; dynamic "
                "binarisation needs probabilities in [0, 1] (load with binarize='dynamic')"
            )
        rank, world = shard
        if not 0 <= rank < world:
            raise ConfigError(f"loader shard={shard!r}: expected (rank, world_size) with "
                              "0 <= rank < world_size")
        if world > 1 and not drop_last:
            raise ConfigError("loader: a sharded loader needs drop_last=True (every process "
                              "must get a full batch)")
        self.rank, self.world = rank, world
        self.x = x
        self.labels = labels
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.dynamic_binarize = dynamic_binarize
        self.perturb = perturb
        self.generator = generator
        self.device = torch.device(device)

    def __len__(self) -> int:
        """Number of batches per epoch."""
        n, step = len(self.x), self.batch_size * self.world
        return n // step if self.drop_last else -(-n // step)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor | None]]:
        """Yield (x batch float32 [B, ...] on ``device``, labels [B] on ``device`` or None)."""
        n = len(self.x)
        order = (
            torch.randperm(n, generator=self.generator, device=self.x.device)
            if self.shuffle
            else None
        )
        step = self.batch_size * self.world  # the global batch
        mine = slice(self.rank * self.batch_size, (self.rank + 1) * self.batch_size)
        for b in range(len(self)):
            # Slicing a permutation, then one gather per batch: no per-example Python work.
            idx = slice(b * step, min((b + 1) * step, n))
            rows = idx if order is None else order[idx]
            xb = self.x[rows]
            if self.dynamic_binarize:  # drawn for the global batch: the same stream everywhere
                xb = torch.bernoulli(xb, generator=self.generator)
            if self.perturb is not None:  # also for the global batch
                xb = self.perturb(xb, generator=self.generator)
            if self.world > 1:
                xb = xb[mine]
                rows = (rows[mine] if order is not None else
                        slice(idx.start + mine.start, idx.start + mine.stop))
            yb = None if self.labels is None else self.labels[rows].to(self.device)
            yield xb.to(self.device, dtype=torch.float32, non_blocking=True), yb


def evenly_spaced(x: Tensor, n: int) -> Tensor:
    """``n`` evenly spaced rows of ``x`` [N, ...] (all rows when ``n`` is 0 or >= N).

    A fixed, class-balanced subset for scoring and pictures: some test splits are sorted by
    class, so their first ``n`` rows would be one class.
    """
    if n <= 0 or n >= x.shape[0]:
        return x
    return x[torch.arange(n) * x.shape[0] // n]
