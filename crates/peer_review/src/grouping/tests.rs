use std::collections::HashSet;

use proptest::prelude::*;

use super::*;
use membership::school::types::Phase;

fn school(i: usize, phase: Phase) -> Candidate {
    Candidate {
        school: SchoolId::from_uuid(uuid::Uuid::from_u128(i as u128 + 1)),
        name: format!("School {i:05}"),
        phase,
        hard_partnerships: Vec::new(),
        has_trained_lead: false,
        last_year_group: None,
    }
}

fn mat(i: u128) -> HardPartnership {
    HardPartnership {
        id: PartnershipId::from_uuid(uuid::Uuid::from_u128(1_000_000 + i)),
        name: format!("Trust {i}"),
    }
}

/// Checks every invariant of a proposal against its input.
fn assert_invariants(input: &[Candidate], constraints: &Constraints, proposal: &Proposal) {
    let mut placed = HashSet::new();
    for group in &proposal.groups {
        let size = group.placements.len();
        assert!(
            (GroupSize::MIN..=GroupSize::MAX).contains(&size),
            "size {size}"
        );
        for p in &group.placements {
            assert!(placed.insert(p.school), "{:?} placed twice", p.school);
        }
        // Reciprocity: every member hosts once and is reviewed by all the others.
        assert_eq!(group.rota.len(), size);
        for visit in &group.rota {
            assert_eq!(visit.reviewers.len(), size - 1);
            assert!(
                !visit.reviewers.contains(&visit.host),
                "a school reviews itself"
            );
        }
        let hosts: HashSet<_> = group.rota.iter().map(|v| v.host).collect();
        assert_eq!(hosts, group.schools().into_iter().collect());
        // Every broken constraint, recomputed from the input, is listed as relaxed.
        let members: Vec<&Candidate> = group
            .schools()
            .iter()
            .map(|s| input.iter().find(|c| c.school == *s).expect("known"))
            .collect();
        for v in check_group(group.band, &members, constraints) {
            let constraint = v.constraint().expect("sizes hold");
            assert!(
                group.relaxed.iter().any(|r| r.constraint == constraint
                    && r.schools == v.schools()
                    && !r.explanation.is_empty()),
                "{v:?} not explained"
            );
        }
    }
    let all: HashSet<_> = input.iter().map(|c| c.school).collect();
    assert_eq!(placed, all, "every participating school placed");
}

#[test]
fn triads_by_default_with_two_leads_each() {
    // Two lead schools per triad: each leads the review the other hosts.
    let mut input: Vec<Candidate> = (0..9).map(|i| school(i, Phase::Primary)).collect();
    for c in input.iter_mut().take(6) {
        c.has_trained_lead = true;
    }
    let constraints = Constraints::default();
    let proposal = propose_groups(&input, &constraints).expect("proposal");
    assert_eq!(proposal.groups.len(), 3);
    for g in &proposal.groups {
        assert_eq!(g.placements.len(), 3);
        assert!(g.relaxed.is_empty(), "{:?}", g.relaxed);
    }
    assert_invariants(&input, &constraints, &proposal);
}

#[test]
fn trust_schools_are_kept_apart() {
    let mut input: Vec<Candidate> = (0..12).map(|i| school(i, Phase::Primary)).collect();
    for c in input.iter_mut().take(4) {
        c.hard_partnerships.push(mat(1));
    }
    for c in input.iter_mut().skip(4).take(8) {
        c.has_trained_lead = true;
    }
    let constraints = Constraints::default();
    let proposal = propose_groups(&input, &constraints).expect("proposal");
    assert!(proposal.groups.iter().all(|g| g.relaxed.is_empty()));
    assert_invariants(&input, &constraints, &proposal);

    // Unless the cycle allows it, in which case it is no constraint at all.
    let allowed = Constraints {
        allow_same_hard_partnership: true,
        ..constraints
    };
    let proposal = propose_groups(&input, &allowed).expect("proposal");
    assert_invariants(&input, &allowed, &proposal);
}

