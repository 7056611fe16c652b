//! Weekly hours: a carer's paid minutes in each local calendar week
//! (Monday-Sunday) stay within their weekly maximum, counting the minutes
//! worked in the horizon's first week before its first day.

use super::timeline::Timeline;
use super::{Flags, ViolationCode};

pub(super) fn verify(t: &Timeline<'_>, out: &mut Flags) {
    let p = t.p;
    for ((c, w), m) in t.paid_by(|day| week(p, day)) {
        let carer = p.carer(c);
        let before = if w == 0 {
            i64::from(carer.worked_min_before_start)
        } else {
            0
        };
        if m + before > i64::from(carer.max_min_per_week) {
            out.flag(
                ViolationCode::MaxWeeklyMinutes,
                None,
                None,
                format!(
                    "carer `{}` works {} min in the week of {}, above the {} min weekly maximum",
                    carer.id,
                    m + before,
                    monday(p, w),
                    carer.max_min_per_week
                ),
            );
        }
    }
}

/// Calendar week of `day` counted from the Monday on or before the horizon's
/// first day; computed here from dates, not with the engine's
/// [`crate::model::Problem::week_of`].
fn week(p: &crate::model::Problem, day: u32) -> u32 {
    let date = p.horizon.date(day);
    let first_monday = monday_of(p.horizon.start_date);
    ((monday_of(date) - first_monday).num_days() / 7) as u32
}

/// The Monday that starts week `w`.
fn monday(p: &crate::model::Problem, w: u32) -> chrono::NaiveDate {
    monday_of(p.horizon.start_date) + chrono::Duration::weeks(i64::from(w))
}

fn monday_of(date: chrono::NaiveDate) -> chrono::NaiveDate {
    date.week(chrono::Weekday::Mon).first_day()
}
