//! Typed indices into the problem's dense tables, for the interfaces between
//! modules (the rules' check points in `rota::rules`, the checker's timeline):
//! a visit's index cannot be passed where a carer's is expected. Inner loops
//! and the search's state keep plain `usize` indices; [`Problem`]'s accessors
//! read a table by a typed index.

use super::{CarerModel, Problem, ServiceUserModel, ShiftModel, VisitModel};

macro_rules! ids {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub usize);

        impl $name {
            /// The plain index.
            #[inline(always)]
            pub fn index(self) -> usize {
                self.0
            }
        }
    )*};
}

ids! {
    /// A visit: an index into [`Problem::visits`].
    VisitId;
    /// A carer's shift: an index into [`Problem::shifts`].
    ShiftId;
    /// A carer: an index into [`Problem::carers`].
    CarerId;
    /// A person receiving care: an index into [`Problem::service_users`].
    PersonId;
}

impl Problem {
    /// The visit `v`.
    #[inline(always)]
    pub fn visit(&self, v: VisitId) -> &VisitModel {
        &self.visits[v.0]
    }

    /// The shift `s`.
    #[inline(always)]
    pub fn shift(&self, s: ShiftId) -> &ShiftModel {
        &self.shifts[s.0]
    }

    /// The carer `c`.
    #[inline(always)]
    pub fn carer(&self, c: CarerId) -> &CarerModel {
        &self.carers[c.0]
    }

    /// The person `u`.
    #[inline(always)]
    pub fn person(&self, u: PersonId) -> &ServiceUserModel {
        &self.service_users[u.0]
    }

    /// The carer working shift `s`.
    #[inline(always)]
    pub fn carer_of(&self, s: ShiftId) -> CarerId {
        CarerId(self.shifts[s.0].carer)
    }

    /// The person visit `v` is for.
    #[inline(always)]
    pub fn person_of(&self, v: VisitId) -> PersonId {
        PersonId(self.visits[v.0].service_user)
    }
}
