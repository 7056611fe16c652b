//! The money ledger: fees, the risk-pool top-slice, emergency cover paid from
//! the pool, liquidated damages and the year-end close.
//!
//! Every entry moves an amount from one account to another, so the sum of all
//! balances is zero by construction: the ledger always balances, and a
//! report can show any account's history.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The commissioner (council/NHS) that pays fees and receives damages.
pub const COMMISSIONER: &str = "commissioner";
/// The risk pool funded by the top-slice.
pub const RISK_POOL: &str = "risk_pool";
/// Where the unspent pool goes at year end.
pub const QUALITY_FUND: &str = "quality_improvement_fund";

/// The ledger account of a provider.
pub fn provider_account(provider: &str) -> String {
    format!("provider:{provider}")
}

/// What an entry is for.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// Hourly fee for a placed package (commissioner → provider).
    Fee,
    /// Top-slice of a fee into the risk pool (provider → pool).
    TopSlice,
    /// Emergency cover hours paid from the pool (pool → emergency provider).
    EmergencyCover,
    /// Liquidated damages share for an unfilled package (Tier 1 provider → commissioner).
    LiquidatedDamages,
    /// Year-end close of the pool (pool → quality improvement fund).
    YearEndClose,
}

/// One movement of money, pence.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LedgerEntry {
    /// Position in the ledger (1-based, gapless).
    pub seq: u64,
    /// When it was posted.
    pub at: DateTime<Utc>,
    /// What for.
    pub kind: EntryKind,
    /// Account paying.
    pub from: String,
    /// Account receiving.
    pub to: String,
    /// Amount, pence (positive).
    pub amount_pence: i64,
    /// Package concerned, if any.
    #[serde(default)]
    pub package: Option<String>,
    /// Human note.
    pub memo: String,
}

/// The ledger with running balances.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Ledger {
    /// Entries in posting order.
    pub entries: Vec<LedgerEntry>,
    /// Balance per account (inflows minus outflows), pence.
    pub balances: BTreeMap<String, i64>,
}

impl Ledger {
    /// Appends an entry (its `seq` is set here); zero amounts are skipped.
    pub fn post(&mut self, mut entry: LedgerEntry) {
        if entry.amount_pence == 0 {
            return;
        }
        entry.seq = self.entries.len() as u64 + 1;
        *self.balances.entry(entry.from.clone()).or_default() -= entry.amount_pence;
        *self.balances.entry(entry.to.clone()).or_default() += entry.amount_pence;
        self.entries.push(entry);
    }

    /// Balance of one account, pence.
    pub fn balance(&self, account: &str) -> i64 {
        self.balances.get(account).copied().unwrap_or(0)
    }

    /// Sum of all balances: always zero for a consistent ledger.
    pub fn trial_balance(&self) -> i64 {
        self.balances.values().sum()
    }

    /// Re-derives the balances from the entries and compares (a consistency check
    /// used by tests and after loading from a database).
    pub fn verify(&self) -> Result<(), String> {
        let mut b: BTreeMap<String, i64> = BTreeMap::new();
        for (i, e) in self.entries.iter().enumerate() {
            if e.seq != i as u64 + 1 {
                return Err(format!("entry {i} has seq {} (gap or reorder)", e.seq));
            }
            if e.amount_pence <= 0 {
                return Err(format!("entry {} has a non-positive amount", e.seq));
            }
            *b.entry(e.from.clone()).or_default() -= e.amount_pence;
            *b.entry(e.to.clone()).or_default() += e.amount_pence;
        }
        b.retain(|_, v| *v != 0);
        let mut mine = self.balances.clone();
        mine.retain(|_, v| *v != 0);
        if b != mine {
            return Err("balances disagree with the entries".into());
        }
        if self.trial_balance() != 0 {
            return Err(format!("trial balance is {} not 0", self.trial_balance()));
        }
        Ok(())
    }
}

/// Splits `total` pence into shares proportional to `weights` (equal when all are
/// zero) so that the shares sum exactly to `total` (largest remainder method).
pub fn split_pence(total: i64, weights: &[u64]) -> Vec<i64> {
    if weights.is_empty() {
        return Vec::new();
    }
    let sum: u128 = weights.iter().map(|&w| u128::from(w)).sum();
    let weights: Vec<u128> = if sum == 0 {
        vec![1; weights.len()]
    } else {
        weights.iter().map(|&w| u128::from(w)).collect()
    };
    let sum: u128 = weights.iter().sum();
    let total_u = total.max(0) as u128;
    let mut shares: Vec<i64> = weights.iter().map(|w| (total_u * w / sum) as i64).collect();
    let mut rest = total.max(0) - shares.iter().sum::<i64>();
    // Hand out the remainder by largest fractional part, ties to the first.
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse((total_u * weights[i]) % sum));
    for i in order {
        if rest == 0 {
            break;
        }
        shares[i] += 1;
        rest -= 1;
    }
    shares
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn shares_always_sum_to_the_total(total in 0i64..10_000_000, w in proptest::collection::vec(0u64..1000, 1..12)) {
            let s = split_pence(total, &w);
            prop_assert_eq!(s.iter().sum::<i64>(), total);
            prop_assert!(s.iter().all(|&x| x >= 0));
        }
    }

    #[test]
    fn equal_split_of_a_fine_gives_the_remainder_to_the_first() {
        assert_eq!(split_pence(25_000, &[1, 1, 1]), vec![8334, 8333, 8333]);
        assert_eq!(split_pence(100, &[0, 0]), vec![50, 50]);
        assert_eq!(split_pence(100, &[3, 1]), vec![75, 25]);
    }

    #[test]
    fn posting_keeps_the_trial_balance_at_zero() {
        let mut l = Ledger::default();
        let at = Utc::now();
        for (k, from, to, a) in [
            (EntryKind::Fee, COMMISSIONER, "provider:a", 10_000),
            (EntryKind::TopSlice, "provider:a", RISK_POOL, 300),
            (EntryKind::EmergencyCover, RISK_POOL, "provider:ec", 120),
            (EntryKind::YearEndClose, RISK_POOL, QUALITY_FUND, 180),
        ] {
            l.post(LedgerEntry {
                seq: 0,
                at,
                kind: k,
                from: from.into(),
                to: to.into(),
                amount_pence: a,
                package: None,
                memo: String::new(),
            });
        }
        assert_eq!(l.trial_balance(), 0);
        assert_eq!(l.balance(RISK_POOL), 0);
        assert_eq!(l.balance(QUALITY_FUND), 180);
        assert_eq!(l.balance("provider:a"), 9_700);
        l.verify().expect("consistent");
        l.balances.insert("provider:a".into(), 1);
        assert!(l.verify().is_err(), "a tampered balance is caught");
    }
}
