//! The HTML report of a simulation: the policies side by side, with SVG charts
//! (drawn with plotters' SVG backend) that mark Devon Cares' 70% within 1.5 h
//! and 97% within 4 h.

use super::report::{DEVON_TARGETS, Interval, PolicySummary, SimReport};
use super::run::RunResult;
use plotters::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

const W: u32 = 760;
const H: u32 = 380;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn colour(i: usize) -> RGBColor {
    const C: [RGBColor; 8] = [
        RGBColor(31, 119, 180),
        RGBColor(214, 39, 40),
        RGBColor(44, 160, 44),
        RGBColor(255, 127, 14),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(23, 190, 207),
    ];
    C[i % C.len()]
}

type Drawn = Result<(), Box<dyn std::error::Error>>;

/// Share of referrals filled within `t` hours, for t over the first day
/// (referrals whose day mark fell inside the run, pooled over seeds).
fn fill_curve(runs: &[&RunResult]) -> Vec<(f64, f64)> {
    let mut due = 0usize;
    let mut fills: Vec<f64> = Vec::new();
    for r in runs {
        let end = r.outcomes.iter().map(|o| o.referred_at).max();
        for o in &r.outcomes {
            // Referrals in the run's last day are censored: their 24 h mark is
            // beyond it.
            if end.is_some_and(|e| o.referred_at + chrono::Duration::hours(24) > e) {
                continue;
            }
            due += 1;
            if let Some(f) = o.fill_min {
                fills.push(f / 60.0);
            }
        }
    }
    fills.sort_by(f64::total_cmp);
    (0..=288)
        .map(|i| {
            let t = f64::from(i) / 12.0;
            let n = fills.partition_point(|&f| f <= t);
            (t, if due == 0 { 0.0 } else { n as f64 / due as f64 })
        })
        .collect()
}

