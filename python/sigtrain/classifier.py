"""sigtrain.MLPClassifier: the library's classification loss (binary cross-entropy on sigmoid outputs,
`sigtrain train --loss bce --output sigmoid`) as a scikit-learn classifier."""

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import column_or_1d

from .estimator import _ARRAY_CHECKS, _SigtrainNetwork

# Labels are any values NumPy can sort (ints, strings, bools), so y keeps its own dtype; NaN and
# infinities are not labels (sklearn's message says so).
_LABEL_CHECKS = dict(_ARRAY_CHECKS, dtype=None, ensure_2d=False, **{key: True for key in _ARRAY_CHECKS
                                                                   if key.endswith("all_finite")})

# A sigmoid output p is the probability of the positive class (or of a label being set); as
# scikit-learn's LabelBinarizer, a row is positive where p > 0.5.
_THRESHOLD = 0.5


class MLPClassifier(ClassifierMixin, _SigtrainNetwork):
    """A fully connected network with sigmoid outputs trained on binary cross-entropy by sigtrain's
    library (`sigtrain train --output sigmoid --loss bce`), with scikit-learn's classifier interface.

    Two kinds of y:
      - binary: a 1-D y of exactly two labels of any type (ints, strings, bools, ...). classes_ is
        the sorted pair; the network has one sigmoid output, the probability of classes_[1], trained
        on the target 1 where y == classes_[1] and 0 elsewhere.
      - multilabel: a 2-D 0/1 indicator matrix (n, k), k >= 2: one sigmoid output per label, trained
        on the sum of the k cross-entropies (the library's loss); classes_ is [0, 1, ..., k-1].
    More than two classes in a 1-D y (multiclass) is refused with a ValueError: the library has no
    softmax loss, and independent sigmoids would not give class probabilities that sum to 1. A user
    can one-hot encode y (sklearn.preprocessing.LabelBinarizer) and fit it as multilabel, or wrap
    this estimator in sklearn.multiclass.OneVsRestClassifier, knowing what either means.

    Parameters: those of MLPRegressor, with the same defaults and the same `sigtrain train` flags, less
    output_activation and loss, which are fixed at 'sigmoid' and 'bce'. standardize may be 'none' or
    'inputs' (the library refuses standardised targets with bce).

    Attributes: those of MLPRegressor (model_, n_features_in_, n_outputs_ — the number of sigmoid
    units, 1 for binary —, coefs_, intercepts_, n_iter_, loss_curve_ and validation_scores_ in
    cross-entropy, best_loss_, kept_epoch_, outcome_), and classes_. A classifier loaded from a model
    file (sigtrain.load, from_model_text) has classes_ [0, 1] (or 0..k-1): the file holds no labels.

    predict gives labels (classes_[1] where p > 0.5; for multilabel a 0/1 int matrix), predict_proba
    (n, 2) columns [1 − p, p] for binary and (n, k) probabilities for multilabel, score the accuracy
    (for multilabel the fraction of rows with every label right, as sklearn's accuracy_score).
    """

    # The settings, fit, fit_many, save, to_torch and from_model_text are _SigtrainNetwork's.

    _y_checks = _LABEL_CHECKS

    def predict_proba(self, X):
        """(n, 2) [1 − p, p] for a binary model, where p is the probability of classes_[1]; (n, k)
        for multilabel, column j the probability that label j is set. The numbers are `sigtrain
        predict`'s for the model file."""
        probabilities = self._network_outputs(X)
        if self._multilabel:
            return probabilities
        positive = probabilities[:, 0]
        return np.column_stack([1.0 - positive, positive])

    def predict(self, X):
        """Labels from classes_ (n,) for binary; a (n, k) 0/1 int indicator matrix for multilabel."""
        set_labels = self._network_outputs(X) > _THRESHOLD
        if self._multilabel:
            return set_labels.astype(int)
        return self.classes_[set_labels[:, 0].astype(np.intp)]

    def _head(self):
        return "sigmoid", "bce"

    def _encode_targets(self, y):
        if y.ndim == 2 and y.shape[1] > 1 and type_of_target(y) == "multilabel-indicator":
            return np.asarray(y, dtype=np.float64), {"classes_": np.arange(y.shape[1]), "_multilabel": True}
        # sklearn's rules for the rest: a column y is taken as 1-D with a DataConversionWarning; a
        # continuous or multi-output y is refused with sklearn's message.
        check_classification_targets(y)
        if y.ndim == 2 and y.shape[1] > 1:
            raise ValueError(f"MLPClassifier takes a 2-D y only as a 0/1 multilabel indicator matrix; this y "
                             f"is {type_of_target(y)} (one classifier per column: "
                             "sklearn.multioutput.MultiOutputClassifier)")
        y = column_or_1d(y, warn=True)
        classes = np.unique(y)
        if len(y) == 0:
            # No rows: the library refuses them with its own message, as for the regressor.
            return np.zeros(0), {"classes_": classes, "_multilabel": False}
        if len(classes) != 2:
            raise ValueError(_wrong_class_count_message(classes))
        return (y == classes[1]).astype(np.float64), {"classes_": classes, "_multilabel": False}

    def _check_warm_start_targets(self, target_state):
        # (sklearn's MLPClassifier refuses the same way: the network's outputs mean the fitted labels)
        before, now = self.classes_, target_state["classes_"]
        if self._multilabel != target_state["_multilabel"] or not np.array_equal(before, now):
            raise ValueError(f"warm_start can only be used where y has the same classes as in the previous "
                             f"call to fit: previously {before.tolist()}, y has {now.tolist()}")

    def _target_state_of_model(self, view):
        if view.loss != "bce":
            raise ValueError(f"MLPClassifier needs a model trained with loss 'bce' (a sigmoid output); this "
                             f"model's loss is '{view.loss}': load it as an MLPRegressor")
        outputs = view.layers[-1]
        return {"classes_": np.arange(max(outputs, 2)), "_multilabel": outputs > 1}

    def _more_tags(self):  # scikit-learn < 1.6
        return {"binary_only": True, "multilabel": True}

    def __sklearn_tags__(self):  # scikit-learn >= 1.6 (not called by older versions)
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        tags.classifier_tags.multi_label = True
        return tags


def _wrong_class_count_message(classes):
    shown = ", ".join(map(repr, classes[:5].tolist())) + (", ..." if len(classes) > 5 else "")
    if len(classes) < 2:
        return (f"MLPClassifier needs samples of 2 classes, but y contains only one class ({shown})")
    return (f"MLPClassifier fits two classes (or a 2-D 0/1 multilabel y), but y has {len(classes)} classes "
            f"({shown}): sigtrain's only classification loss is binary cross-entropy on sigmoid outputs, "
            "there is no softmax (multiclass) loss. One-hot encode y (sklearn.preprocessing.LabelBinarizer) "
            "to fit one sigmoid per class as multilabel, or use sklearn.multiclass.OneVsRestClassifier")
