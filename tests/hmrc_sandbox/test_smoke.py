from __future__ import annotations

from tests.hmrc_sandbox.helpers import Simulator, valid_return


async def test_submit_then_view_then_obligation_fulfilled(simulator: Simulator) -> None:
    user = await simulator.connected_user()
    obligations = await simulator.vat("GET", f"/{user.vrn}/obligations?status=O", user.access_token)
    assert obligations.status_code == 200, obligations.text
    first = obligations.json()["obligations"][0]
    submitted = await simulator.vat(
        "POST", f"/{user.vrn}/returns", user.access_token, json=valid_return(first["periodKey"])
    )
    assert submitted.status_code == 201, submitted.text
    viewed = await simulator.vat(
        "GET", f"/{user.vrn}/returns/{first['periodKey']}", user.access_token
    )
    assert viewed.status_code == 200
    assert viewed.text.startswith('{"periodKey"')
    after = await simulator.vat(
        "GET",
        f"/{user.vrn}/obligations?status=F&from={first['start']}&to={first['end']}",
        user.access_token,
    )
    assert after.json()["obligations"][0]["periodKey"] == first["periodKey"], after.text
