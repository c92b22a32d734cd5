//! Value types of partnerships.

use kernel::named_enum;

named_enum!(
    /// How tightly a partnership binds its schools (Barnet's typology, plus the legal forms
    /// of hard partnership and teaching-school alliances).
    PartnershipKind {
        /// A multi-academy trust: one legal entity, one board.
        MultiAcademyTrust => "MAT",
        /// A federation of maintained schools under one governing body.
        Federation => "FEDERATION",
        /// Another hard partnership with an executive leader and a governance board.
        Hard => "HARD",
        /// Clear agreements on roles for challenge and support, often an executive board of heads.
        Structured => "STRUCTURED",
        /// Schools that agree to challenge and support each other.
        Loose => "LOOSE",
        /// A teaching school and the schools it trains with.
        TeachingSchoolAlliance => "TEACHING_SCHOOL_ALLIANCE",
    }
);

impl PartnershipKind {
    /// Hard partnerships share governance, so their schools cannot impartially review each
    /// other (peer-review group formation uses this).
    #[must_use]
    pub const fn shares_governance(self) -> bool {
        matches!(
            self,
            Self::MultiAcademyTrust | Self::Federation | Self::Hard
        )
    }
}

named_enum!(
    /// A school's role in a partnership.
    MemberRole {
        /// The lead school (at most one per partnership).
        Lead => "LEAD",
        Member => "MEMBER",
        /// Takes part without full membership, e.g. a school from a neighbouring borough.
        Associate => "ASSOCIATE",
    }
);
