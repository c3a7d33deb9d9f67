//! How long alerts keep firing after the errors stop, measured with `promtool test rules` on
//! the generated rules (99.9 % over 30d, 10 requests per second, three clean days first so
//! that every window starts full). For each scenario: when the page and the ticket first
//! fire after the errors start, and when each last fires after they stop. The page side is
//! read at every minute, the ticket side every 5 minutes (its windows are hours long).

mod support;

use std::collections::BTreeMap;

use anyhow::Result;
use support::*;
use tidewatch_operator::slo_rules::{ABSENT_ALERT, BURN_ALERT};

const PER_MINUTE: f64 = 600.0;
const HISTORY: u64 = 3 * 1440;
const SHORT_HISTORY: u64 = 6 * 60;

/// Firing of one severity: first minute after the errors start, last minute after they stop.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Span {
    first: i64,
    last_after_end: i64,
}

fn traffic(history: u64, error_ratio: f64, minutes: u64, after: u64) -> Vec<Series> {
    outage_traffic(PER_MINUTE, history, error_ratio, minutes, after)
}

/// When alerts of `severity` fire around `minutes` of `error_ratio`, or `None` if never.
fn span(
    severity: &str,
    history: u64,
    error_ratio: f64,
    minutes: u64,
    after: u64,
    evaluation: u64,
) -> Result<Option<Span>> {
    let dir = tempfile::tempdir()?;
    let slo = availability_slo("");
    let rules = rule_file_of(dir.path(), &slo)?;
    let series = traffic(history, error_ratio, minutes, after);
    let test = write_silence_test(
        dir.path(),
        &rules,
        evaluation,
        &series,
        &[BURN_ALERT, ABSENT_ALERT],
        (history, history + minutes + after, evaluation),
    )?;
    let run = firing_alerts_run(&test)?;
    let firing: BTreeMap<u64, Vec<(String, String, String)>> = firing(&run);
    let times: Vec<u64> = firing
        .iter()
        .filter(|(_, a)| a.iter().any(|x| x.0 == BURN_ALERT && x.1 == severity))
        .map(|(t, _)| *t)
        .collect();
    assert!(
        firing.values().flatten().all(|a| a.0 != ABSENT_ALERT),
        "SLOMetricsAbsent fired with data present"
    );
    let end = (history + minutes) as i64;
    assert!(
        times.last().is_none_or(|&t| t < history + minutes + after),
        "{severity} still firing at the end of the run: lengthen `after`"
    );
    Ok(times.first().map(|&first| Span {
        first: first as i64 - history as i64,
        last_after_end: *times.last().expect("non-empty") as i64 - end,
    }))
}

fn show(span: Option<Span>) -> String {
    span.map_or_else(
        || "never".to_owned(),
        |s| {
            format!(
                "fires {} min in, stops {} min after",
                s.first, s.last_after_end
            )
        },
    )
}

/// One row: the page read every minute after 6 clean hours, the ticket every 5 minutes
/// after 3 clean days.
fn row(
    name: &str,
    error_ratio: f64,
    minutes: u64,
    after_page: u64,
    after_ticket: u64,
) -> Result<(Option<Span>, Option<Span>)> {
    let page = span("page", SHORT_HISTORY, error_ratio, minutes, after_page, 1)?;
    let ticket = span("ticket", HISTORY, error_ratio, minutes, after_ticket, 5)?;
    println!("RESET {name}: page {}; ticket {}", show(page), show(ticket));
    Ok((page, ticket))
}

#[test]
fn total_outages_reset_once_they_leave_the_short_windows() -> Result<()> {
    for minutes in [5, 30, 60] {
        let (page, ticket) = row(
            &format!("100% outage for {minutes} min"),
            1.0,
            minutes,
            120,
            8 * 60,
        )?;
        let page = page.expect("a total outage pages");
        assert!(page.first <= 2, "paged after {} min", page.first);
        // The 1h/5m page holds while the outage is in the 5m window; the 6h/30m one while it
        // is in the 30m window once it has spent 5 % of the budget (6h × 0.6 % = 2.16 min).
        assert!(
            (0..=36).contains(&page.last_after_end),
            "page stopped {} min after the end",
            page.last_after_end
        );
        let ticket = ticket.expect("a total outage of 5 minutes or more spends 10 % in 3d");
        // The 3d/6h ticket holds until the outage leaves the 6h window.
        assert!(
            (300..=370).contains(&ticket.last_after_end),
            "ticket stopped {} min after the end",
            ticket.last_after_end
        );
    }
    Ok(())
}

#[test]
fn slow_burns_reset_with_their_short_windows() -> Result<()> {
    // 2x for 2 days: below every page; the 3d/6h ticket (1x) after 1.5 days.
    let (page, ticket) = row("2x burn (0.2%) for 48 h", 0.002, 48 * 60, 60, 8 * 60)?;
    assert!(page.is_none(), "2x must not page");
    let ticket = ticket.expect("2x for 2 days opens a ticket");
    assert!(
        (2100..=2220).contains(&ticket.first),
        "ticket after {} min, expected about 2160",
        ticket.first
    );
    assert!(ticket.last_after_end <= 6 * 60);

    // 10x for 12 hours: pages through 6h/30m (3.6 h), tickets through 1d/2h (7.2 h).
    let (page, ticket) = row("10x burn (1%) for 12 h", 0.01, 12 * 60, 60, 8 * 60)?;
    let page = page.expect("10x pages");
    assert!(
        (206..=226).contains(&page.first),
        "paged after {} min",
        page.first
    );
    assert!(
        page.last_after_end <= 36,
        "page held {} min",
        page.last_after_end
    );
    let ticket = ticket.expect("10x for 12 hours opens a ticket");
    assert!(
        ticket.first <= 450,
        "ticket after {} min, expected about 432",
        ticket.first
    );
    assert!(ticket.last_after_end <= 6 * 60 + 10);
    Ok(())
}
