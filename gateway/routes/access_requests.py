"""Routes for access_requests (filled in by its issue)."""

from fastapi import APIRouter

router = APIRouter()
