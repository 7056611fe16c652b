//! Dates, local times and day selectors of the generated horizon.

use crate::format::Day;
use crate::model::Zone;
use chrono::{Datelike, Duration, NaiveDate, NaiveTime};
use chrono_tz::Tz;

/// The zone generated horizons are in: UK civil time, whose clock changes the
/// zone database knows.
const UK: Tz = chrono_tz::Europe::London;

/// Weekday selectors in Monday-first order, as the wire format spells them.
pub(super) const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// The horizon being generated.
#[derive(Debug, Clone)]
pub(super) struct Calendar {
    start: NaiveDate,
    days: u32,
}

impl Calendar {
    /// A horizon of `days` (clamped to the format's 1-28) from `start`, in UK local time.
    pub fn new(start: NaiveDate, days: u32) -> Self {
        Calendar {
            start,
            days: days.clamp(1, 28),
        }
    }

    /// Number of days planned.
    pub fn days(&self) -> u32 {
        self.days
    }

    /// The IANA zone of local times.
    pub fn time_zone(&self) -> &'static str {
        UK.name()
    }

    /// Date of horizon day `i` (0-based).
    pub fn date(&self, i: u32) -> NaiveDate {
        self.start + Duration::days(i64::from(i))
    }

    /// `YYYY-MM-DD` of horizon day `i`.
    pub fn date_str(&self, i: u32) -> String {
        self.date(i).format("%Y-%m-%d").to_string()
    }

    /// Monday-based weekday index (0 = Monday) of horizon day `i`.
    pub fn weekday(&self, i: u32) -> usize {
        self.date(i).weekday().num_days_from_monday() as usize
    }

    /// RFC 3339 instant at `minute` after local midnight of horizon day `day`
    /// (`day` may run past the horizon, e.g. for the end of an absence).
    pub fn instant(&self, day: u32, minute: u32) -> String {
        self.instant_on(self.date(day), minute)
    }

    /// RFC 3339 instant of local clock time `minute` on `date`, with the UK
    /// offset of that moment (the format's rule for repeated and skipped times).
    pub fn instant_on(&self, date: NaiveDate, minute: u32) -> String {
        let zone = Zone::Iana(UK);
        let local = date.and_time(NaiveTime::MIN) + Duration::minutes(i64::from(minute));
        let t = zone.resolve(local);
        t.with_timezone(&zone.offset_at(&t)).to_rfc3339()
    }
}

/// `"HH:MM"` of a minute of the day (1440 gives `"24:00"`).
pub(super) fn hhmm(minute: u32) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// Minutes after midnight of `"HH:MM"`.
pub(super) fn minutes(hhmm: &str) -> Option<u32> {
    let (h, m) = hhmm.split_once(':')?;
    Some(h.parse::<u32>().ok()? * 60 + m.parse::<u32>().ok()?)
}

/// Whether a day-selector list applies on `date`.
pub(super) fn selector_applies(days: &[Day], date: NaiveDate) -> bool {
    days.iter()
        .any(|d| d.selector().is_ok_and(|s| s.applies(date)))
}

/// Compresses a set of working weekdays into the shortest selector list.
pub(super) fn compress_weekdays(set: &[bool; 7]) -> Vec<Day> {
    if set.iter().all(|x| *x) {
        return vec!["daily".into()];
    }
    let weekdays = set[..5].iter().all(|x| *x);
    let weekends = set[5..].iter().all(|x| *x);
    let mut out = Vec::new();
    if weekdays {
        out.push("weekdays".into());
    }
    for (i, on) in set.iter().enumerate() {
        if *on && !((i < 5 && weekdays) || (i >= 5 && weekends)) {
            out.push(WEEKDAYS[i].into());
        }
    }
    if weekends {
        out.push("weekends".into());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_follow_uk_summer_time() {
        let d = |s| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let cal = Calendar::new(d("2026-11-30"), 7);
        assert_eq!(cal.instant(1, 545), "2026-12-01T09:05:00+00:00");
        assert_eq!(
            cal.instant_on(d("2026-07-01"), 540),
            "2026-07-01T09:00:00+01:00"
        );
        // The change happens at 01:00 GMT on the last Sunday of March and of October.
        assert_eq!(
            cal.instant_on(d("2027-03-28"), 30),
            "2027-03-28T00:30:00+00:00"
        );
        assert_eq!(
            cal.instant_on(d("2027-03-28"), 180),
            "2027-03-28T03:00:00+01:00"
        );
        assert_eq!(
            cal.instant_on(d("2026-10-25"), 90),
            "2026-10-25T01:30:00+01:00"
        );
        assert_eq!(
            cal.instant_on(d("2026-10-25"), 180),
            "2026-10-25T03:00:00+00:00"
        );
        assert_eq!(cal.weekday(0), 0);
    }

    #[test]
    fn selectors_and_compression_agree() {
        let monday = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        for mask in 1u32..128 {
            let set: [bool; 7] = std::array::from_fn(|i| mask & (1 << i) != 0);
            let sel = compress_weekdays(&set);
            for (i, on) in set.iter().enumerate() {
                let date = monday + Duration::days(i as i64);
                assert_eq!(selector_applies(&sel, date), *on, "{sel:?}");
            }
        }
        assert_eq!(minutes("07:30"), Some(450));
        assert_eq!(hhmm(1440), "24:00");
    }
}
