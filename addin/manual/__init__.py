"""The credit-risk manual: a PDF of the frameworks whose every figure perprisk computes while
building it.

:mod:`addin.manual.context` makes the calls (riskfuncs on the bundled sample data),
:mod:`addin.manual.render` formats them through the jinja2 templates in ``templates/manual`` and
writes the PDF; :mod:`addin.manual.commands` is ``perprisk manual``.
"""

from __future__ import annotations
