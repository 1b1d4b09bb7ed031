"""The library's trainer as scikit-learn estimators: what every sigtrain estimator shares (settings,
fit, fit_many, fitted attributes, save/load, to_torch) in _SigtrainNetwork, and MLPRegressor on it.
MLPClassifier (classifier.py) is the same base with a sigmoid/bce head and labels."""

import numbers
import os
import warnings

import numpy as np
from sklearn.base import BaseEstimator, MultiOutputMixin, RegressorMixin, clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_consistent_length, check_is_fitted

from . import _core
from .model_file import ModelView

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _validate_data

    _ALLOW_NON_FINITE = {"ensure_all_finite": False}
except ImportError:  # scikit-learn < 1.6 (Debian 12 has 1.2.1)
    def _validate_data(estimator, *args, **kwargs):
        return estimator._validate_data(*args, **kwargs)

    _ALLOW_NON_FINITE = {"force_all_finite": False}

# What sklearn checks about the arrays: their structure (dimensions, at least one column, a numeric
# dtype, not sparse, not complex, the feature count at predict). What it does not: NaN/inf and data
# without rows reach the library, whose one-line message is the ValueError. float32 and float64 arrays pass
# as they are, C or Fortran order, without a copy; the library copies them once into its fp32 data set.
_ARRAY_CHECKS = dict(dtype=(np.float64, np.float32), order=None, ensure_min_samples=0, **_ALLOW_NON_FINITE)
_X_CHECKS = _ARRAY_CHECKS
_Y_CHECKS = dict(_ARRAY_CHECKS, ensure_2d=False)

# scikit-learn's name for the sigmoid, accepted so that code written for sklearn's MLPRegressor runs.
_ACTIVATION_ALIASES = {"logistic": "sigmoid"}


