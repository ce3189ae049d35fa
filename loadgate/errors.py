"""One exception tree; each class carries the exit code the CLI maps it to (DESIGN §2, §5.7).

>>> raise ConfigError("targets/x.toml: [start] command: must be a list of strings")
Traceback (most recent call last):
    ...
loadgate.errors.ConfigError: targets/x.toml: [start] command: must be a list of strings
>>> ConfigError.exit_code, InfraError.exit_code
(2, 3)
"""

from __future__ import annotations


class LoadgateError(Exception):
    """Base of every error the harness raises on purpose. ``exit_code`` is what the CLI returns."""

    exit_code: int = 2


class UsageError(LoadgateError):
    """Bad command-line usage (unknown option values, missing files named on the command line)."""

    exit_code = 2


class ConfigError(LoadgateError):
    """A target, profile or budget file is missing or malformed. The message names file and key."""

    exit_code = 2


class DataError(LoadgateError):
    """A stored result or baseline is corrupt, truncated or of an unknown schema. Names the file."""

    exit_code = 2


class InfraError(LoadgateError):
    """The target did not start, died, or could not be reached; Locust itself failed."""

    exit_code = 3


class InvalidRunError(LoadgateError):
    """The run cannot be judged (load not achieved, generator saturated, too few samples)."""

    exit_code = 4


class Interrupted(LoadgateError):
    """The user pressed Ctrl-C; what was measured so far is kept."""

    exit_code = 130
