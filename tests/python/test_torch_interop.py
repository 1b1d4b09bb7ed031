"""PyTorch interop: to_torch and from_torch give networks that predict the same numbers (to 1e-6).
Skipped where torch is not importable (it is optional)."""

import numpy as np
import pytest

import sigtrain
from conftest import random_regression, sine_set, write_csv

torch = pytest.importorskip("torch")
nn = torch.nn

TOLERANCE = 1e-6

TO_TORCH_CASES = {
    "notes-network": dict(),
    "bias-tanh": dict(activation="tanh", bias=True),
    "relu-sigmoid-output": dict(activation="relu", output_activation="sigmoid", bias=True),
    "standardized-both-no-bias": dict(standardize="both"),
    "standardized-inputs-bias": dict(standardize="inputs", bias=True, hidden_layer_sizes=(5,)),
    "standardized-targets-no-hidden-layer": dict(standardize="both", hidden_layer_sizes=()),
}


def _torch_predict(sequential, X, dtype):
    with torch.no_grad():
        return sequential(torch.as_tensor(X, dtype=dtype)).numpy().astype(np.float64)


@pytest.mark.parametrize("case", TO_TORCH_CASES)
def test_to_torch_predicts_what_the_model_predicts(case):
    """Catches: weights transposed or in the wrong layer, a missing or extra activation, the output
    activation dropped, and standardisation folded wrongly (or not at all) into the first/last Linear."""
    X, y = random_regression(400, 3, 2, seed=12)
    y = 1.0 / (1.0 + np.exp(-y))  # in (0, 1), for the sigmoid output
    X = X * 3.0 + 1.5  # far from standardised, so a missing fold shows
    model = sigtrain.MLPRegressor(max_iter=20, **TO_TORCH_CASES[case]).fit(X, y)
    expected = model.predict(X)
    for dtype in (torch.float32, torch.float64):
        sequential = model.to_torch(dtype=dtype)
        assert isinstance(sequential, nn.Sequential)
        np.testing.assert_allclose(_torch_predict(sequential, X, dtype), expected, rtol=0, atol=TOLERANCE)


def test_to_torch_layers_hold_the_model_weights():
    """Catches: a Sequential of the wrong modules, or weights rounded on the way (no standardisation:
    each Linear holds the file's W_l and b_l exactly)."""
    X, y = sine_set(300)
    model = sigtrain.MLPRegressor(bias=True, activation="tanh", max_iter=3).fit(X, y)
    sequential = model.to_torch(dtype=torch.float64)
    assert [type(m).__name__ for m in sequential] == ["Linear", "Tanh", "Linear", "Tanh", "Linear"]
    linears = [m for m in sequential if isinstance(m, nn.Linear)]
    for linear, coef, intercept in zip(linears, model.coefs_, model.intercepts_):
        np.testing.assert_array_equal(linear.weight.detach().numpy(), coef.T)
        np.testing.assert_array_equal(linear.bias.detach().numpy(), intercept)


def test_to_torch_refuses_what_a_linear_layer_cannot_hold():
    """Catches: a sigmoid output with standardised targets silently exported without the scaling
    (predictions in the wrong units)."""
    X, y = sine_set(200)
    model = sigtrain.MLPRegressor(output_activation="sigmoid", standardize="targets", max_iter=2).fit(X, (y + 1) / 2)
    with pytest.raises(ValueError, match="cannot be folded"):
        model.to_torch()


FROM_TORCH_CASES = {
    "sigmoid-no-bias": lambda: nn.Sequential(nn.Linear(2, 3, bias=False), nn.Sigmoid(), nn.Linear(3, 3, bias=False),
                                             nn.Sigmoid(), nn.Linear(3, 1, bias=False)),
    "tanh-bias-two-outputs": lambda: nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2)),
    "relu-sigmoid-output": lambda: nn.Sequential(nn.Linear(2, 6), nn.ReLU(), nn.Linear(6, 4), nn.ReLU(),
                                                 nn.Linear(4, 1), nn.Sigmoid()),
    "mixed-bias": lambda: nn.Sequential(nn.Linear(2, 5), nn.Sigmoid(), nn.Linear(5, 1, bias=False)),
    "no-hidden-layer": lambda: nn.Sequential(nn.Linear(2, 3)),
}