class _SigtrainNetwork(BaseEstimator):
    """What MLPRegressor and MLPClassifier share: every setting but the output head (MLPRegressor's
    parameters, less output_activation and loss), their translation to the library's options, fit,
    fit_many, the fitted attributes, save, to_torch and from_model_text. A subclass says what its
    head is (_head), how y becomes the library's targets (_encode_targets) and what a model file
    tells about them (_target_state_of_model)."""

    def __init__(self, hidden_layer_sizes=(3, 3), *, activation="sigmoid", solver="sgd", batch_size=8,
                 learning_rate_init=None, learning_rate="constant", power_t=0.5, step_every=10, gamma=0.5,
                 warmup=0, momentum=0.9, beta_1=0.9, beta_2=0.999, epsilon=1e-8, weight_decay=0.0, max_iter=100,
                 shuffle=True, random_state=None, bias=False, standardize="none", validation_fraction=0.2,
                 patience=0, min_delta=0.0, keep=None, backend="auto", threads=1, kernel="auto", tf32=False,
                 warm_start=False, verbose=False):
        _store_settings(self, locals())

    # The one place where the estimator's settings become the library's (`sigtrain train`'s) options.
    def _train_options(self, n_inputs, n_outputs):
        hidden = self.hidden_layer_sizes
        hidden = [hidden] if isinstance(hidden, numbers.Integral) else list(hidden)
        options = {
            "layers": [int(n_inputs), *hidden, int(n_outputs)],
            "bias": self.bias,
            "activation": _ACTIVATION_ALIASES.get(self.activation, self.activation),
            "output": self._head()[0],
            "loss": self._head()[1],
            "optimizer": self.solver,
            "batch": self.batch_size,
            "schedule": self.learning_rate,
            "power": self.power_t,
            "step_every": self.step_every,
            "gamma": self.gamma,
            "warmup": self.warmup,
            "momentum": self.momentum,
            "beta1": self.beta_1,
            "beta2": self.beta_2,
            "eps": self.epsilon,
            "weight_decay": self.weight_decay,
            "epochs": self.max_iter,
            "no_shuffle": not self.shuffle,
            "standardize": self.standardize,
            "val_split": self.validation_fraction,
            "patience": self.patience,
            "min_delta": self.min_delta,
            "backend": self.backend,
            "threads": self.threads,
            "kernel": self.kernel,
            "tf32": self.tf32,
        }
        # Left out, these take the library's defaults (lr per optimizer, seed 2, keep per patience).
        if self.learning_rate_init is not None:
            options["lr"] = self.learning_rate_init
        if self.random_state is not None:
            options["seed"] = _seed_of(self.random_state)
        if self.keep is not None:
            options["keep"] = self.keep
        return {key: _plain(value) for key, value in options.items()}

    def fit(self, X, y):
        """Trains a new network on X (n, n_features) and y (n,) or (n, n_outputs); returns self.

        A bad setting or array is a ValueError with the library's message; a run whose loss became NaN
        or infinite raises sigtrain._core.DivergedError (a ValueError and FloatingPointError) and leaves
        the estimator as it was; Ctrl-C stops after the step in progress, keeps that step's model
        (outcome_ 'interrupted') and raises KeyboardInterrupt."""
        warm = bool(self.warm_start) and hasattr(self, "model_")
        # A warm start checks the features against the fitted model's (sklearn's rule and message).
        X, y = self._validate_training_data(X, y, reset=not warm)
        # The targets' fitted state (classes_, the prediction's shape) is set with the model, so that a
        # run that fails leaves the estimator as it was.
        targets, target_state = self._encode_targets(y)
        if warm:
            self._check_warm_start_targets(target_state)
        try:
            result = _core.train(X, targets, self._train_options(X.shape[1], _width(targets)),
                                 verbose=bool(self.verbose), init_model=self.model_ if warm else None)
        except KeyboardInterrupt as stop:
            # As the CLI saves the model at Ctrl-C: the estimator keeps the model of the last finished
            # step (outcome_ 'interrupted'), and the interrupt goes on up.
            if getattr(stop, "result", None) is not None:
                self._set_result(stop.result, target_state, continued=warm)
            raise
        self._set_result(result, target_state, continued=warm)
        return self

    def fit_many(self, X, y, *, replicas=1, seeds=None, learning_rates=None):
        """Trains several networks with this estimator's settings in one library call (`sigtrain train
        --replicas R --sweep lr=… --sweep seed=…`) and returns one fitted estimator of this class per network,
        in the library's order (learning rates outermost, then seeds; with learning_rates, `replicas`
        seeds each, counting up from random_state). Each returned estimator has the seed and learning
        rate it was trained with as its random_state and learning_rate_init, so fitting it again
        trains the same network. A network that diverged is returned with outcome_ 'diverged' (its
        last finite model) and a RuntimeWarning; if all of them diverged, DivergedError. Ctrl-C
        raises KeyboardInterrupt (its .result holds the library's per-network results). self is left
        unchanged.
        """
        template = clone(self)
        X, y = template._validate_training_data(X, y)
        targets, target_state = template._encode_targets(y)
        sweeps = []
        if learning_rates is not None:
            sweeps.append("lr=" + ",".join(repr(float(rate)) for rate in learning_rates))
        if seeds is not None:
            sweeps.append("seed=" + ",".join(str(_seed_of(seed)) for seed in seeds))
        results = _core.train_many(X, targets, self._train_options(X.shape[1], _width(targets)), replicas=replicas,
                                   sweeps=sweeps, verbose=bool(self.verbose))
        fitted = []
        for result in results:
            network = clone(self).set_params(random_state=result["seed"], learning_rate_init=result["lr"])
            if hasattr(template, "feature_names_in_"):
                network.feature_names_in_ = template.feature_names_in_
            network._set_result(result, target_state)
            fitted.append(network)
        diverged = [i for i, network in enumerate(fitted) if network.outcome_ == "diverged"]
        if diverged:
            warnings.warn(f"fit_many: networks {diverged} diverged; each keeps its last finite model",
                          RuntimeWarning, stacklevel=2)
        return fitted

    def _network_outputs(self, X):
        """The network's outputs for X, (n, n_outputs), in the data's units (as `sigtrain predict`)."""
        check_is_fitted(self, "model_")
        X = _validate_data(self, X, reset=False, **_X_CHECKS)
        return _core.predict(self.model_, X, backend=self._predict_backend())

    def save(self, path):
        """Writes the model file (the text `sigtrain predict --model` reads) atomically."""
        check_is_fitted(self, "model_")
        _core.save_model(self.model_, os.fspath(path))

    def to_torch(self, dtype=None):
        """An equivalent torch.nn.Sequential (see sigtrain.torch_interop.to_torch)."""
        from .torch_interop import to_torch
        check_is_fitted(self, "model_")
        return to_torch(self.model_, dtype=dtype)

    @classmethod
    def from_model_text(cls, text):
        """A fitted estimator for a model file's text, with the settings the file records (the
        network, activations, loss, optimizer and its settings, standardisation). The library
        validates the text here, so a bad model fails now with its message, not at predict."""
        view = ModelView(text)
        optimizer = view.optimizer
        recorded = dict(hidden_layer_sizes=tuple(view.layers[1:-1]), activation=view.hidden_activation,
                        output_activation=view.output_activation, loss=view.loss, solver=optimizer["name"],
                        momentum=optimizer.get("momentum", 0.9), beta_1=optimizer.get("beta1", 0.9),
                        beta_2=optimizer.get("beta2", 0.999), epsilon=optimizer.get("eps", 1e-8),
                        weight_decay=optimizer.get("weight_decay", 0.0), bias=view.bias,
                        standardize=view.standardize)
        _core.predict(text, np.zeros((1, view.layers[0])), backend="reference")  # validates the text
        # The head is a setting of MLPRegressor and fixed in MLPClassifier (which checks it below).
        estimator = cls(**{name: value for name, value in recorded.items() if name in cls._get_param_names()})
        target_state = estimator._target_state_of_model(view)
        estimator._set_model(text, view)
        vars(estimator).update(target_state)
        return estimator

    # What a subclass defines: its (output activation, loss); y as the library's float targets with
    # the fitted attributes they imply (a dict set on the estimator with the model); those attributes
    # for a loaded model file; and what sklearn checks about y.
    def _head(self):
        raise NotImplementedError

    def _encode_targets(self, y):
        raise NotImplementedError

    def _target_state_of_model(self, view):
        raise NotImplementedError

    _y_checks = _Y_CHECKS

    def _check_warm_start_targets(self, target_state):
        """A warm start goes on from the fitted network, so y must mean what it meant then (the same
        labels for a classifier); the library checks the widths itself, naming init_model."""

    def _validate_training_data(self, X, y, reset=True):
        if y is None:  # what sklearn's validate_data says for a missing y
            raise ValueError(f"This {type(self).__name__} estimator requires y to be passed, "
                             "but the target y is None.")
        X, y = _validate_data(self, X, y, reset=reset, validate_separately=(_X_CHECKS, self._y_checks))
        check_consistent_length(X, y)
        return X, y

    def _set_result(self, result, target_state, continued=False):
        """The fitted attributes of a run's result; `continued` (a warm start): the epochs go on from
        the fitted ones, as scikit-learn's warm_start continues n_iter_ and loss_curve_."""
        before = self._fitted_curves() if continued else ([], [])
        self._set_model(result["model"], ModelView(result["model"]))
        epochs = result["epochs"]
        self.loss_curve_ = before[0] + [float(e["train_loss"]) for e in epochs]
        self.n_iter_ = len(self.loss_curve_)
        validation = before[1] + [float(e["validation_loss"]) for e in epochs]
        has_validation = bool(validation) and not np.isnan(validation).all()
        if has_validation:
            self.validation_scores_ = validation
        elif hasattr(self, "validation_scores_"):
            del self.validation_scores_
        curve = validation if has_validation else self.loss_curve_
        self.best_loss_ = float(np.nanmin(curve)) if curve and not np.isnan(curve).all() else float("nan")
        self.kept_epoch_ = int(result["kept_epoch"])
        self.outcome_ = result["outcome"]
        vars(self).update(target_state)

    def _fitted_curves(self):
        """(loss_curve_, validation per epoch with NaN where none) of the fitted run; empty for a
        model loaded from a file (it has no curves)."""
        losses = list(getattr(self, "loss_curve_", []))
        validation = list(getattr(self, "validation_scores_", [float("nan")] * len(losses)))
        return losses, validation

    def _set_model(self, text, view):
        self.model_ = text
        self.n_features_in_ = view.layers[0]
        self.n_outputs_ = view.layers[-1]
        # sklearn's layout: coefs_[l] maps a row of inputs to a row of outputs, (n_in, n_out).
        self.coefs_ = [w.T.copy() for w in view.weights]
        self.intercepts_ = [b if b is not None else np.zeros(w.shape[0]) for w, b in zip(view.weights, view.biases)]

    def _predict_backend(self):
        return "cpu" if self.backend == "auto" else self.backend


