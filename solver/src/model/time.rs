//! Time on the planning horizon: whole minutes from local midnight of the first day.
//!
//! Minutes (not seconds) are the resolution care is planned and paid in; an
//! `i32` covers any horizon and keeps arithmetic exact.

use crate::format::Day;
use chrono::{
    DateTime, Datelike, Duration, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime,
    Offset, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;

/// Minutes since the instant of local midnight at the start of the horizon.
///
/// Horizon minutes are elapsed time, not wall-clock readings: on a day with a
/// clock change, local 09:00 is 23 or 25 hours after the previous day's 09:00,
/// so travel, durations and gaps stay exact across the change.
pub type Minute = i32;

/// Minutes in a day of 24 hours.
pub const DAY: Minute = 24 * 60;

/// What local times are in: a fixed UTC offset, or an IANA zone whose offset
/// follows the clock changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// One offset all year (`utc_offset`).
    Fixed(FixedOffset),
    /// An IANA zone (`time_zone`), e.g. `Europe/London`.
    Iana(Tz),
}

impl Zone {
    /// The instant of a local date and time.
    ///
    /// A local time that happens twice (the repeated hour when clocks go back)
    /// is its first occurrence; one that does not happen (the hour skipped when
    /// clocks go forward) is read with the offset in force before the change,
    /// so it lands that many minutes later on the clock (01:30 becomes 02:30
    /// BST). This is RFC 5545's rule for local times and JavaScript Temporal's
    /// `"compatible"` disambiguation.
    pub fn resolve(&self, local: NaiveDateTime) -> DateTime<Utc> {
        match self {
            Zone::Fixed(o) => (local - Duration::seconds(i64::from(o.local_minus_utc()))).and_utc(),
            Zone::Iana(tz) => match tz.from_local_datetime(&local) {
                LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
                LocalResult::None => {
                    // No zone changes offset twice within a day, so the offset a
                    // day earlier is the one before the gap.
                    let before = tz
                        .offset_from_utc_datetime(&(local - Duration::days(1)))
                        .fix();
                    (local - Duration::seconds(i64::from(before.local_minus_utc()))).and_utc()
                }
            },
        }
    }

    /// The UTC offset in force at an instant.
    pub fn offset_at(&self, t: &DateTime<Utc>) -> FixedOffset {
        match self {
            Zone::Fixed(o) => *o,
            Zone::Iana(tz) => tz.offset_from_utc_datetime(&t.naive_utc()).fix(),
        }
    }

    /// The zone of a request's horizon: `time_zone`, else `utc_offset`, else UTC
    /// (an unreadable value falls back the same way; validation reports it).
    pub fn of(h: &crate::format::Horizon) -> Zone {
        h.time_zone
            .as_deref()
            .and_then(|name| parse_zone(name).ok())
            .map(Zone::Iana)
            .unwrap_or_else(|| {
                Zone::Fixed(
                    parse_offset(h.utc_offset.as_deref().unwrap_or("+00:00"))
                        .unwrap_or_else(|_| chrono::Offset::fix(&Utc)),
                )
            })
    }

    /// The local date of an instant.
    pub fn local_date(&self, t: DateTime<Utc>) -> NaiveDate {
        t.with_timezone(&self.offset_at(&t)).date_naive()
    }

    /// The IANA name, for an IANA zone.
    pub fn name(&self) -> Option<&'static str> {
        match self {
            Zone::Fixed(_) => None,
            Zone::Iana(tz) => Some(tz.name()),
        }
    }
}

/// The planned days and the zone all local times are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Horizon {
    /// First planned day.
    pub start_date: NaiveDate,
    /// Number of planned days.
    pub days: u32,
    /// The zone of local times.
    pub zone: Zone,
}

impl Horizon {
    /// A horizon with a fixed UTC offset.
    pub fn fixed(start_date: NaiveDate, days: u32, offset: FixedOffset) -> Self {
        Horizon {
            start_date,
            days,
            zone: Zone::Fixed(offset),
        }
    }

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

    /// The instant horizon minute 0 stands for: local midnight of the first day.
    pub fn origin(&self) -> DateTime<Utc> {
        self.zone.resolve(self.start_date.and_time(NaiveTime::MIN))
    }

    /// Horizon minute of local clock time `clock` (minutes after midnight; past
    /// 1440 runs into the next days) on day index `day`, with the zone's offset
    /// of that date and time (see [`Zone::resolve`]).
    pub fn local(&self, day: u32, clock: Minute) -> Minute {
        let local = self.date(day).and_time(NaiveTime::MIN) + Duration::minutes(i64::from(clock));
        (self.zone.resolve(local) - self.origin()).num_minutes() as Minute
    }

    /// The instant of a horizon minute, with the offset in force then.
    pub fn instant(&self, minute: Minute) -> DateTime<FixedOffset> {
        let t = self.origin() + Duration::minutes(i64::from(minute));
        t.with_timezone(&self.zone.offset_at(&t))
    }

    /// RFC 3339 text of a horizon minute, e.g. `2026-11-30T08:15:00+00:00`.
    pub fn format(&self, minute: Minute) -> String {
        self.instant(minute).to_rfc3339()
    }

    /// Horizon minute of an instant, rounded down to the minute.
    pub fn minute_of<Z: TimeZone>(&self, instant: &DateTime<Z>) -> i64 {
        (instant.with_timezone(&Utc) - self.origin())
            .num_seconds()
            .div_euclid(60)
    }

    /// Parses an RFC 3339 instant into a horizon minute (may lie outside the horizon).
    pub fn parse_instant(&self, text: &str) -> Result<i64, String> {
        self.instants().parse(text)
    }

    /// A reader of many instants on this horizon (a rota's stops): the
    /// origin is resolved in the zone once, not once per instant.
    pub fn instants(&self) -> Instants {
        Instants {
            origin: self.origin(),
        }
    }

