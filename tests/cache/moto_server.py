"""A real S3-compatible server (moto in server mode) on a free loopback port, for the blob tier.

The server runs in a thread of the test process: its buckets live in memory and survive a
`stop()` and `start()` on the same port, so a test can stop it mid-upload and look afterwards.
"""

from __future__ import annotations

import socket

from tests.needs import need


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MotoServer:
    """One moto server; `client` is a boto3 S3 client on it, for looking behind the tier."""

    def __init__(self) -> None:
        need("s3fs")
        server_module = need("moto.server")
        boto3 = need("boto3")
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._server = server_module.ThreadedMotoServer(
            ip_address="127.0.0.1", port=self.port, verbose=False
        )
        self.running = False
        self.start()
        self.client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )

    def start(self) -> None:
        self._server.start()
        self.running = True

    def stop(self) -> None:
        if self.running:
            self.running = False
            self._server.stop()

    def env(self) -> dict[str, str]:
        """The standard AWS settings s3fs reads, pointing at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))
