"""sigtrain.MLPRegressor against the library and the CLI, inside scikit-learn, and with bad arrays."""

import os
import pickle
import select
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import sigtrain
from sigtrain import _core
from conftest import random_regression, run_sklearn_check, sine_set, write_csv


# Each case: the estimator's settings and the `sigtrain train` flags that mean the same, written out
# here by hand (not derived from the estimator's own mapping) so that a wrong or missing translation
# shows up as different model bytes.
CLI_CASES = {
    "notes-defaults": ({}, []),
    "bias-standardized-adam-cosine-early-stopping": (
        dict(hidden_layer_sizes=(5, 4), bias=True, standardize="both", solver="adam", learning_rate_init=0.01,
             learning_rate="cosine", warmup=2, max_iter=30, patience=3, min_delta=1e-5, random_state=7,
             batch_size=16, beta_1=0.8, beta_2=0.99, epsilon=1e-7),
        ["--layers", "2,5,4,1", "--bias", "--standardize", "both", "--optimizer", "adam", "--lr", "0.01",
         "--schedule", "cosine", "--warmup", "2", "--epochs", "30", "--patience", "3", "--min-delta", "1e-5",
         "--seed", "7", "--batch", "16", "--beta1", "0.8", "--beta2", "0.99", "--eps", "1e-7"]),
    "tanh-nesterov-step-no-shuffle-no-validation": (
        dict(hidden_layer_sizes=(6,), activation="tanh", solver="nesterov", momentum=0.5, learning_rate_init=0.05,
             learning_rate="step", step_every=3, gamma=0.7, shuffle=False, validation_fraction=0.0, max_iter=12,
             weight_decay=1e-3, random_state=11),
        ["--layers", "2,6,1", "--activation", "tanh", "--optimizer", "nesterov", "--momentum", "0.5", "--lr", "0.05",
         "--schedule", "step", "--step-every", "3", "--gamma", "0.7", "--no-shuffle", "--val-split", "0",
         "--epochs", "12", "--weight-decay", "1e-3", "--seed", "11"]),
    "relu-adamw-invscaling-keep-last": (
        dict(activation="relu", solver="adamw", learning_rate="invscaling", power_t=0.25, max_iter=15,
             weight_decay=0.01, validation_fraction=0.3, patience=4, keep="last", random_state=5),
        ["--activation", "relu", "--optimizer", "adamw", "--schedule", "invscaling", "--power", "0.25",
         "--epochs", "15", "--weight-decay", "0.01", "--val-split", "0.3", "--patience", "4", "--keep", "last",
         "--seed", "5"]),
}


@pytest.mark.parametrize("case", CLI_CASES)
def test_fit_saves_the_bytes_of_the_cli_run(case, tmp_path, cli, sine):
    """Catches: a setting mapped to the wrong option or default, rows or columns copied wrongly,
    anything the module's training does differently from `sigtrain train`. The estimator's model text,
    and the file save() writes, are byte for byte what the CLI saves for the same data, flags and seed."""
    settings, flags = CLI_CASES[case]
    X, y = sine_set(600, seed=31)
    data = write_csv(tmp_path / "data.csv", X, y)
    cli("train", "--data", data, *flags, "--save", tmp_path / "cli.json", "--quiet")
    model = sigtrain.MLPRegressor(**settings).fit(X, y)
    expected = (tmp_path / "cli.json").read_text()
    assert model.model_ == expected
    model.save(tmp_path / "python.json")
    assert (tmp_path / "python.json").read_bytes() == (tmp_path / "cli.json").read_bytes()


