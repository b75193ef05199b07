"""Helpers of the distributed tests."""

import threading

import pytest


def within(seconds, fn, *args, **kwargs):
    """``fn(...)``, or a test failure (not a blocked test run) if it is still running after
    ``seconds``: the hang the distributed tests guard against."""
    box = {}

    def target():
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as err:  # re-raised in the test's thread
            box["error"] = err

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"still blocked after {seconds} s")
    if "error" in box:
        raise box["error"]
    return box["value"]