#[test]
fn a_forced_conflict_is_relaxed_and_explained_by_counting() {
    // Seven of nine schools in one trust: three groups cannot keep them apart.
    let mut input: Vec<Candidate> = (0..9).map(|i| school(i, Phase::Primary)).collect();
    for c in input.iter_mut().take(7) {
        c.hard_partnerships.push(mat(1));
        c.has_trained_lead = true;
    }
    let constraints = Constraints::default();
    let proposal = propose_groups(&input, &constraints).expect("proposal");
    let relaxed: Vec<&Relaxation> = proposal.groups.iter().flat_map(|g| &g.relaxed).collect();
    assert!(!relaxed.is_empty());
    assert!(
        relaxed
            .iter()
            .all(|r| r.constraint == Constraint::HardPartnership
                && r.explanation.contains("only 3 groups"))
    );
    assert_invariants(&input, &constraints, &proposal);
}

#[test]
fn too_few_leads_is_reported_per_group() {
    let mut input: Vec<Candidate> = (0..9).map(|i| school(i, Phase::Primary)).collect();
    input[0].has_trained_lead = true;
    let proposal = propose_groups(&input, &Constraints::default()).expect("proposal");
    let without: Vec<_> = proposal
        .groups
        .iter()
        .filter(|g| {
            g.relaxed
                .iter()
                .any(|r| r.constraint == Constraint::LeadReviewer)
        })
        .collect();
    // The lead's own school has no visiting lead either: every group is short.
    assert_eq!(without.len(), 3);
    assert!(
        without[0].relaxed[0]
            .explanation
            .contains("only 1 of the 9")
    );
    assert!(without[0].relaxed[0].explanation.contains("Train 5 more"));
}

/// One lead school per triad is not enough: that school's own review would be led by a
/// visitor without the training, which confirmation (and `reviewSetTeam`) refuses. The
/// proposal names that review's host, and says how many more leads would do.
#[test]
fn one_lead_per_group_leaves_its_own_review_unled() {
    let mut input: Vec<Candidate> = (0..9).map(|i| school(i, Phase::Primary)).collect();
    for c in input.iter_mut().take(3) {
        c.has_trained_lead = true;
    }
    let proposal = propose_groups(&input, &Constraints::default()).expect("proposal");
    for g in &proposal.groups {
        let leads: Vec<SchoolId> = g
            .placements
            .iter()
            .map(|p| p.school)
            .filter(|s| input.iter().any(|c| c.school == *s && c.has_trained_lead))
            .collect();
        assert_eq!(leads.len(), 1, "spread one per group");
        assert_eq!(g.relaxed.len(), 1, "{:?}", g.relaxed);
        assert_eq!(g.relaxed[0].constraint, Constraint::LeadReviewer);
        assert_eq!(g.relaxed[0].schools, leads);
        assert!(g.relaxed[0].explanation.contains("Train 3 more"));
    }
    assert!(
        check_group(
            PhaseBand::Primary,
            &input.iter().take(3).collect::<Vec<_>>(),
            &Constraints::default()
        )
        .is_empty()
    );
}

#[test]
fn a_lone_special_school_joins_another_band_and_says_so() {
    let mut input: Vec<Candidate> = (0..6).map(|i| school(i, Phase::Primary)).collect();
    input.push(school(6, Phase::Special));
    for c in &mut input {
        c.has_trained_lead = true;
    }
    let constraints = Constraints::default();
    let proposal = propose_groups(&input, &constraints).expect("proposal");
    let with_special = proposal
        .groups
        .iter()
        .find(|g| g.schools().contains(&input[6].school))
        .expect("placed");
    assert_eq!(with_special.band, PhaseBand::Primary);
    assert!(
        with_special
            .relaxed
            .iter()
            .any(|r| r.constraint == Constraint::Phase)
    );
    let placement = with_special
        .placements
        .iter()
        .find(|p| p.school == input[6].school)
        .expect("placement");
    assert!(placement.reasons.contains(&Reason::MovedAcrossPhase {
        from: PhaseBand::Specialist,
        to: PhaseBand::Primary
    }));
    assert_invariants(&input, &constraints, &proposal);
}

#[test]
fn last_years_groups_are_split_when_asked() {
    let mut input: Vec<Candidate> = (0..9).map(|i| school(i, Phase::Primary)).collect();
    for (i, c) in input.iter_mut().enumerate() {
        c.last_year_group = Some((i / 3) as u64);
        c.has_trained_lead = true;
    }
    let constraints = Constraints::default();
    let proposal = propose_groups(&input, &constraints).expect("proposal");
    assert!(proposal.groups.iter().all(|g| g.relaxed.is_empty()));
    assert_invariants(&input, &constraints, &proposal);
}