def test_multi_output_fit_and_predict_match_the_cli(tmp_path, cli):
    """Catches: y's columns interleaved wrongly for k > 1 outputs, predictions in other units or rows
    than `sigtrain predict` (standardised targets are undone), a (n, k) result reshaped wrongly."""
    X, y = random_regression(300, 3, 2, seed=4)
    data = write_csv(tmp_path / "data.csv", X, y)
    cli("train", "--data", data, "--layers", "3,4,2", "--bias", "--standardize", "both", "--epochs", "20",
        "--save", tmp_path / "cli.json", "--quiet")
    model = sigtrain.MLPRegressor(hidden_layer_sizes=(4,), bias=True, standardize="both", max_iter=20).fit(X, y)
    assert model.model_ == (tmp_path / "cli.json").read_text()
    printed = cli("predict", "--model", tmp_path / "cli.json", "--data", write_csv(tmp_path / "x.csv", X)).stdout
    from_cli = np.array([[float(v) for v in line.split(",")] for line in printed.split()])
    predicted = model.predict(X)
    assert predicted.shape == (300, 2)
    # The CLI prints 9 significant digits.
    np.testing.assert_allclose(predicted, from_cli, rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(sigtrain.load(tmp_path / "cli.json").predict(X), from_cli, rtol=1e-7, atol=1e-8)


def test_fit_reports_the_library_run(sine):
    """Catches: fitted attributes not taken from the library's result (n_iter_, the loss curves,
    best_loss_), or coefs_/intercepts_ in the file's (n_out, n_in) layout instead of sklearn's."""
    X, y = sine
    model = sigtrain.MLPRegressor(bias=True, max_iter=7, random_state=3).fit(X, y)
    result = _core.train(X, y, {"layers": [2, 3, 3, 1], "bias": True, "epochs": 7, "seed": 3})
    assert model.model_ == result["model"]
    assert model.n_iter_ == 7 == len(result["epochs"])
    assert model.loss_curve_ == [e["train_loss"] for e in result["epochs"]]
    assert model.validation_scores_ == [e["validation_loss"] for e in result["epochs"]]
    assert model.best_loss_ == min(model.validation_scores_)
    assert (model.n_features_in_, model.n_outputs_) == (2, 1)
    assert [c.shape for c in model.coefs_] == [(2, 3), (3, 3), (3, 1)]
    assert [b.shape for b in model.intercepts_] == [(3,), (3,), (1,)]
    # sklearn's forward pass written with coefs_ and intercepts_ gives predict's numbers.
    a = X
    for layer, (w, b) in enumerate(zip(model.coefs_, model.intercepts_)):
        a = a @ w + b
        if layer < 2:
            a = 1.0 / (1.0 + np.exp(-a))
    np.testing.assert_allclose(model.predict(X), a.ravel(), rtol=1e-5, atol=1e-6)

    unvalidated = sigtrain.MLPRegressor(max_iter=3, validation_fraction=0.0).fit(X, y)
    assert not hasattr(unvalidated, "validation_scores_")
    assert unvalidated.best_loss_ == min(unvalidated.loss_curve_)
    assert not any(np.any(b) for b in unvalidated.intercepts_)  # no bias: zeros


@pytest.mark.parametrize("y_shape", ["1d", "column", "two"])
def test_predict_has_the_shape_of_y(y_shape, sine):
    """Catches: a 1-D y predicted as a column (sklearn's scorers then broadcast to an n×n matrix), or a
    (n, 1) y flattened."""
    X, y = sine
    y = {"1d": y, "column": y[:, None], "two": np.column_stack([y, X[:, 0] * 0.5])}[y_shape]
    model = sigtrain.MLPRegressor(max_iter=5).fit(X, y)
    assert model.predict(X[:17]).shape == (17,) + y.shape[1:]


def test_float32_float64_c_and_fortran_order_train_the_same_model(sine):
    """Catches: Fortran-ordered arrays read as if C-ordered (columns scrambled), float32 converted in
    a way that changes values, a y column of a 2-D array taken with the wrong stride, and a copy made
    on the Python side before the library's own."""
    X, y = sine
    models = set()
    for dtype in (np.float32, np.float64):
        for order in ("C", "F"):
            Xo = np.asarray(X, dtype=dtype, order=order)
            yo = np.asarray(np.column_stack([y, y]), dtype=dtype, order=order)
            models.add(sigtrain.MLPRegressor(max_iter=3).fit(Xo, yo).model_)
            # sklearn's checks hand these arrays on as they are: the library's copy is the only one.
            Xv, yv = sigtrain.MLPRegressor()._validate_training_data(Xo, yo)
            assert Xv is Xo and yv is yo
    assert len(models) == 1


def test_arrays_that_came_through_pickle_train_the_same_model(sine):
    """Catches: the module misreading an array's element type. On NumPy 2 an unpickled array (joblib,
    multiprocessing, sklearn's memmapped test data) has an equal but distinct dtype object, so an
    identity test (`dtype is float64`) fails, and pybind11 before 2.12 reads NumPy 2's itemsize from the
    wrong place; either way doubles were read as floats (garbage or NaN)."""
    X, y = sine
    expected = sigtrain.MLPRegressor(max_iter=3).fit(X, y)
    for dtype in (np.float64, np.float32):
        Xp, yp = pickle.loads(pickle.dumps((X.astype(dtype), y.astype(dtype))))
        model = sigtrain.MLPRegressor(max_iter=3).fit(Xp, yp)
        assert model.model_ == expected.model_
        np.testing.assert_array_equal(model.predict(Xp), expected.predict(X))


def test_numpy_scalar_settings_mean_their_values(sine):
    """Catches: NumPy scalars (a grid from np.linspace or np.array) handed on as their repr, which on
    NumPy 2 is 'np.float64(0.1)', refused by the library or read as something else."""
    X, y = sine
    plain = sigtrain.MLPRegressor(max_iter=2, learning_rate_init=0.1, hidden_layer_sizes=(4,), random_state=5)
    numpy = sigtrain.MLPRegressor(max_iter=np.int64(2), learning_rate_init=np.float64(0.1),
                                  hidden_layer_sizes=(np.int64(4),), random_state=np.int32(5), bias=np.bool_(False))
    assert numpy.fit(X, y).model_ == plain.fit(X, y).model_


def test_unseeded_fits_use_the_default_seed_and_seeds_matter(sine):
    """Catches: random_state=None drawing a random seed (fits not reproducible, and not the CLI's
    default run), or random_state not reaching the library."""
    X, y = sine
    unseeded = sigtrain.MLPRegressor(max_iter=2).fit(X, y).model_
    assert unseeded == sigtrain.MLPRegressor(max_iter=2, random_state=2).fit(X, y).model_
    assert unseeded != sigtrain.MLPRegressor(max_iter=2, random_state=3).fit(X, y).model_


def _message_of(error):
    return str(error.value)


@pytest.mark.parametrize("bad", ["nan-in-X", "inf-in-X", "nan-in-y", "inf-in-y", "no-rows", "no-columns",
                                 "short-y", "3d-X", "1d-X", "3d-y"])
def test_bad_training_arrays_raise_value_error(bad, sine):
    """Catches: a bad array crashing the process or training on garbage instead of a ValueError; the
    message is one line (the library's, or sklearn's for the array's structure)."""
    X, y = sine_set(50)
    X, y = X.copy(), y.copy()
    if bad == "nan-in-X":
        X[7, 1] = np.nan
    elif bad == "inf-in-X":
        X[3, 0] = np.inf
    elif bad == "nan-in-y":
        y[9] = np.nan
    elif bad == "inf-in-y":
        y[0] = -np.inf
    elif bad == "no-rows":
        X, y = X[:0], y[:0]
    elif bad == "no-columns":
        X = X[:, :0]
    elif bad == "short-y":
        y = y[:-1]
    elif bad == "3d-X":
        X = X.reshape(50, 2, 1)
    elif bad == "1d-X":
        X = X[:, 0]
    elif bad == "3d-y":
        y = y.reshape(50, 1, 1)
    with pytest.raises(ValueError) as error:
        sigtrain.MLPRegressor(max_iter=2).fit(X, y)
    message = _message_of(error)
    if bad != "1d-X":  # sklearn's message for a 1-D X spans lines (it shows the array)
        assert message and "\n" not in message.strip(), message
    if bad.startswith(("nan", "inf")):
        # The library names the kind of number it refused.
        assert "nan" in message.lower() or "inf" in message.lower(), message


def test_bad_prediction_arrays_raise_value_error(sine):
    """Catches: predict accepting a different feature count, NaN inputs, or an unfitted model."""
    X, y = sine
    with pytest.raises(NotFittedError):
        sigtrain.MLPRegressor().predict(X)
    model = sigtrain.MLPRegressor(max_iter=1).fit(X, y)
    with pytest.raises(ValueError):
        model.predict(np.hstack([X, X]))
    with pytest.raises(ValueError):
        model.predict(X[:, 0])
    bad = X[:5].copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError):
        model.predict(bad)


