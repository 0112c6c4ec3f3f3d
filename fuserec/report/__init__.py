"""Reporting: aggregation over seeds (mean ± std, n), tables (Markdown, CSV), plots, Markdown
reports, and the generic ablation runner (variants × seeds through the one trainer)."""

from fuserec.report.markdown import Section, render_markdown_report, write_markdown_report
from fuserec.report.tables import (Summary, aggregate, format_mean_std, markdown_table, summary_markdown,
                                   write_csv, write_summary_csv)

__all__ = ["Section", "Summary", "aggregate", "format_mean_std", "markdown_table", "render_markdown_report",
           "summary_markdown", "write_csv", "write_markdown_report", "write_summary_csv"]
