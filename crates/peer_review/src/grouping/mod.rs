//! Group formation: a pure, deterministic function from the participating schools and the
//! cycle's rules to proposed groups with their host rota and an explanation.
//!
//! **Algorithm.** Searching over partitions is hopeless at national scale (thousands of
//! schools), so the proposal is built in three linear-ish passes:
//!
//! 1. *Phase bands.* Schools are bucketed into primary, secondary and specialist bands; a band
//!    too small to form a group is merged into the largest other band (the phase constraint
//!    relaxed, and said so).
//! 2. *Greedy placement per band.* The band's group sizes are fixed up front (as near the
//!    target as the count allows, always 3–7). Trained lead reviewers are placed first, one per
//!    group and then a second per group while they last (a school does not review itself, so
//!    every review is led by a visitor only where a group has two); then the remaining schools, most-conflicted first (members of the
//!    largest hard partnerships), each into the first group with room and no conflict, scanning
//!    from a rotating start, or into the least-conflicted group when none is free.
//! 3. *Local improvement.* For every group still breaking a rule, single swaps with schools of
//!    other groups of the band (the next [`SWAP_WINDOW`] groups, all of them in a band of
//!    fewer) are tried and kept when they lower the band's total penalty.
//!
//! Penalties are weighted in the **relaxation order**: the cheapest constraint to give up is
//! relaxed first — [`Constraint::LastYearGroup`], then [`Constraint::LeadReviewer`], then
//! [`Constraint::HardPartnership`] (conflict of interest), and last [`Constraint::Phase`].
//! A constraint broken in the final proposal is listed in the group's relaxations with the
//! reason (a counting argument when one proves no arrangement exists), and each school's
//! placement says why it is where it is.
//!
//! Determinism: input order does not matter (schools are sorted by name then id first), and
//! no hash-map iteration order reaches the output.

mod types;

pub use types::{
    Candidate, Constraint, Constraints, GroupSize, HardPartnership, PhaseBand, Placement, Proposal,
    ProposalError, ProposedGroup, Reason, Relaxation, RotaVisit, Violation, check_group,
};

use kernel::{PartnershipId, SchoolId};

/// Penalty weights, in relaxation order: one conflict of interest outweighs any number of
/// reviews without a lead, which outweigh any number of repeated pairings. A review without
/// a lead costs W_LEAD, so one lead each in two groups (two unled reviews) beats two in one
/// group and none in the other (a whole group unled).
const W_LAST_YEAR: u64 = 1;
const W_LEAD: u64 = 1_000;
const W_HARD: u64 = 1_000_000;
/// Improvement passes per band; each pass only revisits groups still breaking a rule.
const MAX_PASSES: usize = 4;
/// The groups after a group (cyclically) whose schools its schools are tried against in a
/// swap. A band of fewer groups tries them all, which covers any local or regional
/// partnership. Trying all of a national band's 8,000 triads made the proposal quadratic: 47 s
/// for 25,000 schools, nearly all of it on swaps that could not help (a third of schools with
/// a lead reviewer leaves every triad one short, whatever is swapped).
const SWAP_WINDOW: usize = 64;

/// Proposes groups for `schools` under `constraints`.
pub fn propose_groups(
    schools: &[Candidate],
    constraints: &Constraints,
) -> Result<Proposal, ProposalError> {
    let mut sorted: Vec<&Candidate> = schools.iter().collect();
    sorted.sort_by(|a, b| (&a.name, a.school).cmp(&(&b.name, b.school)));
    for pair in sorted.windows(2) {
        if pair[0].school == pair[1].school {
            return Err(ProposalError::DuplicateSchool(pair[0].school));
        }
    }
    if sorted.len() < GroupSize::MIN {
        return Err(ProposalError::TooFewSchools {
            count: sorted.len(),
        });
    }

    let bands = band_schools(&sorted);
    let mut groups = Vec::new();
    for (band, members) in bands {
        let facts = BandFacts::of(&members);
        let formed = Band::new(members, constraints).form();
        let count = formed.len();
        for members in formed {
            groups.push(explain(band, &members, constraints, &facts, count));
        }
    }
    Ok(Proposal { groups })
}

