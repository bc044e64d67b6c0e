"""``perprisk fill``: an export's inputs written into an assessment workbook."""
