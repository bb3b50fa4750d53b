"""`elava worker` on a fresh machine: it makes its folders, and says plainly when its port is taken."""

from __future__ import annotations

import socket

import pytest

from elava.exceptions import ElavaError
from elava.settings import load_settings
from streams.drivers.worker.app import check_web_port, create_app


def test_the_worker_makes_its_data_folder_and_the_parents(tmp_path):
    data_dir = tmp_path / "share" / "elava" / "worker"
    create_app(load_settings(None, worker__web_port=0, worker__data_dir=str(data_dir)))
    assert data_dir.is_dir()


def test_a_taken_web_port_is_named_before_faust_starts():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ElavaError, match=f"cannot serve the query API on 127.0.0.1:{port} .worker.web_port."):
            check_web_port(load_settings(None, worker__web_port=port))


def test_a_free_port_or_no_api_passes():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    check_web_port(load_settings(None, worker__web_port=port))
    check_web_port(load_settings(None, worker__web_port=0))
