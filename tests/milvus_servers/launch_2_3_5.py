"""Start the real Milvus 2.3.5 standalone from the `milvus==2.3.5` wheel, for tests.

Run with the interpreter of the venv that has the wheel (`scripts/bootstrap-milvus-2.3.5`):
    .venv-milvus-2.3.5/bin/python tests/milvus_servers/launch_2_3_5.py --data DIR --port PORT

The wheel's own launcher does not suit tests: its embedded etcd always binds 2379/2380, so two
servers cannot run at once; it treats the port as a starting point; its bind check lacks
SO_REUSEADDR, so a restart right after a kill fails; and it orphans the server on SIGTERM.
Here every port is chosen (free) and kept for restarts on the same data dir (etcd remembers
the old addresses), everything binds 127.0.0.1, graceful stops are short, and the process
execs the binary: the pid started IS the server, SIGTERM stops it, SIGKILL kills it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import sys
from pathlib import Path

from milvus import MilvusServerConfig, _initialize_data_files  # type: ignore[import-not-found]


def _try_bind_port(self: object, port: int) -> socket.socket | None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        return sock
    except OSError:
        sock.close()
        return None


MilvusServerConfig.try_bind_port = _try_bind_port


def free_ports(count: int, exclude: set[int]) -> list[int]:
    """Distinct free ports (held open together, so none is handed out twice)."""
    sockets, ports = [], []
    while len(ports) < count:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sockets.append(sock)
        port = sock.getsockname()[1]
        if port not in exclude and port not in ports:
            ports.append(port)
    for sock in sockets:
        sock.close()
    return ports


def port_is_free(port: int) -> bool:
    sock = _try_bind_port(None, port)
    if sock is None:
        return False
    sock.close()
    return True


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--port", type=int, required=True, help="gRPC (proxy) port")
    parser.add_argument("--graceful-stop-s", type=int, default=3)
    parser.add_argument("--session-ttl-s", type=int, default=10)
    parser.add_argument(
        "--bin-dir",
        type=Path,
        default=Path(sys.prefix) / "milvus-2.3.5-bin",
        help="where the ~246 MB binary is unpacked once, shared by every data dir",
    )
    args = parser.parse_args()

    keys = [
        key
        for key in MilvusServerConfig().configurable_items
        if key.endswith("_port") and key != "proxy_port"
    ]
    saved_file = args.data / "configs" / "ports.json"
    internal: list[int] | None = None
    if saved_file.exists():
        saved = json.loads(saved_file.read_text()).get("internal", [])
        if len(saved) == len(keys) + 2 and args.port not in saved and all(map(port_is_free, saved)):
            internal = saved
    if internal is None:
        internal = free_ports(len(keys) + 2, exclude={args.port})
    config_ports = {"proxy_port": args.port, **dict(zip(keys, internal, strict=False))}
    etcd_peer, metrics = internal[len(keys)], internal[len(keys) + 1]

    config = MilvusServerConfig(data_dir=str(args.data), **config_ports)
    config.resolve()  # writes DATA/configs/milvus.yaml
    _initialize_data_files(str(args.bin_dir))  # unpacks the binary unless already there

    # The embedded etcd's ports can only be set through an etcd config file.
    etcd_client = config.get("etcd_port")
    base = Path(config.base_data_dir)
    etcd_yaml = base / "configs" / "embed-etcd.yaml"
    etcd_yaml.write_text(
        "name: default\n"
        f"listen-client-urls: http://127.0.0.1:{etcd_client}\n"
        f"advertise-client-urls: http://127.0.0.1:{etcd_client}\n"
        f"listen-peer-urls: http://127.0.0.1:{etcd_peer}\n"
        f"initial-advertise-peer-urls: http://127.0.0.1:{etcd_peer}\n"
        f"initial-cluster: default=http://127.0.0.1:{etcd_peer}\n"
    )
    milvus_yaml = base / "configs" / "milvus.yaml"
    text = milvus_yaml.read_text()
    text = text.replace(
        "  use:\n    embed: true", f"  config:\n    path: {etcd_yaml}\n  use:\n    embed: true", 1
    )
    text = re.sub(r"(?m)^  ip:.*$", "  ip: 127.0.0.1", text)
    stop_s = args.graceful_stop_s
    text = re.sub(r"(?m)^  gracefulStopTimeout:.*$", f"  gracefulStopTimeout: {stop_s}", text)
    text = re.sub(r"(?m)^(    ttl:) 30 .*$", rf"\1 {args.session_ttl_s}", text)
    for role in ("queryNode", "indexNode"):
        text = text.replace(f"\n{role}:\n", f"\n{role}:\n  gracefulStopTimeout: {stop_s}\n", 1)
    milvus_yaml.write_text(text)

    executable = args.bin_dir / "bin" / "milvus"
    env = dict(os.environ)
    env.update(
        {
            "DEPLOY_MODE": "STANDALONE",
            "METRICS_PORT": str(metrics),
            "MILVUS_RUN_DIR": str(base / "run"),
            "MILVUSCONF": str(base / "configs"),
            "LD_LIBRARY_PATH": f"{executable.parent}:{os.environ.get('LD_LIBRARY_PATH', '')}",
        }
    )
    saved_file.write_text(json.dumps({"internal": internal}))
    print(json.dumps({**config_ports, "etcd_peer_port": etcd_peer, "metrics_port": metrics}))
    sys.stdout.flush()
    os.chdir(base)  # milvus reads configs/milvus.yaml relative to its working directory
    os.execve(executable, [str(executable), "run", "standalone"], env)


if __name__ == "__main__":
    main()
