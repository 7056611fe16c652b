//! Day selectors: which days a shift or a visit pattern recurs on.
//!
//! One parser for the `days` lists of a request, used by validation, by the
//! generator and by the brokering reports.

use chrono::{Datelike, NaiveDate, Weekday};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Which days something recurs on.
///
/// Written `daily`, `weekdays` (Monday-Friday), `weekends`, a weekday
/// (`mon`..`sun` or its full name) or a date `YYYY-MM-DD`; case and
/// surrounding blanks do not matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DaySelector {
    /// Every day.
    Daily,
    /// Monday to Friday.
    Weekdays,
    /// Saturday and Sunday.
    Weekends,
    /// One day of the week.
    On(Weekday),
    /// One date (outside the horizon it picks nothing).
    Date(NaiveDate),
}

impl DaySelector {
    /// Whether the selector picks `date`.
    pub fn applies(self, date: NaiveDate) -> bool {
        let weekday = date.weekday();
        match self {
            DaySelector::Daily => true,
            DaySelector::Weekdays => weekday.num_days_from_monday() < 5,
            DaySelector::Weekends => weekday.num_days_from_monday() >= 5,
            DaySelector::On(w) => w == weekday,
            DaySelector::Date(d) => d == date,
        }
    }

    /// Days a week the selector picks (a date counts as one).
    pub fn days_per_week(self) -> u32 {
        match self {
            DaySelector::Daily => 7,
            DaySelector::Weekdays => 5,
            DaySelector::Weekends => 2,
            DaySelector::On(_) | DaySelector::Date(_) => 1,
        }
    }
}

/// A text that is not a day selector.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a day: use daily, weekdays, weekends, mon..sun or a date YYYY-MM-DD")]
pub struct InvalidDay(pub String);

impl FromStr for DaySelector {
    type Err = InvalidDay;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let s = text.trim().to_ascii_lowercase();
        Ok(match s.as_str() {
            "daily" => DaySelector::Daily,
            "weekdays" => DaySelector::Weekdays,
            "weekends" => DaySelector::Weekends,
            "mon" | "monday" => DaySelector::On(Weekday::Mon),
            "tue" | "tuesday" => DaySelector::On(Weekday::Tue),
            "wed" | "wednesday" => DaySelector::On(Weekday::Wed),
            "thu" | "thursday" => DaySelector::On(Weekday::Thu),
            "fri" | "friday" => DaySelector::On(Weekday::Fri),
            "sat" | "saturday" => DaySelector::On(Weekday::Sat),
            "sun" | "sunday" => DaySelector::On(Weekday::Sun),
            other => DaySelector::Date(parse_date(other).map_err(|_| InvalidDay(text.into()))?),
        })
    }
}

impl fmt::Display for DaySelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DaySelector::Daily => f.write_str("daily"),
            DaySelector::Weekdays => f.write_str("weekdays"),
            DaySelector::Weekends => f.write_str("weekends"),
            DaySelector::On(w) => f.write_str(&w.to_string().to_ascii_lowercase()),
            DaySelector::Date(d) => write!(f, "{}", d.format("%Y-%m-%d")),
        }
    }
}

impl Serialize for DaySelector {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DaySelector {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// One entry of a request's `days` list as sent.
///
/// Text that is no day selector is kept rather than failing the parse, so
/// validation reports it (`invalid_day`, with its JSON path) together with
/// every other issue of the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Day {
    /// A day selector.
    Selector(DaySelector),
    /// Text that is not one.
    Invalid(String),
}

impl Day {
    /// The selector, or why the text is none.
    pub fn selector(&self) -> Result<DaySelector, InvalidDay> {
        match self {
            Day::Selector(s) => Ok(*s),
            Day::Invalid(text) => Err(InvalidDay(text.clone())),
        }
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Day::Selector(s) => s.fmt(f),
            Day::Invalid(text) => f.write_str(text),
        }
    }
}

impl From<DaySelector> for Day {
    fn from(s: DaySelector) -> Self {
        Day::Selector(s)
    }
}

