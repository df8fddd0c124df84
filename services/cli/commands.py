"""The `mtdvat` commands. Each one is a few calls to the public API (`services.cli.api`);
a refusal prints the problem document readably and exits 1."""

from __future__ import annotations

import json
import sys
import webbrowser
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from services.cli import output, returns
from services.cli.api import ApiError, Platform
from services.cli.config import Config

app = typer.Typer(
    name="mtdvat",
    help="The MTD VAT platform from the command line: credentials, HMRC connections, "
    "obligations, returns, receipts, audit evidence and webhooks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
tenant_app = typer.Typer(help="Tenants (needs a platform admin's credentials).")
client_app = typer.Typer(help="API clients of a tenant (needs a platform admin's credentials).")
sandbox_app = typer.Typer(help="HMRC's sandbox: test organisations.")
webhook_app = typer.Typer(help="Webhooks: be told when a return is accepted or rejected.")
app.add_typer(tenant_app, name="tenant")
app.add_typer(client_app, name="client")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(webhook_app, name="webhook")

ShowSecrets = Annotated[
    bool, typer.Option("--show-secrets", help="Print secrets whole (they are masked otherwise).")
]


def _platform(ctx: typer.Context) -> Platform:
    """The platform client, made on first use (so `--help` needs no configuration)."""
    holder: dict[str, Any] = ctx.obj
    if "platform" not in holder:
        platform = Platform(Config.load(**holder["flags"]))
        holder["platform"] = platform
        ctx.call_on_close(platform.close)
    found: Platform = holder["platform"]
    return found


@contextmanager
def _refusals() -> Iterator[None]:
    try:
        yield
    except ApiError as exc:
        output.problem(exc)
        raise typer.Exit(1) from None
    except returns.ReturnError as exc:
        output.errors.print(f"[red]The return is not valid:[/red] {exc}")
        for item in exc.errors:
            output.errors.print(
                f"  • {item.get('code')} {item.get('path', '')} {item.get('message', '')}"
            )
        if "NOT_FINALISED" in str(exc) or any(e.get("path") == "/finalised" for e in exc.errors):
            output.errors.print("Declare the return final with --finalised.")
        raise typer.Exit(1) from None
    except httpx.TransportError as exc:
        where = exc.request.url.copy_with(query=None) if exc.request else "the platform"
        output.errors.print(f"[red]Cannot reach {where}:[/red] {type(exc).__name__} {exc}")
        output.errors.print("Is the stack up (`make up`) and are the URLs right?")
        raise typer.Exit(1) from None


@app.callback()
def configure(
    ctx: typer.Context,
    auth_url: Annotated[str | None, typer.Option(help="Auth service base URL [AUTH_URL]")] = None,
    obligations_url: Annotated[str | None, typer.Option(help="[OBLIGATIONS_URL]")] = None,
    submission_url: Annotated[str | None, typer.Option(help="[SUBMISSION_URL]")] = None,
    audit_url: Annotated[str | None, typer.Option(help="[AUDIT_URL]")] = None,
    sandbox_url: Annotated[str | None, typer.Option(help="HMRC sandbox [HMRC_SANDBOX_URL]")] = None,
    client_id: Annotated[str | None, typer.Option(help="API client id [MTD_CLIENT_ID]")] = None,
    client_secret: Annotated[
        str | None, typer.Option(help="API client secret [MTD_CLIENT_SECRET]")
    ] = None,
    admin_client_id: Annotated[
        str | None, typer.Option(help="Platform admin client [MTD_ADMIN_CLIENT_ID]")
    ] = None,
    admin_client_secret: Annotated[
        str | None, typer.Option(help="[MTD_ADMIN_CLIENT_SECRET]")
    ] = None,
) -> None:
    """Settings come from these options, else the environment, else `make up`'s stack.env."""
    ctx.obj = {
        "flags": {
            "auth_url": auth_url,
            "obligations_url": obligations_url,
            "submission_url": submission_url,
            "audit_url": audit_url,
            "sandbox_url": sandbox_url,
            "client_id": client_id,
            "client_secret": client_secret,
            "admin_client_id": admin_client_id,
            "admin_client_secret": admin_client_secret,
        }
    }


# -- tenants and API clients ---------------------------------------------------------------
@tenant_app.command("create")
def tenant_create(ctx: typer.Context, name: str) -> None:
    """Create a tenant; prints its id."""
    with _refusals():
        tenant = _platform(ctx).create_tenant(name)
    output.console.print(f"tenant [bold]{tenant['name']}[/bold]: {tenant['id']}")


@client_app.command("create")
def client_create(
    ctx: typer.Context,
    tenant_id: str,
    name: Annotated[str, typer.Option(help="A name people recognise")] = "integration",
    role: Annotated[
        list[str] | None, typer.Option(help="Repeat for several (default: submitter, auditor)")
    ] = None,
    env_file: Annotated[
        Path | None, typer.Option(help="Write MTD_CLIENT_ID/MTD_CLIENT_SECRET here (mode 600)")
    ] = None,
    show_secrets: ShowSecrets = False,
) -> None:
    """Create an API client; its secret is shown once (save it with --env-file)."""
    with _refusals():
        made = _platform(ctx).create_client(tenant_id, name, role or ["submitter", "auditor"])
    if env_file is not None:
        write_env(env_file, made["client_id"], made["client_secret"])
    output.console.print(f"client id:     {made['client_id']}")
    output.console.print(
        f"client secret: {output.secret(made['client_secret'], show=show_secrets)}"
    )
    output.console.print(f"roles:         {', '.join(made['roles'])}")
    if env_file is not None:
        output.console.print(f"saved to {env_file}; `set -a; . {env_file}; set +a` to use it")


def write_env(path: Path, client_id: str, client_secret: str) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(f"MTD_CLIENT_ID={client_id}\nMTD_CLIENT_SECRET={client_secret}\n")


# -- HMRC sandbox and connections ----------------------------------------------------------
@sandbox_app.command("create-user")
def sandbox_create_user(ctx: typer.Context, show_secrets: ShowSecrets = False) -> None:
    """Create a test organisation at HMRC's sandbox (its VRN, user id and password)."""
    with _refusals():
        user = _platform(ctx).sandbox_user()
    output.console.print(f"vrn:      {user['vrn']}")
    output.console.print(f"user id:  {user['userId']}")
    output.console.print(f"password: {output.secret(user['password'], show=show_secrets)}")


@app.command()
def connect(
    ctx: typer.Context,
    vrn: Annotated[str | None, typer.Argument(help="Omit with --sandbox-user new")] = None,
    sandbox_user: Annotated[
        str | None,
        typer.Option(help="Sandbox only: complete consent as this user id, or `new` for a new one"),
    ] = None,
    sandbox_password: Annotated[
        str | None, typer.Option(envvar="MTD_SANDBOX_PASSWORD", help="The sandbox user's password")
    ] = None,
    open_browser: Annotated[bool, typer.Option("--open", help="Open the consent page")] = False,
) -> None:
    """Connect a VRN to HMRC: prints (or opens) HMRC's consent page for the taxpayer."""
    platform = _platform(ctx)
    with _refusals():
        if sandbox_user == "new":
            user = platform.sandbox_user()
            vrn, sandbox_user, sandbox_password = user["vrn"], user["userId"], user["password"]
            output.console.print(f"sandbox test organisation {user['userId']} with VRN {vrn}")
        if not vrn:
            raise typer.BadParameter("give a VRN (or --sandbox-user new)")
        started = platform.start_connection(vrn)
        if sandbox_user:
            if not sandbox_password:
                raise typer.BadParameter("--sandbox-password is needed with --sandbox-user")
            done = platform.sandbox_consent(
                started["authorize_url"], sandbox_user, sandbox_password
            )
            output.console.print(f"VRN {done['vrn']} connected: [green]{done['status']}[/green]")
            return
    output.console.print(f"connection {started['id']} for VRN {vrn} is {started['status']}.")
    output.console.print("Send the taxpayer to HMRC to grant access (the link works once):")
    output.console.print(started["authorize_url"], soft_wrap=True)
    if open_browser:
        webbrowser.open(started["authorize_url"])


@app.command()
def connections(ctx: typer.Context) -> None:
    """The tenant's HMRC connections."""
    with _refusals():
        found = _platform(ctx).connections()
    output.table(
        "HMRC connections",
        ["vrn", "status", "granted", "grant expires", "id"],
        [[c["vrn"], c["status"], c["granted_at"], c["grant_expires_at"], c["id"]] for c in found],
    )


# -- obligations and returns ---------------------------------------------------------------
@app.command()
def obligations(
    ctx: typer.Context,
    vrn: str,
    status: Annotated[str | None, typer.Option(help="O (open) or F (fulfilled)")] = "O",
    start: Annotated[str | None, typer.Option("--from", help="yyyy-mm-dd")] = None,
    end: Annotated[str | None, typer.Option("--to", help="yyyy-mm-dd")] = None,
) -> None:
    """A VRN's obligations (open ones by default)."""
    params = {k: v for k, v in (("status", status), ("from", start), ("to", end)) if v}
    with _refusals():
        found = _platform(ctx).obligations(vrn, params)
    output.table(
        f"obligations of {vrn}",
        ["period key", "start", "end", "due", "status", "platform status"],
        [
            [o["periodKey"], o["start"], o["end"], o["due"], o["status"], o.get("platformStatus")]
            for o in found.get("obligations", [])
        ],
    )
    fresh = found.get("freshness") or {}
    output.console.print(f"[dim]from {fresh.get('source')}, {fresh.get('age_seconds')} s old[/dim]")


@app.command()
def submit(
    ctx: typer.Context,
    vrn: str,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help=".json or .csv")],
    period_key: Annotated[str | None, typer.Option(help="Overrides the file's periodKey")] = None,
    finalised: Annotated[
        bool | None,
        typer.Option("--finalised/--not-finalised", help="The user's declaration that it is final"),
    ] = None,
    idempotency_key: Annotated[
        str | None, typer.Option(help="Reuse to retry safely (default: a new one)")
    ] = None,
    watch: Annotated[bool, typer.Option(help="Wait for HMRC's answer")] = True,
) -> None:
    """Submit a return from JSON or a bridging CSV (validated here first, as the API does)."""
    platform = _platform(ctx)
    with _refusals():
        body = returns.load(file, period_key=period_key, finalised=finalised)
        accepted = platform.submit(vrn, returns.to_json(body), idempotency_key)
    output.console.print(
        f"return {accepted['id']} for period {accepted['periodKey']} is {accepted['status']}"
    )
    if watch:
        _watch(platform, vrn, accepted["id"])


