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
    assert report["converged"]


def test_the_command_saves_what_the_issue_names(tmp_path):
    path = tmp_path / "ebm.npz"
    assert main(["toy", "ebm-logz", "--latent-dim", "3", "--seed", "5", "--chains", "32",
                 "--temps", "50", "--replicas", "4", "--save", str(path)]) == 0
    saved = np.load(path)
    assert {"log_z_estimate", "log_z_exact", "A", "b", "c", "s0"} <= set(saved.files)
    assert saved["A"].shape == (3, 3) and saved["b"].shape == (3,)
    assert abs(float(saved["log_z_estimate"]) - float(saved["log_z_exact"])) < 0.2
    assert main(["toy", "ebm-logz", "--replicas", "1"]) == 2