class MLPRegressor(MultiOutputMixin, RegressorMixin, _SigtrainNetwork):
    """A fully connected network trained by sigtrain's library, with scikit-learn's interface.

    The defaults are the notes' network and `sigtrain train`'s defaults: two hidden layers of 3 sigmoid
    units, a linear output, squared error, plain SGD at lr 0.2 with batches of 8 for 100 epochs, 20% of
    the rows held out for validation, seed 2. With the same data and settings, `fit` saves the same
    model file bytes as `sigtrain train --save` (README "sigtrain train" says what each setting does).

    Parameters (the flag of `sigtrain train` each one sets)
    ----------
    hidden_layer_sizes : tuple of int, default (3, 3)
        Hidden widths; the input and output widths come from X and y (`--layers`).
    activation : {'sigmoid', 'tanh', 'relu'}, default 'sigmoid' (`--activation`; 'logistic' is sigmoid)
    output_activation : {'linear', 'sigmoid'}, default 'linear' (`--output`)
    loss : {'mse', 'bce'}, default 'mse' (`--loss`; bce needs output_activation='sigmoid')
    solver : {'sgd', 'momentum', 'nesterov', 'adam', 'adamw'}, default 'sgd' (`--optimizer`)
    batch_size : int, default 8 (`--batch`)
    learning_rate_init : float or None, default None (`--lr`; None: 0.2, or 0.001 for adam and adamw)
    learning_rate : {'constant', 'step', 'cosine', 'invscaling'}, default 'constant' (`--schedule`)
    power_t, step_every, gamma, warmup : the schedule's settings (`--power`, `--step-every`,
        `--gamma`, `--warmup`), defaults 0.5, 10, 0.5, 0
    momentum, beta_1, beta_2, epsilon, weight_decay : the optimizer's settings (`--momentum`,
        `--beta1`, `--beta2`, `--eps`, `--weight-decay`), defaults 0.9, 0.9, 0.999, 1e-8, 0
    max_iter : int, default 100 — epochs (`--epochs`)
    shuffle : bool, default True (False: `--no-shuffle`)
    random_state : int, RandomState or None, default None (`--seed`; None: sigtrain's default seed 2,
        so an unseeded fit is still reproducible; a RandomState draws the seed from it)
    bias : bool, default False (`--bias`; the notes' network has none)
    standardize : {'none', 'inputs', 'targets', 'both'}, default 'none' (`--standardize`)
    validation_fraction : float, default 0.2 (`--val-split`; 0: train on every row)
    patience, min_delta : early stopping (`--patience`, `--min-delta`), defaults 0 (off), 0.0
    keep : {'best', 'last'} or None, default None (`--keep`; None: best with patience, else last)
    backend : {'auto', 'reference', 'cpu', 'cuda'}, default 'auto' (`--backend`; predict uses it too,
        with 'auto' as 'cpu', as `sigtrain predict` does)
    threads : int, default 1 (`--threads`; 0: all cores)
    kernel : {'auto', 'fused', 'cublas'}, default 'auto' (`--kernel`; the cuda backend's)
    tf32 : bool, default False (`--tf32`; the cuda backend's cuBLAS path on TF32 tensor cores)
    warm_start : bool, default False — fit goes on from the fitted network (`--init`: its weights,
        optimizer state and standardisation), n_iter_ and loss_curve_ continuing; X must have the
        same features and y the same width (a classifier: the same labels)
    verbose : bool, default False — print the CLI's first line and epoch lines to Python's
        sys.stdout (so a notebook shows them)

    Nothing is checked when the estimator is made or its parameters set: `fit` hands them to the
    library, whose one-line message is the ValueError for a bad value or combination.

    Attributes
    ----------
    model_ : str — the model file's text (what `save` writes and `sigtrain predict` reads)
    n_features_in_, n_outputs_ : int
    coefs_, intercepts_ : lists of arrays in scikit-learn's layout: coefs_[l] is (n_in, n_out) (the
        transpose of the file's W_l), intercepts_[l] is (n_out,), zeros where bias=False.
    n_iter_ : int — epochs trained
    loss_curve_ : list of float — training loss per epoch (in standardised units where the targets
        are standardised, as the CLI's epoch lines)
    validation_scores_ : list of float — validation LOSS per epoch (lower is better; unlike
        scikit-learn's, not an R²), only where validation_fraction > 0
    best_loss_ : float — the lowest validation loss, or without validation the lowest training loss
    kept_epoch_ : int — the epoch whose model was kept (`keep`)
    outcome_ : str — 'completed', 'stopped_early', 'interrupted' (Ctrl-C; fit then raises
        KeyboardInterrupt) or 'diverged' (fit_many only; fit raises DivergedError instead)
    """

    # scikit-learn reads the settings from __init__'s signature, so each estimator spells its own out;
    # this one is _SigtrainNetwork's with the head added (test_classifier checks that they agree).
    def __init__(self, hidden_layer_sizes=(3, 3), *, activation="sigmoid", output_activation="linear",
                 loss="mse", solver="sgd", batch_size=8, learning_rate_init=None, learning_rate="constant",
                 power_t=0.5, step_every=10, gamma=0.5, warmup=0, momentum=0.9, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, weight_decay=0.0, max_iter=100, shuffle=True, random_state=None, bias=False,
                 standardize="none", validation_fraction=0.2, patience=0, min_delta=0.0, keep=None,
                 backend="auto", threads=1, kernel="auto", tf32=False, warm_start=False, verbose=False):
        _store_settings(self, locals())

    def predict(self, X):
        """The network's outputs for X, in the data's units (as `sigtrain predict`): (n,) when the
        model was fitted on a 1-D y (or has one output and was loaded), else (n, n_outputs)."""
        outputs = self._network_outputs(X)
        return outputs.ravel() if self._predicts_1d else outputs

    def _head(self):
        return self.output_activation, self.loss

    def _encode_targets(self, y):
        return y, {"_predicts_1d": y.ndim == 1}

    def _target_state_of_model(self, view):
        return {"_predicts_1d": view.layers[-1] == 1}