@app.command()
def status(
    ctx: typer.Context,
    vrn: str,
    submission_id: str,
    watch: Annotated[bool, typer.Option(help="Wait until HMRC has answered")] = False,
) -> None:
    """A return's status, history and receipt."""
    platform = _platform(ctx)
    if watch:
        _watch(platform, vrn, submission_id)
        return
    with _refusals():
        output.as_json(platform.status(vrn, submission_id))


def _watch(platform: Platform, vrn: str, submission_id: str, timeout: float = 300.0) -> None:
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with _refusals(), Progress(*columns, console=output.console, transient=True) as progress:
        task = progress.add_task("waiting for HMRC", total=None)

        def seen(current: dict[str, Any]) -> None:
            queue = current.get("queue") or {}
            ahead = f", {queue['ahead']} ahead" if "ahead" in queue else ""
            progress.update(task, description=f"{current['status']}{ahead}")

        final = platform.wait(vrn, submission_id, timeout=timeout, seen=seen)
    _outcome(final)


def _outcome(final: dict[str, Any]) -> None:
    if final["status"] == "accepted":
        receipt = final.get("receipt") or {}
        output.console.print(
            f"[green]accepted[/green] by HMRC: form bundle {receipt.get('formBundleNumber')}, "
            f"processed {receipt.get('processingDate')}"
        )
    elif final["status"] == "rejected":
        error = final.get("error") or {}
        output.errors.print(f"[red]rejected[/red]: {error.get('code')} {error.get('message')}")
        raise typer.Exit(2)
    else:
        output.console.print(f"still {final['status']}; check again with `mtdvat status`")


