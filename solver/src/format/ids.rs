//! The one rule for ids, the composed ids built from them, and the bounds on
//! free text.
//!
//! Ids travel in URL paths, in CSV and iCalendar exports, in log lines and
//! inside composed ids (a concrete visit is `"{package}/{pattern}@{date}"`, a
//! shift `"{carer}#{date}#{n}"`), so they are kept to characters that need no
//! escaping anywhere and cannot be confused with those separators.

/// Longest id accepted.
pub const MAX_ID_LEN: usize = 100;

/// The id rule, as told to callers.
pub const ID_RULE: &str = "an id is 1-100 characters from A-Z, a-z, 0-9, `-`, `_`, `.` and `:`, starting with a letter or digit";

/// Longest name (provider, team, town) accepted, in characters.
pub const MAX_NAME_LEN: usize = 200;
/// Longest short label (absence reason, year label) accepted, in characters.
pub const MAX_LABEL_LEN: usize = 100;
/// Longest note (a decline note) accepted, in characters.
pub const MAX_NOTE_LEN: usize = 2000;

/// Why `id` breaks the id rule, or `None` when it keeps it.
pub fn id_error(id: &str) -> Option<String> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id.starts_with(|c: char| c.is_ascii_alphanumeric())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
    if ok {
        return None;
    }
    let what = if id.is_empty() {
        "it is empty".to_string()
    } else if id.len() > MAX_ID_LEN {
        format!("it has {} characters", id.chars().count())
    } else {
        let shown: String = id.chars().take(40).flat_map(char::escape_debug).collect();
        format!("`{shown}` does not")
    };
    Some(format!("{ID_RULE}; {what}"))
}

/// Whether `id` keeps the id rule.
pub fn is_valid_id(id: &str) -> bool {
    id_error(id).is_none()
}

/// The id of a concrete visit: pattern `pattern` of `package` on `date` (`YYYY-MM-DD`).
pub fn visit_id(package: &str, pattern: &str, date: &str) -> String {
    // Built without the formatting machinery: a team's problem names every
    // visit of its horizon anew for each fit check.
    let mut id = String::with_capacity(package.len() + pattern.len() + date.len() + 2);
    id.push_str(package);
    id.push('/');
    id.push_str(pattern);
    id.push('@');
    id.push_str(date);
    id
}

/// The package id of a concrete visit id `"{package}/{pattern}@{date}"`.
///
/// Pattern ids and dates contain neither `/` nor `@`, so the package is what
/// precedes the last `/` before the last `@`; this holds even for a package
/// id stored before the id rule existed that contains `/` itself.
pub fn visit_package(visit: &str) -> Option<&str> {
    let (rest, _date) = visit.rsplit_once('@')?;
    let (package, _pattern) = rest.rsplit_once('/')?;
    Some(package)
}

/// Why a concrete visit id is refused: it must be `"{package}/{pattern}@{date}"`
/// with the package and pattern ids under the id rule and a `YYYY-MM-DD` date.
pub fn visit_id_error(visit: &str) -> Option<String> {
    let parts = visit
        .rsplit_once('@')
        .and_then(|(rest, date)| Some((rest.rsplit_once('/')?, date)));
    let Some(((package, pattern), date)) = parts else {
        return Some(format!(
            "a visit id is `{{package}}/{{pattern}}@{{date}}`; `{visit}` is not"
        ));
    };
    if let Some(m) = id_error(package).or_else(|| id_error(pattern)) {
        return Some(m);
    }
    if chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_err() {
        return Some(format!(
            "`{date}` in visit id `{visit}` is not a YYYY-MM-DD date"
        ));
    }
    None
}

/// Whether the concrete visit `visit` belongs to `package`.
pub fn is_visit_of(visit: &str, package: &str) -> bool {
    visit_package(visit) == Some(package)
}

/// Why a piece of free text is refused: longer than `max` characters, or
/// holding control characters (line breaks and tabs only where `multiline`).
pub fn text_error(text: &str, max: usize, multiline: bool) -> Option<String> {
    let n = text.chars().count();
    if n > max {
        return Some(format!("at most {max} characters, got {n}"));
    }
    let bad = text
        .chars()
        .find(|&c| c.is_control() && !(multiline && matches!(c, '\n' | '\t' | '\r')));
    bad.map(|c| {
        format!(
            "control character {:?} is not allowed{}",
            c,
            if multiline {
                " (line breaks and tabs are)"
            } else {
                ""
            }
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_rule_keeps_safe_ids_and_refuses_hostile_ones() {
        for ok in ["team-001", "c_1", "S", "pkg.2026:a", "A9"] {
            assert!(is_valid_id(ok), "{ok}");
        }
        let long = "x".repeat(MAX_ID_LEN + 1);
        for bad in [
            "",
            " S",
            "S ",
            "a b",
            "S/x",
            "a@b",
            "a#1",
            "nul\0",
            "line\nbreak",
            "..",
            ".hidden",
            "-a",
            "caf\u{e9}",
            long.as_str(),
        ] {
            assert!(!is_valid_id(bad), "{bad:?}");
        }
        assert!(is_valid_id(&"x".repeat(MAX_ID_LEN)));
        assert!(id_error(&long).unwrap().contains("101 characters"));
    }

    #[test]
    fn a_visit_id_names_its_package_structurally() {
        let v = visit_id("S", "am", "2026-11-30");
        assert_eq!(visit_package(&v), Some("S"));
        // A legacy package id with `/` still parses to the whole package id.
        assert_eq!(visit_package("S/x/am@2026-11-30"), Some("S/x"));
        assert!(!is_visit_of("S/x/am@2026-11-30", "S"));
        assert!(is_visit_of("S/am@2026-11-30", "S"));
        assert_eq!(visit_package("no-separators"), None);
    }

    #[test]
    fn free_text_is_bounded_and_free_of_control_characters() {
        assert!(text_error("sick", MAX_LABEL_LEN, false).is_none());
        assert!(text_error(&"x".repeat(101), MAX_LABEL_LEN, false).is_some());
        assert!(text_error("a\0b", MAX_LABEL_LEN, false).is_some());
        assert!(text_error("line\nbreak", MAX_NOTE_LEN, true).is_none());
        assert!(text_error("line\nbreak", MAX_LABEL_LEN, false).is_some());
        assert!(text_error("bell\u{7}", MAX_NOTE_LEN, true).is_some());
    }

    #[test]
    fn visit_ids_are_composed_of_valid_parts() {
        assert!(visit_id_error("ref-0003/am@2026-12-03").is_none());
        for bad in [
            "ref-0003",
            "ref-0003/am",
            "ref 3/am@2026-12-03",
            "ref-0003/a#m@2026-12-03",
            "ref-0003/am@2026-13-03",
            "/am@2026-12-03",
        ] {
            assert!(visit_id_error(bad).is_some(), "{bad}");
        }
    }
}
