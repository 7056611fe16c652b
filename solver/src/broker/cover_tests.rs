//! The standby search of emergency cover: the same eligibility as a team
//! carer (skills, required gender, exclusions) and real travel times.

use super::super::tests::{t0, world};
use super::*;
use crate::broker::BrokerConfig;
use crate::format::{Gender, GenderPreference};

/// A planned visit of a team's rota that emergency cover can take at `now`,
/// with the standby teams and the cover found: (visit, person, start).
fn coverable(b: &Broker, standby: &Standby, now: DateTime<Utc>) -> (String, String, String) {
    for rota in b.rotas.values() {
        for s in rota.routes.iter().flat_map(|r| &r.stops) {
            if instant(&s.start).is_none_or(|t| t < now) {
                continue;
            }
            let want = ToCover {
                visit: &s.visit,
                person: &s.service_user,
                start: &s.start,
            };
            if b.find_emergency_cover(&want, "visit_dropped", standby, now)
                .is_some()
            {
                return (s.visit.clone(), s.service_user.clone(), s.start.clone());
            }
        }
    }
    panic!("no visit emergency cover can take");
}

fn person_mut<'a>(b: &'a mut Broker, id: &str) -> &'a mut crate::format::ServiceUser {
    let i = b.index.user_pos[id];
    &mut b.roster.service_users[i]
}

fn gender_of(b: &Broker, carer: &str) -> Gender {
    b.roster
        .carers
        .iter()
        .find(|c| c.id == carer)
        .map(|c| c.gender)
        .expect("carer")
}

#[test]
fn standby_carers_are_eligible_as_team_carers_are_and_can_get_there() {
    let mut w = world(5, BrokerConfig::default());
    let now = t0();
    let b = &mut w.broker;
    let standby = b.standby();
    assert!(!standby.is_empty(), "the county has emergency cover");
    let (visit, person, start) = coverable(b, &standby, now);
    let find = |b: &Broker| {
        let want = ToCover {
            visit: &visit,
            person: &person,
            start: &start,
        };
        b.find_emergency_cover(&want, "visit_dropped", &standby, now)
            .map(|e| e.carers)
    };
    let x = find(b).expect("cover")[0].clone();

    // An excluded carer is never sent.
    person_mut(b, &person).excluded_carers = vec![x.clone()];
    assert!(find(b).is_none_or(|c| !c.contains(&x)));

    // Only carer x is left; a required gender other than x's rules x out.
    let others: Vec<String> = standby
        .iter()
        .flat_map(|(_, _, p)| p.carers.iter().map(|c| c.id.clone()))
        .filter(|c| *c != x)
        .collect();
    person_mut(b, &person).excluded_carers = others;
    assert_eq!(find(b), Some(vec![x.clone()]));
    let g = gender_of(b, &x);
    let other = if g == Gender::Female {
        Gender::Male
    } else {
        Gender::Female
    };
    person_mut(b, &person).carer_gender = Some(GenderPreference {
        gender: other,
        strength: Strength::Required,
    });
    assert_eq!(find(b), None, "x's gender is not the one required");
    // A preference is not a requirement.
    person_mut(b, &person).carer_gender = Some(GenderPreference {
        gender: other,
        strength: Strength::Preferred,
    });
    assert_eq!(find(b), Some(vec![x.clone()]));
    person_mut(b, &person).carer_gender = None;

    // Travel: another emergency visit of x far away ending just too late to
    // reach the person by the start rules x out; ending early enough does not.
    let home = b.service_user(&person).expect("person").location;
    let far = (b.roster.service_users.iter())
        .max_by(|a, c| {
            let d = |u: &crate::format::ServiceUser| {
                (u.location.lat - home.lat).powi(2) + (u.location.lon - home.lon).powi(2)
            };
            d(a).total_cmp(&d(c))
        })
        .expect("people")
        .clone();
    let (team, provider, p) = (standby.iter())
        .find(|(_, _, p)| p.carer_index.contains_key(&x))
        .expect("x's team");
    let mode = b
        .roster
        .carers
        .iter()
        .find(|c| c.id == x)
        .expect("x")
        .travel_mode;
    let leg = i64::from(p.travel.leg(&far.location, &home, mode).minutes);
    assert!(leg > 5, "the far person is {leg} min away");
    let t = instant(&start).expect("start");
    let earlier = |end_before: i64| EmergencyVisit {
        visit: "elsewhere/am@x".into(),
        package: "elsewhere".into(),
        person: far.id.clone(),
        provider: provider.clone(),
        team: team.clone(),
        carers: vec![x.clone()],
        start: (t - Duration::minutes(end_before + 30)).to_rfc3339(),
        end: (t - Duration::minutes(end_before)).to_rfc3339(),
        care_min: 30,
        why: "visit_dropped".into(),
        at: now,
    };
    b.emergency_visits
        .insert("elsewhere/am@x".into(), earlier(leg - 3));
    assert_eq!(find(b), None, "x cannot get there in time");
    b.emergency_visits
        .insert("elsewhere/am@x".into(), earlier(leg + 1));
    assert_eq!(find(b), Some(vec![x.clone()]), "x can");
}