/// Buckets schools by phase band, merging any band too small for a group into the largest
/// other one. Returns bands in [`PhaseBand`] order, each with its schools in name order.
fn band_schools<'a>(sorted: &[&'a Candidate]) -> Vec<(PhaseBand, Vec<&'a Candidate>)> {
    let mut bands: Vec<(PhaseBand, Vec<&'a Candidate>)> = PhaseBand::ALL
        .iter()
        .map(|&b| {
            (
                b,
                sorted
                    .iter()
                    .copied()
                    .filter(|c| PhaseBand::of(c.phase) == b)
                    .collect(),
            )
        })
        .filter(|(_, m): &(PhaseBand, Vec<&Candidate>)| !m.is_empty())
        .collect();
    while let Some(small) = bands
        .iter()
        .position(|(_, m)| m.len() < GroupSize::MIN)
        .filter(|_| bands.len() > 1)
    {
        let (_, moving) = bands.remove(small);
        // Largest band, earliest in band order on a tie.
        let target = bands
            .iter()
            .enumerate()
            .max_by(|(i, a), (j, b)| a.1.len().cmp(&b.1.len()).then(j.cmp(i)))
            .map_or(0, |(i, _)| i);
        bands[target].1.extend(moving);
        bands[target]
            .1
            .sort_by(|a, b| (&a.name, a.school).cmp(&(&b.name, b.school)));
    }
    bands
}

/// Group sizes for `n` schools: as near `target` as possible, every size within 3–7.
fn sizes(n: usize, target: usize) -> Vec<usize> {
    let mut count = (n / target).max(n.div_ceil(GroupSize::MAX)).max(1);
    while count > 1 && n / count < GroupSize::MIN {
        count -= 1;
    }
    (0..count)
        .map(|i| n / count + usize::from(i < n % count))
        .collect()
}

/// One band's schools being placed into groups.
struct Band<'a> {
    schools: Vec<&'a Candidate>,
    constraints: &'a Constraints,
    /// Members of each group, as indexes into `schools`.
    groups: Vec<Vec<usize>>,
    capacity: Vec<usize>,
}

impl<'a> Band<'a> {
    fn new(schools: Vec<&'a Candidate>, constraints: &'a Constraints) -> Self {
        let capacity = sizes(schools.len(), constraints.sizes.target());
        Self {
            groups: capacity.iter().map(|&c| Vec::with_capacity(c)).collect(),
            capacity,
            schools,
            constraints,
        }
    }

