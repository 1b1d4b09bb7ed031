"""sigtrain.MLPClassifier against the CLI's bce models, its labels, inside scikit-learn, and what it
shares with MLPRegressor."""

import inspect

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_moons
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import sigtrain
from sigtrain.estimator import _SigtrainNetwork
from conftest import run_sklearn_check, write_csv

# The flags every classifier run has: the library's classification head.
BCE_FLAGS = ["--output", "sigmoid", "--loss", "bce"]


def moons(n, seed):
    """Two interleaved half-moons with noise (never a separable toy), float32-exact so that the CSV the
    CLI reads holds the values the module copies; y is 0/1."""
    X, y = make_moons(n, noise=0.2, random_state=seed)
    return X.astype(np.float32).astype(np.float64), y


def multilabel_set(n, seed):
    """Random inputs and 3 labels, each set by its own random half-plane (so they are learnable and
    not copies of each other), as a 0/1 int indicator matrix."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype(np.float32).astype(np.float64)
    Y = (X @ rng.normal(size=(4, 3)) + 0.3 * rng.normal(size=(n, 3)) > 0).astype(int)
    return X, Y


def printed_rows(text):
    return np.array([[float(v) for v in line.split(",")] for line in text.split()])


# Each case: the classifier's settings and the `sigtrain train` flags meaning the same (written out by
# hand, so a wrong translation shows as different bytes).
CLI_CASES = {
    "defaults": ({}, []),
    "bias-inputs-standardized-adam-early-stopping": (
        dict(hidden_layer_sizes=(6,), bias=True, standardize="inputs", solver="adam", learning_rate_init=0.02,
             max_iter=40, patience=5, random_state=9, activation="tanh"),
        ["--layers", "2,6,1", "--bias", "--standardize", "inputs", "--optimizer", "adam", "--lr", "0.02",
         "--epochs", "40", "--patience", "5", "--seed", "9", "--activation", "tanh"]),
}


@pytest.mark.parametrize("case", CLI_CASES)
def test_binary_fit_saves_the_cli_bytes_and_predicts_as_the_cli(case, tmp_path, cli):
    """Catches: the classifier training another head or loss than `--output sigmoid --loss bce`, labels
    encoded the other way round (classes_[1] must be the target 1), a setting translated differently
    from MLPRegressor's, and predict_proba's columns swapped or not `sigtrain predict`'s numbers."""
    settings, flags = CLI_CASES[case]
    X, y = moons(500, seed=3)
    labels = np.array(["blue", "red"])[y]  # sorted: 'red' is classes_[1], the target 1
    cli("train", "--data", write_csv(tmp_path / "data.csv", X, y), *BCE_FLAGS, *flags,
        "--save", tmp_path / "cli.json", "--quiet")
    model = sigtrain.MLPClassifier(**settings).fit(X, labels)
    assert list(model.classes_) == ["blue", "red"]
    assert model.model_ == (tmp_path / "cli.json").read_text()

    printed = cli("predict", "--model", tmp_path / "cli.json", "--data", write_csv(tmp_path / "x.csv", X)).stdout
    p = printed_rows(printed)[:, 0]
    proba = model.predict_proba(X)
    assert proba.shape == (500, 2)
    np.testing.assert_allclose(proba[:, 1], p, rtol=1e-7, atol=1e-8)  # the CLI prints 9 digits
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(model.predict(X), np.where(proba[:, 1] > 0.5, "red", "blue"))


@pytest.mark.parametrize("labels", [[0, 1], [3, 7], [-1, 1], [False, True], [1.0, 2.0], ["cat", "dog"],
                                    np.array(["cat", "dog"], dtype=object)],
                         ids=["0-1", "ints", "minus-one-one", "bools", "floats", "strings", "objects"])
def test_labels_of_any_type_round_trip(labels):
    """Catches: labels compared as text or cast to float (strings and objects fail, bools become 0.0),
    classes_ not sorted, or a different encoding for some label type (each must train the network
    the 0/1 labels train), and predict returning encoded 0/1 instead of the user's labels."""
    X, y = moons(300, seed=5)
    labels = np.asarray(labels)
    named = labels[y]
    model = sigtrain.MLPClassifier(max_iter=20, bias=True).fit(X, named)
    reference = sigtrain.MLPClassifier(max_iter=20, bias=True).fit(X, y)
    assert model.model_ == reference.model_
    np.testing.assert_array_equal(model.classes_, np.sort(labels))
    assert model.classes_.dtype == labels.dtype
    predicted = model.predict(X)
    np.testing.assert_array_equal(predicted, labels[reference.predict(X)])
    assert predicted.dtype == labels.dtype
    assert model.score(X, named) == reference.score(X, y) > 0.75