@pytest.mark.parametrize("settings", [dict(solver="rmsprop"), dict(loss="bce"), dict(batch_size=0),
                                      dict(activation="softplus"), dict(learning_rate_init=-1.0),
                                      dict(patience=3, validation_fraction=0.0)])
def test_bad_settings_are_the_library_value_error(settings, sine):
    """Catches: settings validated nowhere (a typo trains the default), or checked in __init__ (which
    breaks clone/set_params, sklearn's rule). The error comes from fit, with the library's message."""
    X, y = sine
    model = sigtrain.MLPRegressor(**settings)  # no error here
    with pytest.raises(ValueError) as error:
        model.fit(X[:100], y[:100])
    assert _message_of(error)


def test_fit_many_returns_the_networks_single_fits_would_train(sine):
    """Catches: fit_many's networks paired with the wrong seed or learning rate, a sweep's order other
    than the CLI's (learning rates outermost), or replicas sharing one model."""
    X, y = sine_set(400, seed=5)
    template = sigtrain.MLPRegressor(max_iter=4, random_state=10)
    networks = template.fit_many(X, y, learning_rates=[0.1, 0.3], replicas=2)
    assert [(n.learning_rate_init, n.random_state) for n in networks] == [(0.1, 10), (0.1, 11), (0.3, 10), (0.3, 11)]
    for network in networks:
        single = clone(network).fit(X, y)
        assert network.model_ == single.model_
        np.testing.assert_array_equal(network.predict(X[:10]), single.predict(X[:10]))
    assert len({n.model_ for n in networks}) == 4
    assert not hasattr(template, "model_")  # the template is not fitted

    seeded = template.fit_many(X, y, seeds=[3, 9])
    assert [n.random_state for n in seeded] == [3, 9]
    assert seeded[1].model_ == clone(template).set_params(random_state=9).fit(X, y).model_