    fn form(mut self) -> Vec<Vec<&'a Candidate>> {
        self.place_greedily();
        self.improve();
        let Self {
            schools, groups, ..
        } = self;
        groups
            .into_iter()
            .map(|mut g| {
                g.sort_unstable();
                g.into_iter().map(|i| schools[i]).collect()
            })
            .collect()
    }

    fn place_greedily(&mut self) {
        // How big each school's largest hard partnership is within the band: the most
        // conflicted schools go first, while every group still has room.
        let mut partnership_size: Vec<(PartnershipId, usize)> = Vec::new();
        for c in &self.schools {
            for p in &c.hard_partnerships {
                match partnership_size.iter_mut().find(|(id, _)| *id == p.id) {
                    Some((_, n)) => *n += 1,
                    None => partnership_size.push((p.id, 1)),
                }
            }
        }
        let conflict_weight = |c: &Candidate| {
            c.hard_partnerships
                .iter()
                .filter_map(|p| partnership_size.iter().find(|(id, _)| *id == p.id))
                .map(|(_, n)| *n)
                .max()
                .unwrap_or(0)
        };
        let mut order: Vec<usize> = (0..self.schools.len()).collect();
        // Stable sort: ties keep name order.
        order.sort_by_key(|&i| {
            let c = self.schools[i];
            (!c.has_trained_lead, std::cmp::Reverse(conflict_weight(c)))
        });
        let mut cursor = 0;
        for i in order {
            let g = self.choose_group(i, &mut cursor);
            self.groups[g].push(i);
        }
    }

    /// The first group with room where `school` costs nothing, scanning from `cursor`;
    /// otherwise the cheapest group with room (earliest on a tie).
    fn choose_group(&self, school: usize, cursor: &mut usize) -> usize {
        let n = self.groups.len();
        let mut best: Option<(u64, usize)> = None;
        for step in 0..n {
            let g = (*cursor + step) % n;
            if self.groups[g].len() >= self.capacity[g] {
                continue;
            }
            let cost = self.added_cost(g, school);
            if cost == 0 {
                *cursor = (g + 1) % n;
                return g;
            }
            if best.is_none_or(|(c, _)| cost < c) {
                best = Some((cost, g));
            }
        }
        best.map(|(_, g)| g)
            .expect("capacities add up to the band's size")
    }

    /// Extra penalty of adding `school` to group `g`. A lead reviewer costs when the group
    /// has one already and (more) when it has two: leads are spread one per group first,
    /// then a second each.
    fn added_cost(&self, g: usize, school: usize) -> u64 {
        let s = self.schools[school];
        let members = &self.groups[g];
        let mut cost = 0;
        for &m in members {
            cost += self.pair_cost(s, self.schools[m]);
        }
        if s.has_trained_lead {
            let leads = members
                .iter()
                .filter(|&&m| self.schools[m].has_trained_lead)
                .count();
            cost += match leads {
                0 => 0,
                1 => 1,
                _ => 2,
            };
        }
        cost
    }

    fn pair_cost(&self, a: &Candidate, b: &Candidate) -> u64 {
        let mut cost = 0;
        if !self.constraints.allow_same_hard_partnership
            && a.hard_partnerships
                .iter()
                .any(|p| b.hard_partnerships.iter().any(|q| q.id == p.id))
        {
            cost += W_HARD;
        }
        if self.constraints.avoid_last_year_groups
            && a.last_year_group.is_some()
            && a.last_year_group == b.last_year_group
        {
            cost += W_LAST_YEAR;
        }
        cost
    }

    fn group_cost(&self, members: &[usize]) -> u64 {
        let mut cost = 0;
        for (k, &a) in members.iter().enumerate() {
            for &b in &members[k + 1..] {
                cost += self.pair_cost(self.schools[a], self.schools[b]);
            }
        }
        if self.constraints.require_lead_reviewer {
            // As many as `types::unled_hosts` names, counted without a list: this runs for
            // every swap tried.
            let leads = members
                .iter()
                .filter(|&&m| self.schools[m].has_trained_lead)
                .count();
            let unled = match leads {
                0 => members.len(),
                1 => 1,
                _ => 0,
            };
            cost += W_LEAD * unled as u64;
        }
        cost
    }

    fn improve(&mut self) {
        let n = self.groups.len();
        if n < 2 {
            return;
        }
        let mut costs: Vec<u64> = self.groups.iter().map(|g| self.group_cost(g)).collect();
        for _ in 0..MAX_PASSES {
            let mut improved = false;
            for a in 0..n {
                let mut slot = 0;
                while costs[a] > 0 && slot < self.groups[a].len() {
                    if let Some((b, other, ca, cb)) = self.best_swap(a, slot, &costs) {
                        let mine = self.groups[a][slot];
                        self.groups[a][slot] = self.groups[b][other];
                        self.groups[b][other] = mine;
                        costs[a] = ca;
                        costs[b] = cb;
                        improved = true;
                    }
                    slot += 1;
                }
            }
            if !improved {
                break;
            }
        }
    }

    /// The first swap of `groups[a][slot]` with a school of another group that lowers the
    /// two groups' combined penalty, with their new penalties.
    fn best_swap(&self, a: usize, slot: usize, costs: &[u64]) -> Option<(usize, usize, u64, u64)> {
        let n = self.groups.len();
        let mut trial_a = self.groups[a].clone();
        for step in 1..n.min(SWAP_WINDOW + 1) {
            let b = (a + step) % n;
            let mut trial_b = self.groups[b].clone();
            for other in 0..trial_b.len() {
                std::mem::swap(&mut trial_a[slot], &mut trial_b[other]);
                let (ca, cb) = (self.group_cost(&trial_a), self.group_cost(&trial_b));
                std::mem::swap(&mut trial_a[slot], &mut trial_b[other]);
                if ca + cb < costs[a] + costs[b] {
                    return Some((b, other, ca, cb));
                }
            }
        }
        None
    }
}

/// Counts over a whole band, for explanations that prove a relaxation was forced.
struct BandFacts {
    schools: usize,
    leads: usize,
    by_phase: Vec<(PhaseBand, usize)>,
    by_partnership: Vec<(PartnershipId, usize)>,
}

impl BandFacts {
    fn of(members: &[&Candidate]) -> Self {
        let mut by_phase: Vec<(PhaseBand, usize)> = Vec::new();
        let mut by_partnership: Vec<(PartnershipId, usize)> = Vec::new();
        for c in members {
            let band = PhaseBand::of(c.phase);
            match by_phase.iter_mut().find(|(b, _)| *b == band) {
                Some((_, n)) => *n += 1,
                None => by_phase.push((band, 1)),
            }
            for p in &c.hard_partnerships {
                match by_partnership.iter_mut().find(|(id, _)| *id == p.id) {
                    Some((_, n)) => *n += 1,
                    None => by_partnership.push((p.id, 1)),
                }
            }
        }
        Self {
            schools: members.len(),
            leads: members.iter().filter(|c| c.has_trained_lead).count(),
            by_phase,
            by_partnership,
        }
    }

