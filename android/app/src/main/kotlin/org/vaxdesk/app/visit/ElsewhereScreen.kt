package org.vaxdesk.app.visit

import android.os.Bundle
import android.text.InputType
import android.view.View
import org.vaxdesk.app.R
import org.vaxdesk.app.core.Messages
import org.vaxdesk.app.core.Outcome
import org.vaxdesk.app.nav.Host
import org.vaxdesk.app.nav.Screen
import org.vaxdesk.app.sync.SyncScheduler
import org.vaxdesk.core.DoseDraftInfo
import org.vaxdesk.core.DoseOutcome
import org.vaxdesk.core.Severity
import org.vaxdesk.core.VaccineInfo
import org.vaxdesk.core.VaxdeskException

/**
 * "Mũi đã tiêm ở nơi khác": a dose the citizen had in another province,
 * abroad or before vaxdesk, read from their paper or told. Vaccine and day
 * are needed; the place, lot and dose number when known. The core refuses
 * only what is impossible (a future day, an unknown vaccine, the same dose
 * twice) and never applies today's schedule; the dose counts in the series.
 */
class ElsewhereScreen(host: Host, private val personId: String, private val personName: String) : Screen(host) {
    override val name = "elsewhere"
    private var vaccine: String? = null
    private var typed: Map<String, String> = emptyMap()
    private var vaccines: List<VaccineInfo> = emptyList()
    private lateinit var fields: List<org.vaxdesk.app.ui.Ui.Field>
    private lateinit var message: android.widget.TextView
    private var saving = false

    override fun build(): View {
        if (::fields.isInitialized) typed = fields.associate { it.key to it.value }
        message = ui.note("elsewhere-message")
        val day = ui.field("administered_at", str(R.string.elsewhere_day), typed["administered_at"] ?: "", InputType.TYPE_CLASS_DATETIME or InputType.TYPE_DATETIME_VARIATION_DATE)
        val place = ui.field("given_elsewhere", str(R.string.elsewhere_place), typed["given_elsewhere"] ?: "")
        val lot = ui.field("lot", str(R.string.elsewhere_lot), typed["lot"] ?: "", InputType.TYPE_CLASS_TEXT or InputType.TYPE_TEXT_FLAG_CAP_CHARACTERS)
        val number = ui.field("dose_number", str(R.string.elsewhere_number), typed["dose_number"] ?: "", InputType.TYPE_CLASS_NUMBER)
        fields = listOf(day, place, lot, number)
        val body = ui.column(ui.card(ui.text(str(R.string.elsewhere_for, personName), bold = true, tag = "elsewhere-person")))
        ui.add(body, ui.text(str(R.string.elsewhere_vaccine), 15f, muted = true))
        // Rows of two; a tap redraws them all, so only one vaccine shows as chosen.
        vaccines.chunked(2).forEach { pair -> ui.add(body, ui.choice("vaccine", pair.map { it.code to it.name }, vaccine) { vaccine = it; host.refresh() }) }
        fields.forEach { ui.add(body, it.view) }
        ui.add(body, message)
        val save = ui.button(str(R.string.elsewhere_save), "elsewhere-save", primary = true) { save() }.apply { isEnabled = !saving }
        return ui.page(str(R.string.elsewhere_title), body, save)
    }

    /** Every vaccine of the catalog, lots or not: a dose given elsewhere may be of one this site never gives. */
    override fun onShown() {
        // A result dropped while the PIN lock covered this screen must not leave Save dead.
        if (saving) { saving = false; host.refresh() }
        if (vaccines.isNotEmpty()) return
        core({ d -> d.vaccines() }) { r ->
            when (r) {
                is Outcome.Failed -> ui.showNote(message, Messages.error(host.activity, r.error))
                is Outcome.Ok -> { vaccines = r.value; host.refresh() }
            }
        }
    }

    override fun save(out: Bundle) {
        out.putString("person", personId)
        out.putString("personName", personName)
        out.putString("vaccine", vaccine)
        val t = if (::fields.isInitialized) fields.associate { it.key to it.value } else typed
        t.forEach { (k, v) -> out.putString("typed:$k", v) }
    }

    companion object {
        fun restore(host: Host, b: Bundle): ElsewhereScreen? {
            val person = b.getString("person") ?: return null
            return ElsewhereScreen(host, person, b.getString("personName") ?: "").apply {
                vaccine = b.getString("vaccine")
                typed = listOf("administered_at", "given_elsewhere", "lot", "dose_number").mapNotNull { k -> b.getString("typed:$k")?.let { k to it } }.toMap()
            }
        }
    }

    private fun save() {
        if (saving) return
        val v = fields.associate { it.key to it.value }
        val number = v["dose_number"].orEmpty()
        val n = number.toIntOrNull()?.takeIf { it in 1..10 }
        if (number.isNotEmpty() && n == null) return showFindings(listOf(org.vaxdesk.core.Finding("dose.number_range", Severity.ERROR, "dose_number", str(R.string.elsewhere_number_bad))))
        // The day as typed (dd/mm/yyyy or yyyy-mm-dd); the core reads it in the desk's offset.
        val draft = DoseDraftInfo(
            personId, vaccine, v["lot"]?.ifEmpty { null }, null, n?.toUByte(), v["administered_at"]?.ifEmpty { null },
            DoseOutcome.VACCINATED, null, v["given_elsewhere"].orEmpty(),
        )
        saving = true
        host.refresh()
        val ctx = host.activity
        core({ d -> d.recordDose(draft, emptyList()).also { SyncScheduler.syncSoon(ctx) } }) { r ->
            saving = false
            host.refresh()
            when (r) {
                is Outcome.Failed -> {
                    val e = r.error
                    when {
                        e is VaxdeskException.Refused -> showFindings(e.findings)
                        // A day that is not dd/mm/yyyy or not on the calendar, in the volunteer's words.
                        e is VaxdeskException.Input && e.field == "administered_at" ->
                            showFindings(listOf(org.vaxdesk.core.Finding("input", Severity.ERROR, e.field, str(R.string.elsewhere_day_bad, v["administered_at"].orEmpty()))))
                        e is VaxdeskException.Input -> showFindings(listOf(org.vaxdesk.core.Finding("input", Severity.ERROR, e.field, Messages.error(host.activity, e))))
                        else -> ui.showNote(message, Messages.error(host.activity, e))
                    }
                }
                is Outcome.Ok -> {
                    app.state.lastSaved = str(R.string.saved_elsewhere, personName, r.value.doseNumber?.toInt() ?: 0, r.value.vaccine ?: "-")
                    app.state.lastSavedPerson = personId
                    host.back()
                }
            }
        }
    }

    private fun showFindings(all: List<org.vaxdesk.core.Finding>) {
        val byField = all.groupBy { it.field }
        val shown = mutableSetOf<String>()
        for (f in fields) {
            val list = byField[f.key].orEmpty()
            ui.showNote(f.note, list.joinToString("\n") { Messages.finding(host.activity, it) })
            if (list.isNotEmpty()) shown.add(f.key)
        }
        val rest = all.filter { it.field !in shown }
        ui.showNote(message, rest.joinToString("\n") { Messages.finding(host.activity, it) })
    }
}
