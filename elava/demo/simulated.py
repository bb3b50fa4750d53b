"""A simulated AWS account: moto's server on a free loopback port."""

from __future__ import annotations

import logging
import os
import socket
import urllib.request
from dataclasses import dataclass

import boto3

ACCOUNT = "123456789012"  # moto's default account id
IMAGE_ID = "ami-12c6146b"  # moto accepts any image id; no catalogue is loaded
REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "aws_session_token": "testing"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class SimulatedAccount:
    """Start/stop a moto server; hand out boto3 clients pointed at it."""

    port: int = 0
    _server: object | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> SimulatedAccount:
        from moto.server import ThreadedMotoServer

        # The simulated endpoint logs every request at INFO; the story is the output.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        # moto's public AMI catalogue would show up as ~1,000 "own" images and snapshots
        # (it ignores Owners=self) and slow every scan; our accounts start empty.
        os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")

        self.port = self.port or free_port()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        return self

    def reset(self) -> None:
        """Forget every simulated resource (moto's backends are shared per process)."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def client(self, service: str, region: str = REGION):
        return boto3.client(service, region_name=region, endpoint_url=self.endpoint_url, **CREDENTIALS)

    def __enter__(self) -> SimulatedAccount:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
