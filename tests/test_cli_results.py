"""What `lae eval` and `lae report` promise about results files: metrics accumulate in a run's
results.json (a cheap metric after a long one keeps both), the file is written atomically and
only after checks that fail before the work, an empty metric list is an error, and a damaged
results.json or config.yaml is an ``error:`` line, not a traceback."""

import json
import os
import shutil

import pytest

from lae.cli import main


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run = tmp_path_factory.mktemp("cli") / "run"
    assert main(["train", "vae-toy2d", "--out", str(run), "--train.epochs=1", "--data.n_toy=400",
                 "--train.eval_size=50", "--train.eval_k=5", "--train.n_samples=50",
                 "--train.progress=false", "--model.net.hidden=16"]) == 0
    return run


def _eval(run, *flags):
    k = ["--k", "5"] if "iwae" in flags else []  # a setting no chosen metric reads is refused
    n = [] if "--n-examples" in flags else ["--n-examples", "20"]  # each option once
    return main(["eval", str(run), *n, *k, *flags])


def test_a_later_eval_adds_its_metrics_to_the_runs_results(run):
    (run / "results.json").unlink(missing_ok=True)
    assert _eval(run, "--metrics", "iwae") == 0
    first = json.loads((run / "results.json").read_text())["metrics"]["nll_iwae_nats"]
    assert _eval(run, "--metrics", "mse") == 0  # was: results.json replaced, IWAE lost
    metrics = json.loads((run / "results.json").read_text())["metrics"]
    assert set(metrics) == {"nll_iwae_nats", "mse_per_dim"}
    assert metrics["nll_iwae_nats"] == first
    # the same metric again replaces its own value only
    assert _eval(run, "--metrics", "mse", "--seed", "3") == 0
    assert set(json.loads((run / "results.json").read_text())["metrics"]) == set(metrics)
    # each kept metric says what it was computed with; the top level no longer claims the
    # last call's settings for all (was: seed 3 and its example count over IWAE's seed 0)
    merged = json.loads((run / "results.json").read_text())
    assert "settings" not in merged and "n_examples" not in merged
    assert merged["metrics"]["nll_iwae_nats"]["settings"]["seed"] == 0
    assert merged["metrics"]["mse_per_dim"]["settings"]["seed"] == 3
    assert merged["metrics"]["mse_per_dim"]["settings"]["n_examples"] == 20
    # --overwrite starts afresh
    assert _eval(run, "--metrics", "mse", "--overwrite") == 0
    assert set(json.loads((run / "results.json").read_text())["metrics"]) == {"mse_per_dim"}


def test_results_of_another_checkpoint_are_refused_not_replaced(run, capsys):
    # was: replaced with a warning, the earlier numbers lost unasked
    (run / "results.json").unlink(missing_ok=True)
    assert _eval(run, "--metrics", "iwae") == 0
    before = (run / "results.json").read_text()
    other = run / "checkpoints" / "mine.pt"  # not one of the run's own (last, best, epoch_N)
    shutil.copyfile(run / "checkpoints" / "last.pt", other)
    assert _eval(run, "--metrics", "mse", "--checkpoint", str(other)) == 2
    err = capsys.readouterr().err
    assert "holds results of another evaluation" in err and "--overwrite" in err
    assert (run / "results.json").read_text() == before
    assert _eval(run, "--metrics", "mse", "--checkpoint", str(other), "--overwrite") == 0
    other.unlink()
    # the run's last checkpoint named by its epoch is the same evaluation: it adds to it
    assert _eval(run, "--metrics", "iwae", "--checkpoint", "1", "--overwrite") == 0
    assert _eval(run, "--metrics", "mse", "--checkpoint", "1") == 0
    assert _eval(run, "--metrics", "mse") == 0


def test_a_renamed_run_folder_keeps_adding_to_its_results(run, tmp_path):
    # was: refused as "another evaluation" (the checkpoint's old path), and --overwrite then
    # dropped the numbers already there
    import shutil

    (run / "results.json").unlink(missing_ok=True)
    assert _eval(run, "--metrics", "iwae") == 0
    moved = tmp_path / "renamed"
    shutil.copytree(run, moved)
    assert _eval(moved, "--metrics", "mse") == 0
    results = json.loads((moved / "results.json").read_text())
    assert set(results["metrics"]) == {"nll_iwae_nats", "mse_per_dim"}
    assert results["run_dir"] == str(moved)