def test_multilabel_fits_one_sigmoid_per_label_as_the_cli(tmp_path, cli):
    """Catches: a 2-D indicator y taken as something else (multi-output refused, or columns flattened),
    its columns interleaved wrongly on the way to the library (the CLI's bytes differ), predict_proba
    not the k sigmoids `sigtrain predict` prints, and predict not a 0/1 matrix thresholded at 0.5."""
    X, Y = multilabel_set(400, seed=6)
    cli("train", "--data", write_csv(tmp_path / "data.csv", X, Y), *BCE_FLAGS, "--layers", "4,8,3", "--bias",
        "--epochs", "60", "--save", tmp_path / "cli.json", "--quiet")
    model = sigtrain.MLPClassifier(hidden_layer_sizes=(8,), bias=True, max_iter=60).fit(X, Y)
    assert model.model_ == (tmp_path / "cli.json").read_text()
    np.testing.assert_array_equal(model.classes_, [0, 1, 2])
    assert model.n_outputs_ == 3

    printed = cli("predict", "--model", tmp_path / "cli.json", "--data", write_csv(tmp_path / "x.csv", X)).stdout
    proba = model.predict_proba(X)
    assert proba.shape == (400, 3)
    np.testing.assert_allclose(proba, printed_rows(printed), rtol=1e-7, atol=1e-8)
    predicted = model.predict(X)
    np.testing.assert_array_equal(predicted, (proba > 0.5).astype(int))
    # score is sklearn's subset accuracy: every label of a row right. Learnable labels: well above chance.
    assert model.score(X, Y) == np.mean((predicted == Y).all(axis=1)) > 0.6


@pytest.mark.parametrize("y_kind", ["three-classes", "continuous", "one-class", "multiclass-multioutput"])
def test_targets_it_cannot_fit_are_refused_clearly(y_kind):
    """Catches: more than two classes silently trained as a 0/1 target (every class but the largest
    merged), continuous targets taken as labels, one class trained into a constant network, a 2-D y
    of non-0/1 labels sent to the library; each is a ValueError that says what is wrong."""
    X, y = moons(120, seed=7)
    y = {"three-classes": np.arange(120) % 3,
         "continuous": X[:, 0] * 0.3,
         "one-class": np.ones(120, dtype=int),
         "multiclass-multioutput": np.column_stack([np.arange(120) % 3, y])}[y_kind]
    expected = {"three-classes": "3 classes.*no softmax", "continuous": "Unknown label type",
                "one-class": "only one class", "multiclass-multioutput": "multilabel indicator matrix; this y is multiclass-multioutput"}
    model = sigtrain.MLPClassifier(max_iter=2)
    with pytest.raises(ValueError, match=expected[y_kind]):
        model.fit(X, y)
    assert not hasattr(model, "model_") and not hasattr(model, "classes_")


def test_save_and_load_give_a_classifier_with_the_models_probabilities(tmp_path, cli):
    """Catches: sigtrain.load giving a regressor for a bce model (no predict_proba, predict returning
    probabilities), a loaded classifier without classes_ or predicting other numbers than the fitted
    one and `sigtrain predict`, a multilabel file loaded as binary, and from_model_text accepting an
    mse model as a classifier."""
    X, y = moons(300, seed=8)
    labels = np.array(["no", "yes"])[y]
    model = sigtrain.MLPClassifier(bias=True, standardize="inputs", max_iter=30).fit(X, labels)
    model.save(tmp_path / "m.json")
    loaded = sigtrain.load(tmp_path / "m.json")
    assert type(loaded) is sigtrain.MLPClassifier
    assert (loaded.bias, loaded.standardize, loaded.max_iter) == (True, "inputs", 100)  # max_iter: not in files
    np.testing.assert_array_equal(loaded.classes_, [0, 1])  # the file has no labels
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(model.classes_[loaded.predict(X)], model.predict(X))
    printed = cli("predict", "--model", tmp_path / "m.json", "--data", write_csv(tmp_path / "x.csv", X)).stdout
    np.testing.assert_allclose(loaded.predict_proba(X)[:, 1], printed_rows(printed)[:, 0], rtol=1e-7, atol=1e-8)

    X3, Y3 = multilabel_set(100, seed=2)
    sigtrain.MLPClassifier(max_iter=3).fit(X3, Y3).save(tmp_path / "multi.json")
    multi = sigtrain.load(tmp_path / "multi.json")
    np.testing.assert_array_equal(multi.classes_, [0, 1, 2])
    assert multi.predict(X3).shape == (100, 3)

    sigtrain.MLPRegressor(max_iter=2).fit(X, X[:, 0]).save(tmp_path / "mse.json")
    assert type(sigtrain.load(tmp_path / "mse.json")) is sigtrain.MLPRegressor
    with pytest.raises(ValueError, match="loss 'bce'"):
        sigtrain.MLPClassifier.from_model_text((tmp_path / "mse.json").read_text())


