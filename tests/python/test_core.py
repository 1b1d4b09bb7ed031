"""sigtrain._core, the bindings themselves, against the program (`sigtrain train/predict/eval`) on the
same data and flags: the module must plan, check and train exactly as the CLI does.

Runs against the CMake-built module (ctest's Python.Pytest sets PYTHONPATH and SIGTRAIN_BINARY) or an
installed one; the comparisons with the CLI use the `cli` fixture (conftest.py).
"""

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from sigtrain import _core


def random_set(n, inputs, outputs, seed):
    """Random float32 inputs and smooth random targets (never zeros), as float32 values."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2.0, 2.0, size=(n, inputs)).astype(np.float32)
    mix = rng.normal(size=(inputs, outputs))
    y = (np.tanh(X @ mix) + 0.1 * rng.normal(size=(n, outputs))).astype(np.float32)
    return X, y


def write_float32_csv(path, X, y=None):
    """Each float32 value as the shortest text that reads back as it (numpy's repr of a float32), so that
    the CLI's reader gets exactly the floats the module copies."""
    columns = [np.asarray(X, dtype=np.float32)]
    if y is not None:
        columns.append(np.asarray(y, dtype=np.float32).reshape(len(X), -1))
    rows = np.hstack(columns)
    with open(path, "w") as out:
        for row in rows:
            out.write(",".join(np.format_float_positional(v, unique=True, trim="0") for v in row) + "\n")
    return path


def as_flags(options):
    """The options dictionary as `sigtrain train` flags (min_delta → --min-delta; True → a bare flag)."""
    flags = []
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            flags.append(flag)
        elif value is not False:
            flags += [flag, ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)]
    return flags


# Settings that change the plan in different places: the defaults; a non-default optimizer whose lr
# default differs (adam), standardised inputs and targets, early stopping keeping the best epoch; bias,
# tanh and a step schedule with file order.
SETTINGS = [
    {"layers": [3, 4, 2], "epochs": 4},
    {"layers": "3,5,2", "epochs": 6, "optimizer": "adam", "standardize": "both", "patience": 2, "batch": 16,
     "seed": 7, "val_split": 0.25, "backend": "cpu"},
    {"layers": [3, 6, 6, 2], "bias": True, "activation": "tanh", "schedule": "step", "step_every": 2, "gamma": 0.5,
     "epochs": 5, "no_shuffle": True, "lr": 0.05, "backend": "reference"},
]


@pytest.mark.parametrize("options", SETTINGS, ids=["defaults", "adam-standardized-patience", "bias-tanh-step"])
def test_train_writes_the_bytes_sigtrain_train_saves(tmp_path, cli, options):
    # Catches any difference between the module's run and the CLI's: option defaults (lr for adam), the
    # split, the standardisation, the float conversion of the arrays, the model file's text.
    X, y = random_set(300, 3, 2, seed=11)
    data = write_float32_csv(tmp_path / "data.csv", X, y)
    saved = tmp_path / "cli.json"
    cli("train", "--data", data, *as_flags(options), "--save", saved, "--quiet")
    result = _core.train(X, y, options)
    assert result["outcome"] in ("completed", "stopped_early")
    assert result["model"] == saved.read_text()
    assert [e["epoch"] for e in result["epochs"]] == list(range(1, len(result["epochs"]) + 1))


def test_predict_and_evaluate_print_what_the_cli_prints(tmp_path, cli):
    # Catches predictions or losses computed differently from `sigtrain predict` / `sigtrain eval`
    # (standardisation undone, the output activation, the loss), and a wrong output shape.
    X, y = random_set(200, 3, 2, seed=12)
    model = _core.train(X, y, {"layers": [3, 5, 2], "epochs": 3, "standardize": "both"})["model"]
    (tmp_path / "m.json").write_text(model)
    inputs = write_float32_csv(tmp_path / "x.csv", X)
    both = write_float32_csv(tmp_path / "xy.csv", X, y)
    predicted = _core.predict(model, X)
    assert predicted.shape == (200, 2) and predicted.dtype == np.float64
    printed = cli("predict", "--model", tmp_path / "m.json", "--data", inputs).stdout
    assert printed == "".join(",".join("%.9g" % v for v in row) + "\n" for row in predicted)
    evaluated = cli("eval", "--model", tmp_path / "m.json", "--data", both).stdout
    assert evaluated == "%.9g\n" % _core.evaluate(model, X, y)


def test_dtype_and_memory_order_do_not_change_the_model():
    # Catches a stride or dtype mistake in reading the arrays (Fortran order read as C order, float64
    # read as float32, a 1-D y taken for a row), and a forcecast of integers that goes wrong.
    X, y = random_set(120, 2, 1, seed=13)
    X = np.round(X * 4) / 4  # exact in every dtype below, integers too after scaling
    options = {"epochs": 3}
    reference = _core.train(X, y[:, 0], options)["model"]
    variants = {
        "float64 C": X.astype(np.float64),
        "float32 F": np.asfortranarray(X),
        "float64 F": np.asfortranarray(X.astype(np.float64)),
        "strided": np.repeat(X, 2, axis=1)[:, ::2],
    }
    for name, Xv in variants.items():
        assert _core.train(Xv, y, options)["model"] == reference, name
    assert _core.train(X, y.astype(np.float64).reshape(-1, 1), options)["model"] == reference
    scaled = (X * 4).astype(np.int64)
    assert _core.predict(reference, scaled).tolist() == _core.predict(reference, scaled.astype(np.float64)).tolist()


