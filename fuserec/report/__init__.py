"""Reporting: the HTML + Markdown report of finished runs (:func:`write_report`), aggregation over
seeds (mean ± std, n), paired differences, tables (Markdown, CSV), plots, and the generic ablation
runner (variants × seeds through the one trainer)."""

from fuserec.report.markdown import Section, render_markdown_report, write_markdown_report
from fuserec.report.runs_report import DatasetExtras, ReportResult, write_report
from fuserec.report.tables import (Summary, aggregate, format_mean_std, markdown_table, summary_markdown,
                                   write_csv, write_summary_csv)

__all__ = ["DatasetExtras", "ReportResult", "Section", "Summary", "aggregate", "format_mean_std", "markdown_table",
           "render_markdown_report", "summary_markdown", "write_csv", "write_markdown_report", "write_report",
           "write_summary_csv"]