#[test]
fn too_few_or_repeated_schools_are_refused() {
    let input: Vec<Candidate> = (0..2).map(|i| school(i, Phase::Primary)).collect();
    assert_eq!(
        propose_groups(&input, &Constraints::default()),
        Err(ProposalError::TooFewSchools { count: 2 })
    );
    let input = vec![
        school(0, Phase::Primary),
        school(0, Phase::Primary),
        school(1, Phase::Primary),
    ];
    assert!(matches!(
        propose_groups(&input, &Constraints::default()),
        Err(ProposalError::DuplicateSchool(_))
    ));
}

#[test]
fn sizes_stay_within_bounds() {
    for target in 3..=7 {
        for n in 3..200 {
            let s = sizes(n, target);
            assert_eq!(s.iter().sum::<usize>(), n);
            assert!(
                s.iter().all(|&k| (3..=7).contains(&k)),
                "{n} {target} {s:?}"
            );
        }
    }
}

const PHASES: [Phase; 6] = [
    Phase::Primary,
    Phase::Primary,
    Phase::Infant,
    Phase::Junior,
    Phase::Secondary,
    Phase::Special,
];

fn arb_input() -> impl Strategy<Value = (Vec<Candidate>, Constraints)> {
    (
        prop::collection::vec((0..6usize, 0..12u128, any::<bool>(), 0..10u64), 3..150),
        3..=7usize,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(rows, target, allow, avoid)| {
            let input = rows
                .into_iter()
                .enumerate()
                .map(|(i, (phase, trust, lead, last))| {
                    let mut c = school(i, PHASES[phase]);
                    // Trusts 0..4 exist; other values mean "in no trust".
                    if trust < 4 {
                        c.hard_partnerships.push(mat(trust));
                    }
                    c.has_trained_lead = lead;
                    c.last_year_group = (last < 7).then_some(last);
                    c
                })
                .collect();
            let constraints = Constraints {
                sizes: GroupSize::new(target).expect("3..=7"),
                allow_same_hard_partnership: allow,
                avoid_last_year_groups: avoid,
                require_lead_reviewer: true,
            };
            (input, constraints)
        })
}

proptest! {
    #[test]
    fn proposals_keep_their_invariants((input, constraints) in arb_input()) {
        let proposal = propose_groups(&input, &constraints).expect("at least 3 schools");
        assert_invariants(&input, &constraints, &proposal);
    }

    #[test]
    fn proposals_are_deterministic_whatever_the_input_order(
        (input, constraints) in arb_input(),
        seed in any::<u64>(),
    ) {
        let first = propose_groups(&input, &constraints).expect("proposal");
        let again = propose_groups(&input, &constraints).expect("proposal");
        prop_assert_eq!(&first, &again);
        let mut shuffled = input.clone();
        // A cheap deterministic shuffle driven by the seed.
        let len = shuffled.len();
        let mut state = seed | 1;
        for i in (1..len).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let j = usize::try_from(state % (i as u64 + 1)).expect("fits");
            shuffled.swap(i, j);
        }
        prop_assert_eq!(first, propose_groups(&shuffled, &constraints).expect("proposal"));
    }

    #[test]
    fn avoidable_conflicts_are_avoided(n in 9..120usize, trusts in 1..6u128) {
        // Every trust has at most a third as many schools as there are triads, and there
        // are leads to spare: nothing needs relaxing.
        let mut input: Vec<Candidate> = (0..n).map(|i| school(i, Phase::Primary)).collect();
        let groups = n / 3;
        let per_trust = (groups / 3).max(1);
        let mut k = 0;
        for t in 0..trusts {
            for _ in 0..per_trust {
                if k < n {
                    input[k].hard_partnerships.push(mat(t));
                    k += 1;
                }
            }
        }
        for c in input.iter_mut().rev().take(2 * groups) {
            c.has_trained_lead = true;
        }
        let proposal = propose_groups(&input, &Constraints::default()).expect("proposal");
        for g in &proposal.groups {
            prop_assert!(g.relaxed.is_empty(), "{:?}", g.relaxed);
        }
    }
}