fn fill_chart(report: &SimReport, out: &mut String) -> Drawn {
    let root = SVGBackend::with_string(out, (W, H)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Share of referrals filled within t hours",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(48)
        .build_cartesian_2d(0f64..24f64, 0f64..1f64)?;
    chart
        .configure_mesh()
        .x_desc("hours from referral")
        .y_desc("share filled")
        .y_label_formatter(&|v| format!("{:.0}%", v * 100.0))
        .draw()?;
    let grey = RGBColor(90, 90, 90);
    for (m, share) in DEVON_TARGETS {
        let h = m as f64 / 60.0;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(h, 0.0), (h, 1.0)],
            grey.stroke_width(1),
        )))?;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(0.0, share), (24.0, share)],
            grey.stroke_width(1),
        )))?;
        chart.draw_series(std::iter::once(Circle::new((h, share), 5, grey.filled())))?;
        chart.draw_series(std::iter::once(Text::new(
            format!("Devon Cares {:.0}% in {h} h", share * 100.0),
            (h + 0.3, share - 0.05),
            ("sans-serif", 12),
        )))?;
    }
    for (i, p) in report.policies.iter().enumerate() {
        let runs: Vec<&RunResult> = report
            .runs
            .iter()
            .filter(|r| r.policy == p.policy)
            .collect();
        let c = colour(i);
        chart
            .draw_series(LineSeries::new(fill_curve(&runs), c.stroke_width(2)))?
            .label(p.policy.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .border_style(BLACK)
        .background_style(WHITE.mix(0.85))
        .draw()?;
    root.present()?;
    Ok(())
}

fn series_chart(
    title: &str,
    y_desc: &str,
    series: &[(String, Vec<f64>)],
    out: &mut String,
) -> Drawn {
    let days = series.iter().map(|s| s.1.len()).max().unwrap_or(0).max(1);
    let values = series.iter().flat_map(|s| s.1.iter().copied());
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((0f64, 1f64), |(a, b), v| (a.min(v), b.max(v)));
    let pad = (hi - lo) * 0.05;
    let root = SVGBackend::with_string(out, (W, H)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(0f64..days as f64, (lo - pad)..(hi + pad))?;
    chart
        .configure_mesh()
        .x_desc("day of the run")
        .y_desc(y_desc)
        .draw()?;
    for (i, (name, v)) in series.iter().enumerate() {
        let c = colour(i);
        let pts: Vec<(f64, f64)> = v
            .iter()
            .enumerate()
            .filter(|(_, y)| y.is_finite())
            .map(|(d, y)| (d as f64 + 1.0, *y))
            .collect();
        chart
            .draw_series(LineSeries::new(pts, c.stroke_width(2)))?
            .label(name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .border_style(BLACK)
        .background_style(WHITE.mix(0.85))
        .draw()?;
    root.present()?;
    Ok(())
}

/// Grouped horizontal bars: one group per category, one bar per policy.
fn bar_chart(
    title: &str,
    policies: &[&PolicySummary],
    values: &dyn Fn(&PolicySummary) -> BTreeMap<String, f64>,
    out: &mut String,
) -> Drawn {
    let cats: Vec<String> = policies
        .iter()
        .flat_map(|p| values(p).into_keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let max = policies
        .iter()
        .flat_map(|p| values(p).into_values())
        .fold(1f64, f64::max);
    let rows = (cats.len() * policies.len()).max(1);
    let height = (80 + rows as u32 * 16).max(160);
    let root = SVGBackend::with_string(out, (W, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(210)
        .build_cartesian_2d(0f64..max * 1.1, 0f64..rows as f64)?;
    let labels: Vec<(usize, String)> = cats
        .iter()
        .enumerate()
        .map(|(i, c)| (i * policies.len(), c.clone()))
        .collect();
    let n = policies.len();
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(rows)
        .y_label_formatter(&|y| {
            let row = *y as usize;
            labels
                .iter()
                .find(|(r, _)| *r == row && row.is_multiple_of(n))
                .map_or_else(String::new, |(_, l)| l.clone())
        })
        .x_desc("referrals per run (mean over seeds)")
        .draw()?;
    for (pi, p) in policies.iter().enumerate() {
        let c = colour(pi);
        let mine = values(p);
        let bars: Vec<Rectangle<(f64, f64)>> = cats
            .iter()
            .enumerate()
            .map(|(ci, cat)| {
                let v = mine.get(cat).copied().unwrap_or(0.0);
                let y = (ci * n + pi) as f64;
                Rectangle::new([(0.0, y + 0.1), (v, y + 0.9)], c.filled())
            })
            .collect();
        chart
            .draw_series(bars)?
            .label(p.policy.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .border_style(BLACK)
        .background_style(WHITE.mix(0.85))
        .draw()?;
    root.present()?;
    Ok(())
}

fn pct(i: &Interval) -> String {
    if !i.mean.is_finite() {
        return "-".into();
    }
    format!(
        "{:.1}% <small>[{:.1}, {:.1}]</small>",
        100.0 * i.mean,
        100.0 * i.lo.max(0.0),
        100.0 * i.hi.min(1.0)
    )
}

fn val(i: &Interval, scale: f64, digits: usize) -> String {
    if !i.mean.is_finite() {
        return "-".into();
    }
    format!(
        "{:.*} <small>[{:.*}, {:.*}]</small>",
        digits,
        i.mean * scale,
        digits,
        i.lo * scale,
        digits,
        i.hi * scale
    )
}

/// The whole report as one self-contained HTML page.
pub fn html(report: &SimReport) -> Result<String, String> {
    let mut page = String::new();
    let _ = writeln!(
        page,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\n<style>body{{font-family:sans-serif;max-width:70rem;margin:2rem auto;color:#222}}table{{border-collapse:collapse;margin:1rem 0}}td,th{{border:1px solid #ccc;padding:.3rem .5rem;text-align:right}}th:first-child,td:first-child{{text-align:left}}.ok{{color:#176317;font-weight:bold}}.miss{{color:#a11;font-weight:bold}}small{{color:#666}}figure{{margin:1.5rem 0}}</style></head><body>\n<h1>{t}</h1>\n<p>{days} days, seeds {seeds:?}; county: {county}. Means over seeds with 95% intervals. Devon Cares fills 70% of packages within 1.5 hours of referral and 97% within 4 hours.</p>",
        t = esc(if report.scenario.is_empty() {
            "Brokerage simulation"
        } else {
            &report.scenario
        }),
        days = report.days,
        seeds = report.seeds,
        county = esc(&report
            .county
            .iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect::<Vec<_>>()
            .join(", ")),
    );
    page.push_str("<table><tr><th>policy</th><th>referrals</th><th>filled ≤ 1.5 h (70%)</th><th>filled ≤ 4 h (97%)</th><th>filled ≤ 24 h</th><th>median to first visit, h</th><th>bed-days</th><th>offers / referral</th><th>EC hours</th><th>damages £</th><th>risk pool end £</th><th>utilisation</th><th>paid travel</th><th>within continuity cap</th><th>integrity</th></tr>\n");
    for p in &report.policies {
        let mark = |m: &str| {
            let ok = p.meets_devon.get(m).copied().unwrap_or(false);
            let cls = if ok { "ok" } else { "miss" };
            let share = p.share_within.get(m).map_or("-".into(), pct);
            format!("<span class=\"{cls}\">{share}</span>")
        };
        let first = p
            .first_visit
            .percentiles_min
            .get("p50")
            .filter(|v| v.is_finite())
            .map_or("-".into(), |m| format!("{:.1}", m / 60.0));
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td>{:.0}</td><td>{}</td><td>{}</td><td>{}</td><td>{first}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&p.policy),
            p.referrals.mean,
            mark("90"),
            mark("240"),
            p.share_within.get("1440").map_or("-".into(), pct),
            val(&p.bed_days, 1.0, 0),
            val(&p.offers_per_referral, 1.0, 2),
            val(&p.emergency_cover_hours, 1.0, 0),
            val(&p.damages_pounds, 1.0, 0),
            val(&p.risk_pool_end_pounds, 1.0, 0),
            pct(&p.utilisation),
            pct(&p.paid_travel_share),
            pct(&p.continuity_within_cap),
            if p.integrity_ok { "ok" } else { "FAILED" }
        );
    }
    page.push_str("</table>\n");
    let mut figure = |title: &str, svg: String| {
        let _ = writeln!(
            page,
            "<figure><figcaption>{}</figcaption>{svg}</figure>",
            esc(title)
        );
    };
    let mut svg = String::new();
    fill_chart(report, &mut svg).map_err(|e| e.to_string())?;
    figure(
        "Fill-time curves: the grey lines mark 1.5 h and 4 h and Devon Cares' 70% and 97%.",
        svg,
    );
    let series = |g: &dyn Fn(&PolicySummary) -> Vec<f64>| -> Vec<(String, Vec<f64>)> {
        report
            .policies
            .iter()
            .map(|p| (p.policy.clone(), g(p)))
            .collect()
    };
    let mut svg = String::new();
    series_chart(
        "Risk pool at the end of each day",
        "£",
        &series(&|p| p.risk_pool_by_day.clone()),
        &mut svg,
    )
    .map_err(|e| e.to_string())?;
    figure("Risk pool over time (mean over seeds).", svg);
    let mut svg = String::new();
    series_chart(
        "Liquidated damages accrued",
        "£",
        &series(&|p| p.damages_by_day.clone()),
        &mut svg,
    )
    .map_err(|e| e.to_string())?;
    figure("Cumulative liquidated damages (mean over seeds).", svg);
    let policies: Vec<&PolicySummary> = report.policies.iter().collect();
    let mut svg = String::new();
    bar_chart(
        "Referrals unfilled at the end, by reason",
        &policies,
        &|p| p.unfilled_by_reason.clone(),
        &mut svg,
    )
    .map_err(|e| e.to_string())?;
    figure(
        "Unfilled by reason (the fit checks at the end of the run).",
        svg,
    );
    let mut svg = String::new();
    bar_chart(
        "Filled referrals by tier of the accepting provider",
        &policies,
        &|p| p.filled_by_tier.clone(),
        &mut svg,
    )
    .map_err(|e| e.to_string())?;
    figure("Filled by tier.", svg);
    // Damages by provider: the providers that paid most, per policy.
    page.push_str("<h2>Damages by provider (£, mean per run)</h2>\n");
    for p in &report.policies {
        let mut top: Vec<(&String, &f64)> = p.damages_by_provider.iter().collect();
        top.sort_by(|a, b| b.1.total_cmp(a.1).then(a.0.cmp(b.0)));
        let list = top
            .iter()
            .take(10)
            .map(|(k, v)| format!("{} £{:.0}", esc(k), v))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(
            page,
            "<p><b>{}</b>: {}</p>",
            esc(&p.policy),
            if list.is_empty() { "none".into() } else { list }
        );
    }
    page.push_str(
        "<h2>Continuity: distinct carers per filled referral</h2>\n<table><tr><th>policy</th>",
    );
    let counts: BTreeSet<u32> = report
        .policies
        .iter()
        .flat_map(|p| p.continuity.keys().copied())
        .collect();
    for c in &counts {
        let _ = write!(page, "<th>{c}</th>");
    }
    page.push_str("</tr>\n");
    for p in &report.policies {
        let _ = write!(page, "<tr><td>{}</td>", esc(&p.policy));
        for c in &counts {
            let v = p.continuity.get(c).copied().unwrap_or(0.0);
            let _ = write!(page, "<td>{:.1}%</td>", v * 100.0);
        }
        page.push_str("</tr>\n");
    }
    page.push_str("</table>\n</body></html>\n");
    Ok(page)
}
