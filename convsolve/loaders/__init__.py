"""Config loading: parsed config mappings (YAML or JSON) into networks and search spaces.

- :mod:`~convsolve.loaders.fields`: what both loaders share: the config's key lists, line numbers,
  and values and did-you-mean hints for messages;
- :mod:`~convsolve.loaders.network`: :class:`NetworkLoader`, a config into a
  :class:`~convsolve.network.Network`;
- :mod:`~convsolve.loaders.space`: ``SpaceLoader``, a config with open fields into a
  :class:`~convsolve.space.Space`. It is not imported here: it imports the space model, which
  itself imports :mod:`~convsolve.loaders.fields` (importing it here would make that a cycle).

The models call their loader: :meth:`Network.from_config <convsolve.network.Network.from_config>`
and :meth:`Space.from_config <convsolve.space.Space.from_config>`.

Example:
    >>> from convsolve.loaders import NetworkLoader
    >>> net = NetworkLoader(None).load({"input": {"channels": 3, "size": 16},
    ...     "layers": [{"name": "pool", "type": "max_pool2d", "kernel": 2}]})
    >>> net.layer("pool").stride
    (2, 2)
"""

from .fields import (
    SPACE_KEYS, SPACE_MARKERS, TOP_LEVEL_KEYS, did_you_mean, is_space_value, line_of, show_config_value,
    show_param_value,
)
from .network import LayerHead, NetworkLoader

__all__ = [
    "SPACE_KEYS", "SPACE_MARKERS", "TOP_LEVEL_KEYS", "LayerHead", "NetworkLoader", "did_you_mean",
    "is_space_value", "line_of", "show_config_value", "show_param_value",
]
