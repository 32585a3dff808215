"""The development WeChat Pay merchant: what the service uses in development when no merchant is
configured (FAKE_WECHAT_ENABLED, APP_ENV not prod, WECHATPAY_MCHID unset).

It talks to the fake WeChat Pay this service itself serves under /_dev/wechatpay
(`app.payment.fake_wechatpay`), which holds the platform key below. These keys are published in
this repository, so they prove nothing anywhere else; prod never serves the fake nor uses them.
"""

from __future__ import annotations

from app.config import Settings
from app.payment.providers.keys import load_private_key, public_pem

FAKE_WECHATPAY_PATH = "/_dev/wechatpay"
MCHID = "1900000109"
MERCHANT_SERIAL = "8C9B33DDCEE65352ACBE4312BD81D172B6F66C5F"
PLATFORM_SERIAL = "5157F09EFDC096DE15EBE81A47057A72"

# Development-only RSA-2048 keys (PKCS#8 PEM).
MERCHANT_PRIVATE_KEY = """\
-----BEGIN PRIVATE KEY-----
MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQDe0K1w+mAKKS0Q
tChP0L1HUXNLPf1AXgpeGzAJMMTUQPyMs6V+6EwbEuCJgboU9nyB6GhtGu7oJYO1
ix8trb9Qpx3hpjh0N+5kxE6lCLnioizGg2gOqiZ8KefLB38oeZlBtiMzTYSTXrmr
eAAlR+sBbYRdkeHs++HZsl44Lm4yj8Ikv8n9QgiAHpFZ2TVKvV98Ll/2hfO7OgXP
2gj7u6uIDPrArg6t3XtJj66PL2fDF/2GAYvPTIsOXL9x/34/C0mSQ+QKgFPJ3CmE
V34EGnJDU6o0BKujg4reyMKVuM3Xw6UNNDM5H1qfkZdrObojG/CByeTQ1rVLhoMb
9Wzi8rcpAgMBAAECggEAL3y7ElKSSGgZLi+vTb93r6z4zQbzpBXG0OKrfLHzqScG
jDg3Y9I/ch+2UigfUBtuUsOFCgfM9hYUuYrihLo8hYRwdmiWLJLFEJ3UAxFWiKo2
r8JO2Z1C4YCO4bMB008DLkGSw/rX8A6mtJg5M7jdqaq9JLIUPA08x8hfk0q1+rlJ
xiAmxU6jn6ICrPwVbnzrEucgN8Y9Q6xBzI/qqQbC7QeWnv84kR1JnKdr0f9z46Gl
67ZzSPT+p9fFvSjocViOuEwFZ0CFG4I4ZmX8l70ofy7ozICfoQbHWylzgXf+iCIH
lUCAnUmec0eJ+rEfxqslvsipkYqSLQ8Y+SZ2ximL3wKBgQD/m1xkTLI0EIn7I00c
x5aSNAbjP16z22ut9iR+ID/eVIGB+tMip5Xa04M7PEPeyU4DaHcm9huFuZV0N4Sr
UPfYlxfUqONly6kdeKKgDlBpDPw8gHC4+UwSyCg+clEZv9+21SjVHDYr3QmXYUGW
Hb68jnukm/T8Kmy9SlQC7fz14wKBgQDfKGfX/qH54CG+0cYRz+BdgEWPx1aEc3ef
njiHydW9PcM24+9K7BBakT9GdTK0rY1IMkNYL24UUUdz5mx2PUNgsKLEwLXp5WUv
iUaH81sp/HG62x0IH+LEZjGLbN1hTV8AOKXN09mizEg2iv+VIzs7qvmRWelTTePS
qZWcpDDMgwKBgC3mv3O/lizlX3H7B+kIKpD8yNPcWGxiFfc6gZkov290q4ElAu9x
Oub+Hs3vZ5zFd74C74rOnWipSB6Drc56DtgVYhEtdxCbvzXsqP+nMmd7Dnzq79M3
6aJh0WBNdSTzoQAbTWbf1xaPbh6CN532n38K80c/PoJeOALSKz4PcOLTAoGAC7lA
s11CPzFiNHcq07a7D850WRhc2DqEt1MFn0SgQP/kqJaS9LmwJkHpNBdmIY3YlUlm
tlRPkSuv+EvLuO6BAqxk8Lc7F12g0j2BAhVr3anQg8ONI+cg77Z6tdtzSfBZpFZV
h5mwnlfjF1J4GOqv6vORhuxVULYP2PplzMPneGcCgYBk6Zju07P9PjZmXkj4l5Cb
BxcLgRRUX7VomwOfcFTC+6G64pOGZF8O7hyE32quibwS/cewpE2KKX26/OxGbW36
xJLA/poO4gsdt7Ia/wp5+9s88OonvGwmAQAHlgBjvOQ/NWNwgeja0GnfBihEDytH
q4ecjS0urFLjTW3OuoLMDw==
-----END PRIVATE KEY-----
"""
PLATFORM_PRIVATE_KEY = """\
-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDcAqTdXkYX3/iU
qPMPWdjm4diAWbin5Qz5PcIFEYmggFdUlW1IKqHgQsgHY7+ZCn8/3yBCXfPi9pzA
yd8yds72g4VezZQZSp/Cwm9CAm1YoScFrb8VCt0xJJ6Iitj64AkEnVGOwOCVG2hn
0ByefZJ8h9ICRw/x5WvqbEzIdj0OaVJQtW4Q4fBJF8FWm/jAbF5M16zVH42Z5g+1
THZM46JPpC1yazavWa3rSdAuf8ZbnM/XER8b+5Tf34WUGOON4QDyJJtYKxPUQlGT
CK23tWXKgbxjzIjanx2774GJsUkgCVpE9VPoAbmvCOAQdpA2e6VRe2/mh/0GRjGz
ltTiRzmhAgMBAAECggEAN46tXj9PuPi0d6ngUxiPtuICP4son7EuIQRw6cG/fNnb
876WLZqibRTAGWmdeQKXFqR8K3Y5P6+h7ucrZz1sTwDwXXvRcb+P72kVGlitjyuG
xJ7W+XPYXnAOXpGdcGDBtjoZ3dAkBlM4/rold/pi0vKjXDLgumeCZFy72QVOrsP+
4asDF2wQ9HYgHJFInOVzt/HRTB4L2YWxQ7KHsGQN9YhADSXFTC0NeeIi/LY/UDCZ
rOmBnMxWInyKPaYDlSClPvAPXJzJUzPPsn3grRQFBrChbInqqMEi5IS7J9F0bm84
OrkbnRB/0h0Cml7s6iFsSzT/ZaQapHPqmc3qVLva9wKBgQD55m+Xxg4qjpUnbGLQ
wAPZGYC/IzfgDxrMh1uZh8yXT6BqvkQi6N22EuL7UFru1UlWqGUJO5SM/jxABBws
n3RofogJCA7jNieNKU+FMHucXgM5UARlN8rURs4TDJfFqg5xRsZ+Gn2Q0Npr1IS3
QhhzZvcNZWWtbCuO2w8bwaLcrwKBgQDhYW8egFy0H+wI+kAhPyf/l0Jl0YiDwpDf
B11wc4MGXabIzMwPXB2hML3wIj3O3Pm/vihQh4MZkJ4WEBB+2t5BC08RiG/wTHlQ
UrZdFX8Zw+XdW6Tx2uAsIlcHMgM+Dedwr4Tn4hKNHIH1blNzarvPEZwgsMUfcmcQ
/NPL3ZcCrwKBgCIAZYycCQ9nSQoNKEDI730ZiDf5fb/Brl7HyAHSxVaNIgGEE9dA
IfKFDVcubsDySkE9NkoUTjkE2oPHS2IS7A7PsIiyDPyDQMxnI4e2ugrji8K/jWmM
Ns+9NorG+tuNMNveymEcD5ulnyJuzwP0PUluaAztj/ERt7d/PMYFCbjHAoGBAMRF
BW+aeSCja/mldJN/XGXIY5onjqqvlVmkIEr9TO0OQWA8eLgnj+X/fGjSaODsrtG7
13/JgvGQbxrngnX2Q/aA0qqCFnk9H6hDX2xQfA8D+fl7BXlZEj9c6Ezr0McJdLM9
JpCI337jhIknOqUYHdWFkGEnj4KDLh4tDoRKxGchAoGAAufkRI6eEtT/QF4meUsO
+CIgUTG//b3EIgT39Tr5jh1J/wutDf5osq/hi0yB0WUTMH5zIz1vnk63zkxR6GEZ
nR4gk0ilWynRlrglzYpAlticSOubkkB8n6M7uy/LEJvrB9qfY8kWMSszQPbL2lzn
kapaDT5jGKsMBSs5BUAt2IE=
-----END PRIVATE KEY-----
"""


def in_use(settings: Settings) -> bool:
    """Whether WeChat Pay is the local fake: fakes served and no real merchant configured."""
    return settings.serves_fake_wechat and not settings.wechatpay_mchid


def with_dev_merchant(settings: Settings) -> Settings:
    """`settings` with the development merchant, its API base the fake on this service."""
    return settings.model_copy(
        update={
            "wechatpay_mchid": MCHID,
            "wechatpay_merchant_serial": MERCHANT_SERIAL,
            "wechatpay_merchant_private_key": MERCHANT_PRIVATE_KEY,
            "wechatpay_platform_public_keys": {
                PLATFORM_SERIAL: public_pem(load_private_key(PLATFORM_PRIVATE_KEY))
            },
            "wechatpay_api_base": settings.payment_notify_base_url + FAKE_WECHATPAY_PATH,
        }
    )
