"""Where the tests find their data (tests/conftest.py): a clone alone skips with a reason,
DEN_TF_REQUIRE_DATA turns that into a failure, a variable naming nothing fails."""

import os
import socket

import conftest
import pytest

from den_tf.datasets import idx


@pytest.fixture
def connections(monkeypatch):
    """No network whatever the machine has: every connection refused where sockets
    connect (the connection check and any download alike); the addresses tried."""
    tried = []

    def refuse(address, *args, **kwargs):
        tried.append(address)
        raise ConnectionRefusedError(f"no network in this test ({address})")

    monkeypatch.setattr(socket, "create_connection", refuse)
    return tried


@pytest.fixture
def alone(monkeypatch, tmp_path, connections):
    """A checkout with no ../shared beside it, no variables, an empty cache, no network."""
    for var in ("DEN_TF_MNIST", "DEN_TF_TRACE", "DEN_TF_REQUIRE_DATA"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(conftest, "SHARED", str(tmp_path / "no_shared"))
    monkeypatch.setenv("DEN_TF_CACHE", str(tmp_path / "cache"))
    return tmp_path


def test_without_mnist_or_network_the_tests_skip_saying_how_to_get_it(alone, connections):
    with pytest.raises(pytest.skip.Exception) as e:
        conftest.find_mnist()
    msg = str(e.value)
    assert "\n" not in msg and "DEN_TF_MNIST" in msg and "cannot be reached" in msg
    assert str(alone / "cache" / "mnist") in msg
    assert not (alone / "cache" / "mnist").exists()  # nothing half-made left behind
    # the refusal came from the connection check, before any route tried a download
    assert connections == [(idx.MNIST_HOST, 443)]


def test_without_recordings_the_tests_skip_saying_how_to_get_them(alone):
    with pytest.raises(pytest.skip.Exception) as e:
        conftest.find_traces()
    msg = str(e.value)
    assert "\n" not in msg and "DEN_TF_TRACE" in msg and "trace_default.npz" in msg


@pytest.mark.parametrize("find", [conftest.find_mnist, conftest.find_traces])
def test_require_data_turns_the_skip_into_a_failure(alone, monkeypatch, find):
    monkeypatch.setenv("DEN_TF_REQUIRE_DATA", "1")
    with pytest.raises(pytest.fail.Exception, match="DEN_TF_REQUIRE_DATA is set"):
        find()


@pytest.mark.parametrize("var,find", [("DEN_TF_MNIST", conftest.find_mnist),
                                      ("DEN_TF_TRACE", conftest.find_traces)])
def test_a_variable_naming_an_empty_folder_fails(alone, monkeypatch, var, find):
    monkeypatch.setenv(var, str(alone))
    with pytest.raises(pytest.fail.Exception, match=f"{var}="):
        find()


def test_mnist_cached_by_an_earlier_fetch_is_used(alone, mnist_dir):
    cache = alone / "cache" / "mnist"
    cache.mkdir(parents=True)
    for name in idx.FILES.values():
        os.symlink(os.path.join(os.path.abspath(mnist_dir), name), cache / name)
    assert conftest.find_mnist() == str(cache)


def test_the_mnist_variable_comes_first(alone, monkeypatch, mnist_dir):
    monkeypatch.setenv("DEN_TF_MNIST", mnist_dir)
    assert conftest.find_mnist() == mnist_dir


def test_the_trace_variable_comes_first(alone, monkeypatch, trace_dir):
    monkeypatch.setenv("DEN_TF_TRACE", trace_dir)
    assert conftest.find_traces() == trace_dir