def test_each_mean_keeps_its_per_example_values_for_paired_comparisons(run, tmp_path):
    from lae.eval.results import paired_difference, read_results

    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert _eval(run, "--metrics", "iwae", "--out", str(a)) == 0
    assert _eval(run, "--metrics", "iwae", "--out", str(b), "--seed", "1") == 0
    ra, rb = read_results(a), read_results(b)
    res = ra["metrics"]["nll_iwae_nats"]
    assert len(res["per_example"]) == res["n"] == 20
    assert sum(res["per_example"]) / 20 == pytest.approx(res["value"])
    # the same model, two seeds: the paired difference is the estimator's noise alone, zero
    # in expectation (4 standard errors allowed); a result against itself differs by nothing
    paired = paired_difference(ra, rb, "nll_iwae_nats")
    assert paired["n"] == 20 and abs(paired["difference"]) < 4 * paired["stderr"], paired
    assert paired_difference(ra, ra, "nll_iwae_nats") == {"difference": 0.0, "stderr": 0.0,
                                                          "n": 20}


@pytest.mark.parametrize("metrics", [",", "", " , "])
def test_an_empty_metric_list_is_an_error_and_leaves_the_results(run, capsys, metrics):
    (run / "results.json").write_text('{"metrics": {"x": {"value": 1}}}')
    if metrics:  # was: exit 0 and an empty results.json
        assert _eval(run, "--metrics", metrics) == 2
        assert "no metric named" in capsys.readouterr().err
    else:  # an empty value is refused by the parser, as for every option naming something
        with pytest.raises(SystemExit):
            _eval(run, "--metrics", metrics)
        assert "an empty value" in capsys.readouterr().err
    assert json.loads((run / "results.json").read_text())["metrics"] == {"x": {"value": 1}}


def test_an_unwritable_results_folder_fails_before_the_metrics(run, capsys, monkeypatch):
    import lae.eval.metrics as metrics

    def no_work(*args, **kwargs):
        raise AssertionError("the metrics ran although the results could not be written")

    monkeypatch.setattr(metrics, "evaluate", no_work)
    blocker = run.parent / "a-file"
    blocker.write_text("not a folder")
    assert _eval(run, "--metrics", "mse", "--out", str(blocker / "results.json")) == 2
    assert f"{blocker} is a file, so nothing can be made below it" in capsys.readouterr().err


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="permissions do not bind root")
def test_a_read_only_run_folder_fails_before_the_metrics(run, capsys):
    os.chmod(run, 0o555)
    try:
        assert _eval(run, "--metrics", "mse") == 2
    finally:
        os.chmod(run, 0o755)
    assert "cannot write the results" in capsys.readouterr().err


