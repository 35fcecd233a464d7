"""Pieces of the index build that need no model."""

from indexer.build import compare_files, embedding_text


def test_compare_files_by_content_hash():
    before = {"a.txt": "1", "b.txt": "2", "c.txt": "3"}
    after = {"a.txt": "1", "b.txt": "9", "d.txt": "4"}
    assert compare_files(before, after) == {
        "added": ["d.txt"], "changed": ["b.txt"], "removed": ["c.txt"], "unchanged": ["a.txt"],
    }
    assert compare_files({}, after)["added"] == ["a.txt", "b.txt", "d.txt"]


def test_embedding_text_carries_title_and_heading():
    assert embedding_text("Tiêu đề", None, "Nội dung.") == "Tiêu đề\nNội dung."
    assert embedding_text("Tiêu đề", "Mục", "Nội dung.") == "Tiêu đề — Mục\nNội dung."
    assert embedding_text("", None, "Nội dung.") == "Nội dung."


def test_token_cache_returns_what_textnorm_makes(tmp_path):
    from indexer.token_cache import TokenCache
    from tracuu.core.textnorm import lexical_tokens

    texts = ["Bảo vệ chính trị nội bộ Đảng.", "Tỉnh uỷ Bình Thuận", "", "a an to no"]
    cache = TokenCache(tmp_path / "cache.sqlite")
    first = cache.tokenize(texts)
    assert first == [lexical_tokens(t) for t in texts]
    again = TokenCache(tmp_path / "cache.sqlite").tokenize(list(reversed(texts)))
    assert again == list(reversed(first))
