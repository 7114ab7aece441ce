"""Deprecated: the Hypothesis strategies are in ``pytest_kafka_lab.hypothesis_strategies``
now (this name read like Kafka's partition-assignment strategies). Importing this module
still works, and warns."""

from __future__ import annotations

import warnings

from pytest_kafka_lab.hypothesis_strategies import *  # noqa: F403
from pytest_kafka_lab.hypothesis_strategies import __all__  # noqa: F401

warnings.warn("pytest_kafka_lab.strategies is deprecated: import "
              "pytest_kafka_lab.hypothesis_strategies instead", DeprecationWarning,
              stacklevel=2)
