"""Assessment workbooks: declarative layout, builder, formulas, LibreOffice recalculation."""