def test_bad_arrays_are_value_errors_with_the_library_messages():
    # Catches data that would reach the trainer unchecked (NaN, inf, beyond float) and shapes that do
    # not fit the network or each other, and messages that are not the library's.
    X, y = random_set(50, 2, 1, seed=14)
    nan_x = X.copy()
    nan_x[7, 1] = np.nan
    inf_y = y.astype(np.float64)
    inf_y[3, 0] = np.inf
    huge = X.astype(np.float64)
    huge[0, 0] = 1e39
    cases = [
        (nan_x, y, r"^X\[7, 1\]: 'NaN' is not a finite number$"),
        (X, inf_y, r"^y\[3, 0\]: 'inf' is not a finite number$"),
        (huge, y, r"^X\[0, 0\]: '1e\+39' is out of range for float$"),
        (X[:, :1], y, r"^X: 1 column, but the network 2-3-3-1 needs 2 inputs$"),
        (X, np.hstack([y, y]), r"^y: 2 columns, but the network 2-3-3-1 needs 1 target$"),
        (X, y[:40], r"^y: 40 rows, but X has 50 rows$"),
        (X[:0], y[:0], r"^X: no samples \(0 rows\)$"),
        (X[None], y, r"^X: expected a 2-D array, got 3-D$"),
        (X, y[None], r"^y: expected a 1-D or 2-D array, got 3-D$"),
    ]
    for Xb, yb, message in cases:
        with pytest.raises(ValueError, match=message):
            _core.train(Xb, yb, {"epochs": 1})
    model = _core.train(X, y, {"epochs": 1})["model"]
    with pytest.raises(ValueError, match=r"^X\[7, 1\]: 'NaN' is not a finite number$"):
        _core.predict(model, nan_x)
    with pytest.raises(ValueError, match=r"^X: 3 columns, but the network 2-3-3-1 needs 2 inputs$"):
        _core.predict(model, np.hstack([X, X[:, :1]]))


def test_options_are_checked_as_the_cli_checks_its_flags():
    # Catches an option silently ignored (a typo) or taken with the wrong type, and checks that differ
    # from the CLI's (the same words as `sigtrain train` prints).
    X, y = random_set(40, 2, 1, seed=15)
    with pytest.raises(ValueError, match=r"^unknown option 'epoch'; the options are layers, "):
        _core.train(X, y, {"epoch": 3})
    with pytest.raises(ValueError, match=r"^--epochs: 'three' is not a whole number$"):
        _core.train(X, y, {"epochs": "three"})
    with pytest.raises(ValueError, match=r"^--lr must be a finite number above 0, got 0$"):
        _core.train(X, y, {"lr": 0.0})
    with pytest.raises(ValueError, match=r"^--keep must be best or last, got 'first'$"):
        _core.train(X, y, {"keep": "first"})
    with pytest.raises(ValueError, match=r"^--patience watches the validation loss: give --val-split above 0$"):
        _core.train(X, y, {"patience": 2, "val_split": 0})


def test_train_many_equals_the_single_runs():
    # Catches replicas/sweeps that do not expand as --replicas/--sweep do, or a replica whose model is
    # not its single run's (train/replicas.h promises the same bits).
    X, y = random_set(100, 2, 1, seed=16)
    many = _core.train_many(X, y, {"epochs": 2, "seed": 5}, replicas=2, sweeps=["lr=0.1,0.3"])
    assert [(r["seed"], r["lr"]) for r in many] == [(5, 0.1), (6, 0.1), (5, 0.3), (6, 0.3)]
    for r in many:
        assert r["model"] == _core.train(X, y, {"epochs": 2, "seed": r["seed"], "lr": r["lr"]})["model"]


def test_a_diverged_run_is_a_value_error_carrying_its_result():
    # Catches a diverged run returned as if it had trained.
    X, y = random_set(100, 2, 1, seed=17)
    with pytest.raises(ValueError) as caught:
        _core.train(X, y * 1e4, {"lr": 1e3, "epochs": 5})
    assert isinstance(caught.value, FloatingPointError)
    assert caught.value.result["outcome"] == "diverged"


CHILD = textwrap.dedent("""
    import signal, sys
    import numpy as np
    from sigtrain import _core
    rng = np.random.default_rng(1)
    X = rng.uniform(-2, 2, size=(2000, 2))
    y = np.sin(X[:, 0]) * np.cos(X[:, 1])
    try:
        _core.train(X, y, {"epochs": 10**7}, verbose=True)
        print("not interrupted")
    except KeyboardInterrupt as e:
        print("interrupted:", e.result["outcome"], len(e.result["epochs"]) >= 0)
        _core.predict(e.result["model"], X[:3])  # the model at the stop is a consistent one
    print("handler restored:", signal.getsignal(signal.SIGINT) is signal.default_int_handler)
    sys.stdout.flush()
""")


def test_ctrl_c_stops_after_the_step_and_raises_keyboard_interrupt():
    # Catches Ctrl-C that does nothing while the library trains (Python's handler cannot run then),
    # that kills the interpreter, or that leaves the module's handler in place afterwards. The child
    # prints the first line once training has begun (after the module's handler is in place).
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=dict(os.environ))
    header = child.stdout.readline()
    assert header.startswith("sigtrain train: "), header + child.stderr.read()
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=300)
    assert child.returncode == 0, err
    lines = [line for line in out.splitlines() if not line.startswith("epoch ")]
    assert lines == ["interrupted: interrupted True", "handler restored: True"], out + err