def test_fit_many_returns_classifiers_the_single_fits_would_train():
    """Catches: fit_many (shared with MLPRegressor) handing the library the labels instead of the 0/1
    targets, or returning networks without classes_ (predict then fails) or of the wrong class."""
    X, y = moons(300, seed=9)
    labels = np.array(["a", "b"])[y]
    networks = sigtrain.MLPClassifier(max_iter=5, random_state=4).fit_many(X, labels, replicas=2)
    assert [n.random_state for n in networks] == [4, 5]
    for network in networks:
        assert type(network) is sigtrain.MLPClassifier
        single = clone(network).fit(X, labels)
        assert network.model_ == single.model_
        np.testing.assert_array_equal(network.predict(X), single.predict(X))


def test_to_torch_gives_the_positive_class_probability():
    """Catches: the shared to_torch dropping the sigmoid head of a classifier (logits instead of
    probabilities) or folding its input standardisation wrongly."""
    torch = pytest.importorskip("torch")
    X, y = moons(200, seed=10)
    model = sigtrain.MLPClassifier(bias=True, standardize="inputs", max_iter=10).fit(X, y)
    with torch.no_grad():
        out = model.to_torch(dtype=torch.float64)(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(out[:, 0], model.predict_proba(X)[:, 1], rtol=1e-6, atol=1e-6)


def _settings(cls):
    return {name: p.default for name, p in inspect.signature(cls.__init__).parameters.items() if name != "self"}


def test_both_estimators_have_the_shared_settings_with_the_same_defaults():
    """Catches: the regressor's signature (spelled out, as scikit-learn reads it) drifting from the
    shared one: a setting added to one estimator only, or a default that differs between them."""
    shared = _settings(_SigtrainNetwork)
    assert _settings(sigtrain.MLPClassifier) == shared
    regressor = _settings(sigtrain.MLPRegressor)
    assert regressor.pop("output_activation") == "linear" and regressor.pop("loss") == "mse"
    assert regressor == shared


def test_grid_search_with_accuracy_learns_two_moons():
    """Catches: anything that breaks the classifier inside sklearn's tools (clone, set_params,
    ClassifierMixin's stratified splits and accuracy scoring, a Pipeline) and a network that does not
    learn a set a linear model cannot: on these moons a logistic regression's 3-fold accuracy is 0.867
    and the (2,) networks' 0.87-0.88; (8,) at lr 1.0 scored 0.967 when this test was written."""
    X, y = moons(600, seed=11)
    search = GridSearchCV(make_pipeline(StandardScaler(), sigtrain.MLPClassifier(bias=True, max_iter=300)),
                          {"mlpclassifier__learning_rate_init": [0.1, 1.0],
                           "mlpclassifier__hidden_layer_sizes": [(2,), (8,)]},
                          scoring="accuracy", cv=StratifiedKFold(3, shuffle=True, random_state=0))
    search.fit(X, y)
    assert search.best_params_["mlpclassifier__hidden_layer_sizes"] == (8,)
    assert search.best_score_ > 0.93
    assert search.score(X, y) > 0.93


# scikit-learn's conformance checks. The classifier's tags say binary only (no softmax loss) and
# multilabel, so sklearn runs its binary and multilabel checks and none that need 3 classes. Two
# checks end in sklearn's own SkipTest (reported as skipped, not hidden): check_classifier_data_not_an_array
# where pandas is not installed, and check_classifiers_multilabel_output_format_decision_function,
# since there is no decision_function (sklearn's MLPClassifier has none either). Checks listed here
# are expected to fail (xfail with the reason); one that passes after all fails the test.
EXPECTED_FAILED_CHECKS = {}


# max_iter=200: check_classifiers_classes fits 20 rows of two blobs and requires both classes predicted;
# the default network needs more than 50 epochs of 2 batches for that.
@parametrize_with_checks([sigtrain.MLPClassifier(max_iter=200)])
def test_scikit_learn_conformance(estimator, check):
    """Catches: any breach of scikit-learn's classifier contract (labels of any type, classes_,
    predict_proba's shape and sum, one-class and regression targets refused, multilabel output
    formats, cloning, pickling, determinism, input validation)."""
    run_sklearn_check(estimator, check, EXPECTED_FAILED_CHECKS)
