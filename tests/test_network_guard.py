import socket

import pytest

from tests.conftest import NetworkBlocked


def test_non_loopback_connect_is_refused() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock, pytest.raises(NetworkBlocked):
        sock.connect(("93.184.216.34", 443))


def test_name_resolution_of_remote_hosts_is_refused() -> None:
    with pytest.raises(NetworkBlocked):
        socket.getaddrinfo("api.topstepx.com", 443)


def test_loopback_is_allowed() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=2):
            pass


def test_worker_subprocesses_are_guarded_too() -> None:
    import subprocess
    import sys

    code = "import socket; socket.create_connection(('93.184.216.34', 443), timeout=2)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=30, check=False)  # fmt: skip
    assert done.returncode != 0
    assert "NetworkBlocked" in done.stderr