def test_save_and_load_give_the_cli_file_and_its_predictions(tmp_path, cli, sine):
    """Catches: save writing other text than model_, a non-atomic save leaving temporary files, a save
    that replaces a symbolic link, changes a file's mode or overwrites a read-only file (the CLI does
    none of these), load losing the network's settings, and a loaded model predicting otherwise than
    `sigtrain predict`."""
    X, y = sine
    model = sigtrain.MLPRegressor(hidden_layer_sizes=(4, 2), activation="tanh", bias=True, standardize="inputs",
                                  solver="momentum", max_iter=5).fit(X, y)
    path = tmp_path / "m.json"
    path.write_text("old")
    model.save(path)
    assert path.read_text() == model.model_
    assert os.listdir(tmp_path) == ["m.json"]  # the temporary file was renamed over the old one
    link = tmp_path / "link.json"
    link.symlink_to(path)
    os.chmod(path, 0o640)
    model.save(link)  # through a link: its target is written, the link and the mode kept
    assert link.is_symlink() and path.read_text() == model.model_ and (path.stat().st_mode & 0o777) == 0o640
    os.chmod(path, 0o444)
    with pytest.raises(ValueError, match="read-only"):  # the library's refusal, as the CLI's
        model.save(path)
    os.chmod(path, 0o640)
    os.unlink(link)
    loaded = sigtrain.load(path)
    assert loaded.get_params()["hidden_layer_sizes"] == (4, 2)
    assert (loaded.activation, loaded.bias, loaded.standardize, loaded.solver) == ("tanh", True, "inputs", "momentum")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    printed = cli("predict", "--model", path, "--data", write_csv(tmp_path / "x.csv", X[:50])).stdout
    np.testing.assert_allclose(loaded.predict(X[:50]), [float(v) for v in printed.split()], rtol=1e-7, atol=1e-8)


