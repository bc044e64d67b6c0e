"""The ``PERP_`` functions as Office.js custom functions (Excel on Windows, Mac and the web).

``perprisk serve`` runs a local HTTPS server (:mod:`addin.officejs.server`) that serves the
add-in files generated from :mod:`addin.excel.spec` (:mod:`addin.officejs.files`) and evaluates
each call through the conversion the Excel cells use (:mod:`addin.officejs.evaluate`).
"""
