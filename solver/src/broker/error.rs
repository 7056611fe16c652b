//! Errors of broker commands, each with a stable code.

/// A broker error with a stable code (the API maps codes to HTTP statuses).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BrokerError {
    /// The roster or a package is invalid; issues carry JSON paths.
    #[error("invalid input: {0}")]
    Invalid(String),
    /// No such package.
    #[error("unknown package `{0}`")]
    UnknownPackage(String),
    /// No such offer.
    #[error("unknown offer `{0}`")]
    UnknownOffer(String),
    /// No such provider.
    #[error("unknown provider `{0}`")]
    UnknownProvider(String),
    /// No such team.
    #[error("unknown team `{0}`")]
    UnknownTeam(String),
    /// No such carer.
    #[error("unknown carer `{0}`")]
    UnknownCarer(String),
    /// No such visit on a rota the caller may see.
    #[error("unknown visit `{0}` (not on a rota of yours)")]
    UnknownVisit(String),
    /// A roster record is invalid; every issue carries the JSON path of its field.
    #[error("invalid input: {}", .0.iter().map(|i| i.to_string()).collect::<Vec<_>>().join("; "))]
    InvalidFields(Vec<crate::format::Issue>),
    /// A provider, team or carer with this id already exists (create only).
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// The change is not allowed in the record's current state.
    #[error("{detail}")]
    Refused {
        /// Stable code.
        code: &'static str,
        /// What is wrong and what to do instead.
        detail: String,
    },
    /// A package with this id is already being brokered or active.
    #[error("package `{0}` already exists")]
    DuplicatePackage(String),
    /// The offer is no longer open.
    #[error("offer `{offer}` is {status}, not open")]
    OfferClosed {
        /// Offer id.
        offer: String,
        /// Its status.
        status: String,
    },
    /// The offer's window has passed.
    #[error("offer `{0}` expired before it was answered")]
    OfferExpired(String),
    /// The package no longer fits the team's rota (it changed since the offer).
    #[error("package no longer fits team `{team}`: {why}")]
    NoLongerFits {
        /// Team.
        team: String,
        /// Explanation.
        why: String,
    },
}

impl BrokerError {
    /// Stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            BrokerError::Invalid(_) => "invalid_input",
            BrokerError::UnknownPackage(_) => "unknown_package",
            BrokerError::UnknownOffer(_) => "unknown_offer",
            BrokerError::UnknownProvider(_) => "unknown_provider",
            BrokerError::UnknownTeam(_) => "unknown_team",
            BrokerError::UnknownCarer(_) => "unknown_carer",
            BrokerError::UnknownVisit(_) => "unknown_visit",
            BrokerError::InvalidFields(_) => "invalid_input",
            BrokerError::AlreadyExists(_) => "already_exists",
            BrokerError::Refused { code, .. } => code,
            BrokerError::DuplicatePackage(_) => "duplicate_package",
            BrokerError::OfferClosed { .. } => "offer_closed",
            BrokerError::OfferExpired(_) => "offer_expired",
            BrokerError::NoLongerFits { .. } => "no_longer_fits",
        }
    }
}
