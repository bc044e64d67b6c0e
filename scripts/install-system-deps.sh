#!/usr/bin/env bash
# System packages the tests need: LibreOffice (headless) to recalculate the workbooks and render
# PDFs, poppler for PDF previews, Carlito (metric-compatible with Calibri) for print layout, and
# for the LibreOffice Calc add-in (PerpRisk.oxt): the SDK's unoidl-write (libreoffice-dev) and the
# Python bridge with its component loader (python3-uno); pango for the manual's PDF (WeasyPrint);
# Node.js to run the Office.js add-in's generated functions.js against perprisk serve.
set -euo pipefail
need=()
command -v soffice >/dev/null 2>&1 || need+=(libreoffice-calc-nogui)
command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
[ -e /usr/share/fonts/truetype/crosextra/Carlito-Regular.ttf ] || need+=(fonts-crosextra-carlito)
[ -x /usr/lib/libreoffice/sdk/bin/unoidl-write ] || need+=(libreoffice-dev)
[ -e /usr/lib/python3/dist-packages/uno.py ] && [ -e /usr/lib/libreoffice/program/pythonloader.py ] \
    || need+=(python3-uno)
command -v node >/dev/null 2>&1 || need+=(nodejs)
ldconfig -p 2>/dev/null | grep 'libpangoft2-1.0.so.0' >/dev/null || need+=(libpango-1.0-0 libpangoft2-1.0-0)
if [ ${#need[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "Please install: ${need[*]} (for example: sudo apt-get install ${need[*]})" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
