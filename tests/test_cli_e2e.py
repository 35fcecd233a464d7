"""The `tracuu` command as a user runs it: index, ask (text and JSON), and its failures."""

import json
import shutil
import subprocess

import pytest

from tests.conftest import CORPUS, run_tracuu



def test_index_twice_embeds_nothing_the_second_time(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS / "004_36a51179155aa3a4.txt", corpus)
    first = run_tracuu("index", "--corpus", str(corpus), "--index", str(tmp_path / "idx"))
    assert first.returncode == 0, first.stderr
    assert "1 tài liệu" in first.stdout
    second = run_tracuu("index", "--corpus", str(corpus), "--index", str(tmp_path / "idx"))
    assert second.returncode == 0, second.stderr
    assert "(0 đoạn/câu nhúng mới" in second.stdout


def test_ask_json_is_what_the_api_returns(seed_index, live_server):
    import httpx

    question = "Ai là Cục trưởng Cục Bảo vệ chính trị nội bộ?"
    cli = run_tracuu("ask", question, "-k", "3", "--json", "--index", str(seed_index))
    assert cli.returncode == 0, cli.stderr
    from_cli = json.loads(cli.stdout)
    from_api = httpx.get(f"{live_server}/api/search", params={"q": question, "k": 3}).json()
    for body in (from_cli, from_api):
        body.pop("took_ms")
        assert set(body.pop("timings")) >= {"encode", "fusion"}
    assert from_cli == from_api
    assert any("Nguyễn Kim Minh" in h["text"] for h in from_cli["results"])


def test_ask_prints_citations(seed_index):
    r = run_tracuu("ask", "Tỉnh Bình Thuận có bao nhiêu dân?", "-k", "2", "--index", str(seed_index))
    assert r.returncode == 0, r.stderr
    assert "[1]" in r.stdout and "000_eef771c6f4b7a4c7.txt" in r.stdout and "ký tự" in r.stdout


@pytest.mark.parametrize("args,words", [(["", "--json"], "trống"), (["hỏi", "-k", "99"], "k"), (["hỏi", "--mode", "x"], "x")])
def test_ask_rejects_bad_input(seed_index, args, words):
    r = run_tracuu("ask", *args, "--index", str(seed_index))
    assert r.returncode == 1
    assert words in r.stderr and "Traceback" not in r.stderr


def test_missing_index_names_the_command_to_run(tmp_path):
    r = run_tracuu("ask", "câu hỏi", "--index", str(tmp_path / "nothing"))
    assert r.returncode == 1
    assert "tracuu index" in r.stderr and "Traceback" not in r.stderr
    served = run_tracuu("serve", "--index", str(tmp_path / "nothing"), "--port", "1")
    assert served.returncode == 1 and "tracuu index" in served.stderr


def test_corrupt_index_is_refused(tmp_path, seed_index):
    broken = tmp_path / "broken"
    shutil.copytree(seed_index, broken, symlinks=True)
    version = (broken / "current").resolve()
    (version / "dense.faiss").write_bytes(b"not a faiss index")
    r = run_tracuu("serve", "--index", str(broken), "--port", "1")
    assert r.returncode == 1
    assert "hỏng" in r.stderr and "tracuu index" in r.stderr and "Traceback" not in r.stderr


def test_index_built_with_another_model_is_refused(tmp_path, seed_index):
    r = run_tracuu("serve", "--index", str(seed_index), "--port", "1", env={"TRACUU_MODEL": "some/other-model"})
    assert r.returncode == 1
    assert "some/other-model" in r.stderr and "tracuu index" in r.stderr


def test_empty_corpus_fails_clearly(tmp_path):
    (tmp_path / "empty").mkdir()
    r = run_tracuu("index", "--corpus", str(tmp_path / "empty"), "--index", str(tmp_path / "idx"))
    assert r.returncode == 1 and "Không có tài liệu" in r.stderr


def test_help_lists_subcommands():
    r = subprocess.run([str(run_tracuu.exe), "--help"], capture_output=True, text=True)
    assert r.returncode == 0
    for name in ("index", "serve", "ask", "setup"):
        assert name in r.stdout


def test_index_reports_added_changed_removed_documents(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("000_eef771c6f4b7a4c7.txt", "004_36a51179155aa3a4.txt"):
        shutil.copy(CORPUS / name, corpus)
    index = ["--corpus", str(corpus), "--index", str(tmp_path / "idx")]
    assert run_tracuu("index", *index).returncode == 0
    changed = corpus / "004_36a51179155aa3a4.txt"
    changed.write_text(changed.read_text(encoding="utf-8") + "\nMột đoạn mới được thêm vào cuối bài viết.\n", encoding="utf-8")
    (corpus / "000_eef771c6f4b7a4c7.txt").unlink()
    shutil.copy(CORPUS / "003_2cb5ba63ba071e47.txt", corpus)
    r = run_tracuu("index", *index)
    assert r.returncode == 0, r.stderr
    assert "thêm 1, sửa 1, xóa 1, không đổi 0" in r.stdout
