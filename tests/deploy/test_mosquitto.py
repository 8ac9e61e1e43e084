"""The broker configurations, on a real Mosquitto 2.0.

deploy/compose (mosquitto.acl): ingest reads the uplink through its shared subscription, a
collector may only publish its uplink, nobody connects without a password.
deploy/systemd/mosquitto (posfleet.conf, posfleet.acl): collectors connect over TLS with a
client certificate of the fleet CA, whose CN is their user name; without one, or with a
certificate of another CA, they do not connect; ingest reads on the loopback listener.
"""

from __future__ import annotations

import getpass
import queue
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from posfleet.stack.net import tcp_connectable
from tests.fixtures.net import LOOPBACK, free_port
from tests.fixtures.process import ManagedProcess
from tests.fixtures.servers import MosquittoFactory, MosquittoServer

ROOT = Path(__file__).resolve().parents[2]
ACL = ROOT / "deploy" / "compose" / "mosquitto.acl"
SYSTEMD_CONF = ROOT / "deploy" / "systemd" / "mosquitto" / "posfleet.conf"
SYSTEMD_ACL = ROOT / "deploy" / "systemd" / "mosquitto" / "posfleet.acl"
PASSWORDS = {"ingest": "ingest-secret", "collector": "collector-secret"}
UPLINK = "posfleet/uplink/v1/acme/S-001/T-0001/status"
SHARED = "$share/posfleet-ingest/posfleet/uplink/v1/#"


@pytest.fixture
def broker(mosquitto_factory: MosquittoFactory, tmp_path: Path) -> MosquittoServer:
    passwd = tmp_path / "passwd"
    for index, (user, password) in enumerate(PASSWORDS.items()):
        create = ["-c"] if index == 0 else []
        subprocess.run(["mosquitto_passwd", *create, "-b", str(passwd), user, password],
                       check=True, capture_output=True, timeout=30)
    return mosquitto_factory(
        extra_config=f"allow_anonymous false\npassword_file {passwd}\nacl_file {ACL}"
    )


class _Client:
    """A paho MQTT v5 client that records what it receives and its SUBACK codes."""

    def __init__(
        self,
        broker: MosquittoServer | tuple[str, int],
        user: str | None,
        password: str | None,
        *,
        tls: tuple[Path, Path, Path] | None = None,
    ) -> None:
        self.messages: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.connected: queue.Queue[ReasonCode] = queue.Queue()
        self.subacks: queue.Queue[list[ReasonCode]] = queue.Queue()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        if user is not None:
            self.client.username_pw_set(user, password)
        self.client.on_connect = lambda c, u, f, rc, p: self.connected.put(rc)
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self.subacks.put(list(rcs))
        self.client.on_message = lambda c, u, m: self.messages.put((m.topic, bytes(m.payload)))
        if tls is not None:
            ca, cert, key = tls
            self.client.tls_set(ca_certs=str(ca), certfile=str(cert), keyfile=str(key))
        host, port = broker if isinstance(broker, tuple) else (broker.host, broker.port)
        self.client.connect(host, port)
        self.client.loop_start()

    def connect_result(self) -> ReasonCode:
        return self.connected.get(timeout=10)

    def subscribe(self, topic: str) -> list[ReasonCode]:
        self.client.subscribe(topic, qos=1)
        return self.subacks.get(timeout=10)

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def clients(broker: MosquittoServer) -> Iterator[dict[str, _Client]]:
    made = {user: _Client(broker, user, password) for user, password in PASSWORDS.items()}
    yield made
    for client in made.values():
        client.close()


def test_ingest_reads_what_a_collector_uplinks(clients: dict[str, _Client]) -> None:
    ingest, collector = clients["ingest"], clients["collector"]
    assert not ingest.connect_result().is_failure
    assert not collector.connect_result().is_failure
    assert not ingest.subscribe(SHARED)[0].is_failure
    collector.publish(UPLINK, b'{"ok": 1}')
    assert ingest.messages.get(timeout=10) == (UPLINK, b'{"ok": 1}')


def test_a_collector_may_not_read_or_write_elsewhere(clients: dict[str, _Client]) -> None:
    ingest, collector = clients["ingest"], clients["collector"]
    assert not ingest.connect_result().is_failure
    assert not collector.connect_result().is_failure
    assert not ingest.subscribe(SHARED)[0].is_failure
    assert not ingest.subscribe("posfleet/v1/#")[0].is_failure
    # Mosquitto grants the subscription but checks read access on every delivery.
    collector.subscribe("posfleet/uplink/v1/#")
    collector.publish("posfleet/v1/acme/S-001/T-0001/status", b"forged push")
    collector.publish(UPLINK, b"real")
    # The forged push is dropped by the broker; the uplink arrives alone, at ingest only.
    assert ingest.messages.get(timeout=10) == (UPLINK, b"real")
    with pytest.raises(queue.Empty):
        collector.messages.get(timeout=1)
    with pytest.raises(queue.Empty):
        ingest.messages.get(timeout=0.5)


