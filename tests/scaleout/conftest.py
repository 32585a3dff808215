"""The scale-out tests use the fault tests' committed databases (`fault_db`)."""

from tests.faults.conftest import fault_db

__all__ = ["fault_db"]