def test_load_refuses_a_bad_model_file_with_the_library_message(tmp_path, sine):
    """Catches: a damaged model file accepted by load and failing (or predicting garbage) later."""
    X, y = sine
    text = sigtrain.MLPRegressor(max_iter=1).fit(X, y).model_
    path = tmp_path / "bad.json"
    path.write_text(text.replace('"hidden_activation": "sigmoid"', '"hidden_activation": "swish"'))
    with pytest.raises(ValueError, match="swish"):
        sigtrain.load(path)


def test_pickle_and_clone_keep_the_model(sine):
    """Catches: fitted state held outside picklable attributes (a handle into the library), or a clone
    that shares fitted state."""
    X, y = sine
    model = sigtrain.MLPRegressor(max_iter=3).fit(X, y)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    assert not hasattr(clone(model), "model_")


def test_verbose_prints_the_cli_epoch_lines_to_python_stdout(capsys, tmp_path, cli, sine):
    """Catches: verbose ignored, printing other lines than the CLI's (a line per epoch after the
    header), or printing them to C's stdout (fd 1) rather than Python's sys.stdout, where a notebook
    would never show them (capsys sees only sys.stdout)."""
    X, y = sine_set(300, seed=8)
    sigtrain.MLPRegressor(max_iter=4, verbose=True).fit(X, y)
    printed = capsys.readouterr().out.strip().splitlines()
    from_cli = cli("train", "--data", write_csv(tmp_path / "d.csv", X, y), "--epochs", "4").stdout.strip().splitlines()
    assert len(printed) == len(from_cli) >= 5
    # The epoch lines' numbers but the speed and time agree.
    for mine, theirs in zip(printed[1:], from_cli[1:]):
        assert mine.split()[:3] == theirs.split()[:3]


def test_verbose_fit_many_prints_a_line_per_network_to_python_stdout(capsys, sine):
    """Catches: fit_many's lines (the header and one per network) going to C's stdout or missing."""
    X, y = sine_set(300, seed=8)
    sigtrain.MLPRegressor(max_iter=2, verbose=True).fit_many(X, y, replicas=3)
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 4 and printed[0].startswith("sigtrain train: 3 networks"), printed


def test_warm_start_saves_the_bytes_of_the_cli_continuing_with_init(tmp_path, cli):
    """Catches: warm_start ignored (a second fit starting afresh), the fitted model not handed over
    whole (its optimizer state or standardisation lost: the adam moments and the targets' scaling
    matter here), and n_iter_/loss_curve_ restarting rather than continuing as scikit-learn's do."""
    X, y = sine_set(400, seed=12)
    settings = dict(solver="adam", learning_rate_init=0.01, standardize="both", max_iter=3, random_state=5)
    model = sigtrain.MLPRegressor(warm_start=True, **settings).fit(X, y)
    first_curve = list(model.loss_curve_)
    model.fit(X, y)
    data = write_csv(tmp_path / "d.csv", X, y)
    flags = ["--optimizer", "adam", "--lr", "0.01", "--standardize", "both", "--epochs", "3", "--seed", "5"]
    cli("train", "--data", data, *flags, "--save", tmp_path / "first.json")
    cli("train", "--data", data, *flags, "--init", tmp_path / "first.json", "--save", tmp_path / "second.json")
    assert model.model_ == (tmp_path / "second.json").read_text()
    assert model.n_iter_ == 6 and model.loss_curve_[:3] == first_curve and len(model.validation_scores_) == 6
    afresh = sigtrain.MLPRegressor(**settings).fit(X, y)
    assert afresh.fit(X, y).model_ == (tmp_path / "first.json").read_text()  # warm_start=False: from scratch


def test_warm_start_refuses_other_features_or_labels():
    """Catches: a warm start on data the fitted network cannot take being trained anyway (or crashing)
    rather than refused with a ValueError: other features (sklearn's check), another output width (the
    library's, naming init_model), other labels for a classifier."""
    X, y = sine_set(200, seed=13)
    model = sigtrain.MLPRegressor(warm_start=True, max_iter=2).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        model.fit(np.hstack([X, X]), y)
    with pytest.raises(ValueError, match="init_model"):
        model.fit(X, np.column_stack([y, y]))
    labels = (y > 0).astype(int)
    classifier = sigtrain.MLPClassifier(warm_start=True, max_iter=2).fit(X, labels)
    with pytest.raises(ValueError, match="same classes"):
        classifier.fit(X, labels + 1)
    classifier.fit(X, labels)
    assert classifier.n_iter_ == 4


