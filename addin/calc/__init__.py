"""The PERP_ cell functions in LibreOffice Calc (the ``PerpRisk.oxt`` extension).

* :mod:`addin.excel.spec` reads the Excel declarations (:mod:`addin.excel.udfs`): names, arguments,
  help texts and xlwings conversion options, so every host is derived from one place;
* :mod:`addin.calc.oxt` builds the extension: IDL compiled with the LibreOffice SDK's
  ``unoidl-write``, ``CalcAddIns.xcu`` (Function Wizard texts, Excel compatibility names), and
  :mod:`addin.calc.component`, the Python UNO component LibreOffice loads;
* :mod:`addin.calc.host` turns Calc's argument values into what xlwings gives the Excel function,
  calls it, and hands the result back as cells: numbers and messages identical to Excel's;
* :mod:`addin.calc.install` registers the extension with ``unopkg``
  (``perprisk addin install --libreoffice``);
* :mod:`addin.calc.formulas` rewrites a workbook's PERP_ formulas between the names Excel and
  Calc store (``perprisk addin convert``).
"""
