"""``lae toy ebm-logz``: AIS's log Z of a latent EBM prior against the closed form."""

import numpy as np
import pytest

from lae.cli import main
from lae.toy.ebm_logz import run_ebm_logz


@pytest.mark.parametrize("seed,base_scale", [(0, 1.0), (1, 0.5), (2, 2.0)])
def test_log_z_matches_the_closed_form(seed, base_scale):
    report = run_ebm_logz(4, seed=seed, base_scale=base_scale, n_replicas=6, n_chains=64,
                          n_temps=200, verbose=False)
    # AIS is unbiased for Z, so log of it is within a few replica standard errors (0.005-0.02
    # nats here) of the truth; 4 standard errors + 0.02 nats for the small log-of-mean bias
    assert abs(report["error"]) < 4 * report["log_z_stderr"] + 0.02, report
    assert report["converged"] and report["agrees_with_exact"]


def test_an_estimate_far_from_the_exact_value_says_so_whatever_the_self_check():
    """Two temperatures cannot anneal an 8-d quadratic on a wide base: the estimate is ~47 nats
    off, and the full-vs-half self-check passes (both runs share the bias; its tolerance grows
    with their wide spread); the comparison with the exact value fails."""
    report = run_ebm_logz(8, seed=3, base_scale=3.0, n_replicas=4, n_chains=4, n_temps=2,
                          verbose=False)
    assert report["converged"]  # what a user read as "fine" before
    assert abs(report["error"]) > report["exact_tolerance"], report
    assert not report["agrees_with_exact"]


def test_the_command_saves_what_the_issue_names(tmp_path):
    path = tmp_path / "ebm.npz"
    assert main(["toy", "ebm-logz", "--latent-dim", "3", "--seed", "5", "--chains", "32",
                 "--temps", "50", "--replicas", "4", "--save", str(path)]) == 0
    saved = np.load(path)
    assert {"log_z_estimate", "log_z_exact", "A", "b", "c", "s0"} <= set(saved.files)
    assert saved["A"].shape == (3, 3) and saved["b"].shape == (3,)
    assert abs(float(saved["log_z_estimate"]) - float(saved["log_z_exact"])) < 0.2
    assert main(["toy", "ebm-logz", "--replicas", "1"]) == 2