@app.command()
def receipt(
    ctx: typer.Context,
    vrn: str,
    submission_id: str,
    out: Annotated[Path | None, typer.Option("-o", "--output", help="Write it to a file")] = None,
) -> None:
    """HMRC's receipt of an accepted return (JSON)."""
    with _refusals():
        current = _platform(ctx).status(vrn, submission_id)
    if current["status"] != "accepted" or not current.get("receipt"):
        output.errors.print(f"no receipt: the return is {current['status']}")
        raise typer.Exit(1)
    document = {
        "submissionId": current["id"],
        "vrn": current["vrn"],
        "periodKey": current["periodKey"],
        "receipt": current["receipt"],
    }
    if out is None:
        output.as_json(document)
        return
    out.write_text(json.dumps(document, indent=2) + "\n")
    output.console.print(f"receipt written to {out}")


@app.command()
def evidence(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("-o", "--output", help="JSON Lines file ('-' for stdout)")],
    start: Annotated[
        str | None, typer.Option("--from", help="yyyy-mm-dd (default: 30 days ago)")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="yyyy-mm-dd (default: today)")] = None,
    vrn: Annotated[str | None, typer.Option(help="Only this VRN")] = None,
) -> None:
    """Export HMRC-exchange evidence from the audit log (needs the auditor role)."""
    today = datetime.now(UTC).date()
    first = start or (today - timedelta(days=30)).isoformat()
    last = end or today.isoformat()
    lines = 0
    with _refusals():
        chunks = _platform(ctx).evidence(first, last, vrn)
        if str(out) == "-":
            for chunk in chunks:
                sys.stdout.buffer.write(chunk)
            return
        with out.open("wb") as sink:
            for chunk in chunks:
                sink.write(chunk)
                lines += chunk.count(b"\n")
    output.console.print(f"{lines} lines of evidence ({first} to {last}) written to {out}")


