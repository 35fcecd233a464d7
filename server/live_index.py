"""The index version the server answers from, switched to a newer one when a build publishes it."""

from __future__ import annotations

from pathlib import Path

from tracuu.core.store import IndexReader, IndexUnavailable, current_version, read_manifest


def check_model(index_dir: Path, model_name: str) -> None:
    """Refuse, before loading anything heavy, an index built with another model."""
    manifest = read_manifest(index_dir)
    if manifest is None:
        IndexReader(index_dir)  # raises the precise "missing" or "corrupt" message
    built_with = manifest["model"]["name"]
    if built_with != model_name:
        raise IndexUnavailable(
            f"Chỉ mục ở {index_dir} được lập bằng mô hình '{built_with}', nhưng máy chủ đang cấu hình mô hình "
            f"'{model_name}'. Hãy chạy: tracuu index --index {index_dir} (với TRACUU_MODEL={model_name})"
        )


class LiveIndex:
    """`reader` is one complete version; a request reads `reader` once and keeps it to the end."""

    def __init__(self, index_dir: Path, model_id: str):
        self.index_dir = index_dir
        self.model_id = model_id
        self.reader = self._open()

    def _open(self) -> IndexReader:
        reader = IndexReader(self.index_dir)
        built_with = reader.manifest["model"]["id"]
        if built_with != self.model_id:
            raise IndexUnavailable(
                f"Chỉ mục được lập bằng '{built_with}', mô hình hiện tại là '{self.model_id}'. "
                f"Hãy chạy: tracuu index --index {self.index_dir}"
            )
        return reader

    def reload_if_changed(self) -> bool:
        """Switch to a newer version if a build made one current. Requests in flight keep the reader
        they started with; a version that fails to open is ignored and the old one keeps serving."""
        if current_version(self.index_dir) in (None, self.reader.version):
            return False
        try:
            fresh = self._open()
        except IndexUnavailable:
            return False
        self.reader = fresh  # one attribute assignment: atomic for concurrent readers
        return True
