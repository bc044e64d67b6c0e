"""The ``PERP_`` functions for Python in the browser (xlwings Lite, which runs Pyodide in Excel).

:mod:`addin.lite.script` writes the ``main.py`` and ``requirements.txt`` to paste into xlwings
Lite, generated from the cell-function spec; :mod:`addin.lite.wheels` builds the two pure-Python
wheels they install: ``riskfuncs`` (numpy and pandas only) and ``perprisk-cells`` (the cell
layer the Excel add-in runs, needing riskfuncs and xlwings, which Lite supplies).
"""