    /// Weekday of a day index.
    pub fn weekday(&self, day: u32) -> Weekday {
        self.date(day).weekday()
    }
}

/// Reads RFC 3339 instants as horizon minutes ([`Horizon::instants`]).
#[derive(Debug, Clone, Copy)]
pub struct Instants {
    origin: DateTime<Utc>,
}

impl Instants {
    /// [`Horizon::parse_instant`]: the horizon minute of an RFC 3339 instant,
    /// rounded down.
    pub fn parse(&self, text: &str) -> Result<i64, String> {
        if let Some(secs) = plain_rfc3339_seconds(text) {
            return Ok((secs - self.origin.timestamp()).div_euclid(60));
        }
        DateTime::parse_from_rfc3339(text)
            .map(|t| {
                (t.with_timezone(&Utc) - self.origin)
                    .num_seconds()
                    .div_euclid(60)
            })
            .map_err(|e| format!("`{text}` is not an RFC 3339 instant with offset ({e})"))
    }
}

/// Seconds since the Unix epoch of an instant in the form this service
/// writes (`2026-11-30T08:15:00+00:00`, or `Z`, without fractions), read
/// without the general parser; `None` for any other text, which the general
/// RFC 3339 parser then reads or rejects. Rotas are read back for every fit
/// check, a few thousand stops each.
fn plain_rfc3339_seconds(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let offset_sign = match (b.len(), b.get(19)) {
        (20, Some(b'Z')) => 0,
        (25, Some(b'+')) if b[22] == b':' => 1,
        (25, Some(b'-')) if b[22] == b':' => -1,
        _ => return None,
    };
    if b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |from: usize, len: usize| -> Option<u32> {
        b[from..from + len].iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let offset = if offset_sign == 0 {
        0
    } else {
        let (oh, om) = (num(20, 2)?, num(23, 2)?);
        if oh > 23 || om > 59 {
            return None;
        }
        offset_sign * i64::from(oh * 3600 + om * 60)
    };
    let local = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?
        .and_hms_opt(hour, minute, second)?;
    Some(local.and_utc().timestamp() - offset)
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

/// Parses an IANA time zone name such as `Europe/London` (exact spelling).
pub fn parse_zone(text: &str) -> Result<Tz, String> {
    text.parse::<Tz>()
        .map_err(|_| format!("`{text}` is not an IANA time zone name like \"Europe/London\""))
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
        Horizon::fixed(
            NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
            7,
            FixedOffset::east_opt(0).unwrap(),
        )
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

    /// The quick reading of the instants this service writes agrees with the
    /// general RFC 3339 parser, and leaves every other text to it.
    #[test]
    fn plain_instants_read_as_the_general_parser_does() {
        let general = |h: &Horizon, text: &str| {
            DateTime::parse_from_rfc3339(text)
                .map(|t| h.minute_of(&t))
                .map_err(|e| format!("`{text}` is not an RFC 3339 instant with offset ({e})"))
        };
        let zones = [
            Zone::Fixed(FixedOffset::east_opt(0).unwrap()),
            Zone::Fixed(FixedOffset::east_opt(-5 * 3600 - 1800).unwrap()),
            Zone::Iana(parse_zone("Europe/London").unwrap()),
            Zone::Iana(parse_zone("Australia/Adelaide").unwrap()),
        ];
        let mut texts: Vec<String> = Vec::new();
        for zone in zones {
            let h = Horizon {
                start_date: NaiveDate::from_ymd_opt(2026, 10, 20).unwrap(),
                days: 28,
                zone,
            };
            // Everything a rota of this horizon can hold, around both clock changes.
            for m in (-3000..50_000).step_by(7) {
                texts.push(h.format(m));
            }
        }
        texts.extend(
            [
                "2026-12-01T09:00:00Z",
                "2026-12-01T09:00:00z",
                "2026-12-01t09:00:00Z",
                "2026-12-01 09:00:00Z",
                "2026-12-01T09:00:00-00:00",
                "2026-12-01T09:00:00+23:59",
                "2026-12-01T09:00:00+24:00",
                "2026-12-01T09:00:00+01:60",
                "2026-12-01T09:00:00.5+01:00",
                "2026-12-01T09:00:59.999-01:00",
                "2026-12-01T23:59:60Z",
                "2026-12-01T24:00:00Z",
                "2026-12-01T09:60:00Z",
                "2028-02-29T09:00:00+00:00",
                "2026-02-29T09:00:00+00:00",
                "2026-13-01T09:00:00+00:00",
                "2026-00-10T09:00:00+00:00",
                "0000-01-01T00:00:00+00:00",
                "9999-12-31T23:59:59-23:59",
                "2026-12-01T09:00:00+0100",
                "2026-12-01T09:00:00+01:00 ",
                "+026-12-01T09:00:00+01:00",
                "2026-1２-01T09:00:00Z",
                "2026-12-01T09:00",
                "",
            ]
            .map(String::from),
        );
        for zone in zones {
            let h = Horizon {
                start_date: NaiveDate::from_ymd_opt(2026, 10, 20).unwrap(),
                days: 28,
                zone,
            };
            let reader = h.instants();
            for text in &texts {
                assert_eq!(reader.parse(text), general(&h, text), "{text} in {zone:?}");
                assert_eq!(
                    h.parse_instant(text),
                    general(&h, text),
                    "{text} in {zone:?}"
                );
            }
        }
        assert!(plain_rfc3339_seconds("2026-12-01T09:00:00.5+01:00").is_none());
        assert_eq!(
            plain_rfc3339_seconds("1970-01-01T01:00:00+01:00"),
            Some(0),
            "the quick path is taken for the written form"
        );
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
