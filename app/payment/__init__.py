"""Payment of the personal share: cash/card at hand-over, WeChat Pay and Alipay, refunds."""
