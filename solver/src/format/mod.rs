//! The JSON wire format (`"carefill/1"`): request and rota types, parsing and validation.
//!
//! Parsing reports the JSON path of a structural error (wrong type, unknown
//! field); [`crate::model::Problem::from_request`] then reports every semantic
//! problem at once.

pub mod changes;
pub mod days;
pub mod ids;
pub mod issue;
pub mod request;
pub mod rota;

pub use changes::{ChangeList, VisitChange};
pub use days::{Day, DaySelector, InvalidDay, parse_date};
pub use ids::{
    ID_RULE, MAX_ID_LEN, id_error, is_valid_id, is_visit_of, visit_id, visit_id_error,
    visit_package,
};
pub use issue::{Issue, IssueCode, Issues};
pub use request::*;
pub use rota::*;

use serde::de::DeserializeOwned;

/// Parses JSON text into a wire type, naming the JSON path of the first structural error.
pub fn parse_json<T: DeserializeOwned>(text: &str) -> Result<T, Issue> {
    let de = &mut serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." {
            "$".to_string()
        } else {
            format!("$.{path}")
        };
        Issue::new(path, IssueCode::MalformedJson, e.into_inner().to_string())
    })?;
    // Only whitespace may follow the value (serde_json::from_str checks this too).
    de.end()
        .map_err(|e| Issue::new("$", IssueCode::MalformedJson, e.to_string()))?;
    Ok(value)
}

/// Parses a planning request.
pub fn parse_request(text: &str) -> Result<PlanningRequest, Issue> {
    parse_json(text)
}
