"""Printing for the CLI: Rich tables and panels, problems made readable, secrets masked."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from services.cli.api import ApiError
from services.common.masking import MASK, mask

console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)


def secret(value: str, *, show: bool) -> str:
    """A secret as printed: whole when asked for, else its first characters only."""
    if show or not value:
        return value
    return f"{value[:6]}{MASK}" if len(value) > 12 else MASK


def as_json(value: Any) -> None:
    console.print_json(json.dumps(mask(value), default=str))


def problem(exc: ApiError) -> None:
    """A problem document as a person reads it: code, what happened, what to do."""
    body = mask(exc.problem)
    lines = [f"[bold]{exc.status} {exc.code}[/bold]  {exc.method} {exc.url}"]
    if body.get("detail"):
        lines.append(str(body["detail"]))
    if body.get("action"):
        lines.append(f"[green]What to do:[/green] {body['action']}")
    for item in body.get("errors") or []:
        if isinstance(item, dict):
            where = item.get("path") or item.get("header") or ""
            text = item.get("message") or item.get("code") or ""
            code = item.get("code", "")
            lines.append(f"  • {code} {where} {text}".rstrip())
    if exc.request_id:
        lines.append(f"[dim]X-Request-ID: {exc.request_id}[/dim]")
    errors.print(Panel("\n".join(lines), title="the platform refused", border_style="red"))


def table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    out = Table(title=title, title_justify="left")
    for column in columns:
        out.add_column(column)
    for row in rows:
        out.add_row(*("" if v is None else str(v) for v in row))
    console.print(out)