impl From<&str> for Day {
    fn from(text: &str) -> Self {
        text.parse()
            .map_or_else(|_| Day::Invalid(text.into()), Day::Selector)
    }
}

impl Serialize for Day {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Day::Selector(sel) => sel.serialize(s),
            Day::Invalid(text) => s.serialize_str(text),
        }
    }
}

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Day::from(String::deserialize(d)?.as_str()))
    }
}

/// Parses an ISO date `YYYY-MM-DD` (exactly: four-digit year, two-digit month and day).
///
/// chrono alone also takes `2026-1-5`, leading blanks and signed years such as
/// `+262142-12-31`, whose horizon days overflow `NaiveDate`.
pub fn parse_date(text: &str) -> Result<NaiveDate, String> {
    let err = || format!("`{text}` is not a date \"YYYY-MM-DD\"");
    let b = text.as_bytes();
    let shape = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    if !shape {
        return Err(err());
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| err())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form_and_writes_the_short_one() {
        for (text, want, canonical) in [
            ("daily", DaySelector::Daily, "daily"),
            (" Weekdays ", DaySelector::Weekdays, "weekdays"),
            ("WEEKENDS", DaySelector::Weekends, "weekends"),
            ("tue", DaySelector::On(Weekday::Tue), "tue"),
            ("Sunday", DaySelector::On(Weekday::Sun), "sun"),
            (
                "2026-12-01",
                DaySelector::Date(NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()),
                "2026-12-01",
            ),
        ] {
            let sel: DaySelector = text.parse().unwrap();
            assert_eq!(sel, want, "{text}");
            assert_eq!(sel.to_string(), canonical);
            assert_eq!(canonical.parse::<DaySelector>(), Ok(sel));
        }
        for bad in [
            "",
            "someday",
            "2026-02-30",
            "2026-1-5",
            "+262142-12-31",
            "mo",
        ] {
            let err = bad.parse::<DaySelector>().unwrap_err();
            assert_eq!(err, InvalidDay(bad.into()));
            assert!(err.to_string().contains("is not a day"), "{err}");
        }
    }

    #[test]
    fn applies_on_the_right_dates() {
        let monday = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let week: Vec<NaiveDate> = (0..7).map(|i| monday + chrono::Duration::days(i)).collect();
        let picked = |s: &str| {
            let sel: DaySelector = s.parse().unwrap();
            (0..7)
                .filter(|&i| sel.applies(week[i]))
                .collect::<Vec<usize>>()
        };
        assert_eq!(picked("daily"), vec![0, 1, 2, 3, 4, 5, 6]);
        assert_eq!(picked("weekdays"), vec![0, 1, 2, 3, 4]);
        assert_eq!(picked("weekends"), vec![5, 6]);
        assert_eq!(picked("wed"), vec![2]);
        assert_eq!(picked("2026-12-05"), vec![5]);
        assert_eq!(picked("2027-01-01"), Vec::<usize>::new());
        // A week holds each recurring selector's days exactly once.
        for s in ["daily", "weekdays", "weekends", "wed"] {
            let sel: DaySelector = s.parse().unwrap();
            assert_eq!(picked(s).len() as u32, sel.days_per_week(), "{s}");
        }
    }

    #[test]
    fn a_days_list_keeps_bad_entries_for_validation() {
        let days: Vec<Day> = serde_json::from_str(r#"["mon", "funday", "2026-12-01"]"#).unwrap();
        assert_eq!(days[0], Day::Selector(DaySelector::On(Weekday::Mon)));
        assert_eq!(days[1], Day::Invalid("funday".into()));
        assert_eq!(days[1].selector(), Err(InvalidDay("funday".into())));
        assert_eq!(
            serde_json::to_string(&days).unwrap(),
            r#"["mon","funday","2026-12-01"]"#
        );
        assert!(serde_json::from_str::<Vec<Day>>("[5]").is_err());
        assert!(serde_json::from_str::<DaySelector>(r#""funday""#).is_err());
        assert_eq!(
            serde_json::from_str::<DaySelector>(r#""daily""#).unwrap(),
            DaySelector::Daily
        );
    }
}