@pytest.mark.parametrize("case", FROM_TORCH_CASES)
def test_from_torch_predicts_what_torch_predicts(case, tmp_path, cli):
    """Catches: torch's (out, in) weights read in the wrong order, biases lost or misplaced, the
    activations mapped to the wrong sigtrain names; and a model file the CLI cannot read."""
    torch.manual_seed(3)
    sequential = FROM_TORCH_CASES[case]().double()
    X, _ = sine_set(500)
    expected = _torch_predict(sequential, X, torch.float64)
    model = sigtrain.from_torch(sequential)
    predicted = model.predict(X)
    np.testing.assert_allclose(predicted.reshape(expected.shape), expected, rtol=0, atol=TOLERANCE)
    # The same file through `sigtrain predict`; written in the library's own format (what `sigtrain
    # train --epochs 0 --init` re-saves is byte for byte the same text).
    model.save(tmp_path / "m.json")
    assert model.model_ == (tmp_path / "m.json").read_text()
    cli("train", "--init", tmp_path / "m.json", "--epochs", "0", "--save", tmp_path / "again.json",
        "--data", write_csv(tmp_path / "xy.csv", X, predicted))
    assert (tmp_path / "again.json").read_text() == model.model_
    printed = cli("predict", "--model", tmp_path / "m.json", "--data", write_csv(tmp_path / "x.csv", X)).stdout
    from_cli = np.array([[float(v) for v in line.split(",")] for line in printed.split()])
    np.testing.assert_allclose(from_cli.reshape(expected.shape), expected, rtol=0, atol=TOLERANCE)
    # And back: a round trip keeps the numbers.
    again = model.to_torch(dtype=torch.float64)
    np.testing.assert_allclose(_torch_predict(again, X, torch.float64), expected, rtol=0, atol=1e-12)


def test_a_trained_model_survives_the_round_trip():
    """Catches: from_torch(to_torch(m)) predicting otherwise than m (standardisation folded and read back
    as plain weights, bias-less layers gaining zero biases)."""
    X, y = sine_set(500)
    model = sigtrain.MLPRegressor(standardize="both", max_iter=10).fit(X, y)
    back = sigtrain.from_torch(model.to_torch(dtype=torch.float64))
    np.testing.assert_allclose(back.predict(X), model.predict(X), rtol=0, atol=TOLERANCE)
    assert back.standardize == "none" and back.bias  # the fold needs biases


@pytest.mark.parametrize("bad, message", [
    (lambda: nn.Sequential(nn.Linear(2, 3), nn.Dropout(0.1), nn.Linear(3, 1)), "Dropout"),
    (lambda: nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 3), nn.ReLU(), nn.Linear(3, 1)), "the same"),
    (lambda: nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1)), "one activation after every hidden"),
    (lambda: nn.Sequential(nn.Linear(2, 3), nn.Sigmoid(), nn.Sigmoid(), nn.Linear(3, 1)), "one activation"),
    (lambda: nn.Sequential(nn.Sigmoid(), nn.Linear(2, 1)), "before the first Linear"),
    (lambda: nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1), nn.Tanh()), "after the last Linear"),
    (lambda: nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(4, 1)), "takes 4 inputs"),
    (lambda: nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.Tanh()), nn.Linear(3, 1)), "Sequential"),
    (lambda: nn.Sequential(), "no Linear"),
    (lambda: nn.Linear(2, 1), "expected a torch.nn.Sequential"),
])
def test_from_torch_refuses_what_sigtrain_cannot_hold(bad, message):
    """Catches: an unsupported module or layout silently dropped or misread instead of a ValueError
    that names it."""
    with pytest.raises(ValueError, match=message):
        sigtrain.from_torch(bad())
