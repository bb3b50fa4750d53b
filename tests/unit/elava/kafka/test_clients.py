"""The first contact with the broker is bounded and says what went wrong (no broker needed)."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest

from elava.demo.simulated import free_port
from elava.exceptions import BrokerUnreachable, ElavaError
from elava.kafka.clients import start_admin
from elava.settings import KafkaSettings


async def test_a_refused_connection_names_the_servers_and_why(caplog):
    address = f"127.0.0.1:{free_port()}"
    with caplog.at_level(logging.WARNING), pytest.raises(BrokerUnreachable) as raised:
        await start_admin(KafkaSettings(bootstrap_servers=address))
    assert str(raised.value).startswith(f"no Kafka broker answers at {address} (kafka.bootstrap_servers): ")
    assert "Connect call failed" in str(raised.value)
    assert not [r for r in caplog.records if r.name.startswith("aiokafka")]  # said once, in the error


async def test_a_server_that_never_answers_is_given_up_on():
    with socket.socket() as silent:  # accepts connections, never speaks Kafka
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        address = f"127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(BrokerUnreachable, match=f"at {address} .*: no answer within 1s"):
            await asyncio.wait_for(start_admin(KafkaSettings(bootstrap_servers=address), timeout=1.0), 30)


async def test_a_client_starting_beside_another_still_says_it_only_once(caplog):
    """Two clients start at once (tasks of one process): the first one's start ends while the
    second's is still waiting, then the second fails. What aiokafka logged about it stays held."""

    async def close_later(reader, writer):  # accepts, says nothing, hangs up after a while
        await asyncio.sleep(1.0)
        writer.close()

    closing = await asyncio.start_server(close_later, "127.0.0.1", 0)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        first = asyncio.create_task(start_admin(KafkaSettings(bootstrap_servers=_address(silent)), timeout=0.3))
        await asyncio.sleep(0.1)  # the first is waiting for its server
        with caplog.at_level(logging.WARNING):
            with pytest.raises(ElavaError, match="closed the connection"):
                await start_admin(KafkaSettings(bootstrap_servers=_address(closing.sockets[0])))
            assert first.done()  # it gave up (and ended its hold) while the second was still waiting
            with pytest.raises(BrokerUnreachable):
                await first
        assert not [r for r in caplog.records if r.name.startswith("aiokafka")]
    closing.close()


def _address(server: socket.socket) -> str:
    host, port = server.getsockname()[:2]
    return f"{host}:{port}"
