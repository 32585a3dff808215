"""The development fake WeChat as its own process for the load test.

The service mounts the fake under /_dev/wechat, but its codes live in the memory of the process
that issued them: with several uvicorn workers, wx.login and the service's code2session call
land on different workers about half the time and sign-in fails. Here one process plays WeChat
for every worker, as the real WeChat would (phones get codes from WeChat, not from us):

    .venv/bin/uvicorn bench.load.fake_wechat:app --port 8401
"""

from __future__ import annotations

from app.auth.fake_wechat import create_fake_wechat_app
from app.config import get_settings

settings = get_settings()
app = create_fake_wechat_app(settings.wechat_appid, settings.wechat_secret)
