"""The deployment's real parts for the tests: deploy/'s Mosquitto and nginx configurations, started as
they are shipped, with only what a test machine must change (ports, paths, the certificate)."""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.conftest import backend_missing
from tests.live.helpers import free_port, wait_for_port
from urbantwin.access.broker import BrokerAccounts, BrokerPlan, broker_roles
from urbantwin.settings import Settings

DEPLOY = Path(__file__).parents[2] / "deploy"
HOST = "twin.example.org"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
SENSOR = ("gateway-1", "a sensor's password")
#: The dynamic security plugin's administrator, as `mosquitto_ctrl dynsec init` makes it.
DYNSEC_ADMIN = ("urbantwin-admin", "the broker administrator's password")


def replaced(text: str, changes: dict[str, str]) -> str:
    """`text` with each key replaced by its value; every key must occur (the shipped file changed?)."""
    for old, new in changes.items():
        assert old in text, f"{old!r} is no longer in the shipped file"
        text = text.replace(old, new)
    return text


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for twin.example.org and 127.0.0.1: (certificate, key)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "twin.pem", folder / "twin.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={HOST}",
         "-addext", f"subjectAltName=DNS:{HOST},IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@dataclass(frozen=True)
class Broker:
    platform: int  # the platform's own listener (plain MQTT, 127.0.0.1)
    websocket: int  # readers, MQTT over WebSocket (the dynamic security plugin's listener)
    sensors: int  # sensors with a password, TLS

    @property
    def dynsec_url(self) -> str:
        """`URBANTWIN_MQTT_DYNSEC_URL` of this broker."""
        user, password = DYNSEC_ADMIN
        return f"ws://{user}:{quote(password, safe='')}@127.0.0.1:{self.websocket}/mqtt"


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory, certificate: tuple[Path, Path]) -> Iterator[Broker]:
    """deploy/mosquitto/urbantwin.conf running on free ports, its dynamic security plugin made as
    docs/deployment.md says and given the roles of a store without restricted datasets (anonymous
    readers read the SensorThings topics)."""
    if not Path(MOSQUITTO).exists():
        backend_missing("Mosquitto is not installed: `apt-get install mosquitto`")
    folder = tmp_path_factory.mktemp("mosquitto")
    ports = Broker(free_port(), free_port(), free_port())
    passwords = folder / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwords), *SENSOR], check=True, capture_output=True)
    shutil.copy(DEPLOY / "mosquitto" / "sensors.acl", folder / "sensors.acl")
    dynsec = folder / "dynamic-security.json"
    subprocess.run(
        ["mosquitto_ctrl", "dynsec", "init", str(dynsec), *DYNSEC_ADMIN], check=True, capture_output=True
    )
    cert, key = certificate
    config = replaced(
        (DEPLOY / "mosquitto" / "urbantwin.conf").read_text(),
        {
            "listener 1883 127.0.0.1": f"listener {ports.platform} 127.0.0.1",
            "listener 8083 127.0.0.1": f"listener {ports.websocket} 127.0.0.1",
            "listener 8883\n": f"listener {ports.sensors} 127.0.0.1\n",
            "/var/lib/mosquitto/dynamic-security.json": str(dynsec),
            "/etc/mosquitto/urbantwin-sensors.acl": str(folder / "sensors.acl"),
            "/etc/mosquitto/urbantwin.passwd": str(passwords),
            "/etc/mosquitto/certs/urbantwin.crt": str(cert),
            "/etc/mosquitto/certs/urbantwin.key": str(key),
        },
    )
    if os.geteuid() == 0:  # else Mosquitto drops root and cannot read the test's private folders
        config = "user root\n" + config
    (folder / "mosquitto.conf").write_text(config)
    # Its log goes to a file: the plugin logs every control command, and a pipe no one reads would
    # fill and stop the broker.
    log = folder / "mosquitto.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [MOSQUITTO, "-c", str(folder / "mosquitto.conf")], stdout=output, stderr=subprocess.STDOUT
        )
    try:
        try:
            for port in (ports.platform, ports.websocket, ports.sensors):
                wait_for_port(port, process=process)
        except (RuntimeError, TimeoutError) as exc:
            process.kill()
            process.wait()
            raise RuntimeError(f"{exc}: {log.read_text()}") from None
        accounts = BrokerAccounts(Settings(mqtt_dynsec_url=ports.dynsec_url))
        accounts.apply(BrokerPlan(broker_roles(accounts.policy, [], [], [], ""), {}))
        yield ports
    finally:
        process.terminate()
        process.wait(10)


