"""The report: markdown tables (:mod:`toyscale.report.tables`) and the build that evaluates,
draws and writes a result directory's report (:mod:`toyscale.report.build`)."""

from toyscale.report.build import RUN_RECORDS, Report, make_report, read_records, read_summary
from toyscale.report.tables import frontier_map_table, frontier_table, table

__all__ = ["RUN_RECORDS", "Report", "frontier_map_table", "frontier_table", "make_report", "read_records", "read_summary", "table"]
