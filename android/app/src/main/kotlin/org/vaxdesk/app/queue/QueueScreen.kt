package org.vaxdesk.app.queue

import android.view.View
import org.vaxdesk.app.R
import org.vaxdesk.app.core.Messages
import org.vaxdesk.app.core.Outcome
import org.vaxdesk.app.nav.Host
import org.vaxdesk.app.nav.Screen
import org.vaxdesk.app.visit.VisitScreen
import org.vaxdesk.core.DoseInfo
import org.vaxdesk.core.DoseOutcome
import org.vaxdesk.core.QueueInfo
import org.vaxdesk.core.ToFix

/** Today's saves, what is still to send, and what the hub refused, to fix. */
class QueueScreen(host: Host) : Screen(host) {
    override val name = "queue"

    private class Snapshot(val queue: QueueInfo, val doses: List<Pair<DoseInfo, String>>, val fixes: List<Pair<ToFix, String>>)

    private var snapshot: Snapshot? = null
    private lateinit var message: android.widget.TextView

    override fun build(): View {
        message = ui.note("queue-message")
        val body = ui.column()
        val s = snapshot
        if (s != null) {
            val q = s.queue
            ui.add(body, ui.card(
                ui.text(str(R.string.queue_pending, q.pending.toLong() + q.sent.toLong()), tag = "queue-pending", bold = true),
                ui.text(str(R.string.queue_accepted, q.accepted.toLong()), tag = "queue-accepted"),
                ui.text(str(R.string.queue_to_fix, s.fixes.size), tag = "queue-to-fix"),
            ))
            if (s.fixes.isNotEmpty()) ui.add(body, ui.text(str(R.string.queue_fix_title), bold = true))
            s.fixes.forEachIndexed { i, (fix, who) ->
                val reason = fix.code?.let { code -> Messages.finding(host.activity, org.vaxdesk.core.Finding(code, org.vaxdesk.core.Severity.ERROR, "", fix.message ?: code)) } ?: ""
                ui.add(body, ui.button(str(R.string.queue_fix_item, who, reason), "fix-$i") { openFix(fix) })
            }
            ui.add(body, ui.text(str(R.string.queue_today, s.doses.size), bold = true))
            s.doses.forEach { (d, who) ->
                val time = d.administeredAt.substring(11, 16)
                val what = when (d.outcome) {
                    DoseOutcome.VACCINATED -> str(R.string.queue_dose_line, d.vaccine, d.doseNumber?.toInt() ?: 0, d.lot ?: "-")
                    DoseOutcome.DEFERRED -> str(R.string.outcome_deferred)
                    DoseOutcome.REFUSED -> str(R.string.outcome_refused)
                }
                ui.add(body, ui.text("$time  $who — $what", 16f, tag = "dose-row"))
            }
        }
        ui.add(body, message)
        val sync = ui.button(str(R.string.sync_now), "queue-sync", primary = true) { syncNow() }
        return ui.page(str(R.string.queue_title), body, sync)
    }

    override fun onShown() {
        if (snapshot == null) load()
    }

    private fun load() {
        core({ d ->
            val names = HashMap<String, String>()
            fun who(id: String?) = id?.let { names.getOrPut(it) { runCatching { d.person(it).fullName }.getOrDefault("?") } } ?: "?"
            val q = d.queue()
            Snapshot(q, d.todaysDoses().sortedByDescending { it.administeredAt }.map { it to who(it.personId) }, q.toFix.map { it to who(it.personId) })
        }) { r ->
            when (r) {
                is Outcome.Failed -> ui.showNote(message, Messages.error(host.activity, r.error))
                is Outcome.Ok -> { snapshot = r.value; host.refresh() }
            }
        }
    }

    private fun syncNow() {
        ui.showNote(message, str(R.string.working), warning = true)
        syncing({ it.syncNow() }) { r ->
            when (r) {
                is Outcome.Failed -> ui.showNote(message, Messages.error(host.activity, r.error))
                is Outcome.Ok -> {
                    snapshot = null
                    load()
                    ui.showNote(message, str(R.string.sync_done, r.value.accepted.toLong(), r.value.rejected.toLong()), warning = true)
                }
            }
        }
    }

    private fun openFix(fix: ToFix) {
        val person = fix.personId ?: return
        core({ it.draftOf(person) }) { r ->
            when (r) {
                is Outcome.Failed -> ui.showNote(message, Messages.error(host.activity, r.error))
                is Outcome.Ok -> { snapshot = null; host.go(VisitScreen(host, r.value, null, fix)) }
            }
        }
    }
}
