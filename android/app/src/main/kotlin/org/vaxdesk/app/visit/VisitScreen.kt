package org.vaxdesk.app.visit

import android.os.Bundle
import android.text.InputType
import android.view.View
import android.widget.LinearLayout
import android.widget.TextView
import org.vaxdesk.app.R
import org.vaxdesk.app.core.Messages
import org.vaxdesk.app.core.Outcome
import org.vaxdesk.app.nav.Host
import org.vaxdesk.app.nav.Screen
import org.vaxdesk.app.state.Bundles
import org.vaxdesk.app.sync.SyncScheduler
import org.vaxdesk.app.ui.Ui
import org.vaxdesk.core.DoseDraftInfo
import org.vaxdesk.core.DoseOutcome
import org.vaxdesk.core.Finding
import org.vaxdesk.core.NextDoseInfo
import org.vaxdesk.core.PersonDraftInfo
import org.vaxdesk.core.PersonInfo
import org.vaxdesk.core.ScanResult
import org.vaxdesk.core.Severity
import org.vaxdesk.core.ToFix
import org.vaxdesk.core.VisitDoseInfo
import org.vaxdesk.core.VisitSaveInfo
import org.vaxdesk.core.VaxdeskException

/**
 * The person and today's dose, on one page. Filled from the scan, or from
 * the person on record when the core finds a match. Findings show under
 * their field; warnings are confirmed with one tap that also saves. From a
 * good scan: "Save" is the first tap; a warning adds one; a dose warning
 * found only after a new person is saved adds one more — never more than 3.
 *
 * With [fix], the page corrects what the hub refused: the person, or the
 * dose record, starting from the record as it stands (its vaccine and time
 * stay; the core chooses amend or re-record).
 *
 * The decisions are the core's ([org.vaxdesk.core.Desk.prepareVisit],
 * [org.vaxdesk.core.Desk.saveVisit]): who this is, what of the scan completes
 * the record, whether the person needs saving, and a save that the same
 * [visitId] cannot make twice. This screen shows and collects.
 *
 * What the volunteer typed and chose is kept in the saved state: a font
 * size change, a turn into multi-window or the system ending the app in
 * the background brings the half-typed visit back.
 */