    fn count<K: PartialEq>(list: &[(K, usize)], key: &K) -> usize {
        list.iter().find(|(k, _)| k == key).map_or(0, |(_, n)| *n)
    }
}

fn relaxation_text(v: &Violation, band: PhaseBand, facts: &BandFacts, groups: usize) -> String {
    let others = if groups > SWAP_WINDOW + 1 {
        format!("the next {SWAP_WINDOW} groups")
    } else {
        "another group".to_owned()
    };
    let searched =
        format!("no swap with {others} removed it without breaking a constraint relaxed later");
    match v {
        Violation::Size { size } => format!("the group has {size} schools"),
        Violation::MixedPhase { .. } => {
            let moved: Vec<String> = facts
                .by_phase
                .iter()
                .filter(|(b, _)| *b != band)
                .map(|(b, n)| format!("{n} {}", b.label()))
                .collect();
            format!(
                "only {} school(s) take part, fewer than the {} a group needs, so they join the \
                 {} schools",
                moved.join(" and "),
                GroupSize::MIN,
                band.label()
            )
        }
        Violation::SameHardPartnership {
            partnership, name, ..
        } => {
            let n = BandFacts::count(&facts.by_partnership, partnership);
            if n > groups {
                format!(
                    "{name} has {n} {} schools taking part and there are only {groups} groups",
                    band.label()
                )
            } else {
                format!("{name}: {searched}")
            }
        }
        Violation::LastYearPeers { schools } => format!(
            "{} schools were grouped together last year; {searched}",
            schools.len()
        ),
        Violation::NoLeadReviewer { .. } => {
            let needed = 2 * groups;
            if facts.leads < needed {
                format!(
                    "only {} of the {} {} schools have a trained lead reviewer; every review is \
                     led by a visiting school's, so {groups} groups need {needed}. Train {} more \
                     lead reviewer(s), make fewer and larger groups, or relax the lead-reviewer \
                     rule for this cycle",
                    facts.leads,
                    facts.schools,
                    band.label(),
                    needed - facts.leads
                )
            } else {
                format!(
                    "the band's lead reviewers are placed elsewhere: {searched}; move a school \
                     with a trained lead reviewer here from a group with three, or relax the \
                     rule for this cycle"
                )
            }
        }
    }
}

/// Builds a proposed group's rota, placements and relaxations from its members.
fn explain(
    band: PhaseBand,
    members: &[&Candidate],
    constraints: &Constraints,
    facts: &BandFacts,
    groups: usize,
) -> ProposedGroup {
    let violations = check_group(band, members, constraints);
    let relaxed = violations
        .iter()
        .filter_map(|v| {
            v.constraint().map(|constraint| Relaxation {
                constraint,
                schools: v.schools(),
                explanation: relaxation_text(v, band, facts, groups),
            })
        })
        .collect();
    let placements = members
        .iter()
        .map(|c| {
            let own = PhaseBand::of(c.phase);
            let mut reasons = vec![Reason::Phase { band: own }];
            if own != band {
                reasons.push(Reason::MovedAcrossPhase {
                    from: own,
                    to: band,
                });
            }
            if c.has_trained_lead {
                reasons.push(Reason::ProvidesLeadReviewer);
            }
            for v in &violations {
                match v {
                    Violation::SameHardPartnership {
                        partnership,
                        schools,
                        ..
                    } if schools.contains(&c.school) => {
                        reasons.push(Reason::SharesHardPartnership {
                            partnership: *partnership,
                            with: schools.iter().copied().filter(|s| *s != c.school).collect(),
                        });
                    }
                    Violation::LastYearPeers { schools } if schools.contains(&c.school) => {
                        reasons.push(Reason::WithLastYearPeer {
                            with: schools.iter().copied().filter(|s| *s != c.school).collect(),
                        });
                    }
                    _ => {}
                }
            }
            Placement {
                school: c.school,
                reasons,
            }
        })
        .collect();
    ProposedGroup {
        band,
        placements,
        relaxed,
        rota: rota(&members.iter().map(|c| c.school).collect::<Vec<_>>()),
    }
}

/// Reciprocity: every school hosts once, in order, and is reviewed by all the others.
#[must_use]
pub fn rota(schools: &[SchoolId]) -> Vec<RotaVisit> {
    schools
        .iter()
        .map(|&host| RotaVisit {
            host,
            reviewers: schools.iter().copied().filter(|&s| s != host).collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests;
