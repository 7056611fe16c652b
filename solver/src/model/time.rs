//! Time on the planning horizon: whole minutes from local midnight of the first day.
//!
//! Minutes (not seconds) are the resolution care is planned and paid in; an
//! `i32` covers any horizon and keeps arithmetic exact.

use crate::format::Day;
use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveTime, TimeZone, Weekday};

/// Minutes since local midnight at the start of the horizon.
pub type Minute = i32;

/// Minutes in a day.
pub const DAY: Minute = 24 * 60;

/// The planned days and the UTC offset all local times use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Horizon {
    /// First planned day.
    pub start_date: NaiveDate,
    /// Number of planned days.
    pub days: u32,
    /// UTC offset of local times.
    pub offset: FixedOffset,
}

impl Horizon {
    /// The date of day index `day`.
    pub fn date(&self, day: u32) -> NaiveDate {
        self.start_date + Duration::days(i64::from(day))
    }

    /// Day index of a date, if inside the horizon.
    pub fn day_of(&self, date: NaiveDate) -> Option<u32> {
        let d = (date - self.start_date).num_days();
        (0..i64::from(self.days)).contains(&d).then_some(d as u32)
    }

    /// Day index of a date relative to the start, possibly outside the horizon.
    pub fn day_offset(&self, date: NaiveDate) -> i64 {
        (date - self.start_date).num_days()
    }

    /// The instant of a horizon minute, in the horizon's offset.
    pub fn instant(&self, minute: Minute) -> DateTime<FixedOffset> {
        let midnight = self.start_date.and_time(NaiveTime::MIN);
        let local = midnight + Duration::minutes(i64::from(minute));
        // A fixed offset has no gaps or folds, so this is always Single.
        self.offset
            .from_local_datetime(&local)
            .single()
            .unwrap_or_else(|| self.offset.from_utc_datetime(&local))
    }

    /// RFC 3339 text of a horizon minute, e.g. `2026-11-30T08:15:00+00:00`.
    pub fn format(&self, minute: Minute) -> String {
        self.instant(minute).to_rfc3339()
    }

    /// Horizon minute of an RFC 3339 instant, rounded down to the minute.
    pub fn minute_of(&self, instant: &DateTime<FixedOffset>) -> i64 {
        let start = self.instant(0);
        (*instant - start).num_seconds().div_euclid(60)
    }

    /// Parses an RFC 3339 instant into a horizon minute (may lie outside the horizon).
    pub fn parse_instant(&self, text: &str) -> Result<i64, String> {
        DateTime::parse_from_rfc3339(text)
            .map(|t| self.minute_of(&t))
            .map_err(|e| format!("`{text}` is not an RFC 3339 instant with offset ({e})"))
    }

    /// Weekday of a day index.
    pub fn weekday(&self, day: u32) -> Weekday {
        self.date(day).weekday()
    }
}

/// Parses a local time of day `"HH:MM"` (00:00-24:00) into minutes after midnight.
pub fn parse_clock(text: &str) -> Result<Minute, String> {
    let err = || format!("`{text}` is not a time of day \"HH:MM\" between 00:00 and 24:00");
    let (h, m) = text.split_once(':').ok_or_else(err)?;
    if h.len() != 2 || m.len() != 2 || !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return Err(err());
    }
    let h: Minute = h.parse().map_err(|_| err())?;
    let m: Minute = m.parse().map_err(|_| err())?;
    if m > 59 || h > 24 || (h == 24 && m != 0) {
        return Err(err());
    }
    Ok(h * 60 + m)
}

/// Formats minutes after midnight as `"HH:MM"`.
pub fn format_clock(minutes: Minute) -> String {
    let m = minutes.rem_euclid(DAY);
    format!("{:02}:{:02}", m / 60, m % 60)
}

pub use crate::format::parse_date;

/// Parses a UTC offset `+HH:MM` / `-HH:MM` / `Z`.
pub fn parse_offset(text: &str) -> Result<FixedOffset, String> {
    let err = || format!("`{text}` is not a UTC offset like \"+00:00\" or \"+01:00\"");
    if text == "Z" {
        return FixedOffset::east_opt(0).ok_or_else(err);
    }
    let (sign, rest) = match text.as_bytes().first() {
        Some(b'+') => (1, &text[1..]),
        Some(b'-') => (-1, &text[1..]),
        _ => return Err(err()),
    };
    let minutes = parse_clock(rest).map_err(|_| err())?;
    if minutes > 18 * 60 {
        return Err(err());
    }
    FixedOffset::east_opt(sign * minutes * 60).ok_or_else(err)
}

/// Which days of the horizon a list of day selectors picks.
///
/// Dates outside the horizon select nothing (they are legitimate in a
/// long-running package). An invalid entry gives its index and the reason.
pub fn select_days(horizon: &Horizon, selectors: &[Day]) -> Result<Vec<u32>, (usize, String)> {
    let mut picked = vec![false; horizon.days as usize];
    for (i, entry) in selectors.iter().enumerate() {
        let sel = entry.selector().map_err(|e| (i, e.to_string()))?;
        for (d, p) in picked.iter_mut().enumerate() {
            *p |= sel.applies(horizon.date(d as u32));
        }
    }
    Ok(picked
        .iter()
        .enumerate()
        .filter(|(_, p)| **p)
        .map(|(d, _)| d as u32)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn horizon() -> Horizon {
        Horizon {
            start_date: NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
            days: 7,
            offset: FixedOffset::east_opt(0).unwrap(),
        }
    }

    #[test]
    fn parses_clock_times_strictly() {
        assert_eq!(parse_clock("07:30"), Ok(450));
        assert_eq!(parse_clock("24:00"), Ok(1440));
        for bad in [
            "7:30", "24:01", "12:60", "ab:cd", "", "12:3", "+1:00", "12-30",
        ] {
            assert!(parse_clock(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn round_trips_instants() {
        let h = horizon();
        assert_eq!(h.format(8 * 60 + 1440), "2026-12-01T08:00:00+00:00");
        assert_eq!(
            h.parse_instant("2026-12-01T09:00:00+01:00"),
            Ok(8 * 60 + 1440)
        );
        assert!(h.parse_instant("2026-12-01 09:00").is_err());
    }

    #[test]
    fn selects_days_by_name_and_date() {
        let h = horizon(); // Monday 2026-11-30
        assert_eq!(
            select_days(&h, &["weekdays".into()]),
            Ok(vec![0, 1, 2, 3, 4])
        );
        assert_eq!(
            select_days(&h, &["sat".into(), "2026-11-30".into()]),
            Ok(vec![0, 5])
        );
        assert_eq!(select_days(&h, &["2027-01-01".into()]), Ok(vec![]));
        assert!(select_days(&h, &["someday".into()]).is_err());
    }

    #[test]
    fn parses_offsets() {
        assert_eq!(parse_offset("+01:00").unwrap().local_minus_utc(), 3600);
        assert_eq!(parse_offset("Z").unwrap().local_minus_utc(), 0);
        assert!(parse_offset("01:00").is_err());
        assert!(parse_offset("+19:00").is_err());
    }
}
