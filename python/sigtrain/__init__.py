"""sigtrain from Python: the C++ library's trainer, backends and model files behind NumPy arrays.

    import sigtrain
    model = sigtrain.MLPRegressor(hidden_layer_sizes=(3, 3)).fit(X, y)   # a scikit-learn estimator
    sigtrain.MLPClassifier().fit(X, labels).predict_proba(X)             # bce on sigmoid outputs
    model.predict(X); model.score(X, y); model.save("m.json")            # the CLI's model file
    sigtrain.load("m.json")                                              # predicts as `sigtrain predict`
    model.to_torch(); sigtrain.from_torch(sequential)                    # needs torch

The bindings are sigtrain._core (pybind11); everything here is built on its train, train_many,
predict and evaluate.
"""

from ._core import __version__
from .classifier import MLPClassifier
from .estimator import MLPRegressor, load
from .torch_interop import from_torch

__all__ = ["MLPRegressor", "MLPClassifier", "load", "from_torch", "__version__"]
