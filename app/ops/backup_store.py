"""Where backup sets live (a directory or an S3 prefix) and how their files are encrypted.

A backup set is a folder `leadflow-YYYYMMDDTHHMMSSZ` holding `database.*`, `files/<storage key>` and, written
last, `manifest.json`: a set without its manifest is incomplete and never restored. Both targets stage and
fetch through a local directory, so a large dump streams through disk, never through memory.

Encryption (optional) is AES-256-GCM in 1 MiB chunks: each chunk is sealed with a nonce made of a per-file
random prefix and the chunk number, and authenticates the file's name, its number and whether it is the last,
so chunks cannot be reordered, swapped between files or cut off. The key is BACKUP_ENCRYPTION_KEY, 32 random
bytes in URL-safe base64.
"""

import base64
import hashlib
import os
import shutil
import struct
import tempfile
from pathlib import Path

MANIFEST = "manifest.json"
SET_PREFIX = "leadflow-"
CHUNK = 1024 * 1024
MAGIC = b"LFBK1\n"


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why (and never holds a secret)."""


def inside(folder: Path, name: str) -> Path:
    """folder/name, refused when the name would leave the folder: a set comes from a bucket or a directory that
    others may write to, and its object keys and manifest must not place a file anywhere else on this machine."""
    path = (folder / name).resolve()
    if not name or Path(name).is_absolute() or folder.resolve() not in path.parents:
        raise BackupError(f"{name!r} is not a name inside a backup set; nothing was restored")
    return path


# --- encryption -------------------------------------------------------------------------------------------


def load_key(encoded: str | None) -> bytes:
    """The 32-byte key from its base64 form, or a BackupError saying what is wrong."""
    if not encoded:
        raise BackupError("BACKUP_ENCRYPTION_KEY is not set")
    try:
        key = base64.urlsafe_b64decode(encoded.strip() + "=" * (-len(encoded.strip()) % 4))
    except ValueError:
        key = b""
    if len(key) != 32:
        raise BackupError("BACKUP_ENCRYPTION_KEY must be 32 bytes in URL-safe base64")
    return key


def key_id(key: bytes) -> str:
    """A short fingerprint naming the key in the manifest, so a restore with another key says so clearly."""
    return hashlib.sha256(b"leadflow-backup-key" + key).hexdigest()[:16]


def _aad(name: str, number: int, last: bool) -> bytes:
    return f"{name}\0{number}\0{int(last)}".encode()


def encrypt_file(source: Path, target: Path, key: bytes, name: str) -> None:
    """Seal `source` into `target` chunk by chunk (see the module docstring)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aes, prefix = AESGCM(key), os.urandom(8)
    with source.open("rb") as reader, target.open("wb") as writer:
        writer.write(MAGIC + prefix)
        number, chunk = 0, reader.read(CHUNK)
        while True:
            following = reader.read(CHUNK)
            last = not following
            sealed = aes.encrypt(prefix + struct.pack(">I", number), chunk, _aad(name, number, last))
            writer.write(struct.pack(">I", len(sealed)) + sealed)
            if last:
                return
            number, chunk = number + 1, following


def decrypt_file(source: Path, target: Path, key: bytes, name: str) -> None:
    """Open what encrypt_file sealed; BackupError if the key is wrong or any byte was changed or cut."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aes = AESGCM(key)
    with source.open("rb") as reader, target.open("wb") as writer:
        head = reader.read(len(MAGIC) + 8)
        if not head.startswith(MAGIC):
            raise BackupError(f"{name} is not an encrypted backup file")
        prefix, number = head[len(MAGIC) :], 0
        size = reader.read(4)
        while size:
            sealed = reader.read(struct.unpack(">I", size)[0])
            size = reader.read(4)
            try:
                writer.write(aes.decrypt(prefix + struct.pack(">I", number), sealed, _aad(name, number, not size)))
            except InvalidTag:
                raise BackupError(f"{name} does not decrypt with this key (wrong key, or altered)") from None
            number += 1
        if number == 0:
            raise BackupError(f"{name} is empty")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


# --- targets ----------------------------------------------------------------------------------------------


def open_target(location: str, config):
    """A DirectoryTarget for a path, an S3Target for s3://bucket/prefix."""
    if location.startswith("s3://"):
        bucket, _, prefix = location[len("s3://") :].partition("/")
        if not bucket:
            raise BackupError("an S3 location reads s3://bucket/prefix")
        return S3Target(bucket, prefix.strip("/"), config)
    return DirectoryTarget(Path(location))