def test_a_damaged_results_file_is_an_error_line_for_eval_and_report(run, tmp_path, capsys):
    (run / "results.json").write_text('{"metrics": {"nll_')  # torn
    assert main(["report", str(run), "--out", str(tmp_path / "rep")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "results.json" in err and "Traceback" not in err
    assert _eval(run, "--metrics", "mse") == 2  # merging into it would lose it
    assert "results.json" in capsys.readouterr().err
    assert _eval(run, "--metrics", "mse", "--overwrite") == 0


def test_a_damaged_config_is_an_error_line_for_report(run, tmp_path, capsys):
    saved = (run / "config.yaml").read_text()
    try:
        (run / "config.yaml").write_text("model: [unclosed\n")
        assert main(["report", str(run), "--out", str(tmp_path / "rep")]) == 2
        err = capsys.readouterr().err
        assert "config.yaml" in err and "Traceback" not in err
        # eval and the task commands too (were: the file ignored, and with it the check that
        # the checkpoint is the model the run trained)
        for argv in (["eval", str(run), "--metrics", "mse", "--out", str(tmp_path / "r.json")],
                     ["inpaint", str(run), "--steps", "2", "--out", str(tmp_path / "inp")]):
            assert main(argv) == 2, argv
            err = capsys.readouterr().err
            assert "config.yaml is damaged" in err and "Traceback" not in err, err
    finally:
        (run / "config.yaml").write_text(saved)


@pytest.mark.parametrize("edit,message", [
    (lambda text: text.replace("latent_dim: 2", "latent_dim: 4"), "model.latent_dim (2 -> 4)"),
    (lambda text: text.replace("seed: 0", "seed: 7", 1), "data.seed (0 -> 7)"),
    (lambda text: "", "is damaged (expected a mapping"),
    (lambda text: text.replace("name: vae", "name: lae"), "holds a 'vae' model"),
    # a key lae does not know was taken by eval and report, refused by --resume
    (lambda text: text.replace("latent_dim: 2", "latent_dim: 2\n  latnt_dim: 4"), "latnt_dim")])
def test_an_edited_config_is_refused_by_eval_and_report(run, tmp_path, capsys, edit, message):
    # was: lae eval ran the checkpoint (latent_dim 2) and lae report showed config.yaml's edited
    # value as the run's; an empty config.yaml was taken as no file
    saved = (run / "config.yaml").read_text()
    assert "latent_dim: 2" in saved and "seed: 0" in saved  # what the edits change
    try:
        (run / "config.yaml").write_text(edit(saved))
        for argv in (["eval", str(run), "--metrics", "mse", "--out", str(tmp_path / "r.json")],
                     ["report", str(run), "--out", str(tmp_path / "rep")]):
            assert main(argv) == 2, argv
            err = capsys.readouterr().err
            assert message in err and "Traceback" not in err, err
        assert not (tmp_path / "r.json").exists() and not (tmp_path / "rep").exists()
    finally:
        (run / "config.yaml").write_text(saved)
    # a setting a resumed run may change (here the epochs) is not a disagreement
    (run / "config.yaml").write_text(saved.replace("epochs: 1", "epochs: 5"))
    try:
        assert _eval(run, "--metrics", "mse", "--out", str(tmp_path / "r.json")) == 0
    finally:
        (run / "config.yaml").write_text(saved)


def test_a_checkpoint_of_another_run_on_other_data_is_refused(run, tmp_path, capsys):
    # was: refused only when it held another model; on other data it was scored and its numbers
    # filed under this run
    other = tmp_path / "other"
    assert main(["train", "vae-toy2d", "--out", str(other), "--train.epochs=1",
                 "--data.n_toy=300", "--train.eval_size=50", "--train.eval_k=5",
                 "--train.n_samples=50", "--train.progress=false",
                 "--model.net.hidden=16"]) == 0
    assert _eval(run, "--metrics", "mse", "--checkpoint",
                 str(other / "checkpoints" / "last.pt"), "--out", str(tmp_path / "r.json")) == 2
    assert "data.n_toy (300 -> 400)" in capsys.readouterr().err


def test_results_and_checkpoints_are_readable_like_every_other_file(run):
    # mkstemp creates 0600 files; the atomic writes give them the umask's permissions
    mask = os.umask(0)
    os.umask(mask)
    assert _eval(run, "--metrics", "mse", "--overwrite") == 0
    expected = 0o666 & ~mask
    assert (run / "results.json").stat().st_mode & 0o777 == expected
    assert (run / "checkpoints" / "last.pt").stat().st_mode & 0o777 == expected


def test_pictures_beside_results_elsewhere_are_not_replaced_unasked(run, tmp_path, capsys):
    # was: --metrics interp / probe --out DIR/r.json replaced DIR/interpolations.png and
    # DIR/latents_pca.png, which may be the user's
    for metric, picture in (("interp", "interpolations.png"), ("probe", "latents_pca.png")):
        keep = tmp_path / metric
        keep.mkdir()
        (keep / picture).write_text("precious")
        assert _eval(run, "--metrics", metric, "--out", str(keep / "r.json")) == 2
        assert picture in capsys.readouterr().err
        assert (keep / picture).read_text() == "precious" and not (keep / "r.json").exists()


def test_report_refuses_one_run_given_twice(run, tmp_path, capsys):
    # was: one row "seeds 2", every spread 0
    assert main(["report", str(run), str(run) + "/", "--out", str(tmp_path / "rep")]) == 2
    assert "are the same run" in capsys.readouterr().err


@pytest.mark.parametrize("content,message", [
    (b"", "an empty file"), (b"garbage\n", "not a torch checkpoint"),
    (None, "not a torch checkpoint")])  # None: the run's own checkpoint, truncated
def test_damaged_checkpoints_say_what_is_wrong(run, tmp_path, capsys, content, message):
    # were: "holds objects other than tensors" for a text file, "[Errno 22]" for a truncated
    # one, nothing after the colon for an empty one
    bad = tmp_path / "bad.pt"
    bad.write_bytes(content if content is not None
                    else (run / "checkpoints" / "last.pt").read_bytes()[:2000])
    assert _eval(run, "--metrics", "mse", "--checkpoint", str(bad), "--out",
                 str(tmp_path / "r.json")) == 2
    assert message in capsys.readouterr().err


def test_a_file_given_as_the_run_folder_is_named_as_a_file(tmp_path, capsys):
    (tmp_path / "afile").write_text("hi")
    assert main(["eval", str(tmp_path / "afile"), "--metrics", "mse"]) == 2
    assert "is a file; expected a run folder" in capsys.readouterr().err


def test_report_of_runs_with_odd_names_keeps_its_tables_and_pictures(run, tmp_path):
    # were: a "|" in a run's name broke the table, a space broke the picture links
    import shutil

    odd = tmp_path / "pi|pe x"
    shutil.copytree(run, odd)
    assert main(["report", str(odd), "--out", str(tmp_path / "rep")]) == 0
    text = (tmp_path / "rep" / "report.md").read_text()
    assert "pi\\|pe x" in text and "pi|pe x |" not in text.replace("pi\\|pe x", "")
    links = [line for line in text.splitlines() if "_samples.png" in line]
    assert links and all("](pi_pe_x_samples.png)" in line for line in links)
    assert (tmp_path / "rep" / "pi_pe_x_samples.png").is_file()


def test_report_of_a_run_with_no_scored_epoch_says_so(run, tmp_path):
    # was: a row "metrics.jsonl (epoch None)" and blank cells
    import shutil

    empty = tmp_path / "empty"
    shutil.copytree(run, empty)
    (empty / "metrics.jsonl").write_text("")
    (empty / "results.json").unlink(missing_ok=True)
    assert main(["report", str(empty), "--out", str(tmp_path / "rep")]) == 0
    text = (tmp_path / "rep" / "report.md").read_text()
    assert "no scored epoch yet" in text and "epoch None" not in text


def test_eval_out_that_is_a_folder_is_refused_before_any_metric(run, tmp_path, capsys):
    # was: "exists; pass --overwrite", then with it the metrics ran and failed on the temporary
    # file ("Is a directory")
    (tmp_path / "rep").mkdir()
    for flags in ([], ["--overwrite"]):
        assert _eval(run, "--metrics", "mse", "--out", str(tmp_path / "rep"), *flags) == 2
        captured = capsys.readouterr()
        assert "is a folder; this command writes a file there" in captured.err
        assert "mse_per" not in captured.out  # before any metric
    assert list((tmp_path / "rep").iterdir()) == []


def test_more_examples_than_the_split_has_is_said(run, tmp_path, capsys):
    # was: cut to the split without a word (the recorded n was right)
    assert _eval(run, "--metrics", "mse", "--n-examples", "100000", "--out",
                 str(tmp_path / "r.json")) == 0
    assert "note: --n-examples 100000 is more than the" in capsys.readouterr().err
    assert json.loads((tmp_path / "r.json").read_text())["n_examples"] < 100000


def test_an_eval_whose_every_metric_is_skipped_is_an_error_and_writes_nothing(run, tmp_path,
                                                                             capsys):
    # was: exit 0 and an empty results file (the VAE has no Langevin bound)
    assert _eval(run, "--metrics", "langevin-bound", "--out", str(tmp_path / "r.json")) == 2
    assert "no metric gave a number (nothing was written): langevin-bound:" in (
        capsys.readouterr().err)
    assert not (tmp_path / "r.json").exists()
