"""Mounts every domain router on the application."""

from __future__ import annotations

from fastapi import FastAPI

from app.auth.endpoints import router as auth_router
from app.health.endpoints import router as health_router
from app.patient.endpoints import router as patient_router
from app.realtime.gateway import router as realtime_router
from app.reference.endpoints import router as reference_router


def include_routers(app: FastAPI) -> None:
    """Every public endpoint of the service."""
    app.include_router(health_router)
    app.include_router(auth_router)
    app.include_router(patient_router)
    app.include_router(reference_router)
    app.include_router(realtime_router)
