"""Delivering an assessment: the email of a report (text, HTML with its charts inline, the
workbook and optionally its PDF attached) and pictures of what the reader sees.

Above :mod:`addin.report` (what the report says) and :mod:`addin.mail` (how a message is built
and sent), so neither knows the other.
"""