def test_no_connection_without_a_password(broker: MosquittoServer) -> None:
    anonymous = _Client(broker, None, None)
    try:
        assert anonymous.connect_result().is_failure
    finally:
        anonymous.close()
    wrong = _Client(broker, "collector", "guess")
    try:
        assert wrong.connect_result().is_failure
    finally:
        wrong.close()


# --- the systemd configuration: TLS listener with client certificates ----------------------


NEW_KEY = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
"""EC keys: as good as the guide's RSA ones here, and generated in milliseconds."""


def _openssl(folder: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True, timeout=60)


def _certificate(folder: Path, ca: str, name: str, cn: str, san: str | None = None) -> None:
    """``name``.key/.pem signed by the CA ``ca``.key/.pem (as docs/security.md shows)."""
    _openssl(folder, "req", *NEW_KEY, "-subj", f"/CN={cn}",
             "-keyout", f"{name}.key", "-out", f"{name}.csr")
    extra = []
    if san:
        (folder / f"{name}.ext").write_text(f"subjectAltName={san}\n")
        extra = ["-extfile", f"{name}.ext"]
    _openssl(folder, "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey",
             f"{ca}.key", "-CAcreateserial", "-days", "2", "-out", f"{name}.pem", *extra)


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[tuple[Path, int, int]]:
    """deploy/systemd/mosquitto/posfleet.conf with its paths and ports moved to tmp_path."""
    certs = tmp_path / "certs"
    certs.mkdir()
    for ca in ("posfleet-ca", "other-ca"):
        _openssl(certs, "req", "-x509", *NEW_KEY, "-days", "2",
                 "-subj", f"/CN={ca}", "-keyout", f"{ca}.key", "-out", f"{ca}.pem")
    _certificate(certs, "posfleet-ca", "broker", LOOPBACK, san=f"IP:{LOOPBACK}")
    _certificate(certs, "posfleet-ca", "edge-s-001", "edge-s-001")
    _certificate(certs, "other-ca", "intruder", "edge-s-001")
    passwd = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(passwd), "ingest", "ingest-secret"],
                   check=True, capture_output=True, timeout=30)
    plain, secure = free_port(), free_port()
    text = SYSTEMD_CONF.read_text()
    for old, new in {
        "listener 1883 127.0.0.1": f"listener {plain} {LOOPBACK}",
        "listener 8883\n": f"listener {secure} {LOOPBACK}\n",
        "/etc/mosquitto/certs/": f"{certs}/",
        "/etc/mosquitto/passwd": str(passwd),
        "/etc/mosquitto/posfleet.acl": str(SYSTEMD_ACL),
    }.items():
        assert old in text, old
        text = text.replace(old, new)
    # As root, mosquitto would switch to the user mosquitto, who cannot read tmp_path.
    config = tmp_path / "mosquitto.conf"
    config.write_text(f"user {getpass.getuser()}\nlog_dest stderr\n{text}")
    broker = ManagedProcess(
        "mosquitto", ["mosquitto", "-c", str(config)], log_path=tmp_path / "mosquitto.log",
        ready=lambda: tcp_connectable(LOOPBACK, secure), cwd=tmp_path,
    )
    broker.start_or_fail()
    try:
        yield certs, plain, secure
    finally:
        broker.stop()


def test_collectors_connect_with_a_fleet_certificate(tls_broker: tuple[Path, int, int]) -> None:
    certs, plain, secure = tls_broker
    ingest = _Client((LOOPBACK, plain), "ingest", "ingest-secret")
    collector = _Client(
        (LOOPBACK, secure), None, None,
        tls=(certs / "posfleet-ca.pem", certs / "edge-s-001.pem", certs / "edge-s-001.key"),
    )
    try:
        assert not ingest.connect_result().is_failure
        assert not collector.connect_result().is_failure
        assert not ingest.subscribe(SHARED)[0].is_failure
        collector.publish(UPLINK, b"over tls")
        assert ingest.messages.get(timeout=10) == (UPLINK, b"over tls")
    finally:
        collector.close()
        ingest.close()


@pytest.mark.parametrize("certificate", [None, "intruder"])
def test_no_collector_without_a_fleet_certificate(
    tls_broker: tuple[Path, int, int], certificate: str | None
) -> None:
    certs, _, secure = tls_broker
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    events: queue.Queue[str] = queue.Queue()
    client.on_connect = lambda c, u, f, rc, p: events.put(f"connack {rc}")
    client.on_disconnect = lambda c, u, f, rc, p: events.put("disconnected")
    if certificate is None:
        client.tls_set(ca_certs=str(certs / "posfleet-ca.pem"))
    else:
        client.tls_set(ca_certs=str(certs / "posfleet-ca.pem"),
                       certfile=str(certs / f"{certificate}.pem"),
                       keyfile=str(certs / f"{certificate}.key"))
    try:
        client.connect(LOOPBACK, secure)
    except (ssl.SSLError, OSError):
        return  # refused during the TLS handshake
    client.loop_start()
    try:
        # TLS 1.3 reports a refused client certificate after the handshake: the broker
        # closes the connection instead of answering CONNECT.
        assert events.get(timeout=10) == "disconnected"
    finally:
        client.disconnect()
        client.loop_stop()
