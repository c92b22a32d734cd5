//! Group formation at local, regional and national scale.
//!
//! Synthetic schools with England's rough phase mix (about 80% primary-band, 17% secondary-band,
//! 3% specialist), 40% of them in multi-academy trusts of 2–30 schools, a third with a trained
//! lead reviewer and last year's triads recorded.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use kernel::{PartnershipId, SchoolId};
use membership::school::types::Phase;
use peer_review::grouping::{Candidate, Constraints, HardPartnership, propose_groups};

/// A small deterministic generator, so every run measures the same input.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn schools(n: usize) -> Vec<Candidate> {
    let mut rng = Lcg(42);
    let mut trusts: Vec<(HardPartnership, u64)> = Vec::new();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let phase = match rng.below(100) {
            0..=59 => Phase::Primary,
            60..=69 => Phase::Infant,
            70..=79 => Phase::Junior,
            80..=94 => Phase::Secondary,
            95..=96 => Phase::AllThrough,
            97..=98 => Phase::Special,
            _ => Phase::Pru,
        };
        let mut hard_partnerships = Vec::new();
        if rng.below(100) < 40 {
            // Join an open trust, or found a new one of 2–30 schools.
            if let Some((trust, left)) = trusts.iter_mut().find(|(_, left)| *left > 0) {
                *left -= 1;
                hard_partnerships.push(trust.clone());
            } else {
                let trust = HardPartnership {
                    id: PartnershipId::new(),
                    name: format!("Trust {}", trusts.len()),
                };
                hard_partnerships.push(trust.clone());
                trusts.push((trust, 1 + rng.below(29)));
            }
        }
        out.push(Candidate {
            school: SchoolId::new(),
            name: format!("School {i:05}"),
            phase,
            hard_partnerships,
            has_trained_lead: rng.below(3) == 0,
            last_year_group: Some(rng.below(n as u64 / 3 + 1)),
        });
    }
    out
}

fn grouping(c: &mut Criterion) {
    let mut group = c.benchmark_group("propose_groups");
    for n in [100, 1_000, 5_000] {
        let input = schools(n);
        let constraints = Constraints::default();
        group.bench_with_input(BenchmarkId::from_parameter(n), &input, |b, input| {
            b.iter(|| propose_groups(std::hint::black_box(input), &constraints));
        });
    }
    group.finish();
}

criterion_group!(benches, grouping);
criterion_main!(benches);
