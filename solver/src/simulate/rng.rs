//! Common random numbers: one seeded stream per purpose, and per decision where
//! the decision is keyed (a provider's answer to a package, a carer's sickness
//! on a day), so a policy that makes different offers does not shift the draws
//! every other decision sees.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// What a stream is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub enum Purpose {
    /// Referral arrival times.
    Arrivals = 1,
    /// Referred packages and people.
    Packages = 2,
    /// A provider's answer to an offer.
    Response = 3,
    /// A carer's sickness on a day.
    Sickness = 4,
    /// The generated county's calibration (when its current packages end).
    County = 5,
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a: a stable hash of an id (std's hasher may change between releases).
pub fn key(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The stream of `purpose` and `key` for a seed.
pub fn stream(seed: u64, purpose: Purpose, key: u64) -> ChaCha8Rng {
    let s = splitmix(splitmix(splitmix(seed) ^ purpose as u64) ^ key);
    ChaCha8Rng::seed_from_u64(s)
}
