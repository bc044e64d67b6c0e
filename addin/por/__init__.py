"""Proof of reserves: check an exchange's Merkle inclusion proof (``perprisk por verify``)."""
