"""A person in a real browser (headless Debian Chromium): start a connection, sign in and
grant on the HMRC simulator's consent page, land on the callback and see the connection
active; and the deny path ends on a page that says clearly what happened."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

from tests.auth.conftest import AuthApi, ServeAuth, bearer
from tests.auth.simulator import Simulator, auth_with_simulator, start_connection

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def chromium() -> str:
    assert Path(CHROMIUM).exists(), "install Debian's chromium: apt-get install -y chromium"
    return CHROMIUM


@pytest.fixture
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        instance = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            await instance.close()


async def begin(auth: AuthApi, sim: Simulator) -> tuple[str, dict[str, str], str]:
    tenant = await auth.create_tenant()
    user = await auth.create_user(tenant, ["submitter"])
    token = await auth.enrol(user)
    taxpayer = await sim.create_organisation()
    started = await start_connection(auth, token, taxpayer["vrn"])
    return token, taxpayer, started["authorize_url"]


async def test_grant_in_a_browser_lands_on_an_active_connection(
    browser: Browser, serve_auth: ServeAuth, pg_url: str, nats_url: str, tmp_path: Path
) -> None:
    async with auth_with_simulator(serve_auth, pg_url, nats_url, tmp_path) as (auth, sim):
        token, taxpayer, authorize_url = await begin(auth, sim)
        page = await browser.new_page()
        await page.goto(authorize_url)
        assert await page.locator("h1").inner_text() == "Grant authority"
        await page.fill("#user_id", taxpayer["userId"])
        await page.fill("#password", taxpayer["password"])
        async with page.expect_navigation(url=f"{auth.url}/v1/connections/callback**"):
            await page.click("button[value=grant]")
        await page.screenshot(path=str(tmp_path / "granted.png"))
        assert await page.locator("h1").inner_text() == "Connected to HMRC"
        assert await page.locator("main").get_attribute("data-outcome") == "active"
        assert taxpayer["vrn"] in await page.locator("#message").inner_text()
        r = await auth.http.get("/v1/connections", headers=bearer(token))
        assert [(c["vrn"], c["status"]) for c in r.json()] == [(taxpayer["vrn"], "active")]
        # Back and reload replays the callback: refused, and says why.
        await page.reload()
        assert await page.locator("main").get_attribute("data-outcome") == "OAUTH_STATE_REPLAYED"


async def test_deny_in_a_browser_ends_in_a_clear_message(
    browser: Browser, serve_auth: ServeAuth, pg_url: str, nats_url: str, tmp_path: Path
) -> None:
    async with auth_with_simulator(serve_auth, pg_url, nats_url, tmp_path) as (auth, sim):
        token, taxpayer, authorize_url = await begin(auth, sim)
        page = await browser.new_page()
        await page.goto(authorize_url)
        async with page.expect_navigation(url=f"{auth.url}/v1/connections/callback**"):
            await page.click("button[value=deny]")
        await page.screenshot(path=str(tmp_path / "denied.png"))
        assert await page.locator("h1").inner_text() == "Access was not granted"
        message = await page.locator("#message").inner_text()
        assert f"Access to VRN {taxpayer['vrn']} was declined" in message
        assert "start again" in message
        r = await auth.http.get("/v1/connections", headers=bearer(token))
        assert [c["status"] for c in r.json()] == ["pending"]
