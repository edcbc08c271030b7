"""Turning library errors into node errors that name the node."""
from __future__ import annotations

from contextlib import contextmanager

from ..tavid_core.errors import TavidError


@contextmanager
def node_errors(node_name: str):
    """Re-raise a user-fixable TavidError with the node's name in front, without a library traceback."""
    try:
        yield
    except TavidError as e:
        raise e.located(node_name) from None
