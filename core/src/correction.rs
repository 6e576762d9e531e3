//! Correcting a dose record, planned once for the desk and the hub: the
//! checks of the correction itself (a reason, a live record of the same
//! person), the dose rules for an amend against the person's other doses,
//! and the event kind. The clock is passed in, so the hub, a desk and the
//! tests each say what "now" is.

use chrono::{DateTime, FixedOffset};

use crate::catalog::Catalog;
use crate::model::{Dose, DoseKind, DoseRecord, EventId, Person};
use crate::validate::{check_correction, check_dose, CorrectionTarget, DoseContext, Findings};

/// An amend (with its new content) or a void, ready to become an event once
/// its blocking findings are confirmed or there are none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorrectionPlan {
    pub kind: DoseKind,
    /// The content as it will be stored (dose number and lot expiry filled
    /// in); `None` for a void.
    pub dose: Option<Dose>,
    pub findings: Findings,
}

/// What is being corrected: the record's root id, its state, and the
/// person's doses as they stand (the record itself among them while live).
#[derive(Debug, Clone, Copy)]
pub struct CorrectionContext<'a> {
    pub catalog: &'a Catalog,
    pub person: &'a Person,
    pub doses: &'a [DoseRecord],
    pub root: EventId,
    pub target: CorrectionTarget,
    pub now: DateTime<FixedOffset>,
}

/// Plan a correction: `Some(dose)` amends the record to that content,
/// `None` voids it.
pub fn plan(ctx: CorrectionContext<'_>, amended: Option<Dose>, reason: &str) -> CorrectionPlan {
    let mut findings = check_correction(ctx.target, ctx.person.id, reason);
    let reason = reason.trim().to_string();
    let Some(mut dose) = amended else {
        return CorrectionPlan { kind: DoseKind::Void { corrects: ctx.root, reason }, dose: None, findings };
    };
    if let Some(current) = ctx.doses.iter().find(|r| r.id == ctx.root) {
        // A new lot does not inherit the old lot's expiry: the catalog's, or
        // the one typed with it, or none.
        let lot_changed = !dose.lot.as_deref().unwrap_or("").eq_ignore_ascii_case(current.dose.lot.as_deref().unwrap_or(""));
        if lot_changed && dose.lot_expiry == current.dose.lot_expiry {
            dose.lot_expiry = None;
        }
    }
    let others: Vec<DoseRecord> = ctx.doses.iter().filter(|r| r.id != ctx.root).cloned().collect();
    let (f, checked) = check_dose(DoseContext { catalog: ctx.catalog, person: ctx.person, history: &others, now: ctx.now }, &dose);
    findings.extend(f);
    CorrectionPlan { kind: DoseKind::Amend { corrects: ctx.root, reason }, dose: Some(checked), findings }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::catalog::Lot;
    use crate::model::{BirthDate, GivenElsewhere, Outcome, PersonId, PersonSource};
    use crate::validate::Code;

    fn at(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(&format!("{s}T09:00:00+07:00")).unwrap()
    }

    fn setup() -> (Catalog, Person, Vec<DoseRecord>) {
        let mut c = Catalog::builtin();
        c.lots.push(Lot { number: "AZ1".into(), vaccine: "AZ".into(), expiry: NaiveDate::from_ymd_opt(2022, 6, 1).unwrap() });
        let p = Person {
            id: PersonId::new(),
            national_id: None,
            full_name: "Lê Thị Cúc".into(),
            birth_date: BirthDate::Year(1975),
            sex: None,
            phone: None,
            address: Default::default(),
            health_insurance: None,
            priority_group: None,
            source: PersonSource::Manual,
        };
        let dose = Dose {
            vaccine: "AZ".into(),
            lot: Some("AZ1".into()),
            lot_expiry: NaiveDate::from_ymd_opt(2022, 6, 1),
            dose_number: Some(1),
            administered_at: at("2021-09-01"),
            outcome: Outcome::Vaccinated,
            note: Some("sốt nhẹ".into()),
            given_elsewhere: None,
        };
        let id = EventId::new();
        let r = DoseRecord { id, person_id: p.id, site: "S".into(), desk: "D1".into(), dose, head: id, amended: false };
        (c, p, vec![r])
    }

    #[test]
    fn an_amend_is_checked_against_the_other_doses_only() {
        let (c, p, doses) = setup();
        let root = doses[0].id;
        let ctx = CorrectionContext { catalog: &c, person: &p, doses: &doses, root, target: CorrectionTarget::Live { person: p.id }, now: at("2021-12-01") };
        // The same day as the record itself is not "the same dose twice".
        let same = Dose { dose_number: None, ..doses[0].dose.clone() };
        let plan = plan(ctx, Some(same), "số mũi");
        assert!(plan.findings.is_empty(), "{}", plan.findings);
        assert_eq!(plan.kind, DoseKind::Amend { corrects: root, reason: "số mũi".into() });
        assert_eq!(plan.dose.unwrap().dose_number, Some(1));
    }

    #[test]
    fn a_new_lot_drops_the_old_expiry_and_keeps_the_rest() {
        let (c, p, doses) = setup();
        let ctx = CorrectionContext { catalog: &c, person: &p, doses: &doses, root: doses[0].id, target: CorrectionTarget::Live { person: p.id }, now: at("2021-12-01") };
        let new_lot = Dose { lot: Some("NEW-7".into()), ..doses[0].dose.clone() };
        let plan = plan(ctx, Some(new_lot), "sai số lô");
        let d = plan.dose.unwrap();
        assert_eq!((d.lot.as_deref(), d.lot_expiry), (Some("NEW-7"), None));
        assert_eq!(d.note.as_deref(), Some("sốt nhẹ"));
        assert!(plan.findings.has(Code::LotUnknown), "{}", plan.findings);
    }

    #[test]
    fn a_dose_given_elsewhere_stays_so_through_a_correction() {
        let (c, p, mut doses) = setup();
        doses[0].dose.given_elsewhere = Some(GivenElsewhere { place: "Cần Thơ".into() });
        doses[0].dose.lot = None;
        let ctx = CorrectionContext { catalog: &c, person: &p, doses: &doses, root: doses[0].id, target: CorrectionTarget::Live { person: p.id }, now: at("2021-12-01") };
        let moved = Dose { administered_at: at("2021-08-25"), ..doses[0].dose.clone() };
        let plan = plan(ctx, Some(moved), "ngày tiêm");
        assert!(plan.findings.is_empty(), "{}", plan.findings);
        assert_eq!(plan.dose.unwrap().given_elsewhere.unwrap().place, "Cần Thơ");
    }

    #[test]
    fn voids_and_refusals() {
        let (c, p, doses) = setup();
        let root = doses[0].id;
        let live = CorrectionContext { catalog: &c, person: &p, doses: &doses, root, target: CorrectionTarget::Live { person: p.id }, now: at("2021-12-01") };
        let v = plan(live, None, " nhập nhầm ");
        assert_eq!((v.kind, v.dose, v.findings.is_empty()), (DoseKind::Void { corrects: root, reason: "nhập nhầm".into() }, None, true));
        assert!(plan(live, None, "  ").findings.has(Code::ReasonMissing));
        let voided = CorrectionContext { target: CorrectionTarget::Voided, doses: &[], ..live };
        assert!(plan(voided, None, "x").findings.has(Code::CorrectionTargetVoided));
        let future = Dose { administered_at: at("2022-06-01"), ..doses[0].dose.clone() };
        assert!(plan(live, Some(future), "x").findings.has(Code::AdministeredFuture));
    }
}