class VisitScreen(
    host: Host,
    private var draft: PersonDraftInfo,
    private val scan: ScanResult?,
    private val fix: ToFix? = null,
    /** Names this visit for the core (a save made twice saves once) and in [org.vaxdesk.app.state.AppState.savedVisits]. */
    private val visitId: String = org.vaxdesk.core.newVisitId(),
) : Screen(host) {
    override val name = if (fix != null) "fix" else "visit"
    /** Masked fields of the scan (kept apart: a restored visit has no scan). */
    private var masked: List<String> = scan?.maskedFields.orEmpty()
    /** Field values to put back into the fields at the next build (typing survives a rebuild). */
    private var typed: Map<String, String>? = null
    /** Typing kept across a recreation: it wins over the record the look-up brings. */
    private var restoredTyping: Map<String, String>? = null
    /** The next build fills the fields from [draft] (the look-up's merged record). */
    private var reload = false

    private var matched: PersonInfo? = null
    private var next: NextDoseInfo? = null
    /** The appointment day (ISO) when the person is on the site's registration list. */
    private var appointment: String? = null
    private var loaded: PersonDraftInfo? = null
    /** The refused record a dose fix starts from (its vaccine, time and lot). */
    private var record: DoseDraftInfo? = null
    /** The person as saved in this visit (a new one has an id from now on). */
    @Volatile private var savedPerson: PersonInfo? = null
    private val confirmed = linkedSetOf<String>()
    private var pending: List<Finding> = emptyList()
    private var lot: String? = null
    private var outcome = DoseOutcome.VACCINATED
    private var findings: List<Finding> = emptyList()

    private lateinit var banner: TextView
    private lateinit var fields: List<Ui.Field>
    private lateinit var message: TextView
    private lateinit var confirm: android.widget.Button
    private lateinit var save: android.widget.Button
    private var sex: String? = null
    /** A save is on its way: another tap (or a rebuilt button) waits for it. */
    private var saving = false

    private val personOnly get() = fix?.stream == "person"

    override fun build(): View {
        // Typing survives a rebuild (language, font size) and a recreation.
        if (::fields.isInitialized && typed == null && !reload) typed = fields.associate { it.key to it.value }
        reload = false
        val session = app.core.facts?.session
        // A fix keeps the record's lot (even none); a visit starts from the session's.
        if (lot == null && fix?.recordId == null) lot = session?.lots?.firstOrNull()
        sex = sex ?: draft.sex
        banner = ui.text("", tag = "visit-match", bold = true)
        val name = ui.field("full_name", str(R.string.field_full_name), draft.fullName)
        val id = ui.field("national_id", str(R.string.field_national_id), draft.nationalId ?: "", InputType.TYPE_CLASS_NUMBER)
        val birth = ui.field("birth_date", str(R.string.field_birth_date), dayFirst(draft.birthDate), InputType.TYPE_CLASS_DATETIME or InputType.TYPE_DATETIME_VARIATION_DATE)
        val phone = ui.field("phone", str(R.string.field_phone), draft.phone ?: "", InputType.TYPE_CLASS_PHONE)
        fields = listOf(name, id, birth, phone)
        typed?.let { t -> fields.forEach { f -> t[f.key]?.let { f.value = it } } }
        typed = null
        message = ui.note("visit-message")
        val sexNote = ui.note("note:sex")
        val body = ui.column(ui.card(banner))
        fix?.let { ui.add(body, ui.card(ui.text(str(R.string.fix_reason, it.message ?: it.code ?: ""), tag = "fix-reason"))) }
        masked.takeIf { it.isNotEmpty() }?.let { masked ->
            val v = ui.note("visit-masked")
            ui.showNote(v, str(R.string.visit_masked, masked.joinToString { Messages.fieldLabel(host.activity, it) }), warning = true)
            ui.add(body, v)
        }
        listOf(name, id, birth).forEach { ui.add(body, it.view) }
        ui.add(body, ui.text(str(R.string.field_sex), 15f, muted = true))
        ui.add(body, ui.choice("sex", listOf("female" to str(R.string.sex_female), "male" to str(R.string.sex_male)), sex) { sex = it })
        ui.add(body, sexNote)
        ui.add(body, phone.view)
        val rec = record
        if (fix?.recordId != null && rec != null) {
            // A fix keeps the record's vaccine and time; the lot is what is usually wrong.
            ui.add(body, ui.text(str(R.string.fix_dose, rec.vaccine ?: "-", dayTime(rec.administeredAt)), bold = true, tag = "visit-dose"))
            val lots = (listOfNotNull(rec.lot) + session?.lots.orEmpty().takeIf { session?.vaccine == rec.vaccine }.orEmpty()).distinct()
            if (lots.size > 1) ui.add(body, ui.choice("lot", lots.map { it to it }, lot) { lot = it })
            else ui.add(body, ui.text(str(R.string.visit_lot, lot ?: "-"), muted = true))
            addOutcome(body)
        } else if (!personOnly && fix == null && session != null) {
            ui.add(body, ui.text(str(R.string.visit_dose, session.vaccine), bold = true, tag = "visit-dose"))
            if (session.lots.size > 1) ui.add(body, ui.choice("lot", session.lots.map { it to it }, lot) { lot = it })
            else ui.add(body, ui.text(str(R.string.visit_lot, lot ?: "-"), muted = true))
            addOutcome(body)
        }
        if (fix == null) {
            // A dose given before (another province, abroad): recorded as such, then back here.
            ui.add(body, ui.button(str(R.string.visit_elsewhere), "visit-elsewhere") { openElsewhere() })
        }
        ui.add(body, message)
        confirm = ui.button("", "visit-confirm") { confirmAndSave() }.apply { visibility = View.GONE; isEnabled = !saving }
        save = ui.button(str(R.string.visit_save), "visit-save", primary = true) { save() }.apply { isEnabled = !saving }
        showFindings(findings)
        showBanner()
        return ui.page(str(if (fix != null) R.string.fix_title else R.string.visit_title), body, confirm, save)
    }

    private fun addOutcome(body: LinearLayout) {
        ui.add(body, ui.choice("outcome", listOf(
            "vaccinated" to str(R.string.outcome_vaccinated),
            "deferred" to str(R.string.outcome_deferred),
            "refused" to str(R.string.outcome_refused),
        ), outcome.name.lowercase()) { outcome = DoseOutcome.valueOf(it.uppercase()) })
    }

    override fun save(out: Bundle) {
        out.putString("visit", visitId)
        Bundles.put(out, "draft", draft)
        loaded?.let { Bundles.put(out, "loaded", it) }
        fix?.let { Bundles.put(out, "fix", it) }
        if (::fields.isInitialized) fields.forEach { out.putString("typed:" + it.key, it.value) }
        else typed?.forEach { (k, v) -> out.putString("typed:$k", v) }
        out.putString("sex", sex)
        out.putString("lot", lot)
        out.putString("outcome", outcome.name)
        out.putStringArrayList("confirmed", ArrayList(confirmed))
        out.putStringArrayList("masked", ArrayList(masked))
    }

    companion object {
        private val ISO = Regex("(\\d{4})-(\\d{2})-(\\d{2})")
        private val DAY_FIRST = Regex("(\\d{2})/(\\d{2})/(\\d{4})")

        /** A visit screen from its saved state (see [save]); null when it holds no draft. */
        fun restore(host: Host, b: Bundle): VisitScreen? {
            val draft = Bundles.draft(b, "draft") ?: return null
            val v = VisitScreen(host, draft, null, Bundles.toFix(b, "fix"), b.getString("visit") ?: org.vaxdesk.core.newVisitId())
            v.typed = listOf("full_name", "national_id", "birth_date", "phone").mapNotNull { k -> b.getString("typed:$k")?.let { k to it } }.toMap()
            v.restoredTyping = v.typed
            v.sex = b.getString("sex")
            v.lot = b.getString("lot")
            v.outcome = b.getString("outcome")?.let { runCatching { DoseOutcome.valueOf(it) }.getOrNull() } ?: DoseOutcome.VACCINATED
            v.confirmed.addAll(b.getStringArrayList("confirmed").orEmpty())
            v.masked = b.getStringArrayList("masked").orEmpty()
            return v
        }
    }

    /** Look the person up and check the draft before the volunteer taps anything. */
    override fun onShown() {
        // A result that came back while another screen (the PIN lock) covered
        // this one was dropped: the buttons work again (the core's save is
        // safe to repeat).
        saving = false
        if (visitId in app.state.savedVisits) {
            // Saved while the screen was being recreated: done, not to be saved twice.
            host.back()
            return
        }
        if (loaded != null) {
            // Back from recording a dose given elsewhere: the dose due moved.
            refreshNext()
            return
        }
        val scanned = draft
        val recordId = fix?.recordId
        core({ d -> Pair(d.prepareVisit(scanned), recordId?.let { d.doseDraftOf(it) }) }) { r ->
            when (r) {
                is Outcome.Failed -> ui.showNote(message, Messages.error(host.activity, r.error))
                is Outcome.Ok -> {
                    val (plan, rec) = r.value
                    matched = plan.matched
                    draft = plan.draft
                    loaded = plan.draft
                    record = rec
                    if (rec != null && restoredTyping == null) {
                        // A fix starts from the record: its lot and its outcome (a deferral stays one).
                        lot = rec.lot
                        outcome = rec.outcome
                    }
                    // The match refills the fields; what was typed before a recreation wins.
                    reload = true
                    typed = restoredTyping
                    restoredTyping = null
                    next = plan.next
                    appointment = plan.appointment
                    findings = plan.findings
                    host.refresh()
                }
            }
        }
    }

    private fun refreshNext() {
        val id = savedPerson?.id ?: matched?.id ?: return
        core({ d -> Pair(d.person(id), d.nextDose(id)) }) { r ->
            if (r is Outcome.Ok) {
                matched = r.value.first
                next = r.value.second
                if (::fields.isInitialized) typed = fields.associate { it.key to it.value }
                host.refresh()
            }
        }
    }

    /**
     * Record a dose given elsewhere for this person. Someone new is saved
     * first (as this visit's person: saving the visit later does not save
     * them again).
     */
    private fun openElsewhere() {
        if (saving) return
        val known = savedPerson ?: matched
        if (known != null) {
            host.go(ElsewhereScreen(host, known.id, known.fullName))
            return
        }
        val person = current()
        val codes = confirmed.toList()
        val ctx = host.activity
        saving = true
        core({ d -> d.saveVisit(VisitSaveInfo(visitId, person, null, null, null, codes)).person.also { SyncScheduler.syncSoon(ctx) } }) { r ->
            saving = false
            when (r) {
                is Outcome.Failed -> {
                    val e = r.error
                    // Confirming a warning found here goes on to the dose given elsewhere, not to today's dose.
                    afterConfirm = ::openElsewhere
                    if (e is VaxdeskException.Refused) showFindings(e.findings) else ui.showNote(message, Messages.error(host.activity, e))
                }
                is Outcome.Ok -> {
                    savedPerson = r.value
                    host.go(ElsewhereScreen(host, r.value.id, r.value.fullName))
                }
            }
        }
    }

    private fun showBanner() {
        val m = matched
        val n = next
        val status = when {
            fix != null -> str(R.string.fix_banner)
            m == null -> str(R.string.visit_new_person)
            n == null || n.kind == "complete" -> str(R.string.visit_on_file_complete, m.fullName)
            n.earliest != null -> str(R.string.visit_on_file_next_from, m.fullName, n.doseNumber.toInt(), n.earliest!!)
            else -> str(R.string.visit_on_file_next, m.fullName, n.doseNumber.toInt())
        }
        // Expected today, or on another day: the volunteer sees which before saving.
        val day = appointment
        banner.text = if (m != null && fix == null && day != null) status + "\n" + str(R.string.visit_registered, dayFirst(day)) else status
    }

    private fun current(): PersonDraftInfo {
        val (name, id, birth, phone) = fields.map { it.value }
        return draft.copy(
            fullName = name,
            nationalId = id.ifEmpty { null },
            birthDate = isoDate(birth),
            sex = sex,
            phone = phone.ifEmpty { null },
        )
    }

    /** Dates show as the volunteer writes them (dd/mm/yyyy); the core takes either form. */
    private fun dayFirst(iso: String) = ISO.matchEntire(iso)?.destructured?.let { (y, m, d) -> "$d/$m/$y" } ?: iso

    private fun isoDate(typed: String) = DAY_FIRST.matchEntire(typed)?.destructured?.let { (d, m, y) -> "$y-$m-$d" } ?: typed


    private fun showFindings(all: List<Finding>) {
        if (!::fields.isInitialized) return
        val byField = all.groupBy { it.field }
        val shown = mutableSetOf<String>()
        for (f in fields) {
            val list = byField[f.key].orEmpty()
            ui.showNote(f.note, list.joinToString("\n") { Messages.finding(host.activity, it) }, warning = list.all { it.severity == Severity.WARNING })
            if (list.isNotEmpty()) shown.add(f.key)
        }
        val rest = all.filter { it.field !in shown }
        ui.showNote(message, rest.joinToString("\n") { Messages.finding(host.activity, it) }, warning = rest.all { it.severity == Severity.WARNING })
        pending = all.filter { it.severity == Severity.WARNING && it.code !in confirmed }
        val blocking = all.any { it.severity == Severity.ERROR }
        if (pending.isNotEmpty() && !blocking) {
            confirm.text = str(R.string.visit_confirm, pending.size)
            confirm.visibility = View.VISIBLE
        } else confirm.visibility = View.GONE
    }

    /** What the confirm button goes on with: the action whose warnings it confirms. */
    private var afterConfirm: () -> Unit = ::save

    private fun confirmAndSave() {
        if (saving) return
        confirmed.addAll(pending.map { it.code })
        afterConfirm()
    }

    private fun save() {
        if (saving) return
        afterConfirm = ::save
        val person = current().let { p -> savedPerson?.let { p.copy(id = it.id) } ?: p }
        val dose = if (personOnly) null else VisitDoseInfo(null, if (outcome == DoseOutcome.VACCINATED) lot else null, outcome, null)
        val visit = VisitSaveInfo(visitId, person, dose, fix?.recordId, fix?.let { str(R.string.fix_reason_text, it.code ?: "") }, confirmed.toList())
        val state = app.state
        val ctx = host.activity // its resources are in the app's language
        saving = true
        save.isEnabled = false
        confirm.isEnabled = false
        // What a finished save changes (the confirmation on the scan screen,
        // the visit marked done, a sync asked for) happens on the core's
        // thread: it holds even when the volunteer left this screen meanwhile.
        core({ d ->
            val saved = d.saveVisit(visit)
            savedPerson = saved.person
            val p = saved.person
            val ev = saved.dose
            state.savedVisits.add(visitId)
            state.lastSavedPerson = p.id
            state.lastSaved = if (ev == null) ctx.getString(R.string.saved_person, p.fullName)
            else ctx.getString(R.string.saved_dose, p.fullName, ev.doseNumber?.toInt() ?: 0, ev.lot ?: "-")
            if (!saved.repeated) SyncScheduler.syncSoon(ctx)
            saved
        }) { r ->
            saving = false
            save.isEnabled = true
            confirm.isEnabled = true
            when (r) {
                is Outcome.Failed -> {
                    val e = r.error
                    if (e is VaxdeskException.Refused) showFindings(e.findings)
                    else ui.showNote(message, Messages.error(host.activity, e))
                }
                is Outcome.Ok -> host.back()
            }
        }
    }

    /** "2021-10-04T15:30:00+07:00" as the volunteer reads it: "04/10/2021 15:30". */
    private fun dayTime(rfc3339: String?): String {
        val t = rfc3339 ?: return "-"
        val day = dayFirst(t.take(10))
        return if (t.length >= 16) "$day ${t.substring(11, 16)}" else day
    }
}
