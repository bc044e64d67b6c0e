"""Fixtures for the SMTP tests (the server helpers live in smtp_fixtures.py)."""

from tests.addin.mail.smtp_fixtures import smtp_server, smtps_server, test_ca

__all__ = ["smtp_server", "smtps_server", "test_ca"]
