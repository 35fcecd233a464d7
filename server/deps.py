"""What every route is given: the searcher (with its live index), the settings, the page templates."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates

from server.search import Searcher
from tracuu.settings import Settings

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")


def vndate(iso: str | None) -> str:
    """2022-02-08 -> 08/02/2022, the way Vietnamese documents write dates."""
    if not iso:
        return ""
    year, month, day = iso[:10].split("-")
    return f"{day}/{month}/{year}"


def percent(probability: float) -> str:
    """A confidence as a whole percentage, 1-99: a calibrated estimate is never certain either way, and
    "100 %" would read as a guarantee."""
    return f"{min(99, max(1, round(probability * 100)))}%"


templates.env.filters["vndate"] = vndate
templates.env.filters["percent"] = percent


# async: FastAPI runs a plain function dependency in its thread pool, a thread hop per request for nothing.
async def get_searcher(request: Request) -> Searcher:
    return request.app.state.searcher


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


SearcherDep = Annotated[Searcher, Depends(get_searcher)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
