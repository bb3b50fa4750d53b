"""A broker that only speaks SASL_SSL (SCRAM users, mutual TLS, ACLs on), started by deploy/kafka/kafka.sh,
and the settings each part of the pipeline connects to it with."""

from __future__ import annotations

import os
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from elava.demo.simulated import free_port
from elava.settings import Settings, load_settings
from tests.certificates import Certificates, make_certificates
from tests.integration.conftest import ROOT, SCRIPT

ACLS = ROOT / "deploy" / "kafka" / "acls.sh"
ADMIN = "admin"
USERS = ("elava-collector", "elava-worker", "elava-executor")
SIGNERS = ("elava-worker", "elava-executor")  # the policy stage signs action requests, the executor verifies


@dataclass
class SecureBroker:
    certs: Certificates
    port: int = field(default_factory=free_port)
    passwords: dict[str, str] = field(default_factory=lambda: {u: f"{u}-{uuid.uuid4().hex[:8]}" for u in (ADMIN, *USERS)})
    prefix: str = field(default_factory=lambda: f"sec-{uuid.uuid4().hex[:6]}")
    signing_key: str = field(default_factory=lambda: uuid.uuid4().hex * 2)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def script_env(self) -> dict[str, str]:
        users = " ".join(f"{u}:{self.passwords[u]}" for u in USERS)
        return {**os.environ, "KAFKA_PORT": str(self.port), "KAFKA_CONTROLLER_PORT": str(free_port()),
                "KAFKA_FRESH": "1", "KAFKA_SECURITY": "sasl_ssl", "KAFKA_ACLS": "1",
                "KAFKA_ADMIN_USER": ADMIN, "KAFKA_ADMIN_PASSWORD": self.passwords[ADMIN], "KAFKA_SCRAM_USERS": users,
                "KAFKA_SSL_CA": str(self.certs.ca), "KAFKA_SSL_CERT": str(self.certs.server_cert),
                "KAFKA_SSL_KEY": str(self.certs.server_key), "KAFKA_SSL_CLIENT_AUTH": "required"}

    def start(self) -> None:
        _run(["bash", str(SCRIPT), "start"], self.script_env(), "start the SASL_SSL broker")

    def stop(self) -> None:
        subprocess.run(["bash", str(SCRIPT), "stop"], env=self.script_env(), capture_output=True)

    def grant_acls(self) -> None:
        """The ACLs of deploy/kafka/acls.sh (what docs/operations.md tells operators to run)."""
        env = {**self.script_env(), "ELAVA_TOPIC_PREFIX": self.prefix,
               "ELAVA_COLLECTOR_GROUP": f"{self.prefix}-collectors", "ELAVA_WORKER_APP": f"{self.prefix}-worker",
               "ELAVA_POLICIES_APP": f"{self.prefix}-policies", "ELAVA_FLEET_APP": f"{self.prefix}-fleet",
               "ELAVA_DRIFT_APP": f"{self.prefix}-drift",
               "ELAVA_EXECUTOR_APP": f"{self.prefix}-executor"}
        _run(["bash", str(ACLS), "bash", str(SCRIPT), "acls"], env, "grant the ACLs")

    def settings(self, user: str, work_dir: Path, **kafka: object) -> Settings:
        """Settings of one part of the pipeline, connecting as ``user`` (kafka.* overrides win)."""
        security = {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512", "sasl_username": user,
                    "sasl_password": self.passwords[user], "ssl_cafile": str(self.certs.ca),
                    "ssl_certfile": str(self.certs.client_cert), "ssl_keyfile": str(self.certs.client_key),
                    "ssl_key_password": self.certs.client_key_password} | kafka
        overrides = {f"kafka__{k}": v for k, v in security.items() if v is not None}
        if user in SIGNERS:
            overrides["signing__keys"] = {"k1": self.signing_key}
        return load_settings(
            None, kafka__bootstrap_servers=self.bootstrap, kafka__topic_prefix=self.prefix, kafka__partitions=2,
            kafka__shard_buckets=2, collector__group_id=f"{self.prefix}-collectors",
            worker__app_id=f"{self.prefix}-worker", worker__data_dir=str(work_dir / "worker"), worker__web_port=0,
            policies__app_id=f"{self.prefix}-policies", analyzer__drift__app_id=f"{self.prefix}-drift",
            analyzer__patterns__fleet_app_id=f"{self.prefix}-fleet",
            executor__app_id=f"{self.prefix}-executor", executor__session_timeout="6s", **overrides)


def start_secure_broker(directory: Path) -> SecureBroker:
    broker = SecureBroker(make_certificates(directory))
    broker.start()
    return broker


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"could not {what}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