@dataclass(frozen=True)
class Proxy:
    http: int
    https: int
    certificate: Path

    @property
    def base(self) -> str:
        return f"https://127.0.0.1:{self.https}"

    def trust(self) -> ssl.SSLContext:
        """What a client checks nginx's certificate against: the test's own certificate."""
        return ssl.create_default_context(cafile=str(self.certificate))


def start_nginx(folder: Path, site: str) -> subprocess.Popen:
    """nginx with Debian's modules (brotli) and `site` as its only site, in `folder`."""
    temp = {name: folder / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi", "cache")}
    for path in temp.values():
        path.mkdir()
    (folder / "site.conf").write_text(site)
    # Debian's module snippets name their files relative to nginx's prefix, which is the test's here.
    (folder / "modules").symlink_to(Path("/usr/share/nginx/modules").resolve())
    user = "user root;\n" if os.geteuid() == 0 else ""  # the test's folders belong to whoever runs it
    (folder / "nginx.conf").write_text(
        f"""{user}include /etc/nginx/modules-enabled/*.conf;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 512; }}
http {{
    include /etc/nginx/mime.types;
    access_log off;
    client_body_temp_path {temp["body"]};
    proxy_temp_path {temp["proxy"]};
    fastcgi_temp_path {temp["fastcgi"]};
    uwsgi_temp_path {temp["uwsgi"]};
    scgi_temp_path {temp["scgi"]};
    include {folder}/site.conf;
}}
"""
    )
    return subprocess.Popen(
        [NGINX, "-p", str(folder), "-c", str(folder / "nginx.conf"), "-g", "daemon off;"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def nginx_site(server_ports: list[int], websocket_port: int, proxy: Proxy, folder: Path) -> str:
    """deploy/nginx/urbantwin.conf in front of the servers on `server_ports` (several nodes are
    several `server` lines of its upstream) and the broker's WebSocket listener."""
    cert, key = proxy.certificate, proxy.certificate.with_suffix(".key")
    servers = "\n    ".join(f"server 127.0.0.1:{port};" for port in server_ports)
    return replaced(
        (DEPLOY / "nginx" / "urbantwin.conf").read_text(),
        {
            "server 127.0.0.1:8000;": servers,
            "server 127.0.0.1:8083;": f"server 127.0.0.1:{websocket_port};",
            "    listen 80;\n    listen [::]:80;\n": f"    listen 127.0.0.1:{proxy.http};\n",
            "    listen 443 ssl http2;\n    listen [::]:443 ssl http2;\n": (
                f"    listen 127.0.0.1:{proxy.https} ssl http2;\n"
            ),
            "/etc/ssl/certs/twin.example.org.pem": str(cert),
            "/etc/ssl/private/twin.example.org.key": str(key),
            "/var/cache/nginx/urbantwin": str(folder / "cache"),
            "/var/www/html": str(folder),
        },
    )


@pytest.fixture
def proxy(
    live_server: str, broker: Broker, certificate: tuple[Path, Path], tmp_path: Path
) -> Iterator[Proxy]:
    """The served app behind deploy/nginx/urbantwin.conf (and its broker's WebSocket listener)."""
    server_port = int(live_server.rsplit(":", 1)[1])
    yield from run_proxy([server_port], broker.websocket, certificate, tmp_path)


def run_proxy(
    server_ports: list[int], websocket_port: int, certificate: tuple[Path, Path], tmp_path: Path
) -> Iterator[Proxy]:
    """nginx with the shipped site in front of `server_ports`, while the generator runs."""
    if not Path(NGINX).exists():
        backend_missing("nginx is not installed: `apt-get install nginx libnginx-mod-http-brotli-filter`")
    ports = Proxy(free_port(), free_port(), certificate[0])
    folder = tmp_path / "nginx"
    folder.mkdir()
    process = start_nginx(folder, nginx_site(server_ports, websocket_port, ports, folder))
    try:
        try:
            wait_for_port(ports.https, process=process)
        except (RuntimeError, TimeoutError) as exc:
            process.kill()
            raise RuntimeError(f"{exc}: {process.communicate()[0].decode()}") from None
        yield ports
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0].decode()
        errors = (folder / "error.log").read_text() if (folder / "error.log").exists() else ""
        assert "[emerg]" not in output + errors, output + errors
