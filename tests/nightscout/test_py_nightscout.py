"""py-nightscout (PyPI), a published Nightscout reader, against the service in a uvicorn
process: all five of its calls answer as Nightscout does."""

from __future__ import annotations

import httpx
from py_nightscout import Api

from tests.nightscout.helpers import nightscout_site, sgv_entry


async def test_py_nightscout_reads_what_an_uploader_posted() -> None:
    async with nightscout_site() as site:
        async with httpx.AsyncClient(base_url=site.url) as http:
            posted = await http.post(
                "/api/v1/entries",
                json=[
                    sgv_entry(10, 118, direction="Flat", device="xDrip-LibreReceiver"),
                    sgv_entry(5, 131, direction="FortyFiveUp", device="xDrip-LibreReceiver"),
                ],
                params={"token": site.secret},
            )
            assert posted.status_code == 200, posted.text
        api = Api(site.url, api_secret=site.secret)
        sgvs = await api.get_sgvs()
        assert [(s.sgv, s.direction, s.device) for s in sgvs] == [
            (131, "FortyFiveUp", "xDrip-LibreReceiver"),
            (118, "Flat", "xDrip-LibreReceiver"),
        ]
        assert sgvs[0].delta == 13
        assert sgvs[0].sgv_mmol == 7.3
        status = await api.get_server_status()
        assert (status.status, status.apiEnabled, status.settings["units"]) == ("ok", True, "mmol")
        assert await api.get_treatments() == []
        assert (await api.get_profiles()).profile_definitions == []
        assert await api.get_devices_status() == []