def _store_settings(estimator, arguments):
    """Each __init__ argument as the attribute of its name, and nothing else (sklearn's rule)."""
    for name, value in arguments.items():
        if name != "self":
            setattr(estimator, name, value)


def _seed_of(random_state):
    """An int seed as given; a RandomState (sklearn's convention) gives one drawn from it."""
    if isinstance(random_state, numbers.Integral):
        return int(random_state)
    return int(check_random_state(random_state).randint(0, 2**31 - 1))


def _plain(value):
    """NumPy scalars (a grid from np.linspace, a width from np.arange) as Python's own numbers, which
    the module reads as the CLI reads a flag's text; anything else as it is, for the library to judge."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _width(y):
    return 1 if y.ndim == 1 else y.shape[1]


def load(path):
    """A fitted estimator for a model file (one `sigtrain train --save` or an estimator's save wrote):
    an MLPClassifier for a bce model (the file has no labels: its classes_ are [0, 1], or 0..k-1 for
    k outputs), else an MLPRegressor. It predicts as `sigtrain predict --model path` does."""
    from .classifier import MLPClassifier  # classifier.py builds on this module

    with open(path, encoding="utf-8") as f:
        text = f.read()
    kind = MLPClassifier if ModelView(text).loss == "bce" else MLPRegressor
    return kind.from_model_text(text)
