"""Linear-probe accuracy of latent codes: how linearly decodable the class is from ``encode(x)``.

Codes of training examples (up to ``probe_train``, a subset drawn with ``seed``) and of the test
examples come from the model's own inference (``model.encode``: an encoder mean, a chain state,
...); features are standardised with the training codes' mean and sd, then a multinomial
logistic regression (L2, inverse strength C, lbfgs, fixed ``max_iter`` and seed) is fitted on the
training codes and scored on the test codes. ``probe_accuracy`` is the fraction of test examples
classified right (± its standard error over examples). With an output folder the test codes are
also drawn on their first two principal components, coloured by class (``latents_pca.png``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from lae.errors import ConfigError
from lae.eval.registry import NotApplicable, summarize

PICTURE = "latents_pca.png"  # the codes' projection, written beside the results file


@torch.no_grad()
def encode_all(model: Any, x: Tensor, batch_size: int = 100, seed: int = 0) -> np.ndarray:
    """Latent codes [N, K] (float64 numpy) of x from the model's inference (``model.infer``,
    its randomness from a generator seeded with ``seed``), in batches."""
    device = next(model.parameters()).device
    g = torch.Generator(device=device).manual_seed(seed)
    return torch.cat([model.infer(x[i:i + batch_size].to(device), generator=g).double().cpu()
                      for i in range(0, x.shape[0], batch_size)]).numpy()


def probe_accuracy(train_codes: np.ndarray, train_labels: np.ndarray, test_codes: np.ndarray,
                   test_labels: np.ndarray, C: float = 1.0, max_iter: int = 1000,
                   seed: int = 0) -> np.ndarray:
    """Per-test-example correctness (bool [n]) of a standardised logistic-regression probe."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(),
                        LogisticRegression(C=C, max_iter=max_iter, random_state=seed))
    clf.fit(np.asarray(train_codes), np.asarray(train_labels))
    return clf.predict(np.asarray(test_codes)) == np.asarray(test_labels)


def save_code_projection(codes: np.ndarray, labels: np.ndarray, path: Any) -> Any:
    """A scatter plot of latent codes [N, K] projected on their first two principal components
    (scikit-learn's PCA; the codes themselves when K <= 2), coloured by class."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.decomposition import PCA

    from lae.eval.plots import write_picture

    xy = codes if codes.shape[1] <= 2 else PCA(n_components=2, random_state=0).fit_transform(
        codes)
    xy = np.column_stack([xy[:, 0], xy[:, 1] if xy.shape[1] > 1 else np.zeros(len(xy))])
    fig, ax = plt.subplots(figsize=(5, 4.5))
    for label in np.unique(labels):
        pick = labels == label
        ax.scatter(xy[pick, 0], xy[pick, 1], s=6, label=str(label))
    ax.legend(fontsize=7, markerscale=2, ncol=2)
    ax.set_title("test codes, first two principal components", fontsize=9)
    fig.tight_layout()
    write_picture(path, fig.savefig, dpi=100)
    plt.close(fig)
    return path


def probe_metric(model: Any, x: Tensor, s: Any, ctx: Any) -> dict[str, Any]:
    """The ``probe`` metric (registered in lae/eval/metrics.py)."""

    if ctx.train_x is None:
        raise NotApplicable("probe needs the training split: evaluate(..., train=(x, labels))")
    if ctx.train_labels is None or ctx.test_labels is None:
        raise NotApplicable("probe needs class labels for training and test data; "
                            "this dataset has none")
    test_labels = torch.as_tensor(ctx.test_labels).long()
    if test_labels.shape[0] != x.shape[0]:
        raise ValueError(f"probe: {x.shape[0]} test examples but {test_labels.shape[0]} labels")
    train_x, train_labels = ctx.train_x, torch.as_tensor(ctx.train_labels).long()
    if 0 < s.probe_train < train_x.shape[0]:  # a seeded random subset (evenly spaced rows can
        # miss classes when labels are periodic)
        g = torch.Generator().manual_seed(s.seed)
        idx = torch.randperm(train_x.shape[0], generator=g)[:s.probe_train].sort().values
        train_x, train_labels = train_x[idx], train_labels[idx]
    if len(train_labels.unique()) < 2:  # one class leaves the classifier nothing to tell apart
        raise ConfigError(f"probe: the {len(train_labels)} training codes (--probe-train "
                          f"{s.probe_train}) hold one class; it needs two or more: raise "
                          f"--probe-train (0: all)")
    test_codes = encode_all(model, x, s.batch_size, s.seed + 8)
    correct = probe_accuracy(encode_all(model, train_x, s.batch_size, s.seed + 7),
                             train_labels.numpy(), test_codes, test_labels.numpy(),
                             C=s.probe_C, max_iter=s.probe_max_iter, seed=s.seed)
    if ctx.out_dir is not None:
        save_code_projection(test_codes, test_labels.numpy(), ctx.out_dir / PICTURE)
    return {"probe_accuracy": summarize(
        torch.as_tensor(correct, dtype=torch.float64), n_train=int(train_x.shape[0]),
        C=s.probe_C, max_iter=s.probe_max_iter, features="standardised infer() codes",
        classifier="multinomial logistic regression (lbfgs, L2)")}
