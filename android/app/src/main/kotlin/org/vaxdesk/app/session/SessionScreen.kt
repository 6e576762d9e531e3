package org.vaxdesk.app.session

import android.os.Bundle
import android.view.View
import android.widget.LinearLayout
import org.vaxdesk.app.R
import org.vaxdesk.app.core.Messages
import org.vaxdesk.app.core.Outcome
import org.vaxdesk.app.nav.Host
import org.vaxdesk.app.nav.Screen
import org.vaxdesk.app.ui.named
import org.vaxdesk.app.scan.ScanScreen
import org.vaxdesk.core.VaccineInfo

/**
 * Today's session: the site and desk this phone is enrolled at, the vaccine
 * given at this desk and the lot(s) open, from the catalog the hub sent.
 * With [syncFirst] (right after enrolling) it syncs once to fetch them.
 */
class SessionScreen(host: Host, private val syncFirst: Boolean = false) : Screen(host) {
    override val name = "session"
    private var vaccine: String? = null
    private val lots = linkedSetOf<String>()
    private lateinit var lotBox: LinearLayout
    private lateinit var message: android.widget.TextView
    private var vaccines: List<VaccineInfo> = emptyList()
    private var synced = false
    private var syncRunning = false

    override fun build(): View {
        val facts = app.core.facts
        vaccines = facts?.vaccines.orEmpty()
        facts?.session?.let { s -> if (vaccine == null) { vaccine = s.vaccine; lots.addAll(s.lots) } }
        message = ui.note("session-message")
        lotBox = ui.column(pad = 0)
        val body = ui.column(
            ui.card(
                ui.text(str(R.string.session_site, named(facts?.status?.siteName, facts?.status?.site)), tag = "session-site"),
                ui.text(str(R.string.session_desk, named(facts?.status?.deskName, facts?.status?.desk)), tag = "session-desk"),
            ),
            ui.text(str(R.string.session_vaccine), bold = true),
        )
        if (vaccines.isEmpty()) {
            ui.add(body, ui.text(str(if (syncRunning) R.string.session_syncing else R.string.session_no_catalog), tag = "session-empty"))
            ui.add(body, ui.button(str(R.string.sync_now), "session-sync") { syncAgain() })
        } else {
            vaccines.chunked(2).forEach { pair ->
                ui.add(body, ui.choice("vaccine", pair.map { it.code to it.name }, vaccine) { chosen ->
                    vaccine = chosen
                    lots.clear()
                    host.refresh()
                })
            }
            ui.add(body, ui.text(str(R.string.session_lots), bold = true))
            ui.add(body, lotBox)
            fillLots()
        }
        ui.add(body, message)
        return ui.page(str(R.string.session_title), body, ui.button(str(R.string.session_start), "session-start", primary = true) { start() })
    }

    override fun onShown() {
        if (syncFirst && !synced) {
            synced = true
            syncAgain()
        }
    }

    override fun save(out: Bundle) {
        out.putString("vaccine", vaccine)
        out.putStringArrayList("lots", ArrayList(lots))
    }

    fun restore(b: Bundle) {
        vaccine = b.getString("vaccine")
        lots.addAll(b.getStringArrayList("lots").orEmpty())
    }

    private fun fillLots() {
        lotBox.removeAllViews()
        val v = vaccines.firstOrNull { it.code == vaccine } ?: return
        if (lots.isEmpty() && v.lots.size == 1) lots.add(v.lots[0])
        v.lots.forEach { lot ->
            ui.add(lotBox, ui.choice("lot", listOf(lot to lot), if (lot in lots) lot else null) {
                if (!lots.remove(lot)) lots.add(lot)
                fillLots()
            })
        }
    }

    private fun start() {
        val v = vaccine ?: return ui.showNote(message, str(R.string.session_pick_vaccine))
        if (lots.isEmpty()) return ui.showNote(message, str(R.string.session_pick_lot))
        core({ it.startSession(v, lots.toList()) }) { r ->
            when (r) {
                is Outcome.Failed -> ui.showNote(message, Messages.error(host.activity, r.error))
                is Outcome.Ok -> host.restart(ScanScreen(host, ScanScreen.Purpose.PERSON))
            }
        }
    }

    private fun syncAgain() {
        if (syncRunning) return
        syncRunning = true
        host.refresh()
        ui.showNote(message, str(R.string.working), warning = true)
        syncing({ it.syncNow() }) { r ->
            syncRunning = false
            host.refresh()
            // Without a network the screen says so and offers to try again.
            if (r is Outcome.Failed) ui.showNote(message, Messages.error(host.activity, r.error))
        }
    }
}