def test_cuda_settings_reach_the_library(sine):
    """Catches: kernel and tf32 not passed on (a bad value would then train silently)."""
    X, y = sine_set(100, seed=14)
    with pytest.raises(ValueError, match="kernel"):
        sigtrain.MLPRegressor(max_iter=1, kernel="no-such-kernel").fit(X, y)
    with pytest.raises(ValueError, match="tf32"):
        sigtrain.MLPRegressor(max_iter=1, tf32="maybe").fit(X, y)


def test_ctrl_c_raises_keyboard_interrupt_and_training_releases_the_gil(tmp_path):
    """Catches: training holding the GIL (a Python thread cannot run meanwhile: this test then times
    out), Ctrl-C ignored until the run ends, and the estimator not keeping the model at the stop (as
    the CLI saves it) or keeping one that does not predict."""
    script = textwrap.dedent("""
        import sys, threading
        import numpy as np
        import sigtrain
        rng = np.random.default_rng(0)
        X = rng.normal(size=(1000, 2)); y = np.tanh(X[:, 0] - X[:, 1])
        started = threading.Event()
        def tick():
            started.wait()
            # Far more Python work than fit does before it enters the library: it can finish only
            # while the main thread is inside the library without the GIL.
            for _ in range(2000):
                sum(range(10000))
            print("ticking", flush=True)
        threading.Thread(target=tick, daemon=True).start()
        model = sigtrain.MLPRegressor(max_iter=10**7)
        started.set()
        try:
            model.fit(X, y)
            print("finished")
        except KeyboardInterrupt:
            finite = np.isfinite(model.predict(X)).all()
            print("interrupted", model.outcome_, model.n_iter_ == len(model.loss_curve_), finite)
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                             env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    try:
        ready, _, _ = select.select([child.stdout], [], [], 120)
        assert ready, "the Python thread did not run while fit trained: the GIL was held"
        assert child.stdout.readline().strip() == "ticking"
        child.send_signal(signal.SIGINT)
        out, _ = child.communicate(timeout=120)
    finally:
        child.kill()
    assert out.strip() == "interrupted interrupted True True"
    assert child.returncode == 0


def test_pipeline_grid_search_and_cross_validation_on_the_sine_set(sine):
    """Catches: anything that breaks the estimator inside sklearn's tools (clone, set_params, score,
    fitted-state checks) and a network that does not learn the notes' function (R² near 0)."""
    X, y = sine
    search = GridSearchCV(make_pipeline(StandardScaler(), sigtrain.MLPRegressor(bias=True)),
                          {"mlpregressor__learning_rate_init": np.array([0.05, 0.2]),  # NumPy floats
                           "mlpregressor__hidden_layer_sizes": [(3, 3), (8,)]}, cv=3)
    search.fit(X, y)
    assert search.best_score_ > 0.9
    assert search.score(X, y) > 0.9
    scores = cross_val_score(sigtrain.MLPRegressor(), X, y, cv=KFold(3, shuffle=True, random_state=0))
    assert scores.shape == (3,) and scores.min() > 0.9


# scikit-learn's own conformance checks: every check runs. Those listed here are expected to fail, and
# are reported as xfail with the reason; one that passes after all fails the test, so the list stays true.
EXPECTED_FAILED_CHECKS = {}


@parametrize_with_checks([sigtrain.MLPRegressor(max_iter=50)])
def test_scikit_learn_conformance(estimator, check):
    """Catches: any breach of scikit-learn's estimator contract (parameters, cloning, fitted
    attributes, input validation, NaN handling, pickling, determinism, multi-output regression)."""
    run_sklearn_check(estimator, check, EXPECTED_FAILED_CHECKS)
