from tests.attacks.conftest import deployment

__all__ = ["deployment"]
