"""A throw-away self-signed certificate for ``127.0.0.1`` / ``localhost`` (``--tls``).

Some Binance clients refuse ``ws://`` (cryptofeed: "Invalid address, must be a wss address"),
so the local exchange can serve REST and WebSocket over TLS on its one port. The certificate is
made at start, valid for a week, for the names ``localhost`` and ``127.0.0.1`` only, and is its
own CA: a client trusts it by loading ``cert_path`` (``ssl.create_default_context(cafile=...)``,
``REQUESTS_CA_BUNDLE``, ``SSL_CERT_FILE``). Made with the ``cryptography`` package when it is
installed (it comes with ccxt), else with the ``openssl`` binary; ``SelfSigned.maker`` says which.
"""

from __future__ import annotations

import datetime
import shutil
import ssl
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Maker = Literal["cryptography", "openssl"]
_HOSTS = ("localhost", "127.0.0.1")
_VALID_DAYS = 7


class TlsError(RuntimeError):
    """Neither ``cryptography`` nor an ``openssl`` binary could make the certificate."""


@dataclass(frozen=True, slots=True)
class SelfSigned:
    """A certificate/key pair on disk (PEM) and what made it."""

    cert_path: Path
    key_path: Path
    maker: Maker

    def server_context(self) -> ssl.SSLContext:
        """The context for ``LocalExchange(..., ssl_context=...)``."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_path, self.key_path)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts this certificate (and verifies the host name)."""
        return ssl.create_default_context(cafile=str(self.cert_path))


def make_self_signed(directory: Path | str | None = None) -> SelfSigned:
    """Write ``local-exchange.pem`` and ``local-exchange.key`` into ``directory`` (a new temp
    directory by default) and return them. Raises ``TlsError`` when nothing can make them."""
    folder = Path(directory) if directory is not None else Path(
        tempfile.mkdtemp(prefix="local-exchange-tls-"))
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / "local-exchange.pem", folder / "local-exchange.key"
    try:
        _with_cryptography(cert, key)
        maker: Maker = "cryptography"
    except ImportError:
        _with_openssl(cert, key)
        maker = "openssl"
    key.chmod(0o600)
    return SelfSigned(cert, key, maker)


def _with_cryptography(cert_path: Path, key_path: Path) -> None:
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    # Backdated a little so a client whose clock is slightly behind still accepts it.
    now = datetime.datetime.now(datetime.UTC)
    sans = x509.SubjectAlternativeName([
        x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=_VALID_DAYS))
            .add_extension(sans, critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _with_openssl(cert_path: Path, key_path: Path) -> None:
    binary = shutil.which("openssl")
    if binary is None:
        raise TlsError("--tls needs the 'cryptography' package or an 'openssl' binary")
    san = ",".join(f"{'IP' if host[0].isdigit() else 'DNS'}:{host}" for host in _HOSTS)
    command = [binary, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
               "-nodes", "-keyout", str(key_path), "-out", str(cert_path),
               "-days", str(_VALID_DAYS), "-subj", "/CN=localhost",
               "-addext", f"subjectAltName={san}",
               "-addext", "basicConstraints=critical,CA:TRUE"]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
    if done.returncode != 0:
        raise TlsError(f"openssl failed: {done.stderr.strip()[-300:]}")
