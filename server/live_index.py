"""The index version the server answers from, switched to a newer one when a build publishes it.

The index lives in a folder (the embedded store) or in PostgreSQL (a postgresql:// URL, tracuu.core.pg);
everything above the reader is the same code for both."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import psycopg

from tracuu.core.pg import schema as pg
from tracuu.core.store import IndexReader, IndexUnavailable, current_version, read_manifest

Location = Path | str  # an index folder, or the coordinator's postgresql:// URL


def is_postgres(location: Location) -> bool:
    return isinstance(location, str) and pg.is_postgres_url(location)


def open_reader(location: Location):
    """The current version: an IndexReader, or a PgReader with the same methods."""
    if is_postgres(location):
        from tracuu.core.pg.reader import PgReader  # psycopg pools only when asked for

        return PgReader(location)
    return IndexReader(Path(location))


def built_with(location: Location) -> dict | None:
    """The current version's manifest (None when there is none)."""
    if not is_postgres(location):
        return read_manifest(Path(location))
    try:
        with pg.connect(location) as conn:
            row = conn.execute("SELECT manifest FROM tracuu_versions JOIN tracuu_current USING (version)").fetchone()
    except psycopg.Error:
        return None
    return row[0] if row else None


def check_model(location: Location, model_name: str) -> None:
    """Refuse, before loading anything heavy, an index built with another model."""
    manifest = built_with(location)
    if manifest is None:
        open_reader(location)  # raises the precise "missing", "corrupt" or "unreachable" message
    built = manifest["model"]["name"]
    if built != model_name:
        where = f"--store {location}" if is_postgres(location) else f"--index {location}"
        raise IndexUnavailable(
            f"Chỉ mục ở {location} được lập bằng mô hình '{built}', nhưng máy chủ đang cấu hình mô hình "
            f"'{model_name}'. Hãy chạy: tracuu index {where} (với TRACUU_MODEL={model_name})"
        )


class LiveIndex:
    """`reader` is one complete version; a request reads `reader` once and keeps it to the end."""

    def __init__(self, location: Location, model_id: str):
        self.location = location if is_postgres(location) else Path(location)
        self.model_id = model_id
        self._control: psycopg.Connection | None = None
        self.reader = self._open()

    def _open(self):
        reader = open_reader(self.location)
        built = reader.manifest["model"]["id"]
        if built != self.model_id:
            raise IndexUnavailable(
                f"Chỉ mục được lập bằng '{built}', mô hình hiện tại là '{self.model_id}'. "
                f"Hãy chạy: tracuu index {'--store' if is_postgres(self.location) else '--index'} {self.location}"
            )
        return reader

    def current(self):
        """The version a build made current: a folder, or a PostgreSQL version name (as reader.version)."""
        if not is_postgres(self.location):
            return current_version(self.location)
        try:
            if self._control is None or self._control.closed:
                self._control = pg.connect(self.location, timeout_ms=2000)
            name = pg.current_version(self._control)
        except psycopg.Error:
            self._control = None
            return None  # unreachable: keep serving what we have
        return PurePosixPath(name) if name else None

    def reload_if_changed(self) -> bool:
        """Switch to a newer version if a build made one current. Requests in flight keep the reader
        they started with; a version that fails to open is ignored and the old one keeps serving."""
        if self.current() in (None, self.reader.version):
            return False
        try:
            fresh = self._open()
        except IndexUnavailable:
            return False
        self.reader = fresh  # one attribute assignment: atomic for concurrent readers
        return True