class DirectoryTarget:
    """Sets as folders under one directory; a set appears under its name only once it is complete."""

    def __init__(self, root: Path):
        self.root = root

    def publish(self, staged: Path, name: str) -> str:
        """Move a staged set in place (it was staged inside root, so this is one atomic rename)."""
        final = self.root / name
        os.replace(staged, final)
        return str(final)

    def staging_dir(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=".partial-", dir=self.root))

    def complete_sets(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.name.startswith(SET_PREFIX) and (p / MANIFEST).is_file())

    def is_set(self, name: str) -> bool:
        return (self.root / name / MANIFEST).is_file()

    def fetch(self, name: str, into: Path | None = None) -> Path:
        """The set's folder, read in place (no copy)."""
        folder = self.root / name if name else self.root
        if not self.is_set(name):
            raise BackupError(f"{folder} is not a complete backup set (no {MANIFEST})")
        return folder


class S3Target:
    """Sets as key prefixes in a bucket (BACKUP_S3_* settings, else the storage's S3_* ones); manifest last."""

    def __init__(self, bucket: str, prefix: str, config):
        import boto3
        from botocore.config import Config as BotoConfig

        def setting(name):
            return config.get(f"BACKUP_{name}") or config.get(name) or None

        self.bucket, self.prefix = bucket, prefix
        self.client = boto3.client(
            "s3",
            region_name=setting("S3_REGION") or "us-east-1",
            endpoint_url=setting("S3_ENDPOINT_URL"),
            aws_access_key_id=setting("S3_ACCESS_KEY_ID"),
            aws_secret_access_key=setting("S3_SECRET_ACCESS_KEY"),
            config=BotoConfig(signature_version="s3v4", s3={"addressing_style": "path"}),
        )

    def _key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)

    def staging_dir(self) -> Path:
        return Path(tempfile.mkdtemp(prefix="leadflow-backup-"))

    def publish(self, staged: Path, name: str) -> str:
        """Upload every file, then the manifest: until it lands, the set is not complete."""
        paths = sorted(p for p in staged.rglob("*") if p.is_file() and p.name != MANIFEST)
        for path in [*paths, staged / MANIFEST]:
            self.client.upload_file(str(path), self.bucket, self._key(name, path.relative_to(staged).as_posix()))
        shutil.rmtree(staged, ignore_errors=True)
        return f"s3://{self.bucket}/{self._key(name)}"

    def complete_sets(self) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._key(SET_PREFIX) if self.prefix else SET_PREFIX, Delimiter="/"
        )
        names = [p["Prefix"].rstrip("/").rsplit("/", 1)[-1] for page in pages for p in page.get("CommonPrefixes", [])]
        return sorted(n for n in names if self.is_set(n))

    def is_set(self, name: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(name, MANIFEST))
        except ClientError:
            return False
        return True

    def fetch(self, name: str, into: Path) -> Path:
        """Download the set (manifest first: no manifest, no set) into a local folder."""
        if not self.is_set(name):
            raise BackupError(f"s3://{self.bucket}/{self._key(name)} is not a complete backup set (no {MANIFEST})")
        base = self._key(name) + "/" if self._key(name) else ""
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=base):
            for item in page.get("Contents", []):
                path = inside(into, item["Key"][len(base) :])
                path.parent.mkdir(parents=True, exist_ok=True)
                self.client.download_file(self.bucket, item["Key"], str(path))
        return into
