"""The registry of adapter kinds: how the gateway opens, checks and displays a source.

Every kind — built-in or extension — is an ``AdapterFactory`` registered under its kind
name. Built-ins are registered exactly like extensions: each built-in module exposes
``register(registry)`` and is listed in ``BUILTIN_MODULES``; third-party packages add
kinds through the ``sluice.adapters`` entry-point group, whose target is the same kind
of ``register(registry)`` function. Nothing is imported until the first lookup, so
importing this module does no work.

Public API for the gateway:

- ``open_adapter(config, limits)`` validates the config and opens a ``SourceAdapter``
  (no connection is made before the first call on the adapter).
- ``validate_config(config, limits)`` performs the static checks made before any
  connection — file roots, SSRF guard, URL shape — raising ``BadRequest``/``Forbidden``.
- ``redact(config)`` gives a display form of the source with its secret as ``***``.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Protocol

from adapters.base import AdapterLimits, SourceAdapter, SourceConfig
from catalog.errors import BadRequest

BUILTIN_MODULES: tuple[str, ...] = ("adapters.sql", "adapters.files", "adapters.http_json")
ENTRY_POINT_GROUP = "sluice.adapters"


class AdapterFactory(Protocol):
    """What a kind provides: a static validation, a constructor and a display form."""

    def validate(self, config: SourceConfig, limits: AdapterLimits) -> None:
        """Static checks before any connection; raise ``BadRequest`` or ``Forbidden``."""

    def open(self, config: SourceConfig, limits: AdapterLimits) -> SourceAdapter:
        """Build the adapter; ``validate`` has already passed."""

    def redact(self, config: SourceConfig) -> str:
        """A one-line description of the source with every secret replaced by ``***``."""


class AdapterRegistry:
    """Factories keyed by kind. Registering a kind twice is an error, never a silent
    replacement: a plugin must not be able to swap the PostgreSQL adapter unnoticed."""

    def __init__(self) -> None:
        self._factories: dict[str, AdapterFactory] = {}

    def register(self, kind: str, factory: AdapterFactory) -> None:
        if kind in self._factories:
            raise ValueError(f"adapter kind {kind!r} is already registered")
        self._factories[kind] = factory

    def kinds(self) -> tuple[str, ...]:
        return tuple(sorted(self._factories))

    def factory(self, kind: str) -> AdapterFactory:
        try:
            return self._factories[kind]
        except KeyError:
            known = ", ".join(self.kinds())
            raise BadRequest(f"unknown source kind {kind!r}; known kinds: {known}") from None

    def validate_config(self, config: SourceConfig, limits: AdapterLimits) -> None:
        self.factory(config.kind).validate(config, limits)

    def open_adapter(self, config: SourceConfig, limits: AdapterLimits) -> SourceAdapter:
        factory = self.factory(config.kind)
        factory.validate(config, limits)
        return factory.open(config, limits)

    def redact(self, config: SourceConfig) -> str:
        return self.factory(config.kind).redact(config)


RegisterFn = Callable[[AdapterRegistry], None]


def build_registry(*, include_entry_points: bool = True) -> AdapterRegistry:
    """A registry holding the built-in kinds and (by default) installed extensions."""
    registry = AdapterRegistry()
    for module_name in BUILTIN_MODULES:
        register: RegisterFn = importlib.import_module(module_name).register
        register(registry)
    if include_entry_points:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            plugin: RegisterFn = ep.load()
            plugin(registry)
    return registry


_default: AdapterRegistry | None = None
_default_lock = threading.Lock()


def default_registry() -> AdapterRegistry:
    """The process-wide registry, built on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = build_registry()
        return _default


def open_adapter(config: SourceConfig, limits: AdapterLimits) -> SourceAdapter:
    """Validate ``config`` and open an adapter for it (see module docstring)."""
    return default_registry().open_adapter(config, limits)


def validate_config(config: SourceConfig, limits: AdapterLimits) -> None:
    """Static checks before any connection; raises ``BadRequest`` or ``Forbidden``."""
    default_registry().validate_config(config, limits)


def redact(config: SourceConfig) -> str:
    """Display form of the source with its secret replaced by ``***``."""
    return default_registry().redact(config)
