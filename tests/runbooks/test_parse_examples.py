"""Both example runbooks, parsed: every procedure, checklist item, code step and parameter, pinned exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsbook.runbooks.document import Runbook
from opsbook.runbooks.parse import parse_runbook

EXAMPLES = Path(__file__).resolve().parent / "data" / "examples"  # the repository's copy of both


def structure(
    runbook: Runbook,
) -> list[tuple[str, list[tuple[str, str, tuple[str, ...]]], list[tuple[str, ...]]]]:
    out: list[tuple[str, list[tuple[str, str, tuple[str, ...]]], list[tuple[str, ...]]]] = []
    for p in runbook.procedures:
        steps = []
        for s in p.steps:
            t = [s.kind, s.name, s.title]
            if s.group:
                t.append("group=" + s.group)
            if s.notes:
                t.append("notes=" + " | ".join(s.notes))
            if s.runnable:
                t.append("$ " + s.command)
            if s.destructive:
                t.append("destructive=" + ",".join(s.destructive))
            steps.append(tuple(t))
        out.append((" > ".join(p.path), [(x.name, x.kind, x.tokens) for x in p.parameters], steps))
    return out


TEMPLATE_TITLE = "OPERATIONS Documentation"
TEMPLATE = [
    (
        "Deployment Process > Pre-Deployment Checklist",
        [],
        [
            ("confirm", "all-tests-passing-locally", "All tests passing locally"),
            ("confirm", "code-review-approved", "Code review approved"),
            ("confirm", "no-database-migrations-that-lock-tables", "No database migrations that lock tables"),
            ("confirm", "monitoring-alerts-configured", "Monitoring alerts configured"),
            ("confirm", "rollback-plan-documented", "Rollback plan documented"),
            ("confirm", "notify-stakeholders", "Notify stakeholders"),
        ],
    ),
    (
        "Deployment Process > Step 1: Staging Deployment",
        [
            ("YOUR_DEPLOY_COMMAND", "text", ("[YOUR_DEPLOY_COMMAND]",)),
            ("YOUR_TEST_COMMAND", "text", ("[YOUR_TEST_COMMAND]",)),
        ],
        [
            (
                "shell",
                "deploy-to-staging-environment",
                "Deploy to staging environment",
                "$ [YOUR_DEPLOY_COMMAND] staging",
            ),
            ("shell", "run-smoke-tests", "Run smoke tests", "$ [YOUR_TEST_COMMAND] staging"),
            (
                "manual",
                "verify-in-staging-ui",
                "Verify in staging UI",
                "notes=Go to: https://staging.example.com",
            ),
        ],
    ),
    (
        "Deployment Process > Step 2: Production Deployment",
        [
            ("YOUR_DEPLOY_COMMAND", "text", ("[YOUR_DEPLOY_COMMAND]",)),
            ("YOUR_LOG_COMMAND", "text", ("[YOUR_LOG_COMMAND]",)),
        ],
        [
            ("shell", "deploy-to-production", "Deploy to production", "$ [YOUR_DEPLOY_COMMAND] production"),
            (
                "shell",
                "verify-deployment-health",
                "Verify deployment health",
                "$ curl https://api.example.com/health",
            ),
            (
                "shell",
                "watch-logs-for-errors",
                "Watch logs for errors",
                "$ [YOUR_LOG_COMMAND] production --follow",
            ),
        ],
    ),
    (
        "Deployment Process > Step 3: Post-Deployment Verification",
        [],
        [
            ("confirm", "health-check-passes", "Health check passes"),
            ("confirm", "no-spike-in-error-rate", "No spike in error rate"),
            ("confirm", "database-migrations-completed", "Database migrations completed"),
            ("confirm", "new-features-working-as-expected", "New features working as expected"),
            ("confirm", "logs-are-clean-no-errors", "Logs are clean (no errors)"),
            ("confirm", "customers-not-reporting-issues", "Customers not reporting issues"),
        ],
    ),
    (
        "Deployment Process > Rollback Procedure (If Needed)",
        [("YOUR_DEPLOY_COMMAND", "text", ("[YOUR_DEPLOY_COMMAND]",))],
        [
            (
                "shell",
                "rollback-to-previous-version",
                "Rollback to previous version",
                "$ [YOUR_DEPLOY_COMMAND] production rollback",
            ),
            (
                "shell",
                "verify-rollback-successful",
                "Verify rollback successful",
                "$ curl https://api.example.com/health",
            ),
            ("manual", "notify-team", "Notify team"),
        ],
    ),
    (
        "Incident Response > When a P1 Alert Fires",
        [],
        [
            ("manual", "on-call-engineer-gets-paged", "On-call engineer gets paged"),
            ("manual", "check-monitoring-dashboard", "Check monitoring dashboard"),
            ("manual", "identify-if-it-s-real-issue-or-false", "Identify if it's real issue or false alarm"),
            ("manual", "post-in-incidents-slack-channel", "Post in #incidents Slack channel"),
            ("manual", "if-code-related-roll-back-last", "If code-related: roll back last deployment"),
            ("manual", "if-infrastructure-restart-service", "If infrastructure: restart service"),
            ("manual", "verify-service-recovered", "Verify service recovered"),
            ("manual", "post-mortem-after-on-call-period", "Post-mortem after on-call period"),
        ],
    ),
    (
        "Runbook: Common Operational Tasks > Service is down",
        [],
        [
            (
                "confirm",
                "check-monitoring-dashboard-for-alerts",
                "Check monitoring dashboard for alerts",
                "group=Checklist",
            ),
            (
                "confirm",
                "verify-all-servers-are-running",
                "Verify all servers are running",
                "group=Checklist",
            ),
            ("confirm", "check-database-is-up", "Check database is up", "group=Checklist"),
            (
                "confirm",
                "look-at-recent-logs-for-errors",
                "Look at recent logs for errors",
                "group=Checklist",
            ),
            (
                "confirm",
                "is-it-recent-deployment-rollback-if",
                "Is it recent deployment? Rollback if needed",
                "group=Checklist",
            ),
            (
                "confirm",
                "restart-web-servers-if-no-obvious-cause",
                "Restart web servers if no obvious cause",
                "group=Checklist",
            ),
            (
                "confirm",
                "check-with-engineering-if-still-down",
                "Check with engineering if still down",
                "group=Checklist",
            ),
            (
                "shell",
                "kubectl-get-pods-n-production",
                "kubectl get pods -n production",
                "group=Command to check status",
                'notes=Should see all pods with status "Running"',
                "$ kubectl get pods -n production",
            ),
        ],
    ),
    (
        "Runbook: Common Operational Tasks > Database is slow",
        [("YOUR_SLOW_QUERY_COMMAND", "text", ("[YOUR_SLOW_QUERY_COMMAND]",))],
        [
            (
                "confirm",
                "check-database-cpu-and-memory-usage",
                "Check database CPU and memory usage",
                "group=Checklist",
            ),
            (
                "confirm",
                "look-at-slowest-queries-in-monitoring",
                "Look at slowest queries in monitoring",
                "group=Checklist",
            ),
            ("confirm", "kill-any-long-running-queries", "Kill any long-running queries", "group=Checklist"),
            ("confirm", "check-for-locks-on-tables", "Check for locks on tables", "group=Checklist"),
            ("confirm", "restart-database-if-needed", "Restart database if needed", "group=Checklist"),
            (
                "shell",
                "your-slow-query-command",
                "[YOUR_SLOW_QUERY_COMMAND]",
                "group=Command to find slow queries",
                "$ [YOUR_SLOW_QUERY_COMMAND]",
            ),
        ],
    ),
    (
        "Runbook: Common Operational Tasks > Out of disk space",
        [],
        [
            ("confirm", "check-which-volume-is-full", "Check which volume is full", "group=Checklist"),
            ("confirm", "clear-old-logs-command", "Clear old logs: [COMMAND]", "group=Checklist"),
            ("confirm", "delete-old-backups-if-safe", "Delete old backups if safe", "group=Checklist"),
            (
                "confirm",
                "clear-browser-cache-on-web-servers",
                "Clear browser cache on web servers",
                "group=Checklist",
            ),
            (
                "confirm",
                "increase-volume-size-if-needed",
                "Increase volume size if needed",
                "group=Checklist",
            ),
        ],
    ),
    (
        "Runbook: Common Operational Tasks > One server is down but service still works",
        [],
        [
            (
                "confirm",
                "decide-restart-it-or-let-it-scale-up",
                "Decide: restart it or let it scale up?",
                "group=Checklist",
            ),
            (
                "confirm",
                "if-restarting-kubectl-restart-pod-pod",
                "If restarting: kubectl restart pod [POD_NAME]",
                "group=Checklist",
            ),
            (
                "confirm",
                "if-scaling-let-load-balancer-route",
                "If scaling: let load balancer route around it",
                "group=Checklist",
            ),
            (
                "confirm",
                "monitor-other-servers-don-t-get",
                "Monitor other servers don't get overloaded",
                "group=Checklist",
            ),
            (
                "confirm",
                "investigate-why-it-crashed-logs",
                "Investigate why it crashed (logs)",
                "group=Checklist",
            ),
        ],
    ),
    (
        "Backup & Recovery > Restoring from Backup",
        [
            ("YOUR_BACKUP_LIST_COMMAND", "text", ("[YOUR_BACKUP_LIST_COMMAND]",)),
            ("YOUR_RESTORE_COMMAND", "text", ("[YOUR_RESTORE_COMMAND]",)),
            ("YOUR_VERIFY_COMMAND", "text", ("[YOUR_VERIFY_COMMAND]",)),
        ],
        [
            (
                "shell",
                "list-available-backups",
                "List available backups",
                "group=If database is corrupted",
                "$ [YOUR_BACKUP_LIST_COMMAND]",
            ),
            (
                "shell",
                "restore-from-timestamp",
                "Restore from timestamp",
                "group=If database is corrupted",
                '$ [YOUR_RESTORE_COMMAND] "2025-11-19 10:00:00"',
                "destructive=YOUR_RESTORE_COMMAND (placeholder)",
            ),
            (
                "shell",
                "verify-restore-worked",
                "Verify restore worked",
                "group=If database is corrupted",
                "$ [YOUR_VERIFY_COMMAND]",
            ),
        ],
    ),
    (
        "Security Operations > Regular Security Tasks",
        [],
        [
            ("confirm", "monthly-rotate-database-passwords", "Monthly: Rotate database passwords"),
            (
                "confirm",
                "monthly-review-access-logs-for",
                "Monthly: Review access logs for suspicious activity",
            ),
            ("confirm", "quarterly-audit-who-has-production", "Quarterly: Audit who has production access"),
            ("confirm", "quarterly-update-ssl-certificates", "Quarterly: Update SSL certificates"),
        ],
    ),
    (
        "On-Call Responsibilities > Before Your On-Call Shift",
        [],
        [
            ("confirm", "verify-you-can-access-monitoring", "Verify you can access [Monitoring Dashboard]"),
            (
                "confirm",
                "test-pagerduty-notifications-work-on",
                "Test PagerDuty notifications work on your phone",
            ),
            ("confirm", "know-how-to-roll-back-a-deployment", "Know how to roll back a deployment"),
            (
                "confirm",
                "review-recent-incidents-and-their-causes",
                "Review recent incidents and their causes",
            ),
            ("confirm", "ensure-all-runbooks-are-current", "Ensure all runbooks are current"),
        ],
    ),
    (
        "On-Call Responsibilities > During Your On-Call Shift",
        [],
        [
            ("manual", "respond-to-pages-within-5-minutes", "Respond to pages within 5 minutes"),
            ("manual", "assess-severity-immediately", "Assess severity immediately"),
            ("manual", "escalate-to-engineering-if-needed", "Escalate to engineering if needed"),
            ("manual", "don-t-make-major-architectural-changes", "Don't make major architectural changes"),
            ("manual", "document-what-you-did", "Document what you did"),
        ],
    ),
    (
        "On-Call Responsibilities > After Your On-Call Shift",
        [],
        [
            ("manual", "write-a-quick-handoff-note-for-next", "Write a quick handoff note for next person"),
            (
                "manual",
                "update-runbooks-if-you-learned-something",
                "Update runbooks if you learned something",
            ),
            (
                "manual",
                "participate-in-post-mortems-for-any-p1",
                "Participate in post-mortems for any P1 incidents",
            ),
        ],
    ),
    (
        "Common Operational Procedures > Scaling up for traffic spike",
        [],
        [
            (
                "shell",
                "increase-web-server-replicas",
                "Increase web server replicas",
                "$ kubectl scale deployment web-app --replicas=10",
            ),
            (
                "shell",
                "watch-deployment-scale-up",
                "Watch deployment scale up",
                "$ kubectl get deployment web-app --watch",
            ),
            (
                "manual",
                "verify-load-is-balanced",
                "Verify load is balanced",
                "notes=Check each server CPU in dashboard",
            ),
        ],
    ),
    (
        "Common Operational Procedures > Running a database migration",
        [
            ("BACKUP_COMMAND", "text", ("[BACKUP_COMMAND]",)),
            ("MIGRATION_COMMAND", "text", ("[MIGRATION_COMMAND]",)),
            ("VERIFY_COMMAND", "text", ("[VERIFY_COMMAND]",)),
        ],
        [
            ("shell", "create-backup-first", "Create backup first", "$ [BACKUP_COMMAND]"),
            (
                "shell",
                "run-migration-preferably-during-low",
                "Run migration (preferably during low traffic)",
                "$ [MIGRATION_COMMAND]",
            ),
            ("shell", "verify-migration-successful", "Verify migration successful", "$ [VERIFY_COMMAND]"),
            ("manual", "monitor-for-issues-next-hour", "Monitor for issues next hour"),
        ],
    ),
    (
        "Common Operational Procedures > Deploying a hotfix",
        [
            ("DEPLOY_COMMAND", "text", ("[DEPLOY_COMMAND]",)),
            ("YOUR_MONITOR_COMMAND", "text", ("[YOUR_MONITOR_COMMAND]",)),
        ],
        [
            (
                "shell",
                "deploy-directly-to-production-no-staging",
                "Deploy directly to production (no staging)",
                "$ [DEPLOY_COMMAND] production",
            ),
            (
                "shell",
                "monitor-error-rate-closely",
                "Monitor error rate closely",
                "$ watch [YOUR_MONITOR_COMMAND]",
            ),
            (
                "manual",
                "be-ready-to-rollback-if-needed",
                "Be ready to rollback if needed",
                "notes=Issue: [ISSUE_BRIEF_DESC] | Rollback: [ROLLBACK_COMMAND]",
            ),
        ],
    ),
    (
        "Escalation Paths",
        [],
        [
            (
                "manual",
                "page-on-call-engineer-if-you-re-not-on",
                "Page on-call engineer (if you're not on-call)",
                "group=If service is down and you can't fix it",
            ),
            (
                "manual",
                "page-engineering-lead-if-still-not",
                "Page engineering lead if still not resolved in 10 minutes",
                "group=If service is down and you can't fix it",
            ),
            (
                "manual",
                "page-cto-if-still-not-resolved-in-30",
                "Page CTO if still not resolved in 30 minutes",
                "group=If service is down and you can't fix it",
            ),
            (
                "manual",
                "ask-on-call-engineer",
                "Ask on-call engineer",
                "group=If you need access you don't have",
            ),
            (
                "manual",
                "if-urgent-ask-engineering-lead",
                "If urgent, ask engineering lead",
                "group=If you need access you don't have",
            ),
            (
                "manual",
                "for-permanent-access-ask-devops",
                "For permanent access, ask DevOps",
                "group=If you need access you don't have",
            ),
        ],
    ),
    (
        "Future Operations Improvements",
        [],
        [
            ("confirm", "auto-scaling-based-on-load-not-manual", "Auto-scaling based on load (not manual)"),
            (
                "confirm",
                "automated-database-backups-to-multiple",
                "Automated database backups to multiple regions",
            ),
            ("confirm", "canary-deployments-gradual-rollout", "Canary deployments (gradual rollout)"),
            (
                "confirm",
                "automated-incident-detection-and",
                "Automated incident detection and initial response",
            ),
            (
                "confirm",
                "full-disaster-recovery-plan",
                "Full disaster recovery plan (geographically distributed)",
            ),
        ],
    ),
]
PAZPAZ_TITLE = "Operations Documentation"
PAZPAZ = [
    (
        "Critical Procedures > Key Rotation",
        [],
        [
            (
                "manual",
                "within-24-hours-of-suspected-compromise",
                "Within 24 hours of suspected compromise",
                "group=Emergency Rotation",
            ),
            (
                "manual",
                "follow-zero-downtime-rotation-procedure",
                "Follow zero-downtime rotation procedure (overlap period)",
                "group=Emergency Rotation",
            ),
            (
                "manual",
                "update-cloudtrail-audit-logs",
                "Update CloudTrail audit logs",
                "group=Emergency Rotation",
            ),
            (
                "manual",
                "notify-security-team-and-stakeholders",
                "Notify security team and stakeholders",
                "group=Emergency Rotation",
            ),
        ],
    ),
    (
        "Critical Procedures > Database Maintenance",
        [("YYYY-MM-DD", "date", ("YYYY-MM-DD",))],
        [
            (
                "shell",
                "list-recent-rds-snapshots",
                "List recent RDS snapshots",
                "group=Backup Verification",
                "$ aws rds describe-db-snapshots \\\n"
                "  --db-instance-identifier pazpaz-prod \\\n"
                "  --query 'DBSnapshots[*].[DBSnapshotIdentifier,SnapshotCreateTime]' \\\n"
                "  --output table",
            ),
            (
                "shell",
                "test-restore-in-staging",
                "Test restore (in staging)",
                "group=Backup Verification",
                "$ aws rds restore-db-instance-from-db-snapshot \\\n"
                "  --db-instance-identifier pazpaz-staging-restore-test \\\n"
                "  --db-snapshot-identifier pazpaz-prod-snapshot-YYYY-MM-DD",
                "destructive=restore-db-instance",
            ),
        ],
    ),
    (
        "Critical Procedures > Incident Response",
        [],
        [
            (
                "manual",
                "detect-monitoring-alerts-cloudwatch",
                "Detect - Monitoring alerts (CloudWatch, Datadog, PagerDuty)",
                "group=5-Step Process",
            ),
            (
                "manual",
                "assess-severity-classification-p0-p4",
                "Assess - Severity classification (P0-P4), impact analysis",
                "group=5-Step Process",
            ),
            (
                "manual",
                "contain-isolate-affected-systems",
                "Contain - Isolate affected systems, prevent further damage",
                "group=5-Step Process",
            ),
            (
                "manual",
                "remediate-fix-root-cause-deploy-hotfix",
                "Remediate - Fix root cause, deploy hotfix if needed",
                "group=5-Step Process",
            ),
            (
                "manual",
                "document-post-mortem-report-lessons",
                "Document - Post-mortem report, lessons learned",
                "group=5-Step Process",
            ),
        ],
    ),
    (
        "Critical Procedures > Common Operational Tasks",
        [
            ("REDIS_PASSWORD", "env", ("$REDIS_PASSWORD",)),
            ("PREVIOUS_REVISION", "text", ("PREVIOUS_REVISION",)),
        ],
        [
            (
                "shell",
                "check-all-service-health",
                "Check all service health",
                "group=Service Health Check",
                "$ docker compose ps",
            ),
            (
                "shell",
                "check-api-health-endpoint",
                "Check API health endpoint",
                "group=Service Health Check",
                "$ curl -f https://api.pazpaz.com/health",
            ),
            (
                "shell",
                "check-database-connectivity",
                "Check database connectivity",
                "group=Service Health Check",
                '$ docker exec pazpaz-db psql -U pazpaz -d pazpaz -c "SELECT 1;"',
            ),
            (
                "shell",
                "check-redis-connectivity",
                "Check Redis connectivity",
                "group=Service Health Check",
                '$ docker exec pazpaz-redis redis-cli -a "$REDIS_PASSWORD" ping',
            ),
            (
                "shell",
                "local-development",
                "Local development",
                "group=View Application Logs",
                "$ docker compose logs -f api",
            ),
            (
                "shell",
                "production-cloudwatch",
                "Production (CloudWatch)",
                "group=View Application Logs",
                "$ aws logs tail /ecs/pazpaz-backend --follow",
            ),
            (
                "shell",
                "filter-for-errors",
                "Filter for errors",
                "group=View Application Logs",
                '$ aws logs tail /ecs/pazpaz-backend --follow --filter-pattern "ERROR"',
            ),
            (
                "shell",
                "check-active-connections",
                "Check active connections",
                "group=Database Connection Troubleshooting",
                '$ docker exec pazpaz-db psql -U pazpaz -d pazpaz -c "\n'
                "  SELECT count(*) as connections,\n"
                "         state,\n"
                "         application_name\n"
                "  FROM pg_stat_activity\n"
                "  WHERE datname = 'pazpaz'\n"
                "  GROUP BY state, application_name\n"
                "  ORDER BY connections DESC;\n"
                '"',
            ),
            (
                "shell",
                "check-slow-queries-1-second",
                "Check slow queries (> 1 second)",
                "group=Database Connection Troubleshooting",
                '$ docker exec pazpaz-db psql -U pazpaz -d pazpaz -c "\n'
                "  SELECT pid,\n"
                "         now() - pg_stat_activity.query_start AS duration,\n"
                "         query\n"
                "  FROM pg_stat_activity\n"
                "  WHERE state = 'active'\n"
                "    AND now() - pg_stat_activity.query_start > interval '1 second';\n"
                '"',
            ),
            (
                "shell",
                "ecs-rollback-to-previous-task-definition",
                "ECS rollback to previous task definition",
                "group=Deployment Rollback",
                "$ aws ecs update-service \\\n"
                "  --cluster pazpaz-cluster \\\n"
                "  --service pazpaz-backend \\\n"
                "  --task-definition pazpaz-backend:PREVIOUS_REVISION",
            ),
            (
                "shell",
                "monitor-rollback",
                "Monitor rollback",
                "group=Deployment Rollback",
                "$ aws ecs describe-services \\\n"
                "  --cluster pazpaz-cluster \\\n"
                "  --services pazpaz-backend \\\n"
                "  --query 'services[0].deployments'",
            ),
        ],
    ),
]


@pytest.mark.parametrize(
    ("filename", "title", "expected"),
    [
        ("operations-template.md", TEMPLATE_TITLE, TEMPLATE),
        ("pazpaz-operations.md", PAZPAZ_TITLE, PAZPAZ),
    ],
)
def test_example_structure_is_pinned(filename: str, title: str, expected: list[object]) -> None:
    runbook = parse_runbook((EXAMPLES / filename).read_text(encoding="utf-8"), filename)
    assert runbook.title == title
    got = structure(runbook)
    assert [p[0] for p in got] == [p[0] for p in expected]  # type: ignore[index]
    for proc_got, proc_expected in zip(got, expected, strict=True):
        assert proc_got == proc_expected


def test_template_counts() -> None:
    runbook = parse_runbook((EXAMPLES / "operations-template.md").read_text(encoding="utf-8"))
    steps = [s for p in runbook.procedures for s in p.steps]
    assert len(runbook.procedures) == 20
    # every mangled check box in the file is a confirm step (6+6+7+5+5+5+4+5, plus 5 `- [ ]` items)
    raw = (EXAMPLES / "operations-template.md").read_text(encoding="utf-8")
    assert sum(1 for s in steps if s.kind == "confirm") == raw.count("\u201a\u00f2\u00ea") + raw.count(
        "- [ ]"
    )
    assert sum(1 for s in steps if s.kind == "shell") == 19


def test_pazpaz_counts() -> None:
    runbook = parse_runbook((EXAMPLES / "pazpaz-operations.md").read_text(encoding="utf-8"))
    steps = [s for p in runbook.procedures for s in p.steps]
    assert len(runbook.procedures) == 4
    assert sum(1 for s in steps if s.kind == "shell") == 13
    params = {x.name: x.kind for p in runbook.procedures for x in p.parameters}
    assert params == {"YYYY-MM-DD": "date", "REDIS_PASSWORD": "env", "PREVIOUS_REVISION": "text"}
