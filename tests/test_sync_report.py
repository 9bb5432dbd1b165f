"""The shared sync report reads as one line per table, then notes and time."""

from storage.sync_report import SyncError, SyncReport


def test_report_lines_count_each_table_and_say_dry_run() -> None:
    report = SyncReport("stripe", notes=["2 metered lines left out"], seconds=1.26, dry_run=True)
    report.table("revenue").added += 3
    report.table("invoices").removed = 1
    assert report.lines() == [
        "stripe: would change (dry run, nothing written)",
        "  revenue: 3 added, 0 changed, 0 removed",
        "  invoices: 0 added, 0 changed, 1 removed",
        "  2 metered lines left out",
        "  took 1.3 s",
    ]


def test_sync_error_lists_every_problem() -> None:
    error = SyncError(["warehouse:usage:row 3: occurred_at: not a date", "warehouse:usage:row 9: user_id: empty"])
    assert str(error) == "warehouse:usage:row 3: occurred_at: not a date\nwarehouse:usage:row 9: user_id: empty"
