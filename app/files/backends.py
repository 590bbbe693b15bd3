"""Where file bytes live: local disk (default) or an S3 bucket. Both answer the same small interface."""

import os
from pathlib import Path

from flask import current_app


class LocalBackend:
    """Files under one directory (config STORAGE_LOCAL_DIR), never inside the static folder."""

    name = "local"
    supports_direct_upload = False

    def __init__(self, root: str):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError("storage key escapes the storage root")
        return path

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, path)  # readers never see half a file

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def head_bytes(self, key: str, count: int) -> bytes:
        with self._path(key).open("rb") as handle:
            return handle.read(count)

    def size(self, key: str) -> int | None:
        path = self._path(key)
        return path.stat().st_size if path.exists() else None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).exists()


class S3Backend:
    """An S3 (or S3-compatible) bucket through boto3; downloads and browser uploads use presigned URLs."""

    name = "s3"
    supports_direct_upload = True

    def __init__(self, config):
        import boto3
        from botocore.config import Config as BotoConfig

        self.bucket = config["S3_BUCKET"]
        self.expires = int(config.get("S3_PRESIGN_SECONDS") or 300)
        self.client = boto3.client(
            "s3",
            region_name=config.get("S3_REGION") or "us-east-1",
            endpoint_url=config.get("S3_ENDPOINT_URL") or None,
            aws_access_key_id=config.get("S3_ACCESS_KEY_ID") or None,
            aws_secret_access_key=config.get("S3_SECRET_ACCESS_KEY") or None,
            config=BotoConfig(signature_version="s3v4", s3={"addressing_style": "path"}),
        )

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def get(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def head_bytes(self, key: str, count: int) -> bytes:
        """The first `count` bytes, by a ranged GET (the whole object is not fetched)."""
        answer = self.client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes=0-{count - 1}")
        return answer["Body"].read()

    def size(self, key: str) -> int | None:
        from botocore.exceptions import ClientError

        try:
            return self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"]
        except ClientError:
            return None

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    def presigned_get(self, key: str, content_type: str, disposition: str) -> str:
        params = {
            "Bucket": self.bucket,
            "Key": key,
            "ResponseContentType": content_type,
            "ResponseContentDisposition": disposition,
        }
        return self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=self.expires)

    def presigned_post(self, key: str, content_type: str, max_bytes: int) -> dict:
        """A form the browser posts straight to the bucket: exactly this key, type and at most max_bytes."""
        return self.client.generate_presigned_post(
            Bucket=self.bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_bytes]],
            ExpiresIn=self.expires,
        )


def current_backend():
    """The configured backend: S3 when STORAGE_BACKEND is "s3" and a bucket is set, local disk otherwise."""
    config = current_app.config
    if config.get("STORAGE_BACKEND") == "s3" and config.get("S3_BUCKET"):
        cache = current_app.extensions.setdefault("storage_backends", {})
        signature = tuple(config.get(k) for k in ("S3_BUCKET", "S3_REGION", "S3_ENDPOINT_URL", "S3_ACCESS_KEY_ID"))
        if signature not in cache:
            cache[signature] = S3Backend(config)
        return cache[signature]
    return LocalBackend(config.get("STORAGE_LOCAL_DIR") or os.path.join(current_app.instance_path, "uploads"))
