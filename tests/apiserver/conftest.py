"""The in-process API stack fixture (``api``) shared with the controller tests."""

from tests.controllers.conftest import api  # noqa: F401  (re-exported fixture)
