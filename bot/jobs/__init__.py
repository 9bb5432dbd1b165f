"""Scheduled jobs: the weekly digest and the churn-risk scan, run by APScheduler in one leader process.

- `scheduler`: due-computation (`tick`) and the APScheduler service (`SchedulerService`);
- `leader`: one scheduler per database (Postgres advisory lock, or a file lock for SQLite);
- `digest_job`, `risk_job`: what each run builds and posts;
- `posting`: posting a claimed delivery exactly once, retries, failure reports;
- `context`: what the jobs are given (store, Slack client, clock, settings).
"""
