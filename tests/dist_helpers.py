"""Helpers of the distributed tests."""

import contextlib
import logging
import threading
import time

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


@contextlib.contextmanager
def empty_cluster():
    """A dask ``Client`` on an in-process cluster whose one worker has left."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0",
                      silence_logs=logging.CRITICAL) as cluster, Client(cluster) as client:
        cluster.scale(0)
        deadline = time.monotonic() + 30
        while client.nthreads() and time.monotonic() < deadline:
            time.sleep(0.1)
        yield client
