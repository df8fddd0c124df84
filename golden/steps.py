"""A scenario's steps: API calls, waits for a return to be final, simulator control, TOTP
codes; each recorded response kept for `responses.json`."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pyotp

from golden.context import Context, StepFailed, simulator
from golden.scenario import Scenario, fill
from services.submission.states import FINAL as FINAL_STATES

# Response headers a client acts on; the rest (dates, server, trace ids) say nothing.
KEPT_RESPONSE_HEADERS = (
    "content-type",
    "location",
    "retry-after",
    "x-cache-status",
    "x-stale-reason",
    "cache-control",
    "www-authenticate",
)
FINAL = tuple(str(s) for s in FINAL_STATES)


def pick(response: httpx.Response, selector: str) -> Any:
    """`status`, `header.<name>` or `body.<key>.<index>…` of a response."""
    if selector == "status":
        return response.status_code
    head, _, rest = selector.partition(".")
    if head == "header":
        return response.headers[rest]
    value: Any = response.json()
    for part in rest.split(".") if rest else []:
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def return_json(spec: dict[str, Any], fields: dict[str, str]) -> str:
    """A return's JSON text from raw JSON tokens, so amounts keep their exact digits."""
    values = {"periodKey": json.dumps(spec["periodKey"]), **fields}
    values.update({k: str(v) for k, v in spec.get("set", {}).items()})
    for name in spec.get("drop", []):
        values.pop(name, None)
    text = "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in values.items()) + "}"
    if "wrap" in spec:  # the gateway's internal API takes the return inside an envelope
        envelope = {k: json.dumps(v) for k, v in spec["wrap"].items()}
        envelope["return"] = text
        text = "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in envelope.items()) + "}"
    return text


def call(
    ctx: Context, step: dict[str, Any], devices: dict[str, Any], fields: dict[str, str]
) -> httpx.Response:
    spec = step["call"]
    headers: dict[str, str] = {}
    if "device" in spec:
        headers.update(devices[spec["device"]])
    headers.update({k: str(v) for k, v in spec.get("headers", {}).items()})
    who = spec.get("auth", "client")
    if who in ctx.tokens:
        headers["Authorization"] = f"Bearer {ctx.tokens[who]}"
    elif who != "none":
        headers["Authorization"] = f"Bearer {who}"
    content: str | None = None
    if "return" in spec:
        content = return_json(spec["return"], fields)
        headers.setdefault("Content-Type", "application/json")
    elif "body" in spec:
        content = spec["body"]
    return ctx.http.request(
        spec.get("method", "GET"),
        ctx.url(spec["service"]) + spec["path"],
        params=spec.get("query"),
        headers=headers,
        content=content,
        json=spec.get("json"),
        data=spec.get("form"),
    )


def wait(ctx: Context, step: dict[str, Any]) -> httpx.Response:
    """Poll a return's status URL until it is final (or `until`)."""
    spec = step["wait"]
    until = tuple(spec.get("until", FINAL))
    deadline = time.monotonic() + float(spec.get("timeout", 60))
    headers = {"Authorization": f"Bearer {ctx.tokens['client']}"}
    while True:
        r = ctx.http.get(ctx.url("submission") + spec["path"], headers=headers)
        if r.status_code == 200 and r.json().get("status") in until:
            return r
        if time.monotonic() > deadline:
            raise StepFailed(f"{spec['path']} still {r.text[:300]} after the timeout")
        time.sleep(0.2)


def record(ctx: Context, name: str, request: dict[str, Any], r: httpx.Response) -> None:
    body: Any
    try:
        body = r.json()
    except ValueError:
        body = r.text
    ctx.responses.append(
        {
            "step": name,
            "request": request,
            "status": r.status_code,
            "headers": {k: r.headers[k] for k in KEPT_RESPONSE_HEADERS if k in r.headers},
            "body": body,
        }
    )


def play(ctx: Context, scenario: Scenario, devices: dict[str, Any], fields: dict[str, str]) -> None:
    """Every step in order; a step that cannot run fails the scenario, naming the step."""
    for n, raw in enumerate(scenario.steps, 1):
        name = str(raw.get("name", f"step {n}"))
        try:
            step = fill(raw, ctx.variables)
            response: httpx.Response | None = None
            if "sim" in step:
                s = step["sim"]
                simulator(ctx, s.get("method", "PUT"), s["path"], s.get("json"))
            elif "call" in step:
                response = call(ctx, step, devices, fields)
                spec = step["call"]
                summary = {"service": spec["service"], "method": spec.get("method", "GET")}
                summary["path"] = spec["path"]
            elif "wait" in step:
                response = wait(ctx, step)
                summary = {"service": "submission", "method": "GET", "path": step["wait"]["path"]}
            elif "totp" in step:
                t = step["totp"]
                code = pyotp.TOTP(t["secret"]).at(time.time() + 30 * int(t.get("offset", 0)))
                ctx.variables[t["save"]] = code
            elif "sleep" in step:
                time.sleep(float(step["sleep"]))
            else:
                raise StepFailed(f"unknown step kind: {sorted(step)}")
            if response is not None:
                for var, selector in step.get("save", {}).items():
                    ctx.save(var, pick(response, selector))
                if step.get("record", True):
                    record(ctx, name, summary, response)
        except (KeyError, IndexError, ValueError, httpx.HTTPError) as exc:
            raise StepFailed(f"{scenario.name}: {name}: {type(exc).__name__}: {exc}") from exc
