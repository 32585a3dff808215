"""Demo data for the Yangquan pilot: reference catalogues, demo staff and patients, and a loader."""

from app.demo.data import DEMO_PASSWORD
from app.demo.seed import CredentialLine, DemoSummary, format_credentials, load_demo_data

__all__ = [
    "DEMO_PASSWORD",
    "CredentialLine",
    "DemoSummary",
    "format_credentials",
    "load_demo_data",
]