# -- webhooks ------------------------------------------------------------------------------
@webhook_app.command("add")
def webhook_add(
    ctx: typer.Context,
    url: str,
    event: Annotated[
        list[str] | None, typer.Option(help="return.accepted / return.rejected (default both)")
    ] = None,
    show_secrets: ShowSecrets = False,
) -> None:
    """Register a URL; the signing secret is shown once."""
    with _refusals():
        hook = _platform(ctx).add_webhook(url, event)
    output.console.print(f"webhook {hook['id']} for {', '.join(hook['events'])} → {hook['url']}")
    output.console.print(f"signing secret: {output.secret(hook['secret'], show=show_secrets)}")


@webhook_app.command("list")
def webhook_list(ctx: typer.Context) -> None:
    with _refusals():
        hooks = _platform(ctx).webhooks()
    output.table(
        "webhooks",
        ["id", "url", "events", "created"],
        [[h["id"], h["url"], ", ".join(h["events"]), h["createdAt"]] for h in hooks],
    )


@webhook_app.command("delete")
def webhook_delete(ctx: typer.Context, webhook_id: str) -> None:
    with _refusals():
        _platform(ctx).delete_webhook(webhook_id)
    output.console.print(f"webhook {webhook_id} deleted")


@webhook_app.command("deliveries")
def webhook_deliveries(ctx: typer.Context, webhook_id: str) -> None:
    """The delivery log: each delivery's state and attempts."""
    with _refusals():
        found = _platform(ctx).deliveries(webhook_id)
    output.table(
        "deliveries",
        ["id", "event", "state", "attempts", "last status", "last error", "delivered"],
        [
            [
                d["id"],
                d["event"],
                d["state"],
                d["attempts"],
                d["lastStatus"],
                d["lastError"],
                d["deliveredAt"],
            ]
            for d in found
        ],
    )


@app.command()
def demo(ctx: typer.Context) -> None:
    """The whole journey on the sandbox, step by step (what `make demo` runs)."""
    from services.cli import demo as journey

    with _refusals():
        code = journey.run(_platform(ctx))
    raise typer.Exit(code)


@app.command(
    "backup",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def backup(ctx: typer.Context) -> None:
    """Backups and restores: `mtdvat backup backup|restore|list|verify|drill …` (the same
    options as `python -m services.backup`; --help lists them)."""
    from services.backup.cli import main as backup_main

    raise typer.Exit(backup_main(list(ctx.args)))


def main() -> None:
    app()
